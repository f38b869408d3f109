"""`sentibench tune`: hyperparameter search on Optuna. Every trial is an ordinary run record
(runs/tune/<study>/trial-<n>/) trained by train/runner.py on validation only; the study lives
in an Optuna storage beside them. Parallel trials go through bench's executor seam."""
