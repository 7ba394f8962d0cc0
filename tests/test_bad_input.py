"""Bad input: one clear line naming the file and record, the rest of the batch scored,
non-zero exit only when nothing could be scored, no tracebacks."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dockscore import InputError, Scorer, iter_ligands, read_protein
from dockscore.cli import app

from .conftest import LIGAND_1S3V, PROTEIN_1S3V

runner = CliRunner()
GOOD = LIGAND_1S3V.read_text()


def good_block() -> str:
    return GOOD.split("$$$$")[0].strip("\n") + "\n$$$$\n"


def shifted_block(dx: float) -> str:
    """The crystal ligand moved far away along x (a ligand with no atoms near the protein)."""
    lines = good_block().split("\n")
    counts = lines[3]
    n_atoms = int(counts[:3])
    for i in range(4, 4 + n_atoms):
        x = float(lines[i][:10]) + dx
        lines[i] = f"{x:10.4f}" + lines[i][10:]
    return "\n".join(lines)


def nan_block() -> str:
    lines = good_block().split("\n")
    lines[4] = f"{'nan':>10}" + lines[4][10:]
    return "\n".join(lines)


def unsanitisable_block() -> str:
    """A carbon with five bonds: RDKit refuses it (and no safe repair exists)."""
    return """pentavalent
  manual

  6  5  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    1.5000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
   -1.5000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000    1.5000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000   -1.5000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000    0.0000    1.5000 C   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  1  3  1  0
  1  4  1  0
  1  5  1  0
  1  6  2  0
M  END
$$$$
"""


def run_score(tmp_path: Path, *ligands: Path, protein: Path = PROTEIN_1S3V, out: str = "out.csv"):
    result = runner.invoke(app, ["score", str(protein), *map(str, ligands), "-o", str(tmp_path / out), "--show", "0"])
    return result, tmp_path / out


def test_mixed_batch_scores_good_records_and_reports_bad_ones(tmp_path):
    sdf = tmp_path / "mixed.sdf"
    sdf.write_text(good_block() + unsanitisable_block() + shifted_block(80.0) + nan_block() + good_block() + "garbage\nthat is truncated\n")
    result, out = run_score(tmp_path, sdf)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    rows = out.read_text().splitlines()
    assert len(rows) == 1 + 6  # header + every input record, bad ones included
    column = rows[0].split(",").index("status")
    statuses = [r.split(",")[column] for r in rows[1:]]
    assert statuses == ["ok", "error", "error", "error", "ok", "error"]
    text = result.output
    assert f"{sdf} record 1 (pentavalent): RDKit cannot sanitise" in text
    assert f"{sdf} record 2" in text and "not in the pocket" in text
    assert f"{sdf} record 3" in text and "non-finite" in text
    assert f"{sdf} record 5" in text and "truncated" in text
    assert "scored 2, failed 4" in text


def test_every_error_is_one_line(tmp_path):
    sdf = tmp_path / "bad.sdf"
    sdf.write_text(unsanitisable_block() + good_block())
    result, _ = run_score(tmp_path, sdf)
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "bad.sdf record 0" in error_lines[0]


def test_empty_ligand_file_is_reported_and_other_files_go_on(tmp_path):
    empty = tmp_path / "empty.sdf"
    empty.write_text("")
    result, out = run_score(tmp_path, empty, LIGAND_1S3V)
    assert result.exit_code == 0
    assert f"{empty}: ligand file is empty" in result.output
    assert len(out.read_text().splitlines()) == 2


def test_nothing_scored_exits_non_zero(tmp_path):
    empty = tmp_path / "empty.sdf"
    empty.write_text("")
    result, _ = run_score(tmp_path, empty)
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_binary_garbage_ligand_file(tmp_path):
    junk = tmp_path / "junk.sdf"
    junk.write_bytes(bytes(range(256)) * 20)
    result, _ = run_score(tmp_path, junk)
    assert result.exit_code == 1
    assert str(junk) in result.output and "Traceback" not in result.output


def test_binary_garbage_gz_ligand_file(tmp_path):
    junk = tmp_path / "junk.sdf.gz"
    junk.write_bytes(b"not gzip at all")
    result, _ = run_score(tmp_path, junk)
    assert result.exit_code == 1 and str(junk) in result.output


@pytest.mark.parametrize("content, message", [
    ("", "protein file is empty"),
    ("REMARK nothing here\nEND\n", "no atoms found"),
    ("HETATM    1  O   HOH A   1      10.000  10.000  10.000  1.00  0.00           O\nEND\n", "no heavy atoms"),
    ("ATOM      1  CA  ALA A   1      xx.xxx  10.000  10.000  1.00  0.00           C\n", "cannot parse protein"),
])
def test_bad_protein_is_one_line_error(tmp_path, content, message):
    protein = tmp_path / "protein.pdb"
    protein.write_text(content)
    result, _ = run_score(tmp_path, LIGAND_1S3V, protein=protein)
    assert result.exit_code == 1
    assert f"{protein}" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_missing_files(tmp_path):
    result, _ = run_score(tmp_path, tmp_path / "nope.sdf")
    assert result.exit_code == 1 and "ligand file not found" in result.output
    result, _ = run_score(tmp_path, LIGAND_1S3V, protein=tmp_path / "nope.pdb")
    assert result.exit_code == 1 and "protein file not found" in result.output


def test_library_api_raises_input_error_for_empty_files(tmp_path):
    empty = tmp_path / "e.pdb"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_protein(empty)
    (tmp_path / "e.sdf").write_text("")
    with pytest.raises(InputError, match="empty"):
        list(iter_ligands(tmp_path / "e.sdf"))


def test_already_scored_records_survive_a_later_failure(tmp_path):
    """Results are written as they arrive: a bad record at the end loses nothing before it."""
    sdf = tmp_path / "poses.sdf"
    sdf.write_text(good_block() * 3 + "\x00\x01binary tail")
    result, out = run_score(tmp_path, sdf, out="out.sdf")
    assert result.exit_code == 0
    text = out.read_text()
    assert text.count("$$$$") == 4
    assert text.count("<dockscore_status>\nok") == 3


def test_four_valent_nitrogen_is_repaired_not_dropped(tmp_path):
    block = """ammonium
  manual

  5  4  0  0  0  0  0  0  0  0999 V2000
    0.0000    0.0000    0.0000 N   0  0  0  0  0  0  0  0  0  0  0  0
    1.5000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
   -1.5000    0.0000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000    1.5000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
    0.0000   -1.5000    0.0000 C   0  0  0  0  0  0  0  0  0  0  0  0
  1  2  1  0
  1  3  1  0
  1  4  1  0
  1  5  1  0
M  END
$$$$
"""
    path = tmp_path / "n.sdf"
    path.write_text(block)
    record = next(iter_ligands(path))
    assert record.ok and "charge" in record.note


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    fake = tmp_path / "model.safetensors"
    fake.write_text("not a checkpoint at all")
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(LIGAND_1S3V), "--model", str(fake)])
    assert result.exit_code == 1 and "not a dockscore checkpoint" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("command", ["score", "minimize", "enantiomers", "compare"])
def test_an_output_that_is_an_input_is_refused_and_the_input_survives(tmp_path, command):
    sdf = tmp_path / "poses.sdf"
    shutil.copy(LIGAND_1S3V, sdf)
    before = sdf.read_bytes()
    result = runner.invoke(app, [command, str(PROTEIN_1S3V), str(sdf), "-o", str(sdf)])
    assert result.exit_code == 1 and "is one of the inputs" in result.output and "Traceback" not in result.output
    assert sdf.read_bytes() == before


def test_an_output_that_is_a_directory_is_refused_before_the_work(tmp_path):
    result = runner.invoke(app, ["minimize", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "is a directory" in result.output and "Traceback" not in result.output


def test_an_interrupted_gzip_output_is_readable_and_the_old_output_stands(tmp_path):
    """Each result is its own gzip member: the partial file of a killed run still decompresses."""
    from dockscore.report import ResultWriter

    out = tmp_path / "out.sdf.gz"
    out.write_bytes(gzip.compress(b"an earlier good result\n"))
    scorer = Scorer(PROTEIN_1S3V)
    writer = ResultWriter(out, scorer.symmetry, scorer.model_name)
    for result in scorer.score_file(LIGAND_1S3V):
        writer.write(result)
    # no close(): as after kill -9
    assert gzip.decompress(out.read_bytes()) == b"an earlier good result\n"
    partial = gzip.decompress(writer.partial.read_bytes()).decode()
    assert partial.count("$$$$") == 1 and "dockscore_score" in partial
    writer.close()
    assert not writer.partial.exists() and gzip.decompress(out.read_bytes()).decode() == partial


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--pocket-cutoff", "nan"], ["--threads", "0"]])
def test_numeric_options_out_of_range_are_refused(tmp_path, args):
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(LIGAND_1S3V), *args])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_enantiomers_with_zero_starts_is_refused():
    result = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(LIGAND_1S3V), "--starts", "0"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_benchmark_manifests_with_a_bom_short_rows_or_binary_content(tmp_path):
    from dockscore.evaluation.benchmark import read_manifest

    bom = tmp_path / "excel.csv"
    bom.write_bytes("\ufeffprotein,ligands\n".encode("utf-8") + f"{PROTEIN_1S3V},{LIGAND_1S3V}\n".encode())
    assert len(read_manifest(bom)) == 1
    short = tmp_path / "short.csv"
    short.write_text(f"protein,ligands\n{PROTEIN_1S3V}\n")
    with pytest.raises(InputError, match="row 0"):
        read_manifest(short)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"protein,ligands\n\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        read_manifest(binary)
    with pytest.raises(InputError, match="directory"):
        read_manifest(tmp_path)


def _protein_lines() -> list[str]:
    return [line for line in PROTEIN_1S3V.read_text().splitlines(keepends=True) if line.startswith(("ATOM", "HETATM"))]


@pytest.mark.parametrize("edit, message", [
    (lambda lines: [l[:17] + " " + l[17:19] + l[20:] if l.startswith("ATOM") else l for l in lines], "columns shifted"),
    (lambda lines: [l for l in lines if not l.startswith("ATOM") or l[12:16] == " CA "], "CA-only"),
])
def test_a_protein_that_is_not_an_all_atom_receptor_is_refused(tmp_path, edit, message):
    protein = tmp_path / "protein.pdb"
    protein.write_text("".join(edit(_protein_lines())) + "END\n")
    result, _ = run_score(tmp_path, LIGAND_1S3V, protein=protein)
    assert result.exit_code == 1 and str(protein) in result.output and message in result.output
    assert "Traceback" not in result.output


def test_a_truncated_protein_gz_is_one_line(tmp_path):
    protein = tmp_path / "protein.pdb.gz"
    data = gzip.compress(PROTEIN_1S3V.read_bytes())
    protein.write_bytes(data[: len(data) // 2])
    result, _ = run_score(tmp_path, LIGAND_1S3V, protein=protein)
    assert result.exit_code == 1 and str(protein) in result.output and "gzip" in result.output


def _duplicate_names(pdb_text: str, residues: int) -> str:
    """The file as Open Babel writes it: every atom of the first ``residues`` residues named by its
    element alone, so names repeat within a residue."""
    out, seen = [], []
    for line in pdb_text.splitlines():
        if line.startswith("ATOM  "):
            key = line[21:27]
            if key not in seen:
                seen.append(key)
            if len(seen) <= residues:
                element = line[76:78].strip() or line[12:16].strip()[0]
                line = line[:12] + f" {element:<3}" + line[16:]
        out.append(line)
    return "\n".join(out) + "\n"


def test_a_protein_that_loses_atoms_to_repeated_names_is_refused_or_reported(tmp_path):
    """Biopython keeps one atom per name in a residue: an Open Babel file kept 2,524 of 4,375 heavy
    atoms without a word (issue 27, item 4)."""
    from dockscore.io.protein import dropped_note, read_protein

    text = PROTEIN_1S3V.read_text()
    many = tmp_path / "obabel.pdb"
    many.write_text(_duplicate_names(text, 60))
    with pytest.raises(InputError, match=r"kept \d+ of \d+ heavy atoms: atom names repeat"):
        read_protein(many)
    result = runner.invoke(app, ["score", str(many), str(LIGAND_1S3V)])
    assert result.exit_code == 1 and "atom names repeat" in result.output and "Traceback" not in result.output
    few = tmp_path / "one_residue.pdb"
    few.write_text(_duplicate_names(text, 1))
    protein = read_protein(few)
    assert 0 < protein.dropped <= 0.02 * protein.expected and len(protein) + protein.dropped == protein.expected
    assert "heavy atoms not read" in dropped_note(protein)
    result = runner.invoke(app, ["score", str(few), str(LIGAND_1S3V)])
    assert result.exit_code == 0 and "heavy atoms not read" in result.output
    assert read_protein(PROTEIN_1S3V).dropped == 0


def test_the_front_door_loads_no_model_code():
    """`dockscore --help` took 2.9 s: every command imported torch, RDKit and the model at start
    (issue 27, item 9). The command line now imports them inside the commands that need them."""
    import subprocess
    import sys

    probe = "import sys, dockscore, dockscore.cli; print(sorted(m for m in ('torch', 'rdkit', 'torch_geometric') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
    help_text = subprocess.run([sys.executable, "-m", "dockscore.cli", "--help"], capture_output=True, text=True).stdout
    assert "rank" in help_text and "enantiomers" in help_text
