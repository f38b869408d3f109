"""Errors a user can act on. The CLI prints their message as one line, without a traceback."""


class SentibenchError(Exception):
    """A problem with the user's input or environment, stated in one sentence."""


class DataError(SentibenchError):
    """A data file is missing, malformed or inconsistent."""


class ConfigError(SentibenchError):
    """A configuration key, value or model name is invalid."""


class CollapseError(SentibenchError):
    """Training diverged (NaN/inf loss) or the model predicts (almost) one class only."""
