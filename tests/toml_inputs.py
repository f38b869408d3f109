"""Generated TOML for the property-based tests of suites, presets and `--set` values."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import strategies as st
from property_inputs import nasty_text

# Config keys that exist in some model's config (and a few that exist in none).
KEYS = [
    "lr", "epochs", "seed", "val_fraction", "threads", "max_len", "batch_size", "vectors",
    "ngram_max", "min_df", "C", "alpha", "model.hidden", "model.dropout", "model", "colour",
]  # fmt: skip
scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(),  # nan and inf included: TOML can say both
    st.sampled_from(["glove-6b-50d", "none", "/no/such/vectors.txt", "cpu", ""]),
    nasty_text,
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(nasty_text, children, max_size=2)
    ),
    max_leaves=5,
)
keys = st.sampled_from(KEYS) | nasty_text


def literal(value: Any) -> str:
    """A TOML literal (inline tables for dicts, quoted keys)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {literal(v)}" for k, v in value.items()) + " }"


def table(items: dict[str, Any]) -> list[str]:
    return [f"{json.dumps(key, ensure_ascii=False)} = {literal(v)}" for key, v in items.items()]


presets = st.dictionaries(keys, values, max_size=4).map(lambda d: "\n".join(table(d)) + "\n")
set_values = st.one_of(
    st.builds(lambda key, value: f"{key}={literal(value)}", keys, values),
    st.builds(lambda key, text: f"{key}={text}", keys, nasty_text),
    nasty_text,
)
