"""Property-based: a suite file, generated or a shipped one edited byte by byte, parses into
runs or one sentence and writes nothing (tests/property_inputs.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_inputs import (
    BOUNDED,
    check_one_sentence_or_success,
    mutated,
    nasty_text,
    private_temp,
    raw_bytes,
    scratch,
)
from toml_inputs import keys, table, values

from sentibench.bench.suite import RUN_KEYS, SUITES_DIR, TOP_KEYS, load_suite
from sentibench.errors import ConfigError

SHIPPED = [path.read_bytes() for path in sorted(SUITES_DIR.glob("*.toml"))]
models = st.sampled_from(["tfidf_lr", "nbsvm", "cnn", "lstm", "nope"]) | nasty_text
field_values = {
    "model": models,
    "preset": st.sampled_from(["quick", "cpu", "gpu", "nope"]) | values,
    "seeds": st.one_of(st.lists(st.integers(-1, 3), max_size=3), values),
    "budget_minutes": st.one_of(st.floats(), st.integers(-1, 5), values),
    "data": st.sampled_from(["sample", "imdb", "auto", "folder", "~nobody/x", "a\x00"]) | values,
    "description": nasty_text | values,
    "overrides": st.dictionaries(keys, values, max_size=3),
}


def fields(names: tuple[str, ...]) -> st.SearchStrategy[dict]:
    known = st.fixed_dictionaries(
        {}, optional={n: field_values.get(n, values) for n in names if n != "runs"}
    )
    return st.one_of(known, known, st.dictionaries(keys, values, max_size=2))


def suite_text(top: dict, runs: list[dict]) -> bytes:
    lines = table(top)
    for run in runs:
        lines += ["", "[[runs]]", *table(run)]
    return ("\n".join(lines) + "\n").encode("utf-8")


suites = st.one_of(
    st.builds(
        suite_text,
        fields(TOP_KEYS),
        st.lists(
            st.builds(lambda model, rest: {"model": model, **rest}, models, fields(RUN_KEYS)),
            max_size=3,
        ),
    ),
    mutated(st.sampled_from(SHIPPED)),
    raw_bytes,
)


@BOUNDED
@given(text=suites, name=st.sampled_from(["mine.toml", "quick.toml", "x.txt"]))
def test_any_suite_file(tmp_path, monkeypatch, isolated_home, text, name):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        path = folder / name
        path.write_bytes(text)
        suite = check_one_sentence_or_success(
            "suite toml", lambda: load_suite(str(path)), folder, isolated_home, temp
        )
    if suite is not None:
        assert suite.runs and len({run.name for run in suite.runs}) == len(suite.runs)


@BOUNDED
@given(name=st.sampled_from(["quick", "cpu", "published", "seed", "nope", ""]) | nasty_text)
def test_any_suite_name(tmp_path, monkeypatch, isolated_home, name):
    temp = private_temp(tmp_path, monkeypatch)
    check_one_sentence_or_success("suite name", lambda: load_suite(name), isolated_home, temp)


# Found by the search above.


def test_a_suite_that_is_not_utf8_or_names_a_nul_folder_is_one_sentence(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('description = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match="is not valid UTF-8"):
        load_suite(str(path))
    path.write_text('data = "a\\u0000b"\n\n[[runs]]\nmodel = "nbsvm"\npreset = "cpu"\n')
    with pytest.raises(ConfigError, match="NUL character"):
        load_suite(str(path))
    path.write_text('data = "~no-such-user-here/x"\n\n[[runs]]\nmodel = "nbsvm"\npreset = "cpu"\n')
    assert load_suite(str(path)).data.endswith("~no-such-user-here/x")
