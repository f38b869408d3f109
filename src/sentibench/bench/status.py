"""`sentibench bench status --runs DIR`: where every run of the suites under DIR stands, read
from the run directories alone (status.json, job.json, the run lock, history.jsonl) and, for
Slurm jobs, squeue. Works from any machine that sees the runs folder."""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from sentibench.bench.executor import JOB_FILE
from sentibench.bench.lock import read_lock, stale_reason
from sentibench.bench.progress import clock
from sentibench.errors import SentibenchError
from sentibench.runs import MARKER, RunDir, read_json

STYLE = {"complete": "green", "collapsed": "yellow", "failed": "red", "running": "cyan",
         "queued": "blue"}  # fmt: skip
WATCH_SECONDS = 2.0


@dataclass
class RunState:
    name: str
    state: str  # queued | running | complete | failed | collapsed
    job: str = ""
    node: str = ""
    elapsed: str = ""
    epoch: str = ""
    note: str = ""


def run_folders(root: Path) -> list[Path]:
    """Run directories under root: itself, its children, or its suites' children."""
    root = Path(root)
    if not root.is_dir():
        raise SentibenchError(f"--runs {root} is not a folder of run directories.")
    if (root / MARKER).exists():
        return [root]
    found = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (child / MARKER).exists():
            found.append(child)
        else:
            found += sorted(p for p in child.iterdir() if p.is_dir() and (p / MARKER).exists())
    return found


def _since(iso: str | None) -> str:
    if not iso:
        return ""
    try:
        started = datetime.fromisoformat(iso)
    except ValueError:
        return ""
    return clock((datetime.now(UTC) - started).total_seconds())


def _slurm_states(jobs: dict[Path, dict]) -> dict[str, tuple[str, str]]:
    from sentibench.bench.slurm import squeue

    arrays = sorted({str(j["job_id"]).split("_")[0] for j in jobs.values() if j.get("job_id")})
    return squeue(arrays) or {}


def collect_states(root: Path) -> list[RunState]:
    folders = run_folders(root)
    jobs = {}
    for folder in folders:
        try:
            jobs[folder] = json.loads((folder / JOB_FILE).read_text())
        except (OSError, ValueError):
            continue
    slurm = _slurm_states({f: j for f, j in jobs.items() if j.get("executor") == "slurm"})
    rows = []
    for folder in folders:
        run = RunDir(folder)
        status = run.status() if run.status_path.exists() else None
        message = read_json(run.status_path).get("message") if status else None
        job = jobs.get(folder, {})
        job_id = str(job.get("job_id", ""))
        slurm_state, node = slurm.get(job_id, ("", ""))
        lock = read_lock(folder)
        history: list[dict] = []
        with contextlib.suppress(ValueError):  # a line being written right now
            history = run.history()
        epoch = str(history[-1].get("epoch", len(history))) if history else ""
        row = RunState(folder.name, status or "queued", job_id, node, "", epoch, message or "")
        if status in ("complete", "collapsed"):
            metrics = folder / "metrics.json"
            if metrics.exists():
                seconds = read_json(metrics).get("train_seconds")
                row.elapsed = clock(seconds) if isinstance(seconds, int | float) else ""
                accuracy = read_json(metrics).get("accuracy")
                if status == "complete" and isinstance(accuracy, float):
                    row.note = f"accuracy {accuracy:.4f}"
        elif lock and stale_reason(lock) is None:
            row.state = "running"
            row.node = row.node or str(lock.get("host", ""))
            row.job = row.job or str(lock.get("slurm_job") or f"pid {lock.get('pid')}")
            row.elapsed = _since(lock.get("since"))
            row.note = ""
        elif slurm_state in ("PENDING", "CONFIGURING", "REQUEUED"):
            row.state, row.note = "queued", slurm_state.lower()
        elif slurm_state == "RUNNING":
            row.state, row.note = "running", "starting"
        elif status in ("running", None) and (status or job_id):
            row.state = "failed"
            row.note = "stopped before it finished (killed?); rerun the bench to resume it"
        rows.append(row)
    return rows


def render(root: Path) -> tuple[Table, bool]:
    """The table, and whether every run is finished (complete, collapsed or failed)."""
    rows = collect_states(root)
    table = Table("run", "state", "job", "node", "elapsed", "epoch", "note", title=str(root))
    for row in rows:
        table.add_row(row.name, Text(row.state, STYLE.get(row.state, "")), row.job, row.node,
                      row.elapsed, row.epoch, row.note[:80])  # fmt: skip
    counts = {s: sum(r.state == s for r in rows) for s in STYLE}
    table.caption = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no runs"
    done = all(r.state in ("complete", "collapsed", "failed") for r in rows)
    return table, done


def show_status(root: Path, console: Console, watch: bool) -> None:
    table, done = render(root)
    if not watch:
        console.print(table)
        return
    with Live(table, console=console, refresh_per_second=1) as live:
        while not done:
            time.sleep(WATCH_SECONDS)
            table, done = render(root)
            live.update(table)
