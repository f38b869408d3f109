"""What the property-based tests of user-input parsers share (hypothesis, bounded).

Every parser gets generated input and must either succeed or raise a SentibenchError whose
message is one line; any other exception fails the test. No generated input may leave a file
behind: the folders a parser could write to (its input folder, $SENTIBENCH_HOME, the temp
folder) are listed before and after. TRIED counts the inputs each test tried; conftest.py
prints the totals at the end of the session.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from sentibench.errors import SentibenchError

TRIED: Counter[str] = Counter()
PARSED: Counter[str] = Counter()  # of those, the inputs that parsed (the rest: one sentence)

# Bounded: the whole property suite stays well under a minute on one core (set
# SENTIBENCH_PROPERTY_EXAMPLES for a longer search). No example database: a failure is
# reported with its input, not replayed from disk (hypothesis's own caches in .hypothesis/
# carry a .gitignore of their own).
EXAMPLES = int(os.environ.get("SENTIBENCH_PROPERTY_EXAMPLES", "60"))
# The bounded default replays the same inputs every run (CI cannot be flaky); a longer search
# explores new ones.
DERANDOMIZE = "SENTIBENCH_PROPERTY_EXAMPLES" not in os.environ
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,  # tmp_path and the home: checked per example
    ],
)
# For inputs that cost tens of milliseconds each (50,000-row reviews.json files).
FEW = settings(BOUNDED, max_examples=max(EXAMPLES * 3 // 8, 1))


def private_temp(tmp_path: Path, monkeypatch) -> Path:
    """A temp folder of the test's own, where every tempfile (and scratch()) now lands."""
    private = tmp_path / "tmp"
    private.mkdir(exist_ok=True)  # called once per example: the same folder each time
    monkeypatch.setattr(tempfile, "tempdir", str(private))
    return private


def listing(*folders: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folders`: relative name -> (size, mtime_ns)."""
    found = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in dirs + files:
                path = Path(root) / name
                stat = path.lstat()
                size = 0 if path.is_dir() else stat.st_size
                found[str(path)] = (size, stat.st_mtime_ns)
    return found


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A fresh folder per example (pytest's tmp_path is one folder for all of them)."""
    with tempfile.TemporaryDirectory(prefix="prop-") as folder:
        yield Path(folder)


def check_one_sentence_or_success(name: str, parse, *watched: Path, allowed=()):
    """Run `parse()`; it may return or raise a one-line SentibenchError, nothing else, and
    may not add, change or remove anything under `watched` except paths in `allowed`."""
    TRIED[name] += 1
    before = listing(*watched)
    result = None
    try:
        result = parse()
        PARSED[name] += 1
    except SentibenchError as exc:
        message = str(exc)
        assert message.strip(), f"{type(exc).__name__} with an empty message"
        assert len(message.splitlines()) == 1, f"more than one line: {message!r}"
    after = listing(*watched)
    changed = {
        path
        for path in set(before) | set(after)
        if before.get(path) != after.get(path) and not any(path.startswith(a) for a in allowed)
    }
    assert not changed, f"files left behind or changed: {sorted(changed)}"
    return result


# -- building blocks of generated inputs ----------------------------------------------------

# Text with the characters parsers trip on: separators, quotes, escapes, line ends, NUL,
# surrogates-free unicode, markup brackets.
nasty_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('\t\n\r\x00"\\,;:[]{}/~ 0123456789_-.eE+')),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=40,
)
raw_bytes = st.binary(max_size=200)
review_ids = st.one_of(
    st.builds(lambda n, r: f"{n}_{r}", st.integers(0, 30), st.integers(0, 12)),
    nasty_text,
)


@st.composite
def mutated(draw, valid: st.SearchStrategy[bytes]) -> bytes:
    """A valid input, often left as it is (so that parsing succeeds too), else with a few
    byte-level edits: a byte dropped, replaced or inserted, or the end cut off."""
    data = bytearray(draw(valid))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2, 3]))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        edit = draw(st.sampled_from(["drop", "replace", "insert", "cut"]))
        byte = draw(st.sampled_from(list(b'\t\n\r"\\,_ 0\x00\xff')) | st.integers(0, 255))
        if edit == "drop":
            del data[at]
        elif edit == "replace":
            data[at] = byte
        elif edit == "insert":
            data.insert(at, byte)
        else:
            del data[at:]
    return bytes(data)
