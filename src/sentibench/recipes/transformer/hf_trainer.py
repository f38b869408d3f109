"""The Hugging Face Trainer path for transformer recipes (`loop = "trainer"`).

TrainingArguments come from the recipe's config: per-epoch evaluation and checkpoints in the
run's checkpoint/trainer/ folder (a rerun of an unfinished run resumes from the newest one),
linear warmup/decay, bf16/fp16 from `mixed_precision` (on a CPU: bf16 from `cpu_precision`),
length-grouped batches, no reporting
integrations. The best epoch by validation accuracy is restored at the end, as in the native
loop, and the collapse guard and the run's history.jsonl work the same way through a callback.
Without validation reviews (val_fraction = 0) no epoch is evaluated and the last is kept; a
collapse then shows in the runner's check of the test predictions.
Multi-GPU: launch the same command with `accelerate launch` or `torchrun`; the Trainer shards
batches itself.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from sentibench.train.guard import CollapseGuard, check_loss, one_class_share

if TYPE_CHECKING:
    from sentibench.recipes.transformer.config import TransformerConfig
    from sentibench.runs import RunDir
    from sentibench.transformers.tokenization import EncodedReviews


def _metrics(prediction: Any) -> dict[str, float]:
    logits = prediction.predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    predicted = np.asarray(logits).argmax(axis=-1)
    labels = np.asarray(prediction.label_ids)
    return {
        "accuracy": float((predicted == labels).mean()),
        "one_class_share": one_class_share(predicted),
    }


def _callback(
    run: RunDir | None,
    epochs: int,
    validates: bool,
    val_labels: np.ndarray | None = None,
    # val_labels: the validation labels for the end-of-training checks; None: those checks off
    classes: int = 2,  # the head's outputs: chance loss is ln classes
) -> Any:
    from transformers import TrainerCallback

    class RunRecordCallback(TrainerCallback):
        """history.jsonl rows per epoch, NaN-loss and one-class checks (see train/guard.py)."""

        def __init__(self) -> None:
            self.guard = CollapseGuard()
            self.train_loss: float | None = None
            self.best_share = 1.0
            self.best_accuracy = -1.0

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **_: Any) -> None:
            if logs and "loss" in logs:
                self.train_loss = float(logs["loss"])
                check_loss(self.train_loss, state.global_step, float(logs.get("learning_rate", 0)))
                if not validates and run is not None:  # no on_evaluate to write the row
                    row = {"epoch": round(state.epoch or 0), "train_loss": self.train_loss,
                           "step": state.global_step}  # fmt: skip
                    run.append_history(row)
                    run.log(f"epoch {row['epoch']}: train loss {self.train_loss:.4f} (trainer)")

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **_: Any):
            epoch = round(state.epoch or 0)
            accuracy = float(metrics["eval_accuracy"])
            if accuracy > self.best_accuracy:
                self.best_accuracy, self.best_share = accuracy, metrics["eval_one_class_share"]
            row = {
                "epoch": epoch,
                "train_loss": self.train_loss,
                "val_loss": round(float(metrics["eval_loss"]), 6),
                "val_accuracy": round(accuracy, 6),
                "val_one_class_share": round(float(metrics["eval_one_class_share"]), 6),
                "step": state.global_step,
            }
            if run is not None:
                run.append_history(row)
                run.log(f"epoch {epoch}: val accuracy {accuracy:.4f} (trainer)")
            self.guard.check_one_class(self.best_share, epoch, final=epoch >= epochs)
            if epoch >= epochs and val_labels is not None:
                self.guard.check_final(self.train_loss, self.best_accuracy, val_labels, classes)

        def on_train_end(self, args: Any, state: Any, control: Any, **_: Any) -> None:
            if not validates and val_labels is not None:  # a refit: only the loss can tell
                self.guard.check_final(self.train_loss, None, None, classes)

    return RunRecordCallback()


def _resume_point(output_dir: Path, run: RunDir | None) -> str | None:
    """The newest complete Trainer checkpoint, with the run's history cut back to it."""
    from transformers.trainer_utils import get_last_checkpoint

    if not output_dir.is_dir():
        return None
    last = get_last_checkpoint(str(output_dir))
    if last is None:
        return None
    state = json.loads((Path(last) / "trainer_state.json").read_text(encoding="utf-8"))
    if run is not None:
        run.truncate_history(round(state.get("epoch", 0)))
        run.log(f"resuming the Trainer from {last}")
    return last


def training_arguments(config: TransformerConfig, output_dir: Path, validates: bool = True) -> Any:
    from transformers import TrainingArguments

    from sentibench.recipes.transformer.predictor import training_precision

    precision = training_precision(config)  # bf16 on a CPU: autocast("cpu"), as the native loop
    warmup: int | float = config.warmup_steps if config.warmup_steps > 0 else config.warmup_ratio
    return TrainingArguments(
        output_dir=str(output_dir),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        warmup_steps=warmup,
        max_grad_norm=config.max_grad_norm,
        lr_scheduler_type="linear",
        eval_strategy="epoch" if validates else "no",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=2,  # the best and the newest
        load_best_model_at_end=validates,
        metric_for_best_model="accuracy" if validates else None,
        greater_is_better=True if validates else None,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=precision == "bf16" and not torch.cuda.is_available(),  # bf16 autocast on CPU
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        remove_unused_columns=False,  # our datasets hold exactly the model's inputs
        label_names=["labels"],
        dataloader_num_workers=0,
        torch_compile=config.torch_compile,
        disable_tqdm=not sys.stderr.isatty(),
    )


def train_with_trainer(
    model: nn.Module,
    tokenizer: Any,
    train: EncodedReviews,
    validation: EncodedReviews,
    config: TransformerConfig,
    run: RunDir | None,
    classes: int = 2,
) -> nn.Module:
    """Fine-tune with transformers.Trainer (a `classes`-way head); returns the best epoch's
    model."""
    from transformers import Trainer

    from sentibench.transformers.tokenization import padding_collator

    scratch = None
    if run is not None:
        output_dir = Path(run.checkpoint_dir) / "trainer"
    else:
        scratch = tempfile.TemporaryDirectory(prefix="sentibench-trainer-")
        output_dir = Path(scratch.name)
    validates = len(validation) > 0
    # None turns the end-of-training checks off (config.require_learning = false)
    labels = np.asarray(validation.labels or [], dtype=np.int64)
    learned_check = labels if config.require_learning else None
    try:
        trainer = Trainer(
            model=model,
            args=training_arguments(config, output_dir, validates),
            train_dataset=train,
            eval_dataset=validation if validates else None,
            data_collator=padding_collator(tokenizer),
            compute_metrics=_metrics,
            callbacks=[_callback(run, config.epochs, validates, learned_check, classes)],
        )
        trainer.train(resume_from_checkpoint=_resume_point(output_dir, run))
        return trainer.accelerator.unwrap_model(trainer.model)
    finally:
        if scratch is not None:
            scratch.cleanup()
