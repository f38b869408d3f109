"""`sentibench tune report`: a study read back from its storage (it never trains): the best
trial with its settings and score, the top 10, Optuna's parameter importances, and its
optimisation-history and parallel-coordinate plots (matplotlib, PNG), as Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sentibench.errors import SentibenchError
from sentibench.eval.report.markdown import md_cell, md_table
from sentibench.runs import atomic_write_text
from sentibench.tune.study import JOURNAL_FILE, open_storage, study_dir

TOP = 10


def find_storage(runs_root: Path, study: str) -> str:
    folder = study_dir(runs_root, study)
    if (folder / "study.db").exists():
        return f"sqlite:///{(folder / 'study.db').resolve()}"
    if (folder / JOURNAL_FILE).exists():
        return f"journal:{(folder / JOURNAL_FILE).resolve()}"
    raise SentibenchError(f"No study {study!r} under {folder}; pass --runs or --storage.")


def _plots(study: Any, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import warnings

    from optuna.visualization import matplotlib as plots

    written = []
    with warnings.catch_warnings():  # Optuna marks its matplotlib plots experimental
        warnings.simplefilter("ignore")
        for name, plot in (("history", plots.plot_optimization_history),
                           ("parallel", plots.plot_parallel_coordinate)):  # fmt: skip
            axes: Any = plot(study)
            figure: Any = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
            figure.savefig(folder / f"{name}.png", dpi=100, bbox_inches="tight")
            matplotlib.pyplot.close(figure)
            written.append(f"{name}.png")
    return written


def importances(study: Any) -> dict[str, float]:
    import optuna

    try:
        return optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):  # fewer than two complete trials, one value only
        return {}


def write_report(study_name: str, runs_root: Path, storage: str | None = None) -> Path:
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = storage or find_storage(runs_root, study_name)
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        raise SentibenchError(f"Study {study_name!r} has no complete trial yet.")
    folder = study_dir(runs_root, study_name) / "report"
    folder.mkdir(parents=True, exist_ok=True)
    best = study.best_trial
    metric = study.user_attrs.get("metric", "value")
    counts = {s.name.lower(): sum(t.state == s for t in study.trials) for s in TrialState}
    top = sorted(complete, key=lambda t: float(t.value or 0.0), reverse=True)[:TOP]
    names = sorted({key for trial in top for key in trial.params})
    lines = [
        f"# Study {study_name}",
        "",
        f"{study.user_attrs.get('model', '?')} on {study.user_attrs.get('data', '?')}; "
        f"trials: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n) + ".",
        "",
        f"**Best: trial {best.number}**, validation {metric} **{best.value:.4f}**, "
        f"run `{best.user_attrs.get('run', '')}`.",
        "",
        *md_table(["setting", "value"], [[md_cell(k), md_cell(v)] for k, v in best.params.items()]),
        "",
        f"## Top {len(top)}",
        "",
        *md_table(
            ["trial", metric, *names],
            [
                [t.number, f"{t.value:.4f}", *(md_cell(t.params.get(n, "")) for n in names)]
                for t in top
            ],
        ),  # fmt: skip
        "",
        "## Parameter importances (Optuna's fANOVA)",
        "",
    ]
    found = importances(study)
    if found:
        lines += md_table(
            ["setting", "importance"], [[md_cell(k), f"{v:.3f}"] for k, v in found.items()]
        )
    else:
        lines.append("Not enough complete trials to tell.")
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({name})" for name in _plots(study, folder)]
    atomic_write_text(folder / "tune-report.md", "\n".join(lines) + "\n")
    return folder
