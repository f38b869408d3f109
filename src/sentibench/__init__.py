"""sentibench: reproducible sentiment classification on IMDB reviews."""

from sentibench.errors import SentibenchError

__version__ = "0.1.0"

__all__ = ["SentibenchError", "__version__", "load_run"]


def load_run(  # noqa: ANN001, ANN201 - a lazy re-export
    path,
    backend="original",
    threads=None,
    trust_remote_code=False,
):
    """Load a complete run: predict(texts), predict_proba(texts), explain(text).

    See sentibench.inference.api.load_run; imported on first use so `import sentibench` stays light.
    A run trained with trust_remote_code loads only with trust_remote_code=True (it runs code
    shipped in the run folder).
    """
    from sentibench.inference.api import load_run as load

    return load(path, backend=backend, threads=threads, trust_remote_code=trust_remote_code)
