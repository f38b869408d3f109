"""report.md's pieces: escaped cells, tables, and the sections built from the report's tables."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from sentibench.eval.report.reviews import excerpt
from sentibench.eval.significance import probabilities, read_predictions, with_truth
from sentibench.labels import BINARY_LABELS
from sentibench.runs import RunRecord

MISTAKES_PER_MODEL = 3
ALL_WRONG_SHOWN = 5
UNFINISHED = "unfinished: killed, or still training (rerun the same command to resume it)"
LEGEND = (
    "accuracy: mean ± std over seeds; 95% CI: Wilson interval at that accuracy over the test "
    "reviews; vs rank above: McNemar's exact test against the group ranked just above (median "
    "seed of each, p < 0.05 = real, unadjusted; a:b = reviews only the upper:lower one gets "
    "right); published: the original project's published accuracy on the 25k official test "
    "reviews, comparable only with runs on the full test set. ECE: expected calibration error "
    "of the test probabilities (15 equal-width bins of the predicted class's confidence; mean "
    "over seeds; blank for records from before it was measured)."
)


def md_cell(text: object) -> str:
    """Text safe inside a Markdown table cell (pipes, emphasis and HTML escaped)."""
    text = str(text).replace("\\", "\\\\").replace("\n", " ")
    return re.sub(r"([|*_`\[\]<>#])", r"\\\1", text)


def md_table(header: list[str], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    align = align or "-" * len(header)
    marks = {"-": "---", "r": "---:", "l": ":---"}
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks[a] for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def mean_std(mean: float, std: float, digits: int = 4) -> str:
    return f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")


def ece_cell(value: float | None) -> str:
    """ECE to 4 places; blank for a record written before runs measured it."""
    return "" if value is None or value != value else f"{value:.4f}"  # NaN check


def count(value: float | None) -> str:
    return "" if value is None or value != value else f"{int(value):,}"  # NaN check


def _significance_cell(test: dict | None, rank: int, note: str) -> str:
    if rank == 1:
        return "—"
    if test is None:
        return f"n/a ({note})" if note else "n/a"
    verdict = "**real**" if test["real"] else "not significant"
    return f"{verdict} (p={test['p_value']:.2g}, {test['only_a_right']}:{test['only_b_right']})"


def images(paths: list[Path]) -> list[str]:
    """Markdown images, one paragraph each."""
    return [line for path in paths for line in (f"![{path.stem}](plots/{path.name})", "")]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "run"


def leaderboard_lines(
    groups: pd.DataFrame, tests: list[dict | None], notes: list[str]
) -> list[str]:
    rows = []
    for row, test, note in zip(groups.itertuples(), tests, notes, strict=True):
        published = "" if pd.isna(row.published_accuracy) else f"{row.published_accuracy:.4f}"
        rows.append(
            [
                row.rank,
                md_cell(row.model),
                md_cell(row.preset),
                md_cell(row.variant),
                row.seeds,
                mean_std(row.accuracy, row.accuracy_std),
                f"{row.ci_low:.4f}–{row.ci_high:.4f}",
                mean_std(row.macro_f1, row.macro_f1_std),
                ece_cell(row.ece),
                "" if math.isnan(row.train_s) else f"{row.train_s:,.1f}",
                "" if math.isnan(row.reviews_s) else f"{row.reviews_s:,.0f}",
                count(row.params),
                count(row.trainable),
                published,
                _significance_cell(test, row.rank, note),
            ]
        )
    header = ["rank", "model", "preset", "variant", "seeds", "accuracy", "95% CI", "macro-F1"]
    header += ["ECE", "train s", "reviews/s", "params", "trainable", "published", "vs rank above"]
    return md_table(header, rows, "rlllrrlrrrrrrrl")


def error_analysis_lines(
    groups: pd.DataFrame,
    truth: pd.DataFrame,
    label_names: tuple[str, ...] = BINARY_LABELS,
) -> list[str]:
    """Each model's most confident mistakes and the reviews every model gets wrong; binary by
    P(positive), k classes by the probability of the (wrong) predicted class."""
    if len(label_names) != 2:
        return _error_analysis_k(groups, truth, label_names)
    lines = [
        "### Error analysis",
        "",
        "Most confident mistakes of each model (its median seed):",
        "",
    ]
    rows, wrong_sets = [], []
    for row in groups.itertuples():
        joined = with_truth(read_predictions(row.representative), truth)
        wrong = joined[joined["predicted"] != joined["label"]]
        wrong_sets.append(wrong.set_index("id")["prob_positive"].rename(row.label))
        confidence = (wrong["prob_positive"] - 0.5).abs()
        for mistake in (
            wrong.loc[confidence.sort_values(ascending=False).index]
            .head(MISTAKES_PER_MODEL)
            .itertuples()
        ):
            label = md_cell(label_names[int(mistake.label)])
            rows.append(
                [md_cell(row.label), md_cell(mistake.id), label, f"{mistake.prob_positive:.3f}",
                 md_cell(excerpt(mistake.text))]
            )  # fmt: skip
    lines += md_table(["model", "review id", "true", "P(positive)", "excerpt"], rows, "lllrl")
    return lines + _all_wrong_lines(wrong_sets, truth, label_names, "P(positive)")


def _all_wrong_lines(
    wrong_sets: list[pd.Series], truth: pd.DataFrame, label_names: tuple[str, ...], column: str
) -> list[str]:
    """The reviews every model gets wrong, most confidently wrong first: `wrong_sets` holds each
    model's `column` (P(positive), or P(predicted) for k classes) on its mistakes, by id."""
    if len(wrong_sets) < 2:
        return [""]
    everyone = pd.concat(wrong_sets, axis=1, join="inner")
    lines = [
        "",
        f"**{len(everyone):,} of {len(truth):,} test reviews are misclassified by all "
        f"{len(wrong_sets)} models.**" + (" Examples:" if len(everyone) else ""),
        "",
    ]
    if len(everyone):
        shown = everyone.mean(axis=1).rename("mean_p").to_frame().join(truth.set_index("id"))
        # binary: distance from the 0.5 threshold; k classes: the wrong class's probability
        confidence = (shown["mean_p"] - 0.5).abs() if len(label_names) == 2 else shown["mean_p"]
        shown = shown.loc[confidence.sort_values(ascending=False, kind="stable").index]
        rows = [
            [md_cell(review_id), md_cell(label_names[int(r.label)]), f"{r.mean_p:.3f}",
             md_cell(excerpt(r.text))]
            for review_id, r in shown.head(ALL_WRONG_SHOWN).iterrows()
        ]  # fmt: skip
        lines += md_table(["review id", "true", f"mean {column}", "excerpt"], rows, "llrl")
    return lines + [""]


TRANSFER_LEGEND = (
    "Each cell: accuracy [95% Wilson interval] over the n test rows scored. in-domain: the "
    "run's own test split (trained on); the other columns: the run scored, without "
    "retraining, on that dataset's test split with its labels mapped to the run's "
    "(`sentibench evaluate --run RUN --data NAME`); rows of a label mapped to drop are left "
    "out and counted. Records: RUN/transfer/NAME/metrics.json."
)


def _transfer_cell(row: pd.Series | None) -> str:
    if row is None or pd.isna(row["accuracy"]):
        return ""  # not scored there (or a record without metrics)
    dropped = f", {int(row['n_dropped']):,} dropped" if row["n_dropped"] else ""
    return (
        f"{row['accuracy']:.4f} [{row['ci_low']:.4f}–{row['ci_high']:.4f}] "
        f"n={int(row['n']):,}{dropped}"
    )


def transfer_lines(table: pd.DataFrame) -> list[str]:
    """The cross-domain table (tables.transfer_table): a row per run, the in-domain column
    first, then a column per dataset scored; nothing when no run has transfer records."""
    if table.empty:
        return []
    datasets = sorted(table.loc[~table["in_domain"], "dataset"].unique())
    rows = []
    for run, cells in table.groupby("run", sort=False):
        own = cells[cells["in_domain"]].iloc[0]
        scored = {r["dataset"]: r for _, r in cells[~cells["in_domain"]].iterrows()}
        rows.append(
            [md_cell(run), md_cell(own["model"]), md_cell(own["trained_on"]),
             _transfer_cell(own), *(_transfer_cell(scored.get(name)) for name in datasets)]
        )  # fmt: skip
    header = ["run", "model", "trained on", "in-domain", *map(md_cell, datasets)]
    align = "lllr" + "r" * len(datasets)
    return ["## Cross-domain transfer", "", *md_table(header, rows, align), "", TRANSFER_LEGEND, ""]


def _error_analysis_k(
    groups: pd.DataFrame, truth: pd.DataFrame, label_names: tuple[str, ...]
) -> list[str]:
    """error_analysis_lines for k > 2 classes."""
    lines = ["### Error analysis", "", "Most confident mistakes of each model (its median seed):"]
    lines.append("")
    rows, wrong_sets = [], []
    for row in groups.itertuples():
        joined = with_truth(read_predictions(row.representative), truth)
        wrong = joined[joined["predicted"] != joined["label"]]
        confidence = pd.Series(probabilities(wrong).max(axis=1), index=wrong.index)
        wrong_sets.append(pd.Series(confidence.to_numpy(), index=wrong["id"], name=row.label))
        for index in confidence.sort_values(ascending=False).index[:MISTAKES_PER_MODEL]:
            mistake = wrong.loc[index]
            rows.append(
                [md_cell(row.label), md_cell(mistake["id"]),
                 md_cell(label_names[int(mistake["label"])]),
                 md_cell(label_names[int(mistake["predicted"])]), f"{confidence[index]:.3f}",
                 md_cell(excerpt(mistake["text"]))]
            )  # fmt: skip
    header = ["model", "review id", "true", "predicted", "P(predicted)", "excerpt"]
    lines += md_table(header, rows, "llllrl")
    return lines + _all_wrong_lines(wrong_sets, truth, label_names, "P(predicted)")


def unranked_lines(unranked: pd.DataFrame) -> list[str]:
    lines = ["## Not ranked (collapsed, failed or unfinished)", ""]
    if unranked.empty:
        return lines + ["None: every run completed.", ""]
    rows = [
        [md_cell(r.run), md_cell(r.model), f"**{r.status}**", md_cell(r.message or UNFINISHED)]
        for r in unranked.itertuples()
    ]
    return lines + md_table(["run", "model", "status", "message"], rows) + [""]


def machines(records: list[RunRecord]) -> str:
    seen = []
    for record in records:
        info = record.config.get("machine") or {}
        text = f"{info.get('cpu', '?')} ({info.get('cores', '?')} cores)"
        text += f", {info['gpu']}" if info.get("gpu") else ""
        if info and text not in seen:
            seen.append(text)
    return "; ".join(seen) or "unknown"
