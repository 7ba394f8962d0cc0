"""Training negatives placed by the prior: the ligand's other hand in the same (L-protein) pocket, and
size-matched ligands of other proteins in it (non-binders)."""

from __future__ import annotations

import pytest
import torch
from rdkit import Chem
from rdkit.Geometry import Point3D

from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.training.negatives import enantiomer_negatives, enantiomer_pose, prior_model
from dockscore.stereo import geometry_stereo, perceive

from .conftest import LIGANDS_1IA1, LIGAND_1S3V, PROTEIN_1IA1, PROTEIN_1S3V


def _with_heavy_positions(mol: Chem.Mol, pos: torch.Tensor) -> Chem.Mol:
    heavy = Chem.RemoveAllHs(mol)
    conf = heavy.GetConformer()
    for k, (x, y, z) in enumerate(pos.tolist()):
        conf.SetAtomPosition(k, Point3D(x, y, z))
    return heavy


def test_the_negative_is_the_other_hand_in_the_pocket_in_the_files_atom_order():
    crystal = next(iter_ligands(LIGAND_1S3V)).mol
    pos = enantiomer_pose(PROTEIN_1S3V, LIGAND_1S3V, prior_model())
    assert pos is not None and pos.shape == (crystal.GetNumHeavyAtoms(), 3)
    before = perceive(geometry_stereo(Chem.RemoveAllHs(crystal))).cip()
    after = perceive(geometry_stereo(_with_heavy_positions(crystal, pos))).cip()
    assert before == "1:S;5:R" and after == "1:R;5:S"  # every centre inverted, same atom order
    protein = torch.from_numpy(read_protein(PROTEIN_1S3V).coords.astype("float32"))
    assert float(torch.cdist(pos, protein).min()) > 2.0  # placed in the pocket, not through the protein
    assert float(torch.cdist(pos, protein).min(dim=1).values.max()) < 8.0  # every atom still in the pocket


def _pdbbind_tree(tmp_path, names: tuple[str, str]):
    """A pdbbind-shaped folder of the two bundled complexes (1s3v, then 1ia1) under ``names``."""
    root = tmp_path / "pdbbind"
    for name, protein, ligand in zip(names, (PROTEIN_1S3V, PROTEIN_1IA1), (LIGAND_1S3V, LIGANDS_1IA1)):
        (root / name).mkdir(parents=True)
        (root / name / "protein.pdb").write_bytes(protein.read_bytes())
        (root / name / "ligand.sdf").write_bytes(ligand.read_bytes())
    return root


def test_an_achiral_ligand_has_no_negative_and_the_store_is_reused(tmp_path):
    root = _pdbbind_tree(tmp_path, ("chiral", "achiral"))
    store = tmp_path / "negatives.pt"
    first = enantiomer_negatives(root, ["chiral", "achiral"], store, log=lambda *a: None)
    assert set(first) == {"chiral"} and store.exists()
    again = enantiomer_negatives(root, ["chiral", "achiral"], store, log=lambda *a: print("recomputed", *a))
    assert torch.equal(again["chiral"], first["chiral"])


def test_without_the_mirror_hinge_the_mirror_gap_earns_no_selection_credit():
    """A D-protein gap is not a reason to pick an epoch when the recipe never asked for one."""
    from dockscore.training.loop import TrainConfig, _mirror_credit

    assert _mirror_credit({"mirror_mean_gap": 5.0}, TrainConfig(symmetry="se3", mirror_weight=0.0, enantiomer_weight=1.0)) == 0.0
    assert _mirror_credit({"mirror_mean_gap": 0.5}, TrainConfig(symmetry="se3", mirror_weight=1.0)) == 0.5


# -- non-binders ----------------------------------------------------------------------------------

def test_size_matched_partners_come_from_other_groups_and_match_size():
    from dockscore.training.negatives import size_matched_partners

    heavy = {"a": 20, "b": 21, "c": 40, "d": 19, "e": 20, "f": 60}
    group = {"a": "G1", "b": "G1", "c": "G2", "d": "G3", "e": "G4", "f": "G5"}
    partners = size_matched_partners(heavy, group, ["a"], list(heavy), 2, seed=0)
    assert partners["a"] == ["d", "e"]  # b shares a's group; c and f are not of a's size
    again = size_matched_partners(heavy, group, ["a"], list(heavy), 2, seed=0)
    assert again == partners  # deterministic
    few = size_matched_partners(heavy, group, ["f"], list(heavy), 2, seed=0)
    assert few["f"] == ["b", "c"]  # none of its size: the nearest sizes (c 40, then b 21)


def test_a_non_binder_is_placed_inside_the_pocket_and_the_store_is_reused(tmp_path):
    from dockscore.training.negatives import nonbinder_poses

    root = _pdbbind_tree(tmp_path, ("p1", "p2"))
    store = tmp_path / "nonbinders.pt"
    placed = nonbinder_poses(root, {"p1": ["p2"]}, store, log=lambda *a: None)
    pos = placed[("p1", "p2")]
    other = next(iter_ligands(LIGANDS_1IA1)).mol
    assert pos.shape == (other.GetNumHeavyAtoms(), 3)
    protein = torch.from_numpy(read_protein(PROTEIN_1S3V).coords.astype("float32"))
    own = torch.tensor(Chem.RemoveAllHs(next(iter_ligands(LIGAND_1S3V)).mol).GetConformer().GetPositions(), dtype=torch.float32)
    assert float(torch.cdist(pos, protein).min()) > 2.0  # no atom through the protein
    assert float((pos.mean(0) - own.mean(0)).norm()) < 4.0  # in the pocket the own ligand marks
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in Chem.RemoveAllHs(other).GetBonds()]
    lengths = torch.stack([(pos[i] - pos[j]).norm() for i, j in bonds])
    assert float(lengths.min()) > 1.1 and float(lengths.max()) < 2.0  # a molecule, not a cloud
    again = nonbinder_poses(root, {"p1": ["p2"]}, store, log=lambda *a: print("recomputed", *a))
    assert torch.equal(again[("p1", "p2")], pos)


def test_non_binder_loss_and_partners_keep_held_out_ligands_out():
    from dockscore.training.data import Complex
    from dockscore.training.losses import nonbinder_loss
    from dockscore.training.loop import _nonbinder_partners

    scores = torch.tensor([7.0, 6.5, 3.0, 5.0])
    # own 7.0 vs non-binder 6.5: margin 1 -> 0.5, ceiling 4 -> 2.5; own 7.0 vs 3.0: 0 and 0
    assert float(nonbinder_loss(scores, [(0, 1), (0, 2)], 1.0, 4.0)) == pytest.approx((0.5 + 2.5) / 2)
    ligand = lambda n: type("L", (), {"pos": torch.zeros(n, 3), "with_positions": lambda self, p: ("placed", p)})()  # noqa: E731
    cx = lambda i: Complex(i, "U" + i, 6.0, None, ligand(3))  # noqa: E731
    train_set = [cx("a"), cx("b")]
    by_id = {c.id: c for c in train_set + [cx("t")]}
    placed = {("a", "b"): torch.ones(3, 3), ("a", "t"): torch.ones(3, 3), ("t", "a"): torch.ones(3, 3)}
    partners = _nonbinder_partners(train_set, by_id, placed)
    assert list(partners) == ["a"] and len(partners["a"]) == 1  # 't' is held out: neither pocket nor non-binder


def test_two_runs_sharing_a_placement_store_keep_each_others_placements(tmp_path):
    """Two runs read the store, place different pairs and write: the second write merges, so
    neither run's placements are lost (CV folds on two cores share the store beside the cache)."""
    from dockscore.training.negatives import _save

    store = tmp_path / "pdbbind.nonbinders.pt"
    _save({"a|b": torch.zeros(2, 3)}, store)
    first, second = torch.load(store, weights_only=True), torch.load(store, weights_only=True)  # both read the same store
    first["c|d"] = torch.ones(3, 3)
    second["e|f"] = None
    _save(first, store)
    _save(second, store)
    kept = torch.load(store, weights_only=True)
    assert set(kept) == {"a|b", "c|d", "e|f"} and torch.equal(kept["c|d"], torch.ones(3, 3))
    assert set(second) == set(kept)  # the writer sees what the other run placed, too
    assert not list(tmp_path.glob("*.partial"))
