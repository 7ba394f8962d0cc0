"""Training runs end to end on tiny data: split by protein, losses, calibration, checkpoint round trip."""

from __future__ import annotations

import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from dockscore.checkpoint import load_model, save_model
from dockscore.errors import InputError
from dockscore.graph import PreparedLigand, PreparedProtein
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.model import DockScoreEnsemble, DockScoreModel, ModelConfig
from dockscore.optimize import perturb_pose, rotatable_torsions
from dockscore.training.data import Complex, drop_unscorable_decoys, load_complexes, save_complexes, split_by_protein
from dockscore.training.decoys import perturb_torsions, torsions_from_bonds
from dockscore.training.evaluate import calibrate, evaluate
from dockscore.training.loop import TrainConfig, _batches, _listwise_decoys, _mirror_credit, train

from .conftest import LIGAND_1S3V, LIGANDS_1IA1, PROTEIN_1IA1, PROTEIN_1S3V


def tiny_complexes() -> list[Complex]:
    out = []
    gen = torch.Generator().manual_seed(0)
    for k, (protein, ligands) in enumerate([(PROTEIN_1S3V, LIGAND_1S3V), (PROTEIN_1IA1, LIGANDS_1IA1)] * 3):
        prepared = PreparedProtein.from_protein(read_protein(protein))
        ligand = PreparedLigand.from_mol(next(iter_ligands(ligands)).mol)
        decoys = [perturb_pose(ligand, gen, 0.05, 0.3)] + [perturb_pose(ligand, gen, 0.8, 2.5) for _ in range(2)]  # one near-native
        out.append(Complex(f"c{k}", f"U{k % 4}", 5.0 + k, prepared, ligand, decoys))
    return out


def test_split_keeps_proteins_together_and_holds_out_fep_targets():
    complexes = tiny_complexes()
    complexes[0].uniprot = "P00734"  # thrombin: an FEP target
    split = split_by_protein(complexes, seed=0, val_frac=0.2, test_frac=0.2)
    assert split["fep_targets"] == ["c0"]
    where = {cid: name for name, ids in split.items() for cid in ids}
    for a in complexes:
        for b in complexes:
            if a.uniprot == b.uniprot:
                assert where[a.id] == where[b.id]


def test_training_round_trip(tmp_path):
    complexes = tiny_complexes()
    split = {"train": [c.id for c in complexes[:4]], "val": [c.id for c in complexes[4:]], "test": [], "fep_targets": []}
    config = TrainConfig(symmetry="se3", epochs=1, batch_complexes=2, ema_decay=0.9, pose_weight=1.0, group_weight=1.0, torsion_decoys=True)
    model, info = train(complexes, split, config, ModelConfig(symmetry="se3", hidden=16, vectors=4, layers=1, protein_layers=1))
    assert info["epochs_run"] == 1 and all(torch.isfinite(torch.tensor(h["loss"])) for h in info["history"])
    cal = calibrate(model, complexes[:4])
    assert "applied" in cal
    metrics = evaluate(model, complexes[4:])
    assert metrics["n"] == 2 and "docking_top1_native_included" in metrics
    path = tmp_path / "m.safetensors"
    save_model(model, path)
    again = load_model(path)
    assert again.config == model.config
    for (k, a), (_, b) in zip(model.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k
    cache = tmp_path / "cache.pt"
    save_complexes(complexes[:2], cache)
    loaded = load_complexes(cache)
    assert torch.equal(loaded[0].protein.x, complexes[0].protein.x) and len(loaded[1].decoys) == 3
    stale = torch.load(cache, weights_only=True)
    for other in ({**stale, "featurisation": "made-before"}, stale["complexes"]):  # another featurisation; a cache from before the stamp
        torch.save(other, cache)
        with pytest.raises(InputError, match="another featurisation"):
            load_complexes(cache)


def test_a_decoy_outside_the_pocket_is_dropped_not_fatal():
    """One decoy 200 A away has no graph: evaluation would stop on it; dropping it keeps the rest."""
    complexes = tiny_complexes()[:2]
    far = complexes[1].ligand.with_positions(complexes[1].ligand.pos + torch.tensor([200.0, 0.0, 0.0]))
    complexes[1].decoys.append((far, 200.0))
    model = DockScoreModel(ModelConfig(hidden=16, vectors=4, layers=1, protein_layers=1))
    with pytest.raises(InputError):
        evaluate(model, complexes)
    assert drop_unscorable_decoys(complexes, model.config.graph_settings()) == 1
    assert [len(c.decoys) for c in complexes] == [3, 3]
    assert evaluate(model, complexes)["n"] == 2


def flexible_ligand(smiles: str = "OC(=O)c1ccc(OCCN2CCCC2)cc1CCc1ccccn1", seed: int = 1) -> PreparedLigand:
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    AllChem.EmbedMolecule(mol, randomSeed=seed)
    return PreparedLigand.from_mol(mol)


def test_bond_graph_torsions_are_the_acyclic_single_bonds():
    ligand = flexible_ligand()
    graph = {tuple(sorted(t.axis)) for t in torsions_from_bonds(ligand.pos.shape[0], ligand.bond_index, ligand.bond_attr)}
    smarts = {tuple(sorted(t.axis)) for t in rotatable_torsions(ligand.heavy)}
    assert smarts <= graph  # the graph rule is the SMARTS rule without its amide/CF3 exceptions
    for a, b in graph:
        bond = ligand.heavy.GetBondBetweenAtoms(a, b)
        assert bond.GetBondType() == Chem.BondType.SINGLE and not bond.IsInRing()


@pytest.mark.parametrize("seed", range(4))
def test_torsional_decoys_keep_covalent_geometry(seed):
    ligand = flexible_ligand()
    torsions = torsions_from_bonds(ligand.pos.shape[0], ligand.bond_index, ligand.bond_attr)
    out = perturb_torsions(ligand, torch.Generator().manual_seed(seed), torsions, tries=50)
    assert out is not None
    pose, rmsd = out
    # bond lengths and 1-3 distances (bond angles) unchanged; rings rigid
    d0, d1 = torch.cdist(ligand.pos, ligand.pos), torch.cdist(pose.pos, pose.pos)
    adjacency = torch.zeros_like(d0, dtype=torch.bool)
    adjacency[ligand.bond_index[0], ligand.bond_index[1]] = True
    within_two = adjacency | ((adjacency.float() @ adjacency.float()) > 0)
    assert (d0[within_two] - d1[within_two]).abs().max() < 1e-3
    assert abs(rmsd - float(((pose.pos - ligand.pos) ** 2).sum(-1).mean().sqrt())) < 1e-5
    ring = Chem.GetSymmSSSR(ligand.heavy)[0]
    idx = torch.tensor(list(ring))
    assert (d0[idx][:, idx] - d1[idx][:, idx]).abs().max() < 1e-3
    # no new intramolecular clash between atoms more than three bonds apart
    far = torch.tensor(Chem.GetDistanceMatrix(ligand.heavy)) > 3
    assert d1[far].min() >= 2.6 - 1e-4


def test_batches_cover_every_complex_once_and_keep_protein_pairs_together():
    complexes = tiny_complexes()
    gen = torch.Generator().manual_seed(0)
    batches = _batches(complexes, TrainConfig(batch_complexes=3, group_weight=1.0), gen)
    assert sorted(c.id for b in batches for c in b) == sorted(c.id for c in complexes)
    assert all(len(b) <= 3 for b in batches)
    for protein in {c.uniprot for c in complexes}:
        members = [i for i, b in enumerate(batches) for c in b if c.uniprot == protein]
        assert len(members) < 2 or len(set(members)) < len(members)  # at least one same-protein pair shares a batch


def test_listwise_decoys_offer_a_choice():
    cx = tiny_complexes()[0]
    chosen = _listwise_decoys(cx, 8, torch.Generator().manual_seed(0))
    assert any(r < 2 for _, r in chosen) and any(r >= 2 for _, r in chosen)
    cx.decoys = [d for d in cx.decoys if d[1] >= 2]
    assert _listwise_decoys(cx, 8, torch.Generator().manual_seed(0)) == []


def test_seed_ensemble_is_the_mean_of_its_members_and_round_trips(tmp_path):
    from dockscore.scoring import Scorer

    config = ModelConfig(hidden=16, vectors=4, layers=1, protein_layers=1)
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(DockScoreModel(config).eval())
    ensemble = DockScoreEnsemble(members).eval()
    mol = next(iter_ligands(LIGAND_1S3V)).mol
    scores = [Scorer(PROTEIN_1S3V, model=m, stereo=False).score_mols([mol])[0] for m in members]
    mean = Scorer(PROTEIN_1S3V, model=ensemble, stereo=False).score_mols([mol])[0]
    assert mean.score == pytest.approx(sum(s.score for s in scores) / 3, abs=1e-4)
    assert sum(mean.atom_contrib) + ensemble.offset == pytest.approx(mean.score, abs=1e-3)
    path = tmp_path / "ens.safetensors"
    save_model(ensemble, path)
    again = load_model(path)
    assert isinstance(again, DockScoreEnsemble) and len(again.members) == 3
    assert Scorer(PROTEIN_1S3V, model=again, stereo=False).score_mols([mol])[0].score == pytest.approx(mean.score, abs=1e-5)


def test_se3_selection_credits_the_mirror_gap_not_just_the_win_rate():
    config = TrainConfig(symmetry="se3", mirror_weight=0.5, rank_weight=1.0)  # the hinge asks for a 0.5 pK gap
    silent = {"mirror_win_rate": 1.0, "mirror_mean_gap": 0.01}
    alive = {"mirror_win_rate": 1.0, "mirror_mean_gap": 0.86}
    assert _mirror_credit(silent, config) < 0.05 and _mirror_credit(alive, config) == 1.0
    assert _mirror_credit({"pearson": 0.3}, TrainConfig()) == 0.0  # E(3): no mirror term
