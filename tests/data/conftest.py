import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the fixture builders live here.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def sentibench_home(isolated_home):
    """The empty, per-test SENTIBENCH_HOME set up by tests/conftest.py."""
    return isolated_home
