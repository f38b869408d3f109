"""Errors a user can act on. The CLI prints their message as one line, without a traceback."""

# What str.splitlines() breaks on, each shown as its escape so a message stays one line.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


class SentibenchError(Exception):
    """A problem with the user's input or environment, stated in one sentence."""

    def __str__(self) -> str:
        # One line whatever the message quotes: a newline in a path or a value shows as \n.
        return super().__str__().translate(_LINE_BREAKS)


class DataError(SentibenchError):
    """A data file is missing, malformed or inconsistent."""


class ConfigError(SentibenchError):
    """A configuration key, value or model name is invalid."""


class CollapseError(SentibenchError):
    """Training diverged (NaN/inf loss) or the model predicts (almost) one class only."""


class EnsembleError(SentibenchError):
    """Runs that cannot be combined: unfinished, on other data, or without the validation
    predictions a fitted ensemble needs."""


class Pruned(SentibenchError):
    """A search stopped this run early (its validation curve was worse than the others'):
    recorded as pruned, not failed, and never ranked."""


def one_line(exc: BaseException) -> str:
    """A library exception's message fit for a one-line error: its first line (tarfile, pyarrow
    and others can explain over several), or the exception's type when it has none."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0].rstrip(":") if lines else type(exc).__name__
