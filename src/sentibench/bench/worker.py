"""One suite run in its own process: `python -m sentibench.bench.worker JOB_JSON`.

The bench starts it in a new session so it can kill the whole process group (a time budget)
and so a crash or the out-of-memory killer takes only this run down. If the bench itself dies
(kill -9), this process notices that its parent changed and kills itself, so a rerun of the
suite never finds two trainings writing the same run directory.

Exit codes: 0 complete, 2 failed with a user error, 3 collapsed; a bug exits 1 with its
traceback in the run's bench log.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sentibench.data.dataset import Splits

PARENT_POLL_SECONDS = 0.5


def watch_parent(parent_pid: int) -> None:
    """Kill this process group as soon as the bench that started it is gone."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def run_job(job: dict[str, Any], splits: Splits | None = None) -> int:
    """Train one job of the bench runner; its exit code. `splits`: a benchmark's own (see
    run_training), for a worker of its own that the runner starts instead of this one."""
    from sentibench.errors import CollapseError, SentibenchError
    from sentibench.train.runner import run_training

    try:
        run_training(
            job["model"],
            data=job["data"],
            preset=job["preset"],
            overrides=job["overrides"],
            seed=job["seed"],
            out=Path(job["out"]),
            splits=splits,
        )
    except CollapseError as exc:
        print(f"collapsed: {exc}", file=sys.stderr)
        return 3
    except SentibenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    job = json.loads((argv if argv is not None else sys.argv[1:])[0])
    watch_parent(job["parent_pid"])
    return run_job(job)


if __name__ == "__main__":
    sys.exit(main())
