"""sentibench: reproducible sentiment classification on IMDB reviews."""

from sentibench.errors import SentibenchError

__version__ = "0.1.0"

__all__ = ["SentibenchError", "__version__", "load_run"]


def load_run(path):  # noqa: ANN001, ANN201 - thin lazy re-export
    """Load a finished run directory and return its predictor (see sentibench.runs)."""
    from sentibench.runs import load_predictor

    return load_predictor(path)
