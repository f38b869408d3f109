"""TransformerRecipe: any Hugging Face encoder x method x loop, as one registry recipe.

    sentibench train deberta_lora --data imdb                       # the published settings (gpu)
    sentibench train minilm_lora --data sample --preset quick       # offline, seconds
    sentibench train bert_native --set backbone=/models/bert --set method=lora --set loop=trainer

Every registry entry of the "transformer" family is this recipe; its presets choose backbone,
method, loop and hyper-parameters (config.py), and `--set` changes any of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sentibench.recipes.transformer.config import TransformerConfig

if TYPE_CHECKING:  # the predictor imports torch and transformers: only when training/loading
    import numpy as np

    from sentibench.data.dataset import Splits
    from sentibench.recipes.transformer.predictor import TransformerPredictor
    from sentibench.runs import RunDir


class TransformerRecipe:
    """A predictor.Recipe; `config.loop` picks the shared loop or HF Trainer."""

    config_cls = TransformerConfig

    def train(
        self, config: TransformerConfig, splits: Splits, run: RunDir | None
    ) -> TransformerPredictor:
        """Tokenise, build the model, then train it on the shared loop or HF Trainer."""
        import torch

        from sentibench.recipes.transformer.native import encode_splits, train_native
        from sentibench.recipes.transformer.predictor import (
            TransformerPredictor,
            training_precision,
        )
        from sentibench.runtime import cpu_precision
        from sentibench.transformers.backbone import load_tokenizer, resolve_backbone
        from sentibench.transformers.modeling import build_model

        resolved = resolve_backbone(config.backbone)
        tokenizer = load_tokenizer(resolved, config.trust_remote_code)
        label_names = splits.label_names  # one head output per class, in label-id order
        model = build_model(config, resolved, tokenizer, label_names)
        train, validation = encode_splits(config, tokenizer, splits)
        if run is not None:
            total = sum(p.numel() for p in model.parameters())
            trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
            run.log(
                f"{config.backbone} ({resolved}), method {config.method}, loop {config.loop}: "
                f"{trainable:,} of {total:,} parameters train"
            )
            if not torch.cuda.is_available():  # why this run computes in bf16 or fp32
                run.log(cpu_precision(config.cpu_precision).reason)
        val_logits: np.ndarray | None = None  # the shared loop's evaluation of the kept epoch
        if config.loop == "trainer":
            from sentibench.recipes.transformer.hf_trainer import train_with_trainer

            model = train_with_trainer(
                model, tokenizer, train, validation, config, run, len(label_names)
            )
        else:
            model, val_logits = train_native(model, tokenizer, train, validation, config, run)
        trained_on = next(model.parameters()).device.type  # the loop's device (mps, say)
        predictor = TransformerPredictor(model, tokenizer, config, resolved,
                                         label_names=label_names)  # fmt: skip
        predictor.train_precision = training_precision(config)
        scores_as_evaluated = (
            trained_on == predictor.device.type
            and predictor.score_precision == predictor.train_precision
        )
        if val_logits is not None and scores_as_evaluated:
            # the loop evaluated the kept model as it scores (same batches, device and
            # precision): the runner takes those, not a second pass over validation
            predictor.held_out_validation_proba = predictor.proba_of_logits(val_logits)
        return predictor

    def load(self, config: TransformerConfig, model_dir: Path) -> TransformerPredictor:
        from sentibench.recipes.transformer.predictor import TransformerPredictor
        from sentibench.transformers.backbone import resolve_backbone
        from sentibench.transformers.modeling import load_model, saved_label_names

        resolved = None if config.method == "full" else resolve_backbone(config.backbone)
        model, tokenizer = load_model(config, Path(model_dir), resolved)
        names = saved_label_names(Path(model_dir))
        return TransformerPredictor(model, tokenizer, config, resolved, label_names=names)


RECIPE = TransformerRecipe()
