"""Let the tests here import their stand-in model module (pytest runs in importlib mode, which
does not put test folders on sys.path)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
