"""`sentibench report`: an honest report from run records only (nothing is retrained).

For each dataset (runs are only ranked against runs on the same data sha256): a leaderboard of
groups of seeds (group = model + preset + resolved config without the seed) with mean ± std,
the 95% Wilson interval, McNemar's exact test against the group ranked just above, the figures
of plots.py, and an error analysis. Collapsed, failed and unfinished runs are listed apart.

Labels, texts and lengths of the test reviews come from the TEST split of the dataset named in
each run's config, checked against the run's sha256; predictions.csv holds ids and predictions
only (it is a Kaggle submission), so significance and error analysis need the labels anyway,
and reading them once per dataset is cheaper than copying 25k texts into every run. Where the
data is not on this machine, those sections say so and the rest of the report still stands.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pandas as pd

from sentibench.data.dataset import load_test
from sentibench.data.text import clean
from sentibench.errors import SentibenchError
from sentibench.eval.leaderboard import ranked
from sentibench.eval.significance import (
    adjacent_tests,
    has_predictions,
    read_predictions,
    with_truth,
)
from sentibench.metrics import wilson_interval
from sentibench.registry import REGISTRY
from sentibench.runs import RunDir, RunRecord, atomic_path, atomic_write_text, find_runs

EXCERPT_CHARS = 200
MISTAKES_PER_MODEL = 3
ALL_WRONG_SHOWN = 5
LENGTH_BUCKETS = 4
UNFINISHED = "unfinished: killed, or still training (rerun the same command to resume it)"


@dataclass(frozen=True)
class ReportResult:
    markdown: Path
    html: Path
    plots: list[Path]
    leaderboards: dict[str, pd.DataFrame]  # dataset title -> ranked groups
    unranked: pd.DataFrame  # one row per run that is not complete


def _plots() -> ModuleType:
    """plots.py, or one sentence saying how to get matplotlib (an optional dependency)."""
    try:
        from sentibench.eval import plots
    except ModuleNotFoundError as exc:
        raise SentibenchError(
            f"The report draws its figures with matplotlib, which is missing ({exc.name}); "
            "install it with pip install 'sentibench[plots]'."
        ) from None
    return plots


# ---------------------------------------------------------------- reading run records


def run_table(records: list[RunRecord], root: Path) -> pd.DataFrame:
    """One row per run with what every section needs."""
    rows = []
    for record in records:
        config = dict(record.config.get("config") or {})
        seed = config.pop("seed", None)
        data = record.config.get("data") or {}
        metrics = record.metrics or {}
        low, high = metrics.get("accuracy_ci95", (math.nan, math.nan))
        label = record.path.relative_to(root).as_posix() if record.path != root else record.name
        rows.append(
            {
                "run": label,
                "path": record.path,
                "model": record.model,
                "preset": record.config.get("preset") or "",
                "seed": seed,
                "status": record.status,
                "message": record.message or "",
                "data": data.get("source"),
                "sha256": data.get("sha256"),
                "config_key": json.dumps(config, sort_keys=True, default=str),
                "accuracy": metrics.get("accuracy", math.nan),
                "ci_low": low,
                "ci_high": high,
                "macro_f1": metrics.get("macro_f1", math.nan),
                "train_s": metrics.get("train_seconds", math.nan),
                "reviews_s": metrics.get("train_reviews_per_second", math.nan),
                "params": metrics.get("n_parameters"),
                "trainable": metrics.get("n_trainable"),
                "n": metrics.get("n"),
                "confusion_matrix": metrics.get("confusion_matrix"),
            }
        )
    return pd.DataFrame(rows)


def _flat(config: dict, prefix: str = "") -> dict[str, object]:
    flat: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _variants(complete: pd.DataFrame) -> dict[str, str]:
    """config_key -> the settings that tell it apart from other configs of its model+preset."""
    variants: dict[str, str] = {}
    for _, same in complete.groupby(["model", "preset"]):
        keys = sorted(same["config_key"].unique())
        if len(keys) < 2:
            continue
        flats = [_flat(json.loads(key)) for key in keys]
        differing = sorted(
            {k for flat in flats for k in flat if any(f.get(k) != flat.get(k) for f in flats)}
        )
        for key, flat in zip(keys, flats, strict=True):
            variants[key] = ", ".join(f"{k}={flat.get(k)}" for k in differing)
    return variants


def _first(values: pd.Series) -> object:
    """The first known value (parameter counts are the same for every seed)."""
    known = values.dropna()
    return known.iloc[0] if len(known) else None


def group_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Complete runs of one dataset as ranked groups of seeds (best mean accuracy first)."""
    complete = runs[runs["status"] == "complete"]
    variants = _variants(complete)
    rows = []
    for (model, preset, config_key), members in complete.groupby(
        ["model", "preset", "config_key"], sort=False
    ):
        ordered = members.sort_values("accuracy", kind="stable")
        representative = ordered.iloc[(len(ordered) - 1) // 2]  # the (lower) median seed
        n_test = int(members["n"].iloc[0])
        accuracy = float(members["accuracy"].mean())
        low, high = wilson_interval(round(accuracy * n_test), n_test)
        variant = variants.get(config_key, "")
        spec = REGISTRY.get(model)
        rows.append(
            {
                "label": f"{model}-{preset}" + (f" [{variant}]" if variant else ""),
                "model": model,
                "preset": preset,
                "variant": variant,
                "seeds": len(members),
                "accuracy": accuracy,
                "accuracy_std": float(members["accuracy"].std()) if len(members) > 1 else math.nan,
                "ci_low": low,
                "ci_high": high,
                "macro_f1": float(members["macro_f1"].mean()),
                "macro_f1_std": float(members["macro_f1"].std()) if len(members) > 1 else math.nan,
                "train_s": float(members["train_s"].mean()),
                "reviews_s": float(members["reviews_s"].mean()),
                "params": _first(members["params"]),
                "trainable": _first(members["trainable"]),
                "seed_accuracy": spec.seed_accuracy if spec else None,
                "representative": representative["path"],
                "runs": ", ".join(members["run"]),
                "n_test": n_test,
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return ranked(frame)


# ---------------------------------------------------------------- the test reviews


def load_test_set(source: str, sha256: str) -> tuple[pd.DataFrame | None, str]:
    """The test split (id, text, label, words) of the data a run names, or None and why not."""
    try:
        test, digest = load_test(source)
    except SentibenchError:
        return None, f"the data '{source}' is not on this machine or is incomplete"
    if digest != sha256:
        return None, f"the data '{source}' here is not the data the runs used (sha256 differs)"
    test = test[["id", "text", "label"]].copy()
    test["words"] = test["text"].str.split().str.len()
    return test, ""


def length_bucket_labels(words: pd.Series) -> pd.Series:
    """Quartile buckets of review length in words, labelled like '120–250'."""
    codes, edges = pd.qcut(words, LENGTH_BUCKETS, labels=False, retbins=True, duplicates="drop")
    names = [
        f"{int(edges[i]) + (1 if i else 0)}–{int(edges[i + 1])}" for i in range(len(edges) - 1)
    ]
    ordered = pd.Categorical.from_codes(codes.astype(int), categories=names, ordered=True)
    return pd.Series(ordered, index=words.index)


def excerpt(text: str) -> str:
    text = clean(text)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


# ---------------------------------------------------------------- markdown pieces


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes, emphasis and HTML escaped)."""
    text = str(text).replace("\\", "\\\\").replace("\n", " ")
    return re.sub(r"([|*_`\[\]<>#])", r"\\\1", text)


def md_table(header: list[str], rows: list[list[object]], align: str = "") -> list[str]:
    align = align or "-" * len(header)
    marks = {"-": "---", "r": "---:", "l": ":---"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _mean_std(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")


def _count(value: object) -> str:
    return "" if value is None or value != value else f"{int(value):,}"  # NaN check


def _significance_cell(test: dict | None, rank: int, note: str) -> str:
    if rank == 1:
        return "—"
    if test is None:
        return f"n/a ({note})" if note else "n/a"
    verdict = "**real**" if test["real"] else "not significant"
    return f"{verdict} (p={test['p_value']:.2g}, {test['only_a_right']}:{test['only_b_right']})"


def _images(paths: list[Path]) -> list[str]:
    """Markdown images, one paragraph each."""
    return [line for path in paths for line in (f"![{path.stem}](plots/{path.name})", "")]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "run"


# ---------------------------------------------------------------- one dataset


def _leaderboard_lines(
    groups: pd.DataFrame, tests: list[dict | None], notes: list[str]
) -> list[str]:
    rows = []
    for row, test, note in zip(groups.itertuples(), tests, notes, strict=True):
        seed = "" if pd.isna(row.seed_accuracy) else f"{row.seed_accuracy:.4f}"
        rows.append(
            [
                row.rank,
                md_cell(row.model),
                md_cell(row.preset),
                md_cell(row.variant),
                row.seeds,
                _mean_std(row.accuracy, row.accuracy_std),
                f"{row.ci_low:.4f}–{row.ci_high:.4f}",
                _mean_std(row.macro_f1, row.macro_f1_std),
                "" if math.isnan(row.train_s) else f"{row.train_s:,.1f}",
                "" if math.isnan(row.reviews_s) else f"{row.reviews_s:,.0f}",
                _count(row.params),
                _count(row.trainable),
                seed,
                _significance_cell(test, row.rank, note),
            ]
        )
    header = ["rank", "model", "preset", "variant", "seeds", "accuracy", "95% CI", "macro-F1"]
    header += ["train s", "reviews/s", "params", "trainable", "seed", "vs rank above"]
    return md_table(header, rows, "rlllrrlrrrrrrl")


def _error_analysis_lines(groups: pd.DataFrame, truth: pd.DataFrame) -> list[str]:
    lines = [
        "### Error analysis",
        "",
        "Most confident mistakes of each model (its median seed):",
        "",
    ]
    rows, wrong_sets = [], []
    for row in groups.itertuples():
        joined = with_truth(read_predictions(row.representative), truth)
        wrong = joined[joined["sentiment"] != joined["label"]]
        wrong_sets.append(wrong.set_index("id")["prob_positive"].rename(row.label))
        confidence = (wrong["prob_positive"] - 0.5).abs()
        for mistake in (
            wrong.loc[confidence.sort_values(ascending=False).index]
            .head(MISTAKES_PER_MODEL)
            .itertuples()
        ):
            label = "positive" if mistake.label == 1 else "negative"
            rows.append(
                [md_cell(row.label), md_cell(mistake.id), label, f"{mistake.prob_positive:.3f}",
                 md_cell(excerpt(mistake.text))]
            )  # fmt: skip
    lines += md_table(["model", "review id", "true", "P(positive)", "excerpt"], rows, "lllrl")
    if len(wrong_sets) >= 2:
        everyone = pd.concat(wrong_sets, axis=1, join="inner")
        lines += [
            "",
            f"**{len(everyone):,} of {len(truth):,} test reviews are misclassified by all "
            f"{len(wrong_sets)} models.**" + (" Examples:" if len(everyone) else ""),
            "",
        ]
        if len(everyone):
            shown = everyone.mean(axis=1).rename("mean_p").to_frame().join(truth.set_index("id"))
            shown = shown.loc[(shown["mean_p"] - 0.5).abs().sort_values(ascending=False).index]
            rows = [
                [md_cell(review_id), "positive" if r.label == 1 else "negative",
                 f"{r.mean_p:.3f}", md_cell(excerpt(r.text))]
                for review_id, r in shown.head(ALL_WRONG_SHOWN).iterrows()
            ]  # fmt: skip
            lines += md_table(["review id", "true", "mean P(positive)", "excerpt"], rows, "llrl")
    return lines + [""]


def _length_table(groups: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    buckets = length_bucket_labels(truth.set_index("id")["words"])
    table = {}
    for row in groups.itertuples():
        joined = with_truth(read_predictions(row.representative), truth[["id", "label"]])
        correct = (joined["sentiment"] == joined["label"]).to_numpy()
        bucket = buckets.loc[joined["id"]].array  # stays categorical: buckets keep their order
        table[row.label] = pd.Series(correct).groupby(bucket, observed=False).mean()
    return pd.DataFrame(table)


def _per_run_points(runs: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Complete runs in group rank order, labelled by group (and seed when a group has several)."""
    points = []
    for row in groups.itertuples():
        members = runs[runs["run"].isin(row.runs.split(", "))].sort_values("seed")
        for run in members.itertuples():
            label = row.label + (f" s{run.seed}" if row.seeds > 1 else "")
            points.append(
                {"label": label, "accuracy": run.accuracy, "ci_low": run.ci_low,
                 "ci_high": run.ci_high, "seed_accuracy": row.seed_accuracy}
            )  # fmt: skip
    return pd.DataFrame(points)


def _dataset_section(
    runs: pd.DataFrame, groups: pd.DataFrame, plots_dir: Path
) -> tuple[list[str], list[Path]]:
    first = runs.iloc[0]
    source, sha = first["data"], first["sha256"]
    name = Path(source).name or source  # sample, imdb, or the folder's name
    slug = f"{_slug(name)}-{sha[:8]}"
    n_test = int(groups["n_test"].iloc[0])
    truth, missing = load_test_set(source, sha)
    tests = adjacent_tests(list(groups["representative"]), truth) if truth is not None else None
    tests = tests or [None] * len(groups)
    # Run records copied without their predictions.csv still rank; they sit out the analyses.
    kept = groups["representative"].map(has_predictions).to_numpy()
    notes = [
        missing
        or ("no predictions.csv" if not kept[i] else "")
        or ("no predictions.csv above" if i and not kept[i - 1] else "")
        for i in range(len(groups))
    ]
    lines = [f"## Data: {source} (sha256 {sha[:12]}…, {n_test:,} test reviews)", ""]
    lines += _leaderboard_lines(groups, tests, notes)
    lines += [
        "",
        "accuracy: mean ± std over seeds; 95% CI: Wilson interval at that accuracy over the "
        "test reviews; vs rank above: McNemar's exact test against the group ranked just above "
        "(median seed of each, p < 0.05 = real, unadjusted; a:b = reviews only the upper:lower "
        "one gets right); seed: the seed project's published accuracy on the 25k official test "
        "reviews, comparable only with runs on the full test set.",
        "",
    ]
    if truth is None:
        lines += [f"Significance, length buckets and error analysis skipped: {missing}.", ""]
    elif not kept.all():
        lines += [
            "Left out of significance, length buckets and error analysis (no predictions.csv "
            f"in the run folder): {', '.join(map(md_cell, groups.loc[~kept, 'label']))}.",
            "",
        ]
    scored = groups[kept]
    plots = _plots()
    made = [
        plots.accuracy_intervals(
            _per_run_points(runs, groups),
            plots_dir / f"{slug}-accuracy.png",
            f"Test accuracy with 95% intervals ({name})",
        ),
        plots.accuracy_vs_time(
            groups, plots_dir / f"{slug}-pareto.png", f"Accuracy vs training time ({name})"
        ),
        plots.confusion_matrices(
            groups.assign(
                confusion_matrix=runs.set_index("path")
                .loc[groups["representative"], "confusion_matrix"]
                .tolist()
            ),
            plots_dir / f"{slug}-confusion.png",
            f"Confusion matrices, median seed ({name})",
        ),
    ]
    if truth is not None and len(scored):
        made.append(
            plots.length_buckets(
                _length_table(scored, truth),
                plots_dir / f"{slug}-length.png",
                f"Accuracy by review length ({name})",
            )
        )
    lines += _images(made)
    if truth is not None and len(scored):
        lines += _error_analysis_lines(scored, truth)
    return lines, made


# ---------------------------------------------------------------- the whole report


def _unranked_lines(unranked: pd.DataFrame) -> list[str]:
    lines = ["## Not ranked (collapsed, failed or unfinished)", ""]
    if unranked.empty:
        return lines + ["None: every run completed.", ""]
    rows = [
        [md_cell(r.run), md_cell(r.model), f"**{r.status}**", md_cell(r.message or UNFINISHED)]
        for r in unranked.itertuples()
    ]
    return lines + md_table(["run", "model", "status", "message"], rows) + [""]


def _curves(runs: pd.DataFrame, plots_dir: Path) -> tuple[list[str], list[Path]]:
    plots, made = _plots(), []
    for run in runs.itertuples():
        history = RunDir(run.path).history()
        if history:
            path = plots.training_curves(
                history, plots_dir / f"curves-{_slug(run.run)}.png", f"{run.run} ({run.status})"
            )
            if path is not None:
                made.append(path)
    if not made:
        return [], []
    lines = ["## Training curves", ""]
    return lines + _images(made), made


def _machines(records: list[RunRecord]) -> str:
    seen = []
    for record in records:
        info = record.config.get("machine") or {}
        text = f"{info.get('cpu', '?')} ({info.get('cores', '?')} cores)"
        text += f", {info['gpu']}" if info.get("gpu") else ""
        if info and text not in seen:
            seen.append(text)
    return "; ".join(seen) or "unknown"


def to_html(markdown: str, base: Path, title: str) -> str:
    """A self-contained HTML page: every image inlined as a base64 data URI."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table")

    def inline_image(renderer, tokens, index, options, env):  # markdown-it's render-rule form
        token = tokens[index]
        data = base64.b64encode((base / token.attrGet("src")).read_bytes()).decode("ascii")
        token.attrSet("src", f"data:image/png;base64,{data}")
        return renderer.image(tokens, index, options, env)

    parser.add_render_rule("image", inline_image)
    body = parser.render(markdown)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;"
    "color:#222}table{border-collapse:collapse;margin:1em 0;font-size:0.9em}"
    "th,td{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}"
    "img{max-width:100%;display:block;margin:1em 0}code{background:#f3f3f3}"
)


def write_report(
    runs_root: Path, out: Path | None = None, title: str | None = None
) -> ReportResult:
    """Write report.md, report.html, leaderboard.csv, runs.csv and plots/ into `out`."""
    runs_root = Path(runs_root)
    out = Path(out) if out is not None else runs_root / "report"
    records = find_runs(runs_root)
    if not records:
        raise SentibenchError(f"No run records under {runs_root}; train or bench something first.")
    runs = run_table(records, runs_root)
    _plots()  # fail before writing anything if matplotlib is missing
    plots_dir = out / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    title = title or "sentibench report"
    lines = [
        f"# {title}",
        "",
        f"{len(runs)} run records under `{runs_root}`; every number below comes from those "
        "records (nothing was retrained), so the same records always give the same report. "
        f"Machines: {md_cell(_machines(records))}.",
        "",
    ]
    made: list[Path] = []
    leaderboards: dict[str, pd.DataFrame] = {}
    ranked_data = runs[(runs["status"] == "complete") & runs["sha256"].notna()]
    for _, data_runs in ranked_data.groupby("sha256", sort=False):
        groups = group_table(data_runs)
        section, figures = _dataset_section(data_runs, groups, plots_dir)
        lines += section
        made += figures
        leaderboards[f"{data_runs['data'].iloc[0]} ({data_runs['sha256'].iloc[0][:8]})"] = groups
    unranked = runs[runs["status"] != "complete"]
    lines += _unranked_lines(unranked)
    curve_lines, curves = _curves(runs, plots_dir)
    lines += curve_lines
    made += curves
    for stale in set(plots_dir.glob("*.png")) - set(made):
        stale.unlink()  # figures of runs that are no longer there
    markdown = "\n".join(lines)
    atomic_write_text(out / "report.md", markdown)
    atomic_write_text(out / "report.html", to_html(markdown, out, title))
    table = pd.concat([g.assign(data=name) for name, g in leaderboards.items()] or [pd.DataFrame()])
    with atomic_path(out / "leaderboard.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(out / "runs.csv") as tmp:
        runs.drop(columns=["config_key", "confusion_matrix"]).to_csv(tmp, index=False)
    return ReportResult(out / "report.md", out / "report.html", made, leaderboards, unranked)
