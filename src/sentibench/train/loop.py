"""The one training loop for every torch model, on `accelerate`.

It knows nothing about words or tokenizers. It sees

    model          an nn.Module
    batches        dicts of tensors with a "labels" LongTensor[B]; every other key is input
    forward        forward(model, batch) -> logits FloatTensor[B, k] (k classes, 2 for
                   binary); the default calls model(**inputs) and takes `.logits` when the
                   output has it (Hugging Face)

and does: device placement (cuda / mps / cpu, chosen by accelerate), mixed precision (bf16 /
fp16 on CUDA; on a CPU bf16 autocast when the recipe asks for it, else fp32; the weights and
the optimizer state stay fp32 either way), gradient accumulation, AdamW with optional
per-module learning rates, linear warmup + linear decay, gradient clipping, early stopping on
validation accuracy with the best weights restored, the collapse guard, a checkpoint each epoch
and resume from it, per-epoch metrics into the run record, and a progress bar.

Without validation batches (val_fraction = 0: the refit on every training review that follows a
choice of settings, as scikit-learn's refit=True), every configured epoch runs, the last one's
weights are kept, early stopping is off, and the collapse guard reads the one-class share of the
epoch's training predictions instead.

Several processes (`accelerate launch` or torchrun; one per GPU, or gloo on CPUs): every process
builds the same batches and trains on its own slice of each one's rows, and the gradient
all-reduce averages the slices, so the global batch is batch_size whatever the process count
(see _Trainer._share). Every process validates on the whole validation set and the main
process's figures decide early stopping for all; only the main process writes the run record
and checkpoints. A resume restores the main process's random state in every process, so with
several processes (dropout differs per process) it is not an exact replay.

Resume replays exactly: batch order is a function of (seed, epoch) and every RNG state is in
the checkpoint, so a run killed after epoch k and resumed ends with the same weights and metrics
as one that was never interrupted (on the same machine and thread count).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sized
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from accelerate.utils import DataLoaderConfiguration, broadcast, send_to_device, set_seed
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from sentibench.metrics import macro_f1
from sentibench.runs import RunDir
from sentibench.train.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from sentibench.train.guard import CollapseGuard, one_class_share

Batch = dict[str, torch.Tensor]
Forward = Callable[[nn.Module, Batch], torch.Tensor]


class SizedBatches(Sized, Iterable[Batch], Protocol):
    """What a train-batch factory returns for an epoch: iterable, with a length."""


@dataclass
class LoopConfig:
    epochs: int = 5
    lr: float = 1e-3
    # Learning rate per parameter-name prefix, e.g. {"embedding": 1e-4} for pretrained vectors
    # that should move slower than the layers trained from scratch.
    group_lr: dict[str, float] = field(default_factory=dict)
    weight_decay: float = 0.0  # AdamW's decoupled decay, on matrices only (not biases/norms)
    warmup_ratio: float = 0.0  # share of optimizer steps with linear warmup, then linear decay
    clip_norm: float = 1.0  # max gradient norm; 0 turns clipping off
    patience: int = 0  # stop after this many epochs without a better val accuracy; 0: never
    mixed_precision: Literal["no", "bf16", "fp16"] = "no"  # on CUDA only
    # bf16 autocast on a CPU (the recipe decides where it pays: runtime.cpu_precision)
    cpu_bf16: bool = False
    grad_accum: int = 1  # batches per optimizer step
    seed: int = 0
    deterministic: bool = False  # torch.use_deterministic_algorithms (slower on GPU)
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    collapse_patience: int = 2  # epochs allowed to predict one class (see guard.py)
    # The end-of-training checks of guard.py (loss far above chance, validation accuracy not
    # above the majority rate); off only in tests of the loop's mechanics on tiny random data.
    require_learning: bool = True
    log_every: int = 50  # batches between progress-bar metric updates
    progress: bool = True  # show a progress bar

    @classmethod
    def from_config(cls, config: Any, **values: Any) -> LoopConfig:
        """Take every loop setting a model config has under the same name; `values` win.

        Progress bars only when a person is watching (stderr is a terminal).
        """
        shared = {f.name: getattr(config, f.name) for f in fields(cls) if hasattr(config, f.name)}
        return cls(**{"progress": sys.stderr.isatty(), **shared, **values})

    def fingerprint(self) -> dict[str, Any]:
        """The settings a checkpoint must match to be resumed (display-only ones left out)."""
        values = asdict(self)
        for key in ("log_every", "progress", "threads", "require_learning"):
            values.pop(key)
        if not values["cpu_bf16"]:  # added later: absent from the checkpoints of fp32 runs
            values.pop("cpu_bf16")
        return values


@dataclass
class LoopResult:
    model: nn.Module  # the best epoch's weights (without validation: the last's), on its device
    best_epoch: int
    best_accuracy: float | None  # validation accuracy of best_epoch; None without validation
    epochs_run: int
    stopped_early: bool
    history: list[dict[str, Any]]  # one row per epoch (from the run record when there is one)
    # best_epoch's validation logits (n, k) in val_batches order, from the evaluation that chose
    # it (a recipe need not predict validation again); None without validation, or where that
    # epoch ran before a resume
    best_val_logits: torch.Tensor | None = None


def default_forward(model: nn.Module, batch: Batch) -> torch.Tensor:
    output = model(**{key: value for key, value in batch.items() if key != "labels"})
    return getattr(output, "logits", output)


def parameter_groups(
    model: nn.Module, lr: float, weight_decay: float, group_lr: dict[str, float]
) -> list[dict[str, Any]]:
    """AdamW groups: lr by name prefix, no decay on 1-d parameters (biases, norm scales)."""
    groups: dict[tuple[float, float], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        group = next(
            (value for prefix, value in group_lr.items() if name.startswith(prefix + ".")), lr
        )
        decay = weight_decay if parameter.ndim >= 2 else 0.0
        groups.setdefault((group, decay), []).append(parameter)
    return [{"params": ps, "lr": g, "weight_decay": d} for (g, d), ps in groups.items()]


def linear_warmup_decay(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR factor per optimizer step: 0 -> 1 over warmup, then linearly down to 0 at the end
    (the schedule of transformers.get_linear_schedule_with_warmup)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return factor


def make_accelerator(mixed_precision: str, cpu_bf16: bool = False) -> Accelerator:
    """An Accelerator on the best device: `mixed_precision` on CUDA, bf16 autocast on a CPU
    with `cpu_bf16` (accelerate wraps the forward in torch.autocast("cpu", bfloat16))."""
    cuda = torch.cuda.is_available()
    # Without a GPU, say so: accelerate forms a multi-process (gloo) group on CPUs only then.
    no_gpu = not cuda and not torch.backends.mps.is_available()
    precision = mixed_precision if cuda else "bf16" if cpu_bf16 and no_gpu else "no"
    if cuda and precision != "no":
        # cuDNN's attention kernel builds a new plan for every new batch shape, and length
        # bucketing makes nearly every shape new: measured on an H200 (torch 2.11, bf16, the
        # transformer gpu preset on the sample) 368 reviews/s with it, 2,292 without.
        torch.backends.cuda.enable_cudnn_sdp(False)
    # AcceleratorState is process-wide and refuses a second precision: a new run (benchmarks,
    # tests) in the same process starts from a clean state.
    AcceleratorState._reset_state()
    # split_batches: every process takes a slice of each batch (see the module docstring), so
    # the schedule advances once per step, not once per process.
    batching = DataLoaderConfiguration(split_batches=True)
    return Accelerator(mixed_precision=precision, cpu=no_gpu, dataloader_config=batching)


@torch.no_grad()
def predict_logits(
    model: nn.Module, batches: Iterable[Batch], forward: Forward, device: torch.device
) -> torch.Tensor:
    """Logits (N, k) on the CPU, in batch order, with the model in eval mode."""
    model.eval()
    outputs = [forward(model, send_to_device(batch, device)).float().cpu() for batch in batches]
    return torch.cat(outputs) if outputs else torch.empty(0, 2)


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f} acc {task.fields[acc]:.3f}"),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=True,
    )


def train_loop(
    model: nn.Module,
    train_batches: Callable[[int], SizedBatches],
    val_batches: Iterable[Batch],
    config: LoopConfig,
    run: RunDir | None = None,
    forward: Forward = default_forward,
    on_epoch_end: Callable[[dict[str, Any]], None] | None = None,
) -> LoopResult:
    """Train `model` and return it with its best validation epoch's weights (with empty
    val_batches: its last epoch's).

    train_batches(epoch) gives the batches of epoch 1, 2, ... (the same for the same epoch, so
    that resume replays them); val_batches is iterated once per epoch (a list or any
    re-iterable). With a `run`, each epoch appends a history row, writes a checkpoint, and a
    checkpoint found at start is resumed. on_epoch_end(row) is called after each checkpoint,
    then the run's own `run.on_epoch_end` (set by a tune to report to its pruner).
    """
    trainer = _Trainer(model, train_batches, val_batches, config, run, forward)
    rows: list[dict[str, Any]] = []
    with _progress(config.progress) as progress:
        while not trainer.state.finished:
            row = trainer.run_epoch(progress)
            rows.append(row)
            if on_epoch_end is not None:
                on_epoch_end(row)
            if run is not None and run.on_epoch_end is not None:
                run.on_epoch_end(row)
    return trainer.result(rows)


class _Trainer:
    """The state of one train_loop call: accelerator, optimizer, schedule, progress."""

    def __init__(
        self,
        model: nn.Module,
        train_batches: Callable[[int], SizedBatches],
        val_batches: Iterable[Batch],
        config: LoopConfig,
        run: RunDir | None,
        forward: Forward,
    ) -> None:
        if config.threads > 0:
            torch.set_num_threads(config.threads)
        # Gradients fading through long RNN sequences become denormal floats, which x86 CPUs
        # handle ~7x slower (an lstm step: 5.6 s -> 0.83 s); flushing them changes no result
        # that matters. GPUs flush already.
        torch.set_flush_denormal(True)
        if config.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        set_seed(config.seed)
        torch.use_deterministic_algorithms(config.deterministic)
        self.accelerator = make_accelerator(config.mixed_precision, config.cpu_bf16)
        self.config, self.run, self.forward = config, run, forward
        self.train_batches, self.val_batches = train_batches, val_batches
        labels = [batch["labels"] for batch in val_batches]
        self.val_labels = torch.cat(labels).numpy() if labels else np.empty(0, dtype=np.int64)
        self.validates = len(self.val_labels) > 0
        self.classes = 2  # the model's output width, read from its first logits

        # Summed per epoch: token-budget batches differ in number from one epoch to the next.
        total_steps = sum(
            math.ceil(len(train_batches(epoch)) / config.grad_accum)
            for epoch in range(1, config.epochs + 1)
        )
        self.schedule = linear_warmup_decay(int(config.warmup_ratio * total_steps), total_steps)
        groups = parameter_groups(model, config.lr, config.weight_decay, config.group_lr)
        optimizer = torch.optim.AdamW(groups, lr=config.lr)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self.schedule)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(
            model, optimizer, scheduler
        )
        self.plain_model = self.accelerator.unwrap_model(self.model)
        self.guard = CollapseGuard(config.collapse_patience)
        self.state = TrainingState()
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.val_logits: torch.Tensor | None = None  # of the last evaluation
        self.best_val_logits: torch.Tensor | None = None
        self._resume()
        if not self.validates:
            self.best_weights = None  # a checkpoint's best weights are not the refit's to keep
            if run is not None and self.state.epoch == 0:
                run.log(
                    f"no validation split: all {config.epochs} epochs train on every training "
                    "review and the last one is kept (early stopping off)"
                )

    def _resume(self) -> None:
        if self.run is None:
            return
        restored = load_checkpoint(self.run.checkpoint_dir, **self._checkpointed())
        if restored is not None:
            self.state, self.best_weights = restored
            self.run.truncate_history(self.state.epoch)
            self.run.log(f"resumed from the checkpoint after epoch {self.state.epoch}")

    def _checkpointed(self) -> dict[str, Any]:
        return {
            "model": self.plain_model,
            "optimizer": self.optimizer,
            "scheduler": self.scheduler,
            "scaler": self.accelerator.scaler,
            "fingerprint": self.config.fingerprint(),
        }

    def lr(self) -> float:
        """The base learning rate as scheduled for the next optimizer step."""
        return self.config.lr * self.schedule(self.state.global_step)

    def run_epoch(self, progress: Progress) -> dict[str, Any]:
        """Train one epoch, validate, keep the best weights, record and checkpoint it."""
        state, config = self.state, self.config
        epoch = state.epoch + 1
        batches = self.train_batches(epoch)
        task = progress.add_task(
            f"epoch {epoch}/{config.epochs}", total=len(batches), loss=0.0, acc=0.0
        )
        started = time.perf_counter()
        train_loss, train_accuracy, seen, train_share = self._train_epoch(batches, progress, task)
        seconds = time.perf_counter() - started
        progress.remove_task(task)

        started = time.perf_counter()
        val_loss: float | None
        val_accuracy: float | None
        val_macro_f1: float | None
        share: float | None
        if self.validates:
            val_loss, val_accuracy, val_macro_f1, share = self._evaluate()
            if val_accuracy > state.best_accuracy:
                self.best_weights = _cpu_copy(self.plain_model)
                self.best_val_logits = self.val_logits
                state.best_accuracy, state.best_epoch = val_accuracy, epoch
                state.best_one_class_share, state.bad_epochs = share, 0
            else:
                state.bad_epochs += 1
        else:  # the refit: the last epoch is the one kept, judged on its training predictions
            val_loss, val_accuracy, val_macro_f1, share = None, None, None, None
            state.best_epoch, state.best_one_class_share = epoch, train_share
        state.epoch = epoch
        stopped_early = self.validates and 0 < config.patience <= state.bad_epochs
        state.finished = stopped_early or epoch >= config.epochs
        row = {
            "epoch": epoch,
            "train_loss": round(train_loss, 6),
            "train_accuracy": round(train_accuracy, 6),
            "train_one_class_share": round(train_share, 6),
            "val_loss": _rounded(val_loss),
            "val_accuracy": _rounded(val_accuracy),
            "val_macro_f1": _rounded(val_macro_f1),  # what a tune with --metric macro_f1 prunes on
            "val_one_class_share": _rounded(share),
            "lr": self.lr(),
            "seconds": round(seconds, 3),
            "val_seconds": round(time.perf_counter() - started, 3),
            "reviews_per_s": round(seen / max(seconds, 1e-9), 1),
            "step": state.global_step,
        }
        self._record(row, stopped_early)
        # After the history row, so the curves of a collapsed run show its last epoch.
        reviews = "validation" if self.validates else "training"
        self.guard.check_one_class(state.best_one_class_share, epoch, state.finished, reviews)
        if state.finished and self.config.require_learning:
            kept_accuracy = state.best_accuracy if self.validates else None
            labels = self.val_labels if self.validates else None
            self.guard.check_final(train_loss, kept_accuracy, labels, self.classes)
        if state.finished and self.best_weights is not None:
            self.plain_model.load_state_dict(self.best_weights)
        if self.run is not None and self.accelerator.is_main_process:
            best = None if state.finished else self.best_weights  # the model holds them now
            save_checkpoint(
                self.run.checkpoint_dir, best_weights=best, state=state, **self._checkpointed()
            )
        return row

    def _record(self, row: dict[str, Any], stopped_early: bool) -> None:
        if self.run is None:
            return
        state = self.state
        self.run.append_history(row)
        validation = (
            f"val loss {row['val_loss']:.4f}, val accuracy {row['val_accuracy']:.4f} (best "
            f"{state.best_accuracy:.4f} at epoch {state.best_epoch})"
            if self.validates
            else f"train accuracy {row['train_accuracy']:.4f}"
        )
        self.run.log(
            f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}, {validation}, "
            f"{row['reviews_per_s']:.0f} reviews/s"
        )
        if stopped_early:
            self.run.log(f"early stop: no better val accuracy for {state.bad_epochs} epochs")

    def _train_epoch(
        self, batches: SizedBatches, progress: Progress, task: Any
    ) -> tuple[float, float, int, float]:
        """One pass over `batches`; returns (mean loss, accuracy, examples seen, one-class share
        of the predictions)."""
        accelerator, config, model = self.accelerator, self.config, self.model
        world = accelerator.num_processes
        model.train()
        total_loss, seen = 0.0, 0
        correct = torch.zeros((), dtype=torch.long, device=accelerator.device)  # summed on device
        predicted_counts: torch.Tensor | None = None  # per class, sized by the first logits
        count = len(batches)
        for index, batch in enumerate(batches):
            batch, weight, counted = self._share(batch)
            batch = send_to_device(batch, accelerator.device)
            labels = batch["labels"]
            # Accumulated micro-batches skip the gradient all-reduce until the optimizer step.
            steps_now = (index + 1) % config.grad_accum == 0 or index + 1 == count
            with nullcontext() if steps_now else accelerator.no_sync(model):
                with accelerator.autocast():
                    logits = self.forward(model, batch)
                loss = F.cross_entropy(logits.float(), labels)
                value = loss.item()
                self.guard.check_loss(self._worst(value), self.state.global_step + 1, self.lr())
                accelerator.backward(loss * weight / config.grad_accum)
            if steps_now:
                if config.clip_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), config.clip_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.state.global_step += 1
            if predicted_counts is None:  # every process, counted or not: one reduce size
                self.classes = logits.shape[1]
                predicted_counts = torch.zeros(
                    self.classes, dtype=torch.long, device=accelerator.device
                )
            if not counted:
                continue
            total_loss += value * len(labels)
            predicted = logits.argmax(dim=1)
            correct += (predicted == labels).sum()
            predicted_counts += torch.bincount(predicted, minlength=self.classes)
            seen += len(labels)
            if (index + 1) % config.log_every == 0 or index + 1 == count:
                accuracy = int(correct) / seen
                progress.update(task, completed=index + 1, loss=total_loss / seen, acc=accuracy)
        counts = [0.0] * self.classes if predicted_counts is None else predicted_counts.tolist()
        sums = [total_loss, float(correct), float(seen), *map(float, counts)]
        if world > 1:  # the epoch's figures over every process's rows
            totals = torch.tensor(sums, dtype=torch.float64, device=accelerator.device)
            sums = accelerator.reduce(totals, reduction="sum").tolist()
        total_loss, correct_sum, seen_sum = sums[:3]
        rows = max(seen_sum, 1)
        share = max(sums[3:]) / rows  # the most predicted class's share
        return total_loss / rows, correct_sum / rows, int(seen_sum), share

    def _share(self, batch: Batch) -> tuple[Batch, float, bool]:
        """This process's rows of `batch`, its loss weight, and whether its figures count.

        With several processes each takes a contiguous slice; its mean loss is weighted by
        slice size x processes / batch size, so that the all-reduce average of the gradients is
        the gradient of the whole batch's mean loss even when the slices differ by a row. A
        batch with fewer rows than processes is taken whole by every process (the same
        gradient everywhere) and counted by the main process only.
        """
        world = self.accelerator.num_processes
        rows = len(batch["labels"])
        if world == 1:
            return batch, 1.0, True
        if rows < world:
            return batch, 1.0, self.accelerator.is_main_process
        rank = self.accelerator.process_index
        mine = {key: value.tensor_split(world)[rank] for key, value in batch.items()}
        return mine, len(mine["labels"]) * world / rows, True

    def _worst(self, loss: float) -> float:
        """The loss to check: with several processes, NaN/inf if any process has it, so that
        all of them stop together instead of waiting for one another in the next all-reduce."""
        if self.accelerator.num_processes == 1:
            return loss
        value = torch.tensor(loss, dtype=torch.float64, device=self.accelerator.device)
        return float(self.accelerator.reduce(value, reduction="sum"))

    def _evaluate(self) -> tuple[float, float, float, float]:
        """(loss, accuracy, macro-F1, one-class share of the predictions) on the validation
        batches."""
        with self.accelerator.autocast():
            logits = predict_logits(
                self.model, self.val_batches, self.forward, self.accelerator.device
            )
        self.val_logits = logits
        loss = float(F.cross_entropy(logits, torch.from_numpy(self.val_labels)))
        predictions = logits.argmax(dim=1).numpy()
        figures = [
            loss,
            float((predictions == self.val_labels).mean()),
            macro_f1(self.val_labels, predictions, logits.shape[1]),
            one_class_share(predictions),
        ]
        if self.accelerator.num_processes > 1:  # the main process's figures decide for all
            values = torch.tensor(figures, dtype=torch.float64, device=self.accelerator.device)
            figures = broadcast(values, from_process=0).tolist()
        return figures[0], figures[1], figures[2], figures[3]

    def result(self, rows: list[dict[str, Any]]) -> LoopResult:
        model = self.accelerator.unwrap_model(self.model, keep_fp32_wrapper=False)
        self.accelerator.free_memory()
        return LoopResult(
            model=model,
            best_epoch=self.state.best_epoch,
            best_accuracy=self.state.best_accuracy if self.validates else None,
            epochs_run=self.state.epoch,
            stopped_early=self.state.epoch < self.config.epochs,
            history=self.run.history() if self.run is not None else rows,
            best_val_logits=self.best_val_logits if self.validates else None,
        )


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _cpu_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().cpu().clone() for key, value in model.state_dict().items()}
