"""The training data: PDBbind-derived complexes (pocket, crystal ligand, pK, docked decoys), their
tensor cache, and the protein-wise split. Read once, shared by training, the CV and the benches."""

from __future__ import annotations

import csv
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rdkit import Chem

from dockscore.errors import InputError
from dockscore.graph import GraphSettings, PreparedLigand, PreparedProtein
from dockscore.io.ligands import iter_ligands
from dockscore.io.protein import read_protein


# UniProt ids of the 8 FEP-benchmark (JACS set) targets present in PDBbind: BACE1, CDK2, JNK1,
# MCL1, p38a (human and mouse), PTP1B, thrombin, TYK2. Held out so FEP figures are protein-wise.
FEP_TARGET_UNIPROT = {"P56817", "P24941", "P45983", "Q07820", "Q16539", "P47811", "P18031", "P00734", "P29597"}


@dataclass
class Complex:
    id: str
    uniprot: str
    pK: float
    protein: PreparedProtein
    ligand: PreparedLigand
    decoys: list[tuple[PreparedLigand, float]] = field(default_factory=list)  # (pose, rmsd)

    @property
    def heavy_atoms(self) -> int:
        return self.ligand.pos.shape[0]


def load_pdbbind(root: Path, limit: int | None = None, log=print) -> list[Complex]:
    rows = list(csv.DictReader(open(root / "index.csv")))
    if limit:
        rows = rows[:limit]
    complexes = []
    t0 = time.time()
    for k, row in enumerate(rows):
        folder = root / row["id"]
        try:
            protein = PreparedProtein.from_protein(read_protein(folder / "protein.pdb"))
            record = next(iter_ligands(folder / "ligand.sdf"))
            if not record.ok:
                raise InputError(record.error)
            ligand = PreparedLigand.from_mol(record.mol)
            decoys = []
            if (folder / "decoys.sdf").exists():
                for rec in iter_ligands(folder / "decoys.sdf"):
                    if rec.ok and "rmsd" in rec.props:
                        decoy = ligand.with_positions(torch.tensor(Chem.RemoveAllHs(rec.mol).GetConformer().GetPositions(), dtype=torch.float32))
                        if decoy.pos.shape == ligand.pos.shape:
                            decoys.append((decoy, float(rec.props["rmsd"])))
            complexes.append(Complex(row["id"], row["uniprot"] or row["id"], float(row["pK"]), protein, ligand, decoys))
        except Exception as exc:  # one bad complex must not stop training; report it
            log(f"skip {row['id']}: {exc}")
        if (k + 1) % 250 == 0:
            log(f"loaded {k + 1}/{len(rows)} complexes ({time.time() - t0:.0f} s)")
    return complexes


class StaleCacheError(InputError):
    """A tensor cache whose features another featurisation made."""


def featurisation() -> str:
    """A digest of the code that turns files into features (atom and bond features, the protein
    reading rules). A cache records it: one made before a featurisation change (the canonical
    resonance drawing, say) would train a model on features no scorer makes any more."""
    import hashlib

    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for name in ("features.py", "io/protein.py"):
        digest.update((package / name).read_bytes())
    return digest.hexdigest()[:16]


def save_complexes(complexes: list[Complex], path: Path) -> None:
    """Tensors-only dataset cache (loadable with ``weights_only=True``; no RDKit/Biopython needed to
    read it), stamped with the :func:`featurisation` that made it."""
    payload = []
    for c in complexes:
        p, lig = c.protein, c.ligand
        payload.append({
            "id": c.id, "uniprot": c.uniprot, "pK": c.pK,
            "p_x": (p.x * 2).round().to(torch.int8),  # features are multiples of 0.5
            "p_pos": p.pos, "p_radius": p.radius, "p_bonds": p.bond_index.to(torch.int32),
            "l_x": (lig.x * 2).round().to(torch.int8), "l_pos": lig.pos, "l_radius": lig.radius,
            "l_bonds": lig.bond_index.to(torch.int32), "l_bond_attr": lig.bond_attr.to(torch.int8),
            "decoy_pos": torch.stack([d.pos for d, _ in c.decoys]) if c.decoys else torch.zeros((0,) + tuple(lig.pos.shape)),
            "decoy_rmsd": torch.tensor([r for _, r in c.decoys], dtype=torch.float32),
        })
    torch.save({"featurisation": featurisation(), "complexes": payload}, path)


def load_complexes(path: Path) -> list[Complex]:
    """The complexes of a cache made by this featurisation (:class:`StaleCacheError` otherwise)."""
    saved = torch.load(path, weights_only=True)
    if not isinstance(saved, dict) or saved.get("featurisation") != featurisation():
        raise StaleCacheError(f"{path}: a tensor cache made by another featurisation (dockscore/features.py or io/protein.py "
                              "changed since): delete it; training parses the data again and rewrites it")
    payload = saved["complexes"]
    out = []
    for d in payload:
        protein = PreparedProtein(None, d["p_x"].float() / 2, d["p_pos"], d["p_radius"], d["p_bonds"].long())
        ligand = PreparedLigand(None, d["l_x"].float() / 2, d["l_pos"], d["l_radius"], d["l_bonds"].long(), d["l_bond_attr"].float())
        decoys = [(ligand.with_positions(pos), float(r)) for pos, r in zip(d["decoy_pos"], d["decoy_rmsd"])]
        out.append(Complex(d["id"], d["uniprot"], float(d["pK"]), protein, ligand, decoys))
    return out


def drop_unscorable_decoys(complexes: list[Complex], settings: GraphSettings) -> int:
    """Remove decoys with no protein atom within the pocket cutoff, in place; returns how many.

    Such a pose has no graph (``build_complex_graph`` refuses it), so it can be neither a lesson
    nor an evaluation item; left in, it stops the listwise term or the held-out evaluation."""
    dropped = 0
    for cx in complexes:
        kept = [(pose, rmsd) for pose, rmsd in cx.decoys
                if float(torch.cdist(pose.pos, cx.protein.pos, compute_mode="donot_use_mm_for_euclid_dist").min()) < settings.pocket_cutoff]
        dropped += len(cx.decoys) - len(kept)
        cx.decoys = kept
    return dropped


def split_by_protein(complexes: list[Complex], seed: int, val_frac: float = 0.1, test_frac: float = 0.1) -> dict[str, list[str]]:
    """Protein-wise split: FEP targets held out entirely; other UniProt groups shuffled into train/val/test."""
    groups: dict[str, list[str]] = {}
    for c in complexes:
        groups.setdefault(c.uniprot, []).append(c.id)
    fep = sorted(g for g in groups if g in FEP_TARGET_UNIPROT)
    rest = sorted(g for g in groups if g not in FEP_TARGET_UNIPROT)
    random.Random(seed).shuffle(rest)
    n_total = sum(len(groups[g]) for g in rest)
    split = {"train": [], "val": [], "test": [], "fep_targets": [i for g in fep for i in groups[g]]}
    count = {"val": 0, "test": 0}
    for g in rest:
        if count["test"] < test_frac * n_total:
            name = "test"
        elif count["val"] < val_frac * n_total:
            name = "val"
        else:
            name = "train"
        split[name].extend(groups[g])
        if name in count:
            count[name] += len(groups[g])
    return {k: sorted(v) for k, v in split.items()}


def load_training_complexes(data_root: Path, settings: GraphSettings, cache: Path | None = None, limit: int | None = None,
                            log=print) -> list[Complex]:
    """The complexes of ``data_root/pdbbind`` (or the tensor cache, written if missing), less the
    decoys no graph can be built for; shared by ``run_training`` and cross-validation (dockscore.training.cv)."""
    complexes = None
    if cache is not None and Path(cache).exists():
        try:
            complexes = load_complexes(Path(cache))
        except StaleCacheError as exc:
            log(f"{exc}: parsing again")
    if complexes is None:
        complexes = load_pdbbind(Path(data_root) / "pdbbind", limit=limit, log=log)
        if cache is not None:
            save_complexes(complexes, Path(cache))
    dropped = drop_unscorable_decoys(complexes, settings)
    if dropped:
        log(f"dropped {dropped} decoys with no protein atom within the pocket cutoff (no graph to score)")
    return complexes
