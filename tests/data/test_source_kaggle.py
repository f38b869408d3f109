import zipfile

import pytest
from imdb_fixtures import default_kaggle_test, default_kaggle_train, write_kaggle

from sentibench.data.fetch import fetch_imdb
from sentibench.data.sources import kaggle
from sentibench.errors import DataError


def test_quirks_are_read_correctly(tmp_path):
    frames = kaggle.read(write_kaggle(tmp_path / "k"))
    train, test = frames["train"], frames["test"]
    assert train["id"].iloc[0] == "5814_8"  # no quotes left around the id
    assert train["text"].iloc[0] == 'With all this stuff going on, "Moonwalker" is still worth it.'
    assert (
        train["text"].iloc[1] == '"The Classic War of the Worlds" by Timothy Hines is entertaining.'
    )
    assert list(train["label"]) == [1, 1, 0, 0]
    assert list(train["rating"]) == [8, 9, 3, 4]
    assert test["text"].iloc[0] == 'Naturally in a film who\'s main themes are mortality, a "gem".'
    # test labels from the rating in the id: <= 4 negative, >= 7 positive
    assert list(test["id"]) == ["12311_10", "8348_2", "5828_4", "7186_7"]
    assert list(test["label"]) == [1, 0, 0, 1]


def test_fetch_from_folder(tmp_path):
    manifest = fetch_imdb("kaggle", write_kaggle(tmp_path / "k"), allow_partial=True)
    assert manifest["counts"]["train"] == {"n": 4, "negative": 2, "positive": 2}


def test_zipped_files_as_kaggle_ships_them(tmp_path):
    plain = write_kaggle(tmp_path / "plain")
    zipped = tmp_path / "zipped"
    zipped.mkdir()
    for name in ("labeledTrainData.tsv", "testData.tsv"):
        with zipfile.ZipFile(zipped / f"{name}.zip", "w") as archive:
            archive.write(plain / name, name)
    assert kaggle.read(zipped)["train"].equals(kaggle.read(plain)["train"])


def test_unratable_test_id_names_line(tmp_path):
    test = default_kaggle_test() + ['"9999_5"\t"A middling film."']
    with pytest.raises(DataError, match=r"testData.tsv line 6 \(id 9999_5\) has rating 5"):
        kaggle.read(write_kaggle(tmp_path / "k", test=test))


def test_wrong_columns_name_file_and_expected(tmp_path):
    train = ["id\treview"] + default_kaggle_train()[1:]
    with pytest.raises(
        DataError, match=r"labeledTrainData.tsv has columns .* expected id, sentiment, review"
    ):
        kaggle.read(write_kaggle(tmp_path / "k", train=train))


def test_invalid_utf8_names_line(tmp_path):
    folder = write_kaggle(tmp_path / "k")
    path = folder / "testData.tsv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = b'"5828_4"\t"caf\xe9"'
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(DataError, match=r"testData.tsv line 4 is not valid UTF-8"):
        kaggle.read(folder)


@pytest.mark.parametrize(
    "line, message",
    [
        ('"2381_9"\t1\t"again"', r"line 6 repeats id 2381_9 of line 3"),
        ('"1_9"\t1\t" "', r"line 6 \(id 1_9\) has an empty review"),
        ('"1_9"\t2\t"text"', r"line 6 has sentiment '2'"),
        ('"19"\t1\t"text"', r"line 6 has id '19', not <num>_<rating>"),
        ('"1_9"\t1', r"line 6 has 2 fields, expected 3"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, line, message):
    train = default_kaggle_train() + [line]
    with pytest.raises(DataError, match=r"labeledTrainData.tsv " + message):
        kaggle.read(write_kaggle(tmp_path / "k", train=train))


def test_missing_file_and_path(tmp_path):
    folder = write_kaggle(tmp_path / "k")
    (folder / "testData.tsv").unlink()
    with pytest.raises(DataError, match=r"testData.tsv is missing"):
        kaggle.read(folder)
    with pytest.raises(DataError, match=r"needs --path"):
        kaggle.read(None)
