"""Docked decoys for PDBbind complexes that have none, for a larger docking test or a training cache.

    python bench/dock_train_decoys.py dock --part test fep_targets --out .cache/heldout_docked       # Vina redocking
    python bench/dock_train_decoys.py dock --part test fep_targets --scoring vinardo --exhaustiveness 4 \
        --max-rotatable 15 --out .cache/heldout_vinardo                                             # or --scoring ad4
    python bench/dock_train_decoys.py dock [--jobs 2] [--exhaustiveness 8] [--out .cache/train_docked]  # training part
    python bench/dock_train_decoys.py merge .cache/pdbbind.pt .cache/pdbbind_docked.pt             # into a tensor cache

Why: the held-out docking test asks a score to pick the near-native pose among a docking
program's own minima; only 47 held-out complexes ship with such decoys (smina's), so the
held-out docking reads of bench/compare_vina.py (sets pdbbind-redocked, pdbbind-vinardo,
pdbbind-ad4; docs/docking-power.md) dock the others the same way. Only 213 of the 559 training
complexes carry decoys too: ``merge`` adds the docked training complexes to a tensor cache, for a
training recipe that wants more of them (docs/model-e3-notes.md, "Docking power: what was tried").

Protocol (smina-like redocking): receptor PDBQT by Open Babel, waters stripped; the crystal
ligand's heavy atoms, H added by RDKit, prepared by meeko (Vina randomises position,
orientation and torsions; rings keep the crystal geometry, as in redocking); box = crystal
ligand extent + 8 A; exhaustiveness 8, 9 poses within 3 kcal/mol, seed 0. Labels: RDKit's
symmetry-aware heavy-atom RMSD to ligand.sdf without fitting (the shared decoys' ``rmsd_recomputed``).
Only complexes without decoys.sdf are docked, of dockscore/models/split.json's training part by default.
``--part test fep_targets`` docks the held-out complexes without decoys the same way, for a
larger held-out docking test (bench/compare_vina.py --redocked); those never enter training.
``--scoring vinardo`` docks with Vinardo instead (into its own --out folder): decoys that are
minima of a different function than the one Vina score-only ranks them with, as CASF-2016's
decoys come from other programs; a docking test less tilted towards Vina. It docks every
complex of the named parts, those with shared decoys too.
One SDF per complex (``.err`` for a failure or a skip), so an interrupted run resumes where it stopped. Cost here: 70-360 s per complex per core at exhaustiveness 8,
so the 346 complexes take several CPU-hours. Derived data: it goes to .cache, never into the
repository.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from rdkit import Chem, RDLogger
from rdkit.Chem import rdMolAlign

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

DATA = ROOT.parent / "shared" / "data" / "pdbbind"


def heavy_atom_order(reference: Chem.Mol, posed: Chem.Mol) -> list[int]:
    """For each heavy atom of ``reference``, the index of the same atom in ``posed`` (any atom order, H or not).

    meeko rebuilds docked molecules from its own SMILES, so atom order is not the input's. Match
    on the full chemistry first, then on the element graph alone (bond orders or charges written
    differently); raise ValueError when the two are different molecules."""
    if sum(a.GetAtomicNum() > 1 for a in posed.GetAtoms()) != reference.GetNumAtoms():
        raise ValueError("docked molecule does not match the ligand's heavy-atom graph")
    match = posed.GetSubstructMatch(reference, useChirality=False)
    if len(match) != reference.GetNumAtoms():
        params = Chem.AdjustQueryParameters.NoAdjustments()
        params.makeBondsGeneric = True
        query = Chem.AdjustQueryProperties(reference, params)
        for atom in query.GetAtoms():
            atom.SetFormalCharge(0)
        neutral = Chem.RWMol(posed)
        for atom in neutral.GetAtoms():
            atom.SetFormalCharge(0)
        match = neutral.GetSubstructMatch(query)
    if len(match) != reference.GetNumAtoms():
        raise ValueError("docked molecule does not match the ligand's heavy-atom graph")
    return list(match)


def autogrid_maps(receptor: Path, ligand_pdbqt: str, centre, size, work: Path, spacing: float = 0.375) -> Path:
    """AutoDock4 affinity, electrostatic and desolvation maps by ``autogrid4`` (Debian package
    ``autogrid``) over the box, for the ligand's atom types, written in ``work`` (one folder per
    complex: autogrid's files have fixed names); returns the map prefix Vina loads."""
    import math
    import shutil
    import subprocess

    if receptor.parent.resolve() != work.resolve():
        receptor = Path(shutil.copy(receptor, work / "receptor.pdbqt"))

    types = lambda text: sorted({ln[77:].strip() for ln in text.splitlines() if ln.startswith(("ATOM", "HETATM"))})  # noqa: E731
    ligand_types, receptor_types = types(ligand_pdbqt), types(receptor.read_text())
    npts = [2 * math.ceil(s / spacing / 2) for s in size]  # autogrid wants even counts
    gpf = [f"npts {npts[0]} {npts[1]} {npts[2]}", f"gridfld {receptor.stem}.maps.fld", f"spacing {spacing}",
           "receptor_types " + " ".join(receptor_types), "ligand_types " + " ".join(ligand_types),
           f"receptor {receptor.name}", "gridcenter " + " ".join(f"{c:.3f}" for c in centre), "smooth 0.5",
           *[f"map {receptor.stem}.{t}.map" for t in ligand_types],
           f"elecmap {receptor.stem}.e.map", f"dsolvmap {receptor.stem}.d.map", "dielectric -0.1465"]
    (receptor.parent / "grid.gpf").write_text("\n".join(gpf) + "\n")
    res = subprocess.run(["autogrid4", "-p", "grid.gpf", "-l", "grid.glg"], cwd=receptor.parent, capture_output=True, text=True)
    log = (receptor.parent / "grid.glg").read_text() if (receptor.parent / "grid.glg").exists() else res.stderr
    if res.returncode != 0 or "Successful Completion" not in log:
        raise RuntimeError("autogrid4 failed: " + next((ln.strip() for ln in log.splitlines() if "ERROR" in ln), log.strip()[-200:]))
    return receptor.parent / receptor.stem


def dock_one(cid: str, data: str, out: str, exhaustiveness: int, n_poses: int, seed: int, padding: float, scoring: str = "vina",
             receptors: str = "") -> str:
    """Redock one complex's crystal ligand; writes OUT/<cid>.sdf (or OUT/<cid>.err), returns a log line.

    ``receptors``: a folder of ``<cid>.pdbqt`` made beforehand with ``prepare_receptor_pdbqt`` (with
    ``charges=True`` for ad4), for a machine without Open Babel; without it the receptor is prepared here."""
    from meeko import MoleculePreparation, PDBQTMolecule, PDBQTWriterLegacy, RDKitMolCreate
    from vina import Vina
    from vina_peer import ligand_box, prepare_receptor_pdbqt

    RDLogger.DisableLog("rdApp.*")
    t0 = time.time()
    folder, target = Path(data) / cid, Path(out) / f"{cid}.sdf"
    work = Path(f"/tmp/dock_train_decoys/{scoring}/{cid}")
    work.mkdir(parents=True, exist_ok=True)
    try:
        heavy = Chem.RemoveAllHs(Chem.MolFromMolFile(str(folder / "ligand.sdf"), removeHs=False))  # as ligand_heavy_mol
        premade = Path(receptors) / f"{cid}.pdbqt" if receptors else None  # for ad4, made with charges=True
        receptor = (premade if premade is not None and premade.exists()
                    else prepare_receptor_pdbqt(folder / "protein.pdb", work / "receptor.pdbqt", charges=scoring == "ad4"))
        centre, size = ligand_box(heavy, padding=padding)
        # AutoDock4 has no maps for meeko's flexible-macrocycle G/CG atoms: macrocycles stay rigid there
        preparation = MoleculePreparation(rigid_macrocycles=scoring == "ad4")
        pdbqt, ok, err = PDBQTWriterLegacy.write_string(preparation.prepare(Chem.AddHs(heavy, addCoords=True))[0])
        if not ok:
            raise ValueError(err)
        v = Vina(sf_name=scoring, cpu=1, seed=seed, verbosity=0)
        if scoring == "ad4":
            v.load_maps(str(autogrid_maps(receptor, pdbqt, centre, size, work)))
        else:
            v.set_receptor(str(receptor))
            v.compute_vina_maps(center=centre, box_size=size)
        v.set_ligand_from_string(pdbqt)
        v.dock(exhaustiveness=exhaustiveness, n_poses=n_poses)
        energies = v.energies(n_poses=n_poses)
        posed = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(v.poses(n_poses=n_poses), skip_typing=True))[0]
        order = heavy_atom_order(heavy, posed)
        blocks = []
        for rank, conf in enumerate(posed.GetConformers()):
            xyz = conf.GetPositions()
            pose = Chem.Mol(heavy)
            for i, j in enumerate(order):
                pose.GetConformer().SetAtomPosition(i, xyz[j].tolist())
            props = {"rmsd": f"{rdMolAlign.CalcRMS(pose, heavy):.3f}", "pose_rank": str(rank + 1),
                     f"{scoring}_dock_kcal": f"{energies[rank][0]:.3f}", "exhaustiveness": str(exhaustiveness)}
            pose.SetProp("_Name", f"{cid}_{scoring}_{rank + 1}")
            blocks.append(Chem.MolToMolBlock(pose) + "".join(f">  <{k}>\n{val}\n\n" for k, val in props.items()) + "$$$$\n")
        target.write_text("".join(blocks))
        return f"{cid}: {len(blocks)} poses in {time.time() - t0:.0f} s"
    except Exception as exc:  # noqa: BLE001 - one complex never stops the run
        target.with_suffix(".err").write_text(f"{type(exc).__name__}: {exc}\n")
        return f"error: {cid}: {type(exc).__name__}: {exc}"


def protein_round_robin(ids: list[str], index_csv: Path) -> list[str]:
    """``ids`` reordered one complex per protein (UniProt id) in turn, first-seen order kept within
    a protein: a run stopped early then covers as many proteins as it can, not one protein's series."""
    import csv
    from itertools import zip_longest

    uniprot = {row["id"]: row.get("uniprot") or row["id"] for row in csv.DictReader(open(index_csv))} if index_csv.exists() else {}
    by_protein: dict[str, list[str]] = {}
    for c in ids:
        by_protein.setdefault(uniprot.get(c, c), []).append(c)
    return [c for turn in zip_longest(*by_protein.values()) for c in turn if c is not None]


def todo_list(args: argparse.Namespace) -> list[str]:
    """Complexes still to dock, in protein round-robin order (skips written as .err)."""
    args.out.mkdir(parents=True, exist_ok=True)
    split = json.loads(args.split.read_text())
    # Vina redocking fills in complexes without shared (smina) decoys; Vinardo docks every complex of the parts
    todo = [c for part in args.part for c in split[part] if (args.scoring != "vina" or not (args.data / c / "decoys.sdf").exists())
            and not (args.out / f"{c}.sdf").exists() and not (args.out / f"{c}.err").exists()]
    todo = protein_round_robin(todo, args.data / "index.csv")
    if args.max_rotatable:
        from rdkit.Chem.rdMolDescriptors import CalcNumRotatableBonds

        for c in list(todo):
            n = CalcNumRotatableBonds(Chem.MolFromMolFile(str(args.data / c / "ligand.sdf")))
            if n > args.max_rotatable:
                (args.out / f"{c}.err").write_text(f"skipped: {n} rotatable bonds > {args.max_rotatable}\n")
                todo.remove(c)
    return todo[: args.limit] if args.limit else todo


def dock(args: argparse.Namespace) -> None:
    todo = todo_list(args)
    print(f"{len(todo)} complexes of {'+'.join(args.part)} to dock with {args.jobs} workers", flush=True)
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(dock_one, c, str(args.data), str(args.out), args.exhaustiveness, args.n_poses, args.seed, args.padding, args.scoring,
                               str(args.receptors or ""))
                   for c in todo]
        for k, fut in enumerate(futures, 1):
            print(f"[{k}/{len(todo)} {time.time() - t0:.0f} s] {fut.result()}", flush=True)


def merge(args: argparse.Namespace) -> None:
    from dockscore.io.ligands import iter_ligands
    from dockscore.training.data import load_complexes, save_complexes

    complexes = load_complexes(args.cache)
    split = json.loads(args.split.read_text())
    wanted = {c for part in args.part for c in split[part]}
    added = near = n_cx = 0
    for cx in complexes:
        path = args.docked / f"{cx.id}.sdf"
        if cx.id not in wanted or not path.exists():
            continue
        n_cx += 1
        for rec in iter_ligands(path):
            pos = torch.tensor(Chem.RemoveAllHs(rec.mol).GetConformer().GetPositions(), dtype=torch.float32) if rec.ok else None
            if pos is None or pos.shape != cx.ligand.pos.shape:
                continue
            rmsd = float(rec.props["rmsd"])
            cx.decoys.append((cx.ligand.with_positions(pos), rmsd))
            added, near = added + 1, near + (rmsd < 2.0)
    save_complexes(complexes, args.out)
    print(f"{added} Vina-docked decoys ({near} under 2 A) added to {n_cx} complexes of {'+'.join(args.part)} -> {args.out}")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dock")
    d.add_argument("--data", type=Path, default=DATA)
    d.add_argument("--out", type=Path, default=ROOT / ".cache" / "train_docked")
    d.add_argument("--jobs", type=int, default=2)
    d.add_argument("--exhaustiveness", type=int, default=8)
    d.add_argument("--n-poses", type=int, default=9)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--padding", type=float, default=8.0, help="box = crystal ligand extent + this (A)")
    d.add_argument("--scoring", choices=("vina", "vinardo", "ad4"), default="vina",
                   help="the docking function; vinardo and ad4 (AutoDock4 maps by autogrid4) give held-out decoys that are not minima "
                        "of the Vina function the peer scores with")
    d.add_argument("--limit", type=int, default=0, help="at most this many complexes (a smoke test)")
    d.add_argument("--receptors", type=Path, default=None,
                   help="folder of <id>.pdbqt receptors made beforehand (same Open Babel call), for a machine without obabel")
    d.add_argument("--max-rotatable", type=int, default=0,
                   help="skip ligands with more rotatable bonds than this (0 = none skipped); Vina's search cost grows steeply with them")
    m = sub.add_parser("merge")
    m.add_argument("cache", type=Path)
    m.add_argument("out", type=Path)
    m.add_argument("--docked", type=Path, default=ROOT / ".cache" / "train_docked")
    for p in (d, m):
        p.add_argument("--split", type=Path, default=ROOT / "dockscore" / "models" / "split.json")
        p.add_argument("--part", nargs="+", default=["train"], help="dockscore/models/split.json parts (default: train)")
    args = parser.parse_args()
    dock(args) if args.cmd == "dock" else merge(args)


if __name__ == "__main__":
    main()
