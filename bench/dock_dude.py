"""Dock the DUD-E fabp4 / inha ligands with AutoDock Vina, so the screening benchmark can use them.

The shared DUD-E subsets ship actives and property-matched decoys as unposed MOL2 (one record
per protomer). This script keeps the first protomer of each compound, samples decoys (DUD-E
has ~50 per active; docking them all is ~8 CPU-hours here), docks every compound once with
Vina 1.2.7 in a box around the crystal ligand, and writes the top pose of each to
``OUT/<target>_{actives,decoys}.sdf`` with SD properties ``kind`` and ``vina_dock_kcal``.
Compounds Vina or meeko cannot handle are logged and skipped. The poses are derived data:
they go to a cache, never into the repository.

    python bench/dock_dude.py [--targets fabp4 inha] [--decoys-per-active 10] [--jobs 2] [--out .cache/dude]

Caveat for whoever reads the results: the poses are Vina's own minima, so rescoring them
favours Vina (as the smina decoys of the PDBbind set do).
"""

from __future__ import annotations

import argparse
import gzip
import logging
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rdkit import Chem, RDLogger

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from vina_peer import ligand_box, prepare_receptor_pdbqt  # noqa: E402

log = logging.getLogger("dock_dude")


def read_mol2_compounds(path: Path) -> list[Chem.Mol]:
    """First parseable protomer of each compound name, in file order."""
    text = (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)).read()
    seen, mols = set(), []
    for block in text.split("@<TRIPOS>MOLECULE")[1:]:
        name = block.strip().splitlines()[0].strip()
        if name in seen:
            continue
        mol = Chem.MolFromMol2Block("@<TRIPOS>MOLECULE" + block, removeHs=False)
        if mol is None:
            continue
        seen.add(name)
        mol.SetProp("_Name", name)
        mols.append(mol)
    return mols


def dock_chunk(target_dir: str, items: list[tuple[str, str, str]], exhaustiveness: int, seed: int, padding: float,
               part: str) -> list[str]:
    """Dock (name, kind, molblock) items in one worker; returns SDF blocks of the top poses, which
    are also appended to ``part`` as they come (an interrupted run keeps what it docked)."""
    from meeko import MoleculePreparation, PDBQTMolecule, PDBQTWriterLegacy, RDKitMolCreate
    from vina import Vina

    RDLogger.DisableLog("rdApp.*")
    target = Path(target_dir)
    work = Path(f"/tmp/dock_dude_{target.name}")
    work.mkdir(exist_ok=True)
    receptor = prepare_receptor_pdbqt(target / "receptor.pdb", work / "receptor.pdbqt")
    crystal = Chem.MolFromMol2File(str(target / "crystal_ligand.mol2"), removeHs=False)
    centre, size = ligand_box(crystal, padding=padding)
    v = Vina(sf_name="vina", cpu=1, seed=seed, verbosity=0)
    v.set_receptor(str(receptor))
    v.compute_vina_maps(center=centre, box_size=size)
    prep = MoleculePreparation()
    out, t0 = [], time.time()
    for n, (name, kind, block) in enumerate(items, 1):
        if n % 10 == 0:
            print(f"{target.name} {Path(part).name}: {n} of {len(items)} ({(time.time() - t0) / n:.0f} s each)", flush=True)
        try:
            mol = Chem.AddHs(Chem.MolFromMolBlock(block, removeHs=False), addCoords=True)
            pdbqt, ok, err = PDBQTWriterLegacy.write_string(prep.prepare(mol)[0])
            if not ok:
                raise ValueError(err)
            v.set_ligand_from_string(pdbqt)
            v.dock(exhaustiveness=exhaustiveness, n_poses=1)
            energy = float(v.energies(n_poses=1)[0][0])
            posed = RDKitMolCreate.from_pdbqt_mol(PDBQTMolecule(v.poses(n_poses=1), skip_typing=True))[0]
            posed.SetProp("_Name", name)
            posed.SetProp("kind", kind)
            posed.SetProp("vina_dock_kcal", f"{energy:.3f}")
            out.append(Chem.MolToMolBlock(posed) + "".join(f">  <{k}>\n{posed.GetProp(k)}\n\n" for k in ("kind", "vina_dock_kcal")) + "$$$$\n")
            with open(part, "a") as fh:
                fh.write(out[-1])
        except Exception as exc:  # noqa: BLE001 - one compound never stops the run
            print(f"error: {target.name} {kind} {name}: {type(exc).__name__}: {exc}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "dude")
    parser.add_argument("--targets", nargs="+", default=["fabp4", "inha"])
    parser.add_argument("--decoys-per-active", type=int, default=10)
    parser.add_argument("--exhaustiveness", type=int, default=4)
    parser.add_argument("--padding", type=float, default=8.0, help="box = crystal ligand extent + this (A)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="at most this many compounds per target (a smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / ".cache" / "dude")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    for target in args.targets:
        folder = args.data / target
        t0 = time.time()
        actives = read_mol2_compounds(folder / "actives_final.mol2.gz")
        decoys = read_mol2_compounds(folder / "decoys_final.mol2.gz")
        decoys = random.Random(args.seed).sample(decoys, min(len(decoys), args.decoys_per_active * len(actives)))
        items = [(m.GetProp("_Name"), "actives", Chem.MolToMolBlock(m)) for m in actives]
        items += [(m.GetProp("_Name"), "decoys", Chem.MolToMolBlock(m)) for m in decoys]
        if args.limit:
            items = items[: args.limit]
        chunks = [items[k :: args.jobs] for k in range(args.jobs)]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            parts = [str(args.out / f"{target}.part{k}.sdf") for k in range(args.jobs)]
            for p in parts:
                Path(p).unlink(missing_ok=True)
            blocks = [b for done in pool.map(dock_chunk, [str(folder)] * args.jobs, chunks, [args.exhaustiveness] * args.jobs,
                                             [args.seed] * args.jobs, [args.padding] * args.jobs, parts) for b in done]
        for kind in ("actives", "decoys"):
            path = args.out / f"{target}_{kind}.sdf"
            path.write_text("".join(b for b in blocks if f"<kind>\n{kind}\n" in b))
        for p in parts:  # merged above
            Path(p).unlink(missing_ok=True)
        n_act = sum("<kind>\nactives\n" in b for b in blocks)
        print(f"{target}: docked {n_act} actives and {len(blocks) - n_act} decoys of {len(items)} compounds "
              f"in {time.time() - t0:.0f} s -> {args.out}", flush=True)


if __name__ == "__main__":
    main()
