"""Run records: the layout of runs/<name>/, atomic writes, and loading a finished run.

runs/<name>/
  .sentibench-run  the marker: written first, so the tool only ever writes into (and removes
                   from) a folder it made; a non-empty folder without it is refused
  config.json      model, resolved config, data source + sha256, versions, git commit, command
  status.json      {"status": running|complete|collapsed|failed|pruned, "message": ...}
  metrics.json     test metrics (accuracy, CI, F1, confusion), timings, memory, parameters
                   (a tune trial's: the validation split's, marked "split": "validation")
  predictions.csv  Kaggle submission format `id,sentiment` plus `prob_positive`; for data of
                   k > 2 classes `id,label,prob_<name>...` (label: the predicted class's name)
  val_predictions.csv  the same for the validation split (ids of the training file), from a
                   model that never trained on it; written by every validated run scored on
                   test (what ensembles fit their weights on)
  history.jsonl    one JSON object per epoch (training curves)
  train.log        human-readable log
  model/           weights in a safe format (safetensors / npz / json), never pickle
  checkpoint/      resume state of an unfinished run (removed when the run completes)
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sentibench.errors import SentibenchError
from sentibench.labels import BINARY_LABELS

STATUSES = ("running", "complete", "collapsed", "failed", "pruned")  # pruned: by a tune
MARKER = ".sentibench-run"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes the file owner-only (0600); give it the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def replace_dir(new: Path, target: Path) -> None:
    """Rename `new` onto `target`; the old `target` is moved aside first and restored on failure."""
    if not target.exists():
        os.rename(new, target)
        return
    graveyard = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    old = graveyard / target.name
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)
        raise
    finally:
        shutil.rmtree(graveyard, ignore_errors=True)


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SentibenchError(
            f"{path} does not exist; is this a sentibench run directory?"
        ) from None
    except json.JSONDecodeError as exc:
        raise SentibenchError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})."
        ) from None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "MV2_COMM_WORLD_RANK")


def is_main_process() -> bool:
    """False in the other processes of a multi-process launch (torchrun and accelerate launch
    set RANK, MPI launchers their own variable): only the main one writes run records."""
    return all(int(os.environ.get(name, "0")) == 0 for name in RANK_VARIABLES)


class RunDir:
    """Writer for one run directory; every file is written atomically. In the other processes
    of a multi-process launch it reads but does not write (`writes` is False)."""

    def __init__(self, path: Path, writes: bool | None = None) -> None:
        self.path = Path(path)
        self.writes = is_main_process() if writes is None else writes
        # called with each epoch's history row by the training loop (a tune's pruning report)
        self.on_epoch_end: Callable[[dict[str, Any]], None] | None = None

    config_path = property(lambda self: self.path / "config.json")
    status_path = property(lambda self: self.path / "status.json")
    metrics_path = property(lambda self: self.path / "metrics.json")
    predictions_path = property(lambda self: self.path / "predictions.csv")
    val_predictions_path = property(lambda self: self.path / "val_predictions.csv")
    history_path = property(lambda self: self.path / "history.jsonl")
    log_path = property(lambda self: self.path / "train.log")
    model_dir = property(lambda self: self.path / "model")
    checkpoint_dir = property(lambda self: self.path / "checkpoint")

    marker_path = property(lambda self: self.path / MARKER)

    def is_ours(self) -> bool:
        return self.marker_path.is_file()

    def create(self) -> None:
        """Claim the folder for this run: make it and write the marker first. An existing
        folder must be empty or already ours; anything else is refused, untouched."""
        if not self.writes:
            return
        path = self.path
        if path.exists() and not path.is_dir():
            raise SentibenchError(f"{path} is a file, not a folder; pass a new folder for the run.")
        if path.is_dir() and not self.is_ours() and any(path.iterdir()):
            raise SentibenchError(
                f"{path} already exists and is not a sentibench run folder (no {MARKER} in it); "
                "pass a new or empty folder, nothing was changed."
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            if not self.is_ours():
                atomic_write_json(self.marker_path, {"sentibench_run": 1, "created": now_iso()})
        except OSError as exc:
            raise SentibenchError(
                f"Cannot create the run folder {path} ({exc.strerror or exc}); "
                "pass a folder you can write to."
            ) from None

    def status(self) -> str | None:
        if not self.status_path.exists():
            return None
        return read_json(self.status_path).get("status")

    def set_status(self, status: str, message: str | None = None) -> None:
        assert status in STATUSES, status
        if not self.writes:
            return
        atomic_write_json(self.status_path, {"status": status, "message": message, "at": now_iso()})

    def log(self, message: str) -> None:
        if not self.writes:
            return
        with open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(f"{now_iso()} {message}\n")

    def append_history(self, row: dict[str, Any]) -> None:
        if not self.writes:
            return
        with open(self.history_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    def history(self) -> list[dict[str, Any]]:
        if not self.history_path.exists():
            return []
        lines = self.history_path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def truncate_history(self, epochs: int) -> None:
        """Keep the first `epochs` rows (a resumed run rewrites what came after its checkpoint)."""
        if not self.writes:
            return
        rows = [r for r in self.history() if r.get("epoch", 0) <= epochs]
        atomic_write_text(self.history_path, "".join(json.dumps(r) + "\n" for r in rows))


@dataclass(frozen=True)
class RunRecord:
    """A run directory as read back: what reports, leaderboard and predict work from."""

    path: Path
    config: dict[str, Any]
    status: str
    message: str | None
    metrics: dict[str, Any] | None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model(self) -> str:
        return self.config["model"]

    @property
    def label_names(self) -> tuple[str, ...]:
        """Label id -> name of the data it trained on (config.json's data block holds them
        for k > 2 classes; a record without them is binary)."""
        names = (self.config.get("data") or {}).get("label_names")
        return tuple(names) if names else BINARY_LABELS


def load_run(path: Path) -> RunRecord:
    """Read a run directory (any status)."""
    run = RunDir(path)
    if not run.config_path.exists():
        raise SentibenchError(f"{path} is not a sentibench run directory (no config.json).")
    status = read_json(run.status_path) if run.status_path.exists() else {"status": "running"}
    metrics = read_json(run.metrics_path) if run.metrics_path.exists() else None
    return RunRecord(
        Path(path), read_json(run.config_path), status["status"], status.get("message"), metrics
    )


SEARCH_DEPTH = 4  # runs/tune/<study>/trial-<n>/fold-<k>: the deepest run under --runs


def find_runs(root: Path) -> list[RunRecord]:
    """Every run directory under `root` (a runs folder, a suite folder, or one run)."""
    found: list[RunRecord] = []

    def visit(folder: Path, depth: int) -> None:
        if (folder / "config.json").exists() and (
            (folder / "status.json").exists() or (folder / "train.log").exists()
        ):
            found.append(load_run(folder))
            return  # never descend into a run (its model/ may hold a config.json too)
        if depth < SEARCH_DEPTH:
            for child in sorted(p for p in folder.iterdir() if p.is_dir()):
                if not child.name.startswith("."):
                    visit(child, depth + 1)

    if not Path(root).is_dir():
        raise SentibenchError(f"--runs {root} is not a folder of run directories.")
    visit(Path(root), 0)
    return found


REMOTE_CODE_KEY = "trust_remote_code"
# Reading a damaged or truncated model file raises one of these (safetensors' own error too).
UNREADABLE = (OSError, ValueError, RuntimeError, KeyError, EOFError)


def refuse_remote_code(record: RunRecord, trust_remote_code: bool) -> None:
    """A run folder is something people send each other: a recorded trust_remote_code = true
    alone never runs the Python code it may hold; the user who loads it must allow it."""
    values = record.config.get("config")
    recorded = values.get(REMOTE_CODE_KEY, False) if isinstance(values, dict) else False
    if recorded is not False and not trust_remote_code:
        raise SentibenchError(
            f"Run {record.path} was trained with trust_remote_code = true, so loading it would "
            "run Python code shipped in its folder; if you trust where it came from, pass "
            "--trust-remote-code (in Python: load_run(..., trust_remote_code=True))."
        )


def load_predictor(path: Path, trust_remote_code: bool = False):  # noqa: ANN201 - a Predictor
    """Rebuild the trained model of a complete run, ready for predict_proba(texts).

    Code shipped in the run folder runs only if the run was trained with trust_remote_code
    and the caller passes trust_remote_code=True; everything else loads with it off. A run
    trained with calibrate = temperature comes back calibrated (calibration.load_calibrated):
    this is the one place predict, serve and export get a model from.
    """
    from safetensors import SafetensorError

    from sentibench.calibration import load_calibrated
    from sentibench.config import apply_values
    from sentibench.registry import get_spec

    record = load_run(Path(path))
    if record.status != "complete":
        raise SentibenchError(f"Run {path} is {record.status}, not complete; nothing to load.")
    refuse_remote_code(record, trust_remote_code)
    recipe = get_spec(record.model).load_recipe()
    values = dict(record.config["config"])
    for key in recipe.config_cls.retired_keys:
        values.pop(key, None)
    if REMOTE_CODE_KEY in values:  # on only when recorded and allowed (refused above otherwise)
        values[REMOTE_CODE_KEY] = values[REMOTE_CODE_KEY] is not False and trust_remote_code
    config = apply_values(recipe.config_cls(), values)
    model_dir = RunDir(path).model_dir
    try:
        return load_calibrated(recipe.load(config, model_dir), model_dir)
    except SentibenchError:
        raise
    except (*UNREADABLE, SafetensorError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SentibenchError(
            f"The model in {model_dir} cannot be read ({type(exc).__name__}: {first[:200]}); "
            "its files are damaged or incomplete, so train the run again or copy it whole."
        ) from None


@contextmanager
def exclusive_lock(descriptor: int, busy: SentibenchError) -> Iterator[None]:
    """Hold an exclusive flock on an open file or folder for the block; raise `busy` at once if
    another process holds it. The OS releases it when its process dies, even on kill -9."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise busy from None
    yield
