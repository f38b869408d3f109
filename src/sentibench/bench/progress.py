"""The bench's progress view: which run (i/n), its state and epoch, and an ETA from the runs
finished so far. A live rich view on a terminal, one line per event elsewhere (CI, logs)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sentibench.runs import RunDir, load_run

STATUS_STYLE = {"complete": "green", "collapsed": "yellow", "failed": "red", "skipped": "dim"}


@dataclass
class Outcome:
    """What became of one run of a suite."""

    name: str
    path: Path
    status: str  # complete | collapsed | failed | submitted (--detach)
    message: str | None
    seconds: float
    skipped: bool  # its record was already finished: nothing ran


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _accuracy(path: Path) -> str:
    try:
        metrics = load_run(path).metrics or {}
    except Exception:  # a placeholder or half-written record shows no accuracy
        return ""
    return f"{metrics['accuracy']:.4f}" if "accuracy" in metrics else ""


def _epoch_note(path: Path) -> str:
    """The latest epoch of the running run, from its history (written by the training loop)."""
    try:
        rows = RunDir(path).history()
    except ValueError:  # a line being written right now
        return ""
    if not rows:
        return ""
    last = rows[-1]
    note = f", epoch {last.get('epoch', len(rows))}"
    if isinstance(last.get("val_accuracy"), int | float):
        note += f" (val acc {last['val_accuracy']:.3f})"
    return note


class SuiteProgress:
    """Call started() / tick() / finished() around each run; use as a context manager."""

    def __init__(
        self, console: Console, suite: str, total: int, to_run: int, parallel: int = 1
    ) -> None:
        self.console, self.suite, self.total, self.to_run = console, suite, total, to_run
        self.parallel = max(1, parallel)
        self.outcomes: list[Outcome] = []
        self.running: dict[int, tuple[str, Path, float]] = {}  # index -> name, path, started
        self.queued_count = 0
        self.live = Live(console=console, refresh_per_second=2) if console.is_terminal else None

    def __enter__(self) -> SuiteProgress:
        if self.live:
            self.live.__enter__()
            self.live.update(self.render())
        return self

    def __exit__(self, *exc: Any) -> None:
        self.running.clear()
        if self.live:
            self.live.update(self.render())
            self.live.__exit__(*exc)

    def eta_seconds(self) -> float | None:
        ran = [o.seconds for o in self.outcomes if not o.skipped]
        if not ran:
            return None
        mean = sum(ran) / len(ran)
        left = self.to_run - len(ran)
        now = time.monotonic()
        elapsed = sum(min(now - started, mean) for _, _, started in self.running.values())
        return max(0.0, (mean * left - elapsed) / self.parallel)

    def status_line(self) -> Text:
        if not self.running:
            trained = sum(not o.skipped for o in self.outcomes)
            return Text(
                f"{self.suite}: {len(self.outcomes)} of {self.total} runs done ({trained} trained "
                f"now, {len(self.outcomes) - trained} already finished)"
            )
        eta = self.eta_seconds()
        lines = []
        for index, (name, path, started) in sorted(self.running.items()):
            lines.append(Text.assemble(
                (f"[{index}/{self.total}] ", "bold"),
                (name, "cyan"),
                f" running {clock(time.monotonic() - started)}{_epoch_note(path)}",
            ))  # fmt: skip
        lines[-1].append(
            f" — ETA {clock(eta)}" if eta is not None else " — ETA after the first run"
        )
        return Text("\n").join(lines)

    def render(self) -> Group:
        table = Table("#", "run", "status", "accuracy", "time", "note", title=Text(self.suite))
        for number, outcome in enumerate(self.outcomes, start=1):
            status = "skipped" if outcome.skipped else outcome.status
            table.add_row(
                str(number),
                Text(outcome.name),  # Text: names and messages are never read as markup
                Text(status, STATUS_STYLE.get(status, "")),
                _accuracy(outcome.path),
                "" if outcome.skipped else clock(outcome.seconds),
                Text((outcome.message or "")[:80] if outcome.status != "complete" else ""),
            )
        return Group(table, self.status_line())

    def queued(self, index: int, name: str, job_id: str) -> None:
        if not self.live and job_id:  # a local run waiting for a free slot says nothing
            self.console.print(
                f"[{index}/{self.total}] {name}: queued (job {job_id})",
                highlight=False,
                markup=False,
            )

    def started(self, index: int, name: str, path: Path, node: str = "") -> None:
        self.running[index] = (name, path, time.monotonic())
        if self.live:
            self.live.update(self.render())
        else:
            where = f" on {node}" if node and self.parallel > 1 else ""
            self.console.print(
                f"[{index}/{self.total}] {name}: training{where}", highlight=False, markup=False
            )

    def tick(self) -> None:
        if self.live:
            self.live.update(self.render())

    def finished(self, index: int, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        self.running.pop(index, None)
        if self.live:
            self.live.update(self.render())
            return
        state = "skipped (already " + outcome.status + ")" if outcome.skipped else outcome.status
        accuracy = _accuracy(outcome.path)
        line = f"[{index}/{self.total}] {outcome.name}: {state}"
        line += f", accuracy {accuracy}" if accuracy else ""
        line += "" if outcome.skipped else f", {clock(outcome.seconds)}"
        if outcome.message and outcome.status != "complete":
            line += f" — {outcome.message}"
        self.console.print(line, highlight=False, markup=False)
