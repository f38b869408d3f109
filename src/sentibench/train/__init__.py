"""Training: the one torch loop (loop.py), its collapse guard and checkpoints, and the runner
that turns a model into a run record (runner.py). Importing this package imports no torch."""
