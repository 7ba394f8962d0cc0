"""Validation of `dockscore enantiomers` on real crystal complexes not trained on.

For every held-out PDBbind complex (val, test and FEP-target proteins in models/split.json)
whose crystal ligand is chiral: optimise the crystal form and its enantiomer under the model
(same procedure as the CLI) and count how often the crystallised hand wins ("recovery"), for
one symmetry mode per call. With --vina, AutoDock Vina (score-only) scores the same optimised
pose pairs. Also reports the p38 pair of the FEP set (3fmk, 3fmh).

    python bench/enantiomer_recovery.py --symmetry e3 se3 [--vina] [--jobs 2] [--limit N] --out bench/results/enantiomers.json

With several modes, one run evaluates each mode on the same ligands (and Vina on each mode's pairs).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dockscore import Scorer, iter_ligands  # noqa: E402
from dockscore.enantiomers import compare_stereoisomers  # noqa: E402
from dockscore.stereo import perceive  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symmetry", nargs="+", default=["e3"])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--ids", nargs="+", default=None, help="only these complexes (e.g. the ones a fix touched)")
    parser.add_argument("--vina", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=1, help="one process per mode (1 thread each)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    split = json.loads((ROOT / "models" / "split.json").read_text())
    ids = [(name, i) for name in ("test", "fep_targets", "val") for i in split[name] if args.ids is None or i in args.ids]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        summaries = list(pool.map(evaluate_mode, args.symmetry, [ids] * len(args.symmetry), [args] * len(args.symmetry)))
    report = dict(zip(args.symmetry, summaries))
    for symmetry in args.symmetry:
        print(json.dumps({k: v for k, v in report[symmetry].items() if k != "rows"}, indent=1), flush=True)
    if {"e3", "se3"} <= set(report):
        report["mcnemar_se3_vs_e3"] = mcnemar(report["e3"]["rows"], report["se3"]["rows"])
        print(json.dumps(report["mcnemar_se3_vs_e3"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


def mcnemar(rows_a: list[dict], rows_b: list[dict]) -> dict:
    """Exact McNemar test on the ligands both modes compared: does B recover the crystal hand more often than A?"""
    from scipy.stats import binomtest

    a = {r["id"]: r["recovered"] for r in rows_a}
    b = {r["id"]: r["recovered"] for r in rows_b}
    common = sorted(set(a) & set(b))
    only_b = sum(b[i] and not a[i] for i in common)
    only_a = sum(a[i] and not b[i] for i in common)
    p = binomtest(only_b, only_b + only_a, 0.5).pvalue if only_a + only_b else 1.0
    return {"n": len(common), "second_only_right": only_b, "first_only_right": only_a, "p_two_sided": float(p)}


def evaluate_mode(symmetry: str, ids, args) -> dict:
    torch.set_num_threads(1)
    rows, t_start = [], time.time()
    for name, cid in ids:
        folder = args.data / "pdbbind" / cid
        record = next(iter_ligands(folder / "ligand.sdf"))
        if not record.ok or perceive(record.mol).kind() != "chiral":
            continue
        scorer = Scorer(folder / "protein.pdb", symmetry=symmetry)
        c = compare_stereoisomers(scorer, record, starts=args.starts, steps=args.steps)
        if c.kind != "chiral" or c.enantiomer is None:
            continue
        row = {"id": cid, "set": name, "input": c.input.score, "enantiomer": c.enantiomer.score, "delta": c.delta,
               "threshold": c.threshold, "flagged": c.flagged, "recovered": c.input.score > c.enantiomer.score,
               "seconds": c.seconds, "cip": c.input.cip}
        if args.vina:
            from vina_peer import VinaPeer

            peer = VinaPeer.from_ligand_box(folder / "protein.pdb", [c.input.mol, c.enantiomer.mol], padding=8.0)
            vi, ve = peer.score_mol(c.input.mol), peer.score_mol(c.enantiomer.mol)
            oi, oe = peer.score_mol(c.input.mol, local_opt=True), peer.score_mol(c.enantiomer.mol, local_opt=True)
            row.update({"vina_input": vi, "vina_enantiomer": ve, "vina_recovered": bool(vi < ve) if vi == vi and ve == ve else None,
                        "vina_opt_input": oi, "vina_opt_enantiomer": oe, "vina_opt_recovered": bool(oi < oe) if oi == oi and oe == oe else None})
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.limit and len(rows) >= args.limit:
            break
    p38 = {}
    fep = args.data / "fep" / "jacs_set"
    scorer = Scorer(fep / "p38_protein.pdb", symmetry=symmetry)
    for record in iter_ligands(fep / "p38_ligands.sdf"):
        if record.name in ("3fmk", "3fmh"):
            score = next(scorer.score_records([record])).score
            c = compare_stereoisomers(scorer, record, starts=args.starts, steps=args.steps)
            p38[record.name] = {"dG_exp": float(record.props["r_exp_dg"]), "score_as_posed": score, "optimised": c.input.score,
                                "enantiomer_optimised": c.enantiomer.score if c.enantiomer else None, "cip": c.input.cip,
                                "kind": c.kind, "flagged": c.flagged, "threshold": c.threshold}
    summary = {
        "symmetry": symmetry, "n": len(rows), "starts": args.starts, "steps": args.steps,
        "recovery": float(np.mean([r["recovered"] for r in rows])) if rows else None,
        "flagged_rate": float(np.mean([r["flagged"] for r in rows])) if rows else None,
        "recovery_among_flagged": float(np.mean([r["recovered"] for r in rows if r["flagged"]])) if any(r["flagged"] for r in rows) else None,
        "median_threshold": float(np.median([r["threshold"] for r in rows])) if rows else None,
        "median_seconds": float(np.median([r["seconds"] for r in rows])) if rows else None,
        "p38": p38, "rows": rows, "wall_s": time.time() - t_start,
    }
    if args.vina:
        v = [r["vina_recovered"] for r in rows if r.get("vina_recovered") is not None]
        summary["vina_recovery"] = float(np.mean(v)) if v else None
        summary["vina_n"] = len(v)
        v = [r["vina_opt_recovered"] for r in rows if r.get("vina_opt_recovered") is not None]
        summary["vina_local_opt_recovery"] = float(np.mean(v)) if v else None
    return summary


if __name__ == "__main__":
    main()
