"""Peer sanity check: Vina vs measured dG on the 8 JACS FEP targets.

Writes bench/results/vina_fep_reference.json: per target n, Spearman rho of -vina (score-only
and local-opt) and of heavy-atom count against -r_exp_dg, plus means over targets.
Box: centroid of all ligands of the target, size = extent + 8 A. Usage:

    python bench/vina_fep_reference.py [--data /work/shared/data/fep/jacs_set]
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vina_peer import VinaPeer  # noqa: E402

TARGETS = ["bace", "cdk2", "jnk1_manual_flips", "mcl1_extra_flips", "p38", "ptp1b",
           "thrombin_core", "tyk2"]


def _rho(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(spearmanr(x[ok], y[ok])[0]) if ok.sum() >= 3 else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/fep/jacs_set"))
    ap.add_argument("--out", type=Path,
                    default=Path(__file__).resolve().parent / "results" / "vina_fep_reference.json")
    a = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    RDLogger.DisableLog("rdApp.*")
    res, t_so, t_lo, n_tot = {}, 0.0, 0.0, 0
    for t in TARGETS:
        mols = [m for m in Chem.SDMolSupplier(str(a.data / f"{t}_ligands.sdf"), removeHs=False)
                if m is not None]
        peer = VinaPeer.from_ligand_box(a.data / f"{t}_protein.pdb", mols, padding=8.0)
        neg_dg = [-float(m.GetProp("r_exp_dg")) for m in mols]
        t0 = time.perf_counter()
        so = [peer.score_mol(m) for m in mols]
        t1 = time.perf_counter()
        lo = [peer.score_mol(m, local_opt=True) for m in mols]
        t2 = time.perf_counter()
        t_so, t_lo, n_tot = t_so + t1 - t0, t_lo + t2 - t1, n_tot + len(mols)
        ha = [m.GetNumHeavyAtoms() for m in mols]
        res[t] = {
            "n": len(mols),
            "n_failed": int(sum(not math.isfinite(x) for x in so + lo)),
            "vina_score_only_rho": _rho(-np.array(so), neg_dg),
            "vina_local_opt_rho": _rho(-np.array(lo), neg_dg),
            "heavy_atom_rho": _rho(ha, neg_dg),
        }
        print(t, json.dumps(res[t]), flush=True)
    keys = ["vina_score_only_rho", "vina_local_opt_rho", "heavy_atom_rho"]
    out = {
        "targets": res,
        "mean_over_targets": {k: float(np.nanmean([r[k] for r in res.values()])) for k in keys},
        "n_ligands": n_tot,
        "poses_per_s": {"score_only": n_tot / t_so, "local_opt": n_tot / t_lo},
        "settings": {"vina": "1.2.7", "sf": "vina", "box": "centroid of all ligands, "
                     "extent + 8 A", "spacing": 0.375, "receptor": "obabel -xr, waters removed",
                     "ligand": "meeko MoleculePreparation + PDBQTWriterLegacy, AddHs(addCoords)",
                     "rho": "Spearman vs -r_exp_dg (kcal/mol); vina sign flipped"},
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["mean_over_targets"]), json.dumps(out["poses_per_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
