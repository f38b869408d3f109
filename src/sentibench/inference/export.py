"""Faster CPU variants of a trained run: ONNX (run by ONNX Runtime), PyTorch dynamic int8, bf16.

    sentibench export --run DIR --format onnx   DIR/export/onnx/model.onnx + export.json
    sentibench export --run DIR --format int8   DIR/export/int8/export.json
    sentibench export --run DIR --format bf16   DIR/export/bf16/export.json

All three apply to the torch families (classic nets, transformers); the linear models are sparse
scikit-learn dot products with nothing to gain. Each export is scored on the run's own test
split and export.json records its accuracy next to the original's, their agreement, the largest
change of a probability, and its speed here.

int8 is torch.ao.quantization.quantize_dynamic over nn.Linear / nn.LSTM / nn.GRU: int8 weights,
activations quantized on the fly. It is a deterministic function of the fp32 weights in model/,
so the int8 model is rebuilt from them at load time and the export folder holds no second copy
of the weights (a quantized state_dict could only be stored with pickle).

bf16 runs the fp32 weights under torch.autocast("cpu", bfloat16): matrix products in bfloat16,
which CPUs with AVX512-BF16 or AMX do natively (about twice the fp32 speed there) and others
emulate (slower than fp32; export.json says which this machine is, by
runtime.native_cpu_bf16). Nothing is stored either.

LoRA adapters are merged into the weights before either (prompt, P-tuning and prefix runs keep
their virtual tokens, which export as they are). ONNX axes: batch and sequence length are
dynamic; the export is checked against the original model on batches of other shapes (see
write_onnx for which exporter is used).

Every format works on any TorchPredictor (predictor.py) and goes through its own batches():
the original's encoding, truncation and length-sorted, dynamically padded batches, with only
the function batch -> logits swapped.

k > 2 classes (a source predictor with k `label_names`): the module's logits are (n, k), the
export answers predict_class_proba (n, k), and export.json compares labels and every class's
probability with predictions.csv (`id,label,prob_<name>...`). Binary exports are unchanged.
"""

from __future__ import annotations

import logging
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentibench.calibration import same_calibration, uncalibrated
from sentibench.errors import SentibenchError
from sentibench.labels import BINARY_LABELS
from sentibench.predictor import (
    Batch,
    Predictor,
    TorchPredictor,
    batch_logits,
    binary_columns,
    class_proba,
    predicted_ids,
    proba_of_batches,
    require_binary,
    softmax_proba,
)
from sentibench.runs import RunRecord, atomic_write_json, now_iso
from sentibench.runtime import native_cpu_bf16

FORMATS = ("onnx", "int8", "bf16")
ONNX_FILE = "model.onnx"
EXPORT_JSON = "export.json"
QUANTIZED_TYPES = (nn.Linear, nn.LSTM, nn.GRU)


# ---------------------------------------------------------------------------------------------
# Running an export.


def torch_predictor(record: RunRecord, predictor: Predictor) -> TorchPredictor:
    """The run's predictor, if it is a torch model behind texts -> batches (the model alone:
    a calibrated run's temperature is put back on the export with same_calibration)."""
    predictor = uncalibrated(predictor)
    if isinstance(predictor, TorchPredictor):
        return predictor
    raise SentibenchError(
        f"Run {record.path} is a {record.config.get('family')} model ({record.model}); ONNX, "
        "int8 and bf16 apply to the torch families (classic nets and transformers)."
    )


class ExportedPredictor:
    """A Predictor from a TorchPredictor's batches and another function batch -> logits
    (ONNX Runtime, int8 or bf16 torch); `module` is the torch module behind it, if any."""

    def __init__(
        self,
        source: TorchPredictor,
        logits_of: Callable[[Batch], torch.Tensor],
        module: nn.Module | None = None,
    ) -> None:
        self.source = source
        self.logits_of = logits_of
        self.module = module
        # the source's classes (k > 2: (n, k) logits); a predictor without names is binary
        self.label_names: tuple[str, ...] = tuple(
            getattr(source, "label_names", None) or BINARY_LABELS
        )

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        require_binary(self.label_names)
        return proba_of_batches(self.source.batches(texts), len(texts), self.logits_of)

    def predict_class_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) class probabilities (binary: [1 - P(positive), P(positive)])."""
        k = len(self.label_names)
        if k == 2:
            return binary_columns(self.predict_proba(texts))
        logits = batch_logits(self.source.batches(texts), len(texts), self.logits_of, k)
        return softmax_proba(logits)

    def save(self, directory: Path) -> None:
        raise SentibenchError("An export is written by `sentibench export`, not saved again.")


@contextmanager
def without_fused_encoder() -> Iterator[None]:
    """Switch off torch's fused nn.TransformerEncoderLayer kernel for the duration.

    The fused path reads every Linear's float `.weight` (int8 layers have none) and is one
    operator ONNX has no translation for; the unfused path computes the same function.
    """
    enabled = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        yield
    finally:
        torch.backends.mha.set_fastpath_enabled(enabled)


def quantize_int8(module: nn.Module) -> nn.Module:
    """Dynamic int8 quantization of the Linear / LSTM / GRU layers of a CPU module (in place)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():  # torch points eager quantization users at torchao
        warnings.simplefilter("ignore")
        return quantize_dynamic(module, set(QUANTIZED_TYPES), dtype=torch.qint8)


def int8_predictor(source: TorchPredictor) -> ExportedPredictor:
    quantized = quantize_int8(source.export_module())

    def logits_of(batch: Batch) -> torch.Tensor:
        with without_fused_encoder():
            return quantized(**batch)

    return ExportedPredictor(source, logits_of, quantized)


def _recurrent_in_fp32(module: nn.Module) -> None:
    """Run every LSTM/GRU of `module` in fp32 under bf16 autocast: oneDNN has no bf16 LSTM
    primitive on CPUs without AMX (seen on an AVX512-BF16 EPYC: "could not create a primitive
    descriptor"), and the recurrence is a small share of the work."""
    from torch.nn.utils.rnn import PackedSequence

    def to_float(value: Any) -> Any:
        if isinstance(value, PackedSequence) and value.data.is_floating_point():
            return value._replace(data=value.data.float())
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value.float()
        return value

    for layer in module.modules():
        if isinstance(layer, nn.LSTM | nn.GRU):
            forward = layer.forward

            def fp32_forward(*args: Any, _forward: Any = forward, **kwargs: Any) -> Any:
                with torch.autocast("cpu", enabled=False):
                    return _forward(*(to_float(a) for a in args), **kwargs)

            layer.forward = fp32_forward  # type: ignore[method-assign]


def bf16_predictor(source: TorchPredictor) -> ExportedPredictor:
    module = source.export_module()
    _recurrent_in_fp32(module)

    def logits_of(batch: Batch) -> torch.Tensor:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return module(**batch)

    return ExportedPredictor(source, logits_of, module)


def onnx_predictor(
    source: TorchPredictor, path: Path, threads: int | None = None, quiet: bool = False
) -> ExportedPredictor:
    try:
        import onnxruntime as ort
    except ImportError:
        raise SentibenchError("ONNX needs onnxruntime: pip install 'sentibench[serve]'.") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or 0  # 0: one per core
    options.inter_op_num_threads = 1
    if quiet:
        options.log_severity_level = 4  # only fatal: an expected failure is reported by the caller
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits_of(batch: Batch) -> torch.Tensor:
        feeds = {name: tensor.numpy() for name, tensor in batch.items()}
        return torch.from_numpy(session.run(["logits"], feeds)[0])

    return ExportedPredictor(source, logits_of)


def export_dir(run: Path, fmt: str) -> Path:
    return Path(run) / "export" / fmt


def load_export(
    record: RunRecord, predictor: Predictor, fmt: str, threads: int | None = None
) -> Predictor:
    """The run's model as `fmt` (onnx: the exported file; int8: quantized now; bf16),
    calibrated as the run's own predictor is."""
    source = torch_predictor(record, predictor)
    if fmt == "int8":
        return same_calibration(predictor, int8_predictor(source))
    if fmt == "bf16":
        return same_calibration(predictor, bf16_predictor(source))
    path = export_dir(record.path, "onnx") / ONNX_FILE
    if not path.exists():
        raise SentibenchError(
            f"{path} does not exist; run `sentibench export --run {record.path} --format onnx`."
        )
    return same_calibration(predictor, onnx_predictor(source, path, threads))


# ---------------------------------------------------------------------------------------------
# Writing an export.


@contextmanager
def _exporting() -> Iterator[None]:
    """no_grad, the unfused encoder, and none of the exporters' notices (the TorchScript one's
    deprecation warning, the torch.export one's "torchvision is not installed" log lines)."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings(), without_fused_encoder():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _torch_onnx_export(
    source: TorchPredictor, module: nn.Module, batch: Batch, path: Path, dynamo: bool
) -> None:
    names = source.input_names
    if dynamo:  # symbolic shapes: one torch.export.Dim per axis name, shared across inputs
        dims = {label: torch.export.Dim(label) for axes in source.dynamic_axes.values()
                for label in axes.values()}  # fmt: skip
        shapes = {n: {a: dims[label] for a, label in source.dynamic_axes[n].items()}
                  for n in names}  # fmt: skip
        axes: dict[str, Any] = {"dynamic_shapes": shapes}
    else:
        axes = {"dynamic_axes": {**source.dynamic_axes, "logits": {0: "batch"}}}
    with _exporting():
        torch.onnx.export(
            module,
            tuple(batch[name] for name in names),
            str(path),
            input_names=list(names),
            output_names=["logits"],
            opset_version=None if dynamo else 17,
            dynamo=dynamo,
            verbose=False,
            **axes,
        )


def _mismatch(source: TorchPredictor, path: Path, examples: list[str]) -> str | None:
    """Why the ONNX file disagrees with the model on batches of other sizes and lengths than
    the traced one (None if it agrees within 1e-4 in probability)."""
    session = onnx_predictor(source, path, threads=1, quiet=True)
    for check in (examples[:3], [*examples, " ".join(examples)]):
        expected = class_proba(source, check)  # (n, k); binary: [1 - P(positive), P(positive)]
        try:
            got = class_proba(session, check)
        except Exception as exc:  # ONNX Runtime raises its own error types for shape faults
            return f"ONNX Runtime failed on another batch shape ({type(exc).__name__})"
        if not np.allclose(got, expected, atol=1e-4):
            return f"probabilities differ by {np.abs(got - expected).max():.2e}"
    return None


def write_onnx(source: TorchPredictor, path: Path, examples: Sequence[str]) -> str:
    """Export with dynamic batch and length axes, checked; return the exporter used.

    The TorchScript exporter comes first: it takes seconds where the torch.export-based one
    takes 5-15 s here. It can fix a shape that should stay dynamic (nn.MultiheadAttention's
    reshapes, in the classic `transformer`), which the check catches: the export is then redone
    with torch.export's symbolic shapes.
    """
    module = source.export_module()
    examples = list(examples)
    _, batch = next(iter(source.batches(examples)))
    problems = []
    for exporter, dynamo in (("torchscript", False), ("dynamo", True)):
        try:
            _torch_onnx_export(source, module, batch, path, dynamo)
        except Exception as exc:  # any exporter failure: try the other one, report both
            problems.append(f"{exporter}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
            continue
        problem = _mismatch(source, path, examples)
        if problem is None:
            return exporter
        problems.append(f"{exporter}: {problem}")
    path.unlink(missing_ok=True)
    raise SentibenchError(f"ONNX export failed ({'; '.join(problems)}).")


def scored_test_split(record: RunRecord) -> Any:
    """The official test split the run was scored on (checked by sha256)."""
    from sentibench.data.dataset import load_official

    data = record.config["data"]
    _, test, _, digest = load_official(data["source"])
    if digest != data["sha256"]:
        raise SentibenchError(
            f"The data '{data['source']}' has changed since run {record.path} was trained "
            "(sha256 differs); an export can only be scored on the same test split."
        )
    return test


def export_run(
    run: str | Path, fmt: str, threads: int | None = None, trust_remote_code: bool = False
) -> dict[str, Any]:
    """Write RUN/export/FMT/ (atomically) with export.json; return export.json's content.
    `trust_remote_code`: as for load_run (a run trained with it is refused without it)."""
    import pandas as pd

    from sentibench.runs import load_predictor, load_run
    from sentibench.runtime import set_threads

    if fmt not in FORMATS:
        raise SentibenchError(f"--format must be one of {', '.join(FORMATS)}, got '{fmt}'.")
    set_threads(threads)
    record = load_run(Path(run))
    loaded = load_predictor(Path(run), trust_remote_code)
    source = torch_predictor(record, loaded)
    test = scored_test_split(record)
    texts = test["text"].tolist()
    final = export_dir(record.path, fmt)
    tmp = final.with_name(f".{fmt}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        exporter = None
        exported: Predictor
        if fmt == "onnx":
            exporter = write_onnx(source, tmp / ONNX_FILE, texts[:8])
            exported = onnx_predictor(source, tmp / ONNX_FILE, threads)
        else:
            exported = int8_predictor(source) if fmt == "int8" else bf16_predictor(source)
        exported = same_calibration(loaded, exported)  # compared with predictions.csv's
        names = record.label_names
        started = time.perf_counter()
        proba = exported.predict_proba(texts) if len(names) == 2 else class_proba(exported, texts)
        seconds = time.perf_counter() - started
        original = pd.read_csv(record.path / "predictions.csv", dtype={"id": str, "label": str})
        labels, agreement, prob_diff = _compared(proba, original, names)
        summary = {
            "format": fmt,
            "run": record.name,
            "model": record.model,
            "created": now_iso(),
            "n": len(texts),
            "accuracy": float((labels == test["label"].to_numpy()).mean()),
            "original_accuracy": (record.metrics or {}).get("accuracy"),
            "agreement_with_original": agreement,
            "max_abs_prob_diff": prob_diff,
            "predict_seconds": round(seconds, 3),
            "reviews_per_second": round(len(texts) / max(seconds, 1e-9), 2),
            "threads": torch.get_num_threads() if threads is None else threads,
            "quantized": [t.__name__ for t in QUANTIZED_TYPES] if fmt == "int8" else [],
            "onnx_exporter": exporter,
            "native_bf16": native_cpu_bf16() is not None if fmt == "bf16" else None,
            "files": {p.name: p.stat().st_size for p in tmp.iterdir()},
            "versions": _versions(),
        }
        atomic_write_json(tmp / EXPORT_JSON, summary)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {**summary, "path": str(final)}


def _compared(
    proba: np.ndarray, original: Any, names: Sequence[str]
) -> tuple[np.ndarray, float, float]:
    """(label ids, agreement with predictions.csv, largest probability change): binary
    predictions.csv holds `sentiment` and `prob_positive`; k classes `label` (a name) and
    `prob_<name>` for each."""
    labels = predicted_ids(proba)
    if len(names) == 2:
        agreement = float((labels == original["sentiment"].to_numpy()).mean())
        return labels, agreement, float(np.abs(proba - original["prob_positive"].to_numpy()).max())
    recorded = original["label"].map({name: i for i, name in enumerate(names)}).to_numpy()
    columns = original[[f"prob_{name}" for name in names]].to_numpy(dtype=np.float64)
    agreement = float((labels == recorded).mean())
    return labels, agreement, float(np.abs(proba - columns).max())


def _versions() -> dict[str, str]:
    """The run record's package versions plus the ONNX ones."""
    from importlib.metadata import PackageNotFoundError, version

    from sentibench.provenance import package_versions

    found = package_versions()
    for package in ("onnx", "onnxruntime"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
