"""sentibench: reproducible sentiment classification on IMDB reviews."""

from sentibench.errors import SentibenchError

__version__ = "0.1.0"

__all__ = ["SentibenchError", "__version__", "load_run"]


def load_run(path, backend="original", threads=None):  # noqa: ANN001, ANN201 - lazy re-export
    """Load a complete run: predict(texts), predict_proba(texts), explain(text).

    See sentibench.inference.api.load_run; imported on first use so `import sentibench` stays light.
    """
    from sentibench.inference.api import load_run as load

    return load(path, backend=backend, threads=threads)
