"""Training runs end to end on tiny data: split by protein, losses, calibration, checkpoint round trip."""

from __future__ import annotations

import torch

from dockscore.checkpoint import load_model, save_model
from dockscore.graph import PreparedLigand, PreparedProtein
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein
from dockscore.model import ModelConfig
from dockscore.train import Complex, TrainConfig, calibrate, evaluate, perturb_pose, save_complexes, load_complexes, split_by_protein, train

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
    config = TrainConfig(symmetry="se3", epochs=1, batch_complexes=2, ema_decay=0.9)
    model, info = train(complexes, split, config, ModelConfig(symmetry="se3", hidden=16, vectors=4, layers=1, protein_layers=1), tmp_path)
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
