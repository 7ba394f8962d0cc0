"""Pictures: atom-contribution maps (explain, enantiomers --png) and rank's histogram and grid."""

from __future__ import annotations

import struct

import pytest
from rdkit import Chem
from typer.testing import CliRunner

from dockscore import iter_ligands
from dockscore.cli import app
from dockscore.explain import FAVOURABLE, UNFAVOURABLE, atom_colours, draw_explanations, explain

from .conftest import LIGAND_1S3V, LIGANDS_1IA1, PROTEIN_1IA1, PROTEIN_1S3V

runner = CliRunner()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def scored(scorers):
    scorer = scorers["e3"]
    return scorer, next(scorer.score_records(iter_ligands(LIGAND_1S3V)))


def test_contributions_and_offset_add_up_to_the_score(scored):
    scorer, result = scored
    e = explain(result, scorer.model.offset)
    assert e.mol.GetNumAtoms() == len(e.atom_contrib) == Chem.RemoveAllHs(result.record.mol).GetNumAtoms()
    assert e.offset + sum(e.atom_contrib) == pytest.approx(e.score, abs=1e-3)
    assert len(e.top_terms()) == 3 and "pK" in e.caption()


def test_one_colour_per_heavy_atom_green_for_gain_red_for_cost():
    colours = atom_colours([1.0, 0.5, 0.0, -1.0])
    assert len(colours) == 4
    assert colours[0] == pytest.approx(FAVOURABLE) and colours[3] == pytest.approx(UNFAVOURABLE)
    assert colours[2] == pytest.approx((1.0, 1.0, 1.0))  # no contribution, no colour
    assert colours[1] != colours[0]  # the shade follows the size
    assert atom_colours([0.5], limit=1.0)[0] == pytest.approx(colours[1])  # a shared scale across panels


def test_the_picture_is_a_png_with_one_panel_per_form(scored):
    scorer, result = scored
    e = explain(result, scorer.model.offset)
    assert png_size(draw_explanations([e], panel=(400, 300))) == (400, 300)
    assert png_size(draw_explanations([e, e], panel=(400, 300))) == (800, 300)


def test_explain_command_writes_the_picture_of_the_chosen_record(tmp_path):
    out = tmp_path / "pose.png"
    result = runner.invoke(app, ["explain", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert png_size(out.read_bytes())[0] > 0 and "offset" in result.output
    missing = runner.invoke(app, ["explain", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(out), "--record", "5"])
    assert missing.exit_code == 1 and "no record 5" in missing.output and "Traceback" not in missing.output
    outside = runner.invoke(app, ["explain", str(PROTEIN_1S3V), str(LIGANDS_1IA1), "-o", str(out), "--record", "1"])
    assert outside.exit_code == 1 and "record 1" in outside.output and "not in the pocket" in outside.output
    wrong = runner.invoke(app, ["explain", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(tmp_path / "pose.svg")])
    assert wrong.exit_code == 2


def test_enantiomers_png_shows_both_forms_side_by_side(tmp_path):
    out = tmp_path / "hands.png"
    result = runner.invoke(app, ["enantiomers", str(PROTEIN_1S3V), str(LIGAND_1S3V), "--png", str(out),
                                 "--starts", "2", "--steps", "2", "--coarse-steps", "5"])
    assert result.exit_code == 0, result.output
    width, height = png_size(out.read_bytes())
    assert width == 2 * 460 and height == 380


def test_rank_writes_a_histogram_and_a_grid(tmp_path):
    pytest.importorskip("matplotlib")
    hist, grid = tmp_path / "scores.png", tmp_path / "top.png"
    result = runner.invoke(app, ["rank", str(PROTEIN_1IA1), str(LIGANDS_1IA1), "-o", str(tmp_path / "r.csv"),
                                 "--histogram", str(hist), "--grid", str(grid)])
    assert result.exit_code == 0, result.output
    assert png_size(hist.read_bytes())[0] > 0 and png_size(grid.read_bytes())[0] > 0


def test_version():
    from dockscore import __version__

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output
