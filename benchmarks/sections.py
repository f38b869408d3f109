"""BENCHMARKS.md is made of sections, one per benchmark script, between HTML-comment markers:
`<!-- NAME:start -->` ... `<!-- NAME:end -->`. A script replaces its own section only."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from sentibench.runs import atomic_write_text

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def write_section(name: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace section `name` of `path` with `text` (or append it), atomically."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{text.strip()}\n{end}"
    if start in old and end in old:
        new = old[: old.index(start)] + block + old[old.index(end) + len(end) :]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(path, new)


def command_line(script: str) -> str:
    """How this script was called, for the section's header; a --note paragraph is left out."""
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg == "--note":
            skip = not skip
            continue
        if not arg.startswith("--note="):
            args.append(arg)
    return shlex.join(["python", f"benchmarks/{script}", *args])


def train_or_summarise_parser(description: str, default_runs: str) -> argparse.ArgumentParser:
    """The options of a script that trains runs into --runs, or (--summarise DIR) only writes
    its section again from a trained folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--runs", type=Path, default=Path(default_runs))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--summarise", type=Path, default=None, help="a trained --runs folder")
    add_output_options(parser)
    return parser


def add_output_options(parser: argparse.ArgumentParser, json_file: bool = False) -> None:
    """--note, --no-write (and --json FILE) for a script that writes one section."""
    if json_file:
        parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--note", default="", help="a paragraph added under the section")
    parser.add_argument("--no-write", action="store_true", help="print only")


def publish(name: str, text: str, args: argparse.Namespace, figures: Any = None) -> None:
    """Print section `name` (with --note under it) and write it unless --no-write; the
    figures go to --json where given."""
    if figures is not None and getattr(args, "json", None):
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    text = text + (f"\n\n{args.note}" if args.note else "")
    print(text)
    if not args.no_write:
        write_section(name, text)
