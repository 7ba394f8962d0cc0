"""`dockscore benchmark`: metric definitions on synthetic data, then the command end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from rdkit import Chem
from typer.testing import CliRunner

from dockscore.evaluation.benchmark import compute_metrics, to_pk
from dockscore.cli import app
from dockscore.optimize import perturb_pose

from .conftest import LIGAND_1S3V, PROTEIN_1S3V, bench_script

runner = CliRunner()


def test_unit_conversions():
    assert to_pk(7.0, "pK") == 7.0
    assert to_pk(-11.83, "kcal/mol") == pytest.approx(8.673, abs=1e-3)
    assert to_pk(1.0, "nM") == pytest.approx(9.0)
    assert to_pk(10.0, "uM") == pytest.approx(5.0)
    assert to_pk(-40.0, "kJ/mol") == pytest.approx(7.008, abs=1e-3)


def pose(group, kind, name, score, activity=None, rmsd=None, row=0):
    return {"row": row, "group": group, "kind": kind, "name": name, "index": 0, "score": score, "activity": activity, "rmsd": rmsd, "status": "ok"}


def test_metrics_of_a_perfect_and_an_inverted_scorer():
    poses = [pose(g, "crystal", f"l{k}", score=k + 10 * i, activity=k + 10 * i, rmsd=0.0, row=10 * i + k) for i, g in enumerate("abcde") for k in range(4)]
    poses += [pose(g, "decoys", "d", score=-5.0 + j, rmsd=1.0 + j) for g in "abcde" for j in range(3)]
    m = compute_metrics(poses, n_boot=50)
    assert m["scoring"]["pearson"] == pytest.approx(1.0)
    assert m["ranking"]["mean_spearman"] == pytest.approx(1.0)
    assert m["docking"]["top1_native_included"] == 1.0
    assert m["docking"]["top1_native_excluded"] == 0.0  # the best decoy has RMSD 3
    inverted = [{**p, "score": -p["score"]} for p in poses]
    assert compute_metrics(inverted, n_boot=50)["ranking"]["mean_spearman"] == pytest.approx(-1.0)


def test_one_series_gets_a_ligand_bootstrap_interval():
    gen = torch.Generator().manual_seed(0)
    activity = torch.randn(40, generator=gen)
    noisy = activity + torch.randn(40, generator=gen)
    poses = [pose("only", "actives", f"l{k}", score=float(noisy[k]), activity=float(activity[k]), row=0) for k in range(40)]
    ranking = compute_metrics(poses, n_boot=200)["ranking"]
    low, high = ranking["ci95"]
    assert ranking["n_groups"] == 1 and low < ranking["mean_spearman"] < high and high - low > 0.05


def test_ties_give_no_docking_credit_from_file_order():
    poses = [pose("g", "decoys", "x", score=5.0, rmsd=r) for r in (1.0, 3.0, 4.0, 5.0)]
    assert compute_metrics(poses, n_boot=10)["docking"]["top1_native_excluded"] == pytest.approx(0.25)


def test_docking_power_chooses_poses_by_the_pose_score_where_a_tool_gives_one():
    """Score ranks the 4 A pose first, pose score the 1 A pose: docking power follows the pose score
    (also in the paired difference), every other power the score; a tool without one falls back to its score."""
    from dockscore.evaluation.benchmark import paired_difference

    with_pose = [{**pose("g", "decoys", f"p{i}", score=float(r), rmsd=float(r)), "index": i, "pose_score": -float(r)}
                 for i, r in enumerate((1.0, 3.0, 4.0))]
    score_only = [{**p, "pose_score": None} for p in with_pose]
    assert compute_metrics(with_pose, n_boot=10)["docking"]["top1_native_excluded"] == 1.0
    assert compute_metrics(score_only, n_boot=10)["docking"]["top1_native_excluded"] == 0.0
    d = paired_difference(with_pose, score_only, n_boot=10)["docking_delta"]
    assert (d["top1_native_excluded_a_minus_b"], d["a_only"], d["b_only"]) == (1.0, 1, 0)


def test_screening_metrics():
    poses = [pose("t", "actives", f"a{k}", score=10 + k) for k in range(2)] + [pose("t", "inactives", f"d{k}", score=k / 100) for k in range(198)]
    m = compute_metrics(poses, n_boot=10)
    assert m["screening"]["roc_auc"] == pytest.approx(1.0)
    assert m["screening"]["ef1"] == pytest.approx(100.0)  # 2 actives in the top 2 of 200


def test_screening_gives_tied_ligands_no_enrichment():
    """A tool that ties every ligand (as the heavy-atom count ties many) is random: EF1 1, AUC 0.5
    (an earlier private EF listed actives ahead of decoys among tied scores and gave it the maximum)."""
    poses = [pose("t", "actives", f"a{k}", score=20.0) for k in range(2)] + [pose("t", "inactives", f"d{k}", score=20.0) for k in range(198)]
    m = compute_metrics(poses, n_boot=10)["screening"]
    assert (m["ef1"], m["roc_auc"]) == (pytest.approx(1.0), pytest.approx(0.5))


def test_benchmark_command_end_to_end(tmp_path):
    crystal = Chem.MolFromMolFile(str(LIGAND_1S3V))
    crystal.SetProp("pK", "7.5")
    decoys = tmp_path / "decoys.sdf"
    writer = Chem.SDWriter(str(decoys))
    from dockscore.graph import PreparedLigand

    ligand = PreparedLigand.from_mol(crystal)
    gen = torch.Generator().manual_seed(0)
    for k in range(4):
        moved, rmsd = perturb_pose(ligand, gen, 0.6, 2.0)
        mol = Chem.RemoveHs(crystal)
        conf = mol.GetConformer()
        for i, p in enumerate(moved.pos.tolist()):
            conf.SetAtomPosition(i, p)
        mol.SetProp("rmsd", f"{rmsd:.3f}")
        writer.write(mol)
    writer.close()
    crystal_path = tmp_path / "crystal.sdf"
    w = Chem.SDWriter(str(crystal_path))
    w.write(crystal)
    w.close()
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"protein,ligands,group,kind\n{PROTEIN_1S3V},crystal.sdf,dhfr,crystal\n{PROTEIN_1S3V},decoys.sdf,dhfr,decoys\n"
                        f"{PROTEIN_1S3V},missing.sdf,dhfr,decoys\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["benchmark", str(manifest), "--out-dir", str(out), "--activity-property", "pK", "--rmsd-property", "rmsd", "--bootstrap", "20"])
    assert result.exit_code == 0, result.output
    assert "manifest row 2" in result.output and "not found" in result.output  # a bad row is reported, the rest goes on
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_scored"] == 5
    assert "docking" in metrics and metrics["docking"]["n_included"] == 1
    header = (out / "poses.csv").read_text().splitlines()[0].split(",")
    assert header == ["row", "group", "kind", "name", "index", "score", "activity", "rmsd", "status", "pose_score"]
    assert math.isfinite(float((out / "poses.csv").read_text().splitlines()[1].split(",")[5]))


def test_bad_manifest(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("foo,bar\n1,2\n")
    result = runner.invoke(app, ["benchmark", str(bad), "--out-dir", str(tmp_path / "o")])
    assert result.exit_code == 1 and "needs the columns protein, ligands" in result.output


def test_paired_difference_is_antisymmetric_and_zero_against_itself():
    """A - B on the same poses: zero (with a zero-width CI) against itself, sign-flipped when swapped,
    positive when A ranks by the measured activity and B by noise; a pose B failed is dropped from both."""
    from dockscore.evaluation.benchmark import paired_difference

    rng = np.random.default_rng(1)
    a, b = [], []
    for g in range(4):  # four series of 12 ligands, and four complexes with 5 decoys each
        for i in range(12):
            act = float(rng.normal())
            base = {"row": g, "index": i, "group": f"s{g}", "kind": "actives", "name": f"l{i}", "activity": act, "rmsd": None}
            a.append({**base, "score": act + 0.1 * float(rng.normal())})
            b.append({**base, "score": float(rng.normal())})
        for i in range(5):
            base = {"row": 10 + g, "index": i, "group": f"c{g}", "kind": "decoys", "name": f"d{i}", "activity": None, "rmsd": float(i)}
            a.append({**base, "score": -float(i)})  # A puts the 0 A pose on top
            b.append({**base, "score": float(i)})  # B puts the 4 A pose on top
    b[0]["score"] = None
    same = paired_difference(a, a, n_boot=200)
    assert same["ranking_delta"]["mean_spearman_a_minus_b"] == 0.0 and same["ranking_delta"]["ci95"] == (0.0, 0.0)
    assert same["docking_delta"]["top1_native_excluded_a_minus_b"] == 0.0
    ab, ba = paired_difference(a, b, n_boot=200), paired_difference(b, a, n_boot=200)
    assert ab["n_poses"] == len(a) - 1
    assert ab["ranking_delta"]["mean_spearman_a_minus_b"] == pytest.approx(-ba["ranking_delta"]["mean_spearman_a_minus_b"])
    assert ab["ranking_delta"]["ci95"][0] > 0.3
    assert ab["docking_delta"] == {**ab["docking_delta"], "top1_native_excluded_a_minus_b": 1.0, "a_only": 4, "b_only": 0, "n": 4}


def test_union_of_docking_sets_keeps_poses_apart_and_counts_each_complex():
    """bench/compare_vina.py reads docking power over two pose sets at once (shared decoys and
    redocked held-out complexes); rows of the two sets must not collide in the paired matching."""
    compare_vina = bench_script("compare_vina")
    docking_headline, union_poses = compare_vina.docking_headline, compare_vina.union_poses

    def complex_rows(group: str, near_wins: bool) -> list[dict]:
        scores = (3.0, 1.0) if near_wins else (1.0, 3.0)
        return [{"row": 0, "index": 0, "group": group, "kind": "crystal", "score": 0.0, "activity": 5.0, "rmsd": 0.0},
                {"row": 1, "index": 0, "group": group, "kind": "decoys", "score": scores[0], "activity": None, "rmsd": 1.0},
                {"row": 1, "index": 1, "group": group, "kind": "decoys", "score": scores[1], "activity": None, "rmsd": 6.0}]

    both = union_poses([complex_rows("a", True), complex_rows("b", False)])
    assert len({(p["row"], p["index"]) for p in both}) == len(both) == 6
    h = docking_headline(both)
    assert h["n_excluded"] == 2 and h["docking_excl"] == pytest.approx(0.5)
    assert h["scoring_R"] is None


def test_compare_vina_exclusions_name_the_complexes_an_earlier_read_covered(tmp_path):
    """A fresh read of complexes docked after an earlier one leaves out exactly what that read listed:
    a plain list applies to every docked set, a per-set dict only to its own set; and each run lists
    the complexes it read, so the next fresh read can exclude them."""
    compare_vina = bench_script("compare_vina")
    DOCKED_SETS, complexes_read, read_exclusions = compare_vina.DOCKED_SETS, compare_vina.complexes_read, compare_vina.read_exclusions

    assert read_exclusions(None) == {}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"_notes": {"complexes read": ["1abc", "2xyz"]}}))
    assert read_exclusions(plain) == {name: {"1abc", "2xyz"} for name in DOCKED_SETS}
    per_set = tmp_path / "per_set.json"
    per_set.write_text(json.dumps({"_notes": {"complexes read": {"pdbbind-ad4": ["1abc"], "pdbbind-vinardo": ["3def"]}}}))
    assert read_exclusions(per_set) == {"pdbbind-ad4": {"1abc"}, "pdbbind-vinardo": {"3def"}}
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps(["9zzz"]))
    assert read_exclusions(ids)["pdbbind-ad4"] == {"9zzz"}

    rows = [{"group": g} for g in ("2b", "1a", "2b")]
    poses = {("pdbbind-ad4", "vina"): rows, ("pdbbind-ad4", "e3"): rows, ("fep", "e3"): [{"group": "bace"}]}
    assert complexes_read(poses, DOCKED_SETS) == {"pdbbind-ad4": ["1a", "2b"]}


def test_public_screening_metrics_perfect_and_reversed_rankings():
    from dockscore.evaluation.metrics import bedroc, roc_auc, screening_metrics

    actives, decoys = [10.0 + k for k in range(40)], [float(k) / 1000 for k in range(1200)]
    assert bedroc(actives, decoys) == pytest.approx(1.0, abs=1e-9)
    assert roc_auc(actives, decoys) == 1.0
    m = screening_metrics(actives, decoys)
    n_top1, n_top5 = round(0.01 * 1240), round(0.05 * 1240)  # 12 and 62 ligands
    assert m["ef1"] == pytest.approx(1240 / 40)  # the top 12 all actives
    assert m["ef5"] == pytest.approx((40 / n_top5) * 1240 / 40)  # all 40 actives in the top 62
    assert (m["n_actives"], m["n_decoys"], n_top1) == (40, 1200, 12)
    reversed_actives = [-a for a in actives]
    assert bedroc(reversed_actives, decoys) == pytest.approx(0.0, abs=1e-6)
    assert roc_auc(reversed_actives, decoys) == 0.0
    assert screening_metrics(reversed_actives, decoys)["ef1"] == 0.0


def test_public_screening_metrics_of_a_random_ranking():
    from dockscore.evaluation.metrics import bedroc, bedroc_random, roc_auc

    rng = np.random.default_rng(7)
    aucs, bedrocs = [], []
    for _ in range(10):
        scores = rng.normal(size=5500)
        aucs.append(roc_auc(scores[:500], scores[500:]))
        bedrocs.append(bedroc(scores[:500], scores[500:]))
    expected = bedroc_random(500, 5000)
    assert 0.09 < expected < 0.12  # a little above the active fraction Ra = 0.091
    assert np.mean(aucs) == pytest.approx(0.5, abs=0.02)
    assert np.mean(bedrocs) == pytest.approx(expected, abs=0.02)
    # a scorer that cannot tell ligands apart gets exactly the random expectations, whatever the file order
    assert bedroc([1.0] * 500, [1.0] * 5000) == pytest.approx(expected)
    assert roc_auc([1.0] * 500, [1.0] * 5000) == 0.5


def test_enrichment_factor_of_a_hand_made_case():
    from dockscore.evaluation.metrics import enrichment_factor, roc_auc

    decoys = [7.0] + [k / 1000 for k in range(195)]  # 200 ligands: the top 1 % is 2 ligands
    # ranked: 10 (active), 7 (decoy), ...: 1 active in the top 2; EF = (1/2) / (4/200) = 25
    assert enrichment_factor([10.0, 5.0, 0.5, 0.2], decoys, 0.01) == pytest.approx(25.0)
    # ties at the cut-off count by expectation: 10 (active) takes slot 1; slot 2 goes to one of three
    # ligands scoring 6 (one active): 1 + 1/3 hits; EF = (4/3 / 2) / (2/200) = 66.67, in any file order
    decoys = [6.0, 6.0] + [k / 1000 for k in range(196)]
    assert enrichment_factor([10.0, 6.0], decoys, 0.01) == pytest.approx(200 / 3)
    assert enrichment_factor([6.0, 10.0], decoys[::-1], 0.01) == pytest.approx(200 / 3)
    # a failed score (None or NaN) is the worst: below every decoy
    assert enrichment_factor([10.0, None], decoys, 0.05) == pytest.approx((1 / 10) / (2 / 200))
    assert roc_auc([float("nan")], [0.0, 1.0]) == 0.0
    with pytest.raises(ValueError):
        enrichment_factor([1.0], [0.0], 1.5)
