"""Reading rules that protect data: one bad byte or one broken record costs that record only,
and every record the reader splits, skips or cuts is counted."""

from __future__ import annotations

import gzip
import zlib

import pytest

from dockscore import InputError, iter_ligands
from dockscore.io.ligands import iter_raw_records

from .conftest import LIGAND_1S3V

MOLFILE = LIGAND_1S3V.read_text().split("$$$$")[0].strip("\n")  # one record, without $$$$


def record(name: str) -> str:
    return name + "\n" + MOLFILE.split("\n", 1)[1] + "\n$$$$\n"


def test_a_latin1_byte_costs_nothing(tmp_path):
    path = tmp_path / "latin1.sdf"
    path.write_bytes(record("a").encode() + record("caf\xe9").encode("latin-1") + record("b").encode())
    records = list(iter_ligands(path))
    assert [r.ok for r in records] == [True, True, True]
    assert records[1].name == "caf\xe9" and "Latin-1" in records[1].note


def test_joined_molfiles_are_split_and_said(tmp_path):
    path = tmp_path / "joined.sdf"
    first = record("first").replace("$$$$\n", "")  # no separator before the second molfile
    first = first[: first.index("M  END") + len("M  END")] + "\n"
    path.write_text(first + record("second"))
    records = list(iter_ligands(path))
    assert [r.name for r in records] == ["first", "second"]
    assert all(r.ok for r in records) and "split" in records[1].note


def test_a_truncated_record_does_not_swallow_the_next(tmp_path):
    path = tmp_path / "cut.sdf"
    cut = "\n".join(record("cut").split("\n")[:10]) + "\n"  # header, counts and a few atoms: no M  END, no $$$$
    path.write_text(record("a") + cut + record("b"))
    records = list(iter_ligands(path))
    assert [(r.name, r.ok) for r in records] == [("a", True), ("cut", False), ("b", True)]
    assert "M  END" in records[1].error


def test_a_truncated_gzip_gives_back_every_complete_record(tmp_path):
    path = tmp_path / "lib.sdf.gz"
    data = gzip.compress("".join(record(f"m{k}") for k in range(99)).encode())
    cut = data[: len(data) - 40]  # the end of the stream is cut away
    path.write_bytes(cut)
    complete = zlib.decompressobj(wbits=31).decompress(cut).count(b"$$$$")
    seen = []
    with pytest.raises(InputError, match="truncated"):
        for r in iter_ligands(path):
            seen.append(r)
    good = [r for r in seen if r.ok]
    assert complete >= 90 and [r.name for r in good] == [f"m{k}" for k in range(complete)]
    assert len(seen) == complete + 1 and not seen[-1].ok  # the record the cut went through is reported


def test_concatenated_gzip_members_read_as_one_file(tmp_path):
    path = tmp_path / "members.sdf.gz"
    path.write_bytes(gzip.compress(record("a").encode()) + gzip.compress(record("b").encode()))
    assert [r.name for r in iter_ligands(path)] == ["a", "b"]


def test_raw_records_carry_progress_offsets(tmp_path):
    path = tmp_path / "two.sdf"
    path.write_text(record("a") + record("b"))
    raws = list(iter_raw_records(path))
    assert raws[0].offset <= raws[1].offset == path.stat().st_size
