"""`sentibench bench`: run a suite of trainings, each isolated, resumable, and report them."""
