"""`data add --source hf` against real `datasets` objects saved in tmp_path (no hub)."""

import json
import sys

import pandas as pd
import pytest

datasets = pytest.importorskip("datasets")

from sentibench.cli import main  # noqa: E402
from sentibench.data.add import AddOptions, add_dataset  # noqa: E402
from sentibench.errors import ConfigError, DataError  # noqa: E402

CLASSES = ["negative", "neutral", "positive"]


def split(n: int, prefix: str) -> "datasets.Dataset":
    """n rows, classes cycling 2, 0, 1 so the ids are not in sorted-name order by accident."""
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "label": datasets.ClassLabel(names=CLASSES)}
    )
    labels = [(i + 2) % 3 for i in range(n)]
    texts = [f"{prefix} tweet {i} feels {CLASSES[label]}" for i, label in enumerate(labels)]
    return datasets.Dataset.from_dict({"sentence": texts, "label": labels}, features=features)


@pytest.fixture
def saved(tmp_path):
    folder = tmp_path / "tweets"
    datasets.DatasetDict({"train": split(12, "train"), "test": split(6, "test")}).save_to_disk(
        str(folder)
    )
    return folder


def test_saved_dataset_dict_keeps_its_splits_and_classlabel_names(saved, sentibench_home):
    manifest = add_dataset(
        "tw", source="hf", path=saved, options=AddOptions(text_column="sentence")
    )
    assert manifest["label_names"] == CLASSES  # the ClassLabel's order, not sorted names
    assert manifest["split"]["method"] == "as given"
    assert manifest["counts"]["train"] == {"n": 12, "negative": 4, "neutral": 4, "positive": 4}
    assert manifest["counts"]["test"]["n"] == 6
    assert [(e["role"], e["split"], e["path"]) for e in manifest["input"]] == [
        ("train", "train", str(saved.resolve())),
        ("test", "test", str(saved.resolve())),
    ]
    test = pd.read_parquet(sentibench_home / "tw" / "test.parquet")
    assert test["text"].iloc[0] == "test tweet 0 feels positive" and test["label"].iloc[0] == 2
    assert test["id"].tolist()[:2] == ["test-0", "test-1"]
    written = json.loads((sentibench_home / "tw" / "manifest.json").read_text())
    assert written["label_names"] == CLASSES and written["source"] == "hf"

    relabelled = add_dataset(
        "tw2",
        source="hf",
        path=saved,
        options=AddOptions(text_column="sentence", labels=("neg", "neu", "pos")),
    )
    assert relabelled["label_names"] == ["neg", "neu", "pos"]  # --labels wins


def test_one_saved_split_is_split_stratified(tmp_path, sentibench_home):
    folder = tmp_path / "one"
    split(15, "all").save_to_disk(str(folder))  # a Dataset, not a DatasetDict
    options = AddOptions(text_column="sentence", test_fraction=0.2, seed=3)
    manifest = add_dataset("one", source="hf", path=folder, options=options)
    assert manifest["split"] == {"method": "stratified", "seed": 3, "test_fraction": 0.2}
    assert manifest["counts"]["test"] == {"n": 3, "negative": 1, "neutral": 1, "positive": 1}
    assert manifest["counts"]["train"]["n"] == 12 and manifest["label_names"] == CLASSES
    again = add_dataset("again", source="hf", path=folder, options=options)
    assert again["files"]["test.parquet"] == manifest["files"]["test.parquet"]  # seeded


def test_offline_hub_name_is_one_sentence_exit_2_nothing_written(
    monkeypatch, capsys, sentibench_home
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    argv = ["sentibench", "data", "add", "hub", "--source", "hf", "--hf-name", "nobody/tw-xyz"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exited:
        main()  # the console entry point, in this process: a subprocess costs ~15 s here
    assert exited.value.code == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1 and "Traceback" not in message
    assert message.startswith(
        "error: Hub dataset nobody/tw-xyz is not in the local Hugging Face cache and cannot be "
        "fetched offline"
    )
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    assert not (sentibench_home / "hub").exists()


def test_bad_local_folders_and_arguments(tmp_path, saved, sentibench_home):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.csv").write_text("text,label\na,b\n")
    with pytest.raises(DataError, match=r"plain is not a dataset written by datasets' save_to_"):
        add_dataset("x", source="hf", path=plain)
    with pytest.raises(DataError, match=r"train split has no column 'text' \(columns found: "):
        add_dataset("x", source="hf", path=saved)  # the text is in 'sentence'
    with pytest.raises(ConfigError, match=r"not both"):
        add_dataset("x", source="hf", path=saved, options=AddOptions(hf_name="a/b"))

    unlabelled = tmp_path / "unlabelled"
    test = split(6, "test").map(lambda row: {"label": -1})  # as hub test splits often are
    datasets.DatasetDict({"train": split(12, "train"), "test": test}).save_to_disk(str(unlabelled))
    with pytest.raises(DataError, match=r"test split has 6 rows without a label \(-1 in ClassL"):
        add_dataset("x", source="hf", path=unlabelled, options=AddOptions(text_column="sentence"))
    assert not any(sentibench_home.iterdir())
