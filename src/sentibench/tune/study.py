"""Where a study lives and how it samples and prunes.

Default storage: SQLite beside the trials, `sqlite:///<runs>/tune/<study>/study.db`, a real
database that `optuna-dashboard` and any SQL client can open, with WAL on so that the workers
of one machine read while one writes. With `--executor slurm` the trials run on several nodes
whose shared folder is usually NFS, where SQLite's file locks are unreliable (corruption or
"database is locked"), so the default there is Optuna's JournalStorage on an append-only file
(`journal.log`), which locks with plain file creation and is made for exactly that case.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentibench.errors import ConfigError

SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
JOURNAL_FILE = "journal.log"


def study_dir(runs_root: Path, study: str) -> Path:
    return Path(runs_root) / "tune" / study


def default_storage(folder: Path, executor: str) -> str:
    if executor == "slurm":
        return f"journal:{folder.resolve() / JOURNAL_FILE}"
    return f"sqlite:///{folder.resolve() / 'study.db'}"


def _wal_on(connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer (parallel workers ask and tell at once)
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def open_storage(url: str) -> Any:
    """An Optuna storage for `url`: sqlite:// (WAL on), any SQLAlchemy URL, or journal:PATH."""
    import optuna

    if url.startswith("journal:"):
        from optuna.storages.journal import JournalFileBackend

        return optuna.storages.JournalStorage(JournalFileBackend(url.removeprefix("journal:")))
    if url.startswith("sqlite:"):
        import sqlalchemy

        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        sqlalchemy.event.listen(storage.engine, "connect", _wal_on)
        storage.engine.dispose()  # reconnect so that every connection, the first too, is WAL
        return storage
    return optuna.storages.RDBStorage(url)


def make_sampler(name: str, seed: int, grid: dict[str, list[Any]] | None = None) -> Any:
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(grid or {}, seed=seed)
    raise ConfigError(f"--sampler {name!r}: choose one of {', '.join(SAMPLERS)}.")


def make_pruner(name: str, trials: int) -> Any:
    import optuna

    if name == "median":
        # a fifth of the trials (at most 5) finish unpruned before the median is trusted
        return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, trials // 5)))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner()
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner {name!r}: choose one of {', '.join(PRUNERS)}.")


def load_study(name: str, storage: str, sampler: Any, pruner: Any) -> Any:
    """Create the study, or load it to continue (the same command resumes it)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=name,
        storage=open_storage(storage),
        sampler=sampler,
        pruner=pruner,
        direction="maximize",
        load_if_exists=True,
    )


def finished(study: Any) -> int:
    """Trials that count toward --trials: complete or pruned (failed ones are retried)."""
    from optuna.trial import TrialState

    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))
