"""One parallel tune worker: `python -m sentibench.tune.worker JOB_JSON`, started by an
executor of bench's seam (local process or Slurm job) like bench's own worker. It loads the
shared study and asks it for trials until the study has its N, so K workers share one study.
Exit codes as bench's worker: 0 done, 2 a user error (its sentence on stderr)."""

from __future__ import annotations

import json
import sys

from sentibench.bench.worker import apply_threads, watch_parent


def main(argv: list[str] | None = None) -> int:
    values = json.loads((argv if argv is not None else sys.argv[1:])[0])
    if values.get("parent_pid"):
        watch_parent(values["parent_pid"])  # a killed tune leaves no trial training
    apply_threads(values)  # the executor's share of the cores, before torch starts
    from sentibench.errors import SentibenchError
    from sentibench.tune.job import TuneJob
    from sentibench.tune.search import run_trials

    try:
        run_trials(TuneJob.from_dict(values["tune"]))
    except SentibenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
