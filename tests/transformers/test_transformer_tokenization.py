"""Head and head+tail truncation on token ids, special tokens, dynamic padding."""

from __future__ import annotations

import pytest

from sentibench.errors import ConfigError
from sentibench.transformers.backbone import load_tokenizer
from sentibench.transformers.tokenization import (
    EncodedReviews,
    ReviewEncoder,
    length_grouped_sampler,
    padding_collator,
    special_tokens_around,
    truncate,
)


def test_truncate_head_and_head_tail():
    ids = list(range(100))
    assert truncate(ids, 10, "head", 4) == list(range(10))
    assert truncate(ids, 10, "head_tail", 4) == [0, 1, 2, 3, 94, 95, 96, 97, 98, 99]
    assert truncate(ids[:8], 10, "head_tail", 4) == ids[:8]  # short: untouched
    assert truncate(ids, 10, "head_tail", 10) == list(range(10))  # no room for a tail
    with pytest.raises(ConfigError):
        truncate(ids, 10, "middle", 4)


@pytest.fixture(scope="module")
def tokenizer(tiny_backbones):
    return load_tokenizer(str(tiny_backbones["bert"]))


def test_head_tail_keeps_the_first_and_last_words(tokenizer):
    text = "begin " + "plot " * 200 + "end"
    head = ReviewEncoder(tokenizer, max_length=16, truncation="head").encode([text])[0]
    both = ReviewEncoder(tokenizer, 16, truncation="head_tail", head_tokens=5).encode([text])[0]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    begin, end = tokenizer.convert_tokens_to_ids(["begin", "end"])
    assert len(head) == len(both) == 16
    assert head[0] == both[0] == cls and head[-1] == both[-1] == sep
    assert head[1] == both[1] == begin
    assert end not in head and both[-2] == end
    # budget 14 = head 5 ("begin" + 4 x "plot") + tail 9 (8 x "plot" + "end")
    assert both.count(tokenizer.convert_tokens_to_ids("plot")) == 12


def test_special_tokens_are_read_off_the_tokenizer(tokenizer):
    assert special_tokens_around(tokenizer) == ([tokenizer.cls_token_id], [tokenizer.sep_token_id])


def test_dynamic_padding_and_length_groups(tokenizer):
    encoder = ReviewEncoder(tokenizer, max_length=32)
    ids = encoder.encode(["great", "a very very very good film", "bad movie"])
    data = EncodedReviews(ids, [1, 1, 0])
    padded = padding_collator(tokenizer)([data[0], data[2]])
    assert padded["input_ids"].shape == (2, max(len(ids[0]), len(ids[2])))
    assert padded["attention_mask"].sum().item() == len(ids[0]) + len(ids[2])
    assert padded["labels"].tolist() == [1, 0]
    assert sorted(length_grouped_sampler(data, batch_size=2, seed=0)) == [0, 1, 2]


def test_max_length_must_leave_room_for_text(tokenizer):
    with pytest.raises(ConfigError):
        ReviewEncoder(tokenizer, max_length=2)
