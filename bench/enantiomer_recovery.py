"""Validation of `dockscore enantiomers` on real crystal complexes not trained on.

For every held-out PDBbind complex (val, test and FEP-target proteins in dockscore/models/split.json)
whose crystal ligand is chiral: compare the crystal form and its enantiomer under the model with
the CLI's procedure and defaults, under each start protocol (``anchored``: the input form from
its own pose, the enantiomer from its mirror images; ``symmetric``: both from the same
envelope-keeping placements, see dockscore.enantiomers), and report per mode and protocol:
recovery (how often the crystallised hand scores higher), flag rate and flag precision (of the
flagged pairs, how often the preferred form is the crystallised one), and the median seconds of
one comparison after start-up (the protein is read and encoded once per complex, outside the
timing; one thread). With --vina, AutoDock Vina scores the same optimised pose pairs (as posed,
and after Vina's own local optimisation). Also reports the p38 pair of the FEP set (3fmk, 3fmh).

    python bench/enantiomer_recovery.py --symmetry e3 se3 --protocol anchored symmetric --vina --jobs 2 \
        --out bench/results/enantiomers.json

With --cv RUN_DIR (a `dockscore train --cv` output), a recipe is read without touching those
held-out ligands: every chiral crystal ligand of the training split is compared by the fold model
that did not train on it (shipped inference settings), so recipes can be chosen on recovery.

    python bench/enantiomer_recovery.py --symmetry se3 --cv runs/cv-se3 --protocol anchored --out runs/cv-se3/enantiomers.json

One process per symmetry mode (--jobs); every mode and protocol sees the same ligands.
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
    parser.add_argument("--protocol", nargs="+", default=["anchored", "symmetric"], choices=["anchored", "symmetric"])
    parser.add_argument("--starts", type=int, default=4, help="starts per form (the CLI default)")
    parser.add_argument("--steps", type=int, default=4, help="model steps per start (the CLI default)")
    parser.add_argument("--coarse-steps", type=int, default=30, help="prior steps per start (the CLI default)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--ids", nargs="+", default=None, help="only these complexes (e.g. the ones a fix touched)")
    parser.add_argument("--vina", action="store_true")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=None, help="this checkpoint instead of the shipped one (one --symmetry; e.g. a fixed term set by bench/set_fixed_terms.py)")
    parser.add_argument("--jobs", type=int, default=1, help="one process per mode (1 thread each)")
    parser.add_argument("--cv", type=Path, default=None, metavar="RUN_DIR",
                        help="cross-validated recovery of a recipe: training-split ligands, each by its own fold model")
    parser.add_argument("--write-calibration", action="store_true",
                        help="write each mode's per-protocol figures beside its shipped checkpoint (dockscore/models/NAME.enantiomers.json), "
                             "where dockscore enantiomers reads the flag's measured precision")
    args = parser.parse_args()
    torch.set_num_threads(1)
    split = json.loads((ROOT / "dockscore" / "models" / "split.json").read_text())
    ids = [(name, i) for name in ("test", "fep_targets", "val") for i in split[name] if args.ids is None or i in args.ids]
    if args.cv is not None:  # the held-out ligands stay unread: only training-split complexes, by fold
        folds = json.loads((args.cv / "folds.json").read_text())["folds"]
        train = set(split["train"])
        ids = [(f"fold{f}", i) for f, fold in enumerate(folds) for i in fold if i in train and (args.ids is None or i in args.ids)]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        summaries = list(pool.map(evaluate_mode, args.symmetry, [ids] * len(args.symmetry), [args] * len(args.symmetry)))
    report = dict(zip(args.symmetry, summaries))
    for symmetry in args.symmetry:
        for protocol in args.protocol:
            print(json.dumps({k: v for k, v in report[symmetry][protocol].items() if k != "rows"}, indent=1), flush=True)
    if {"e3", "se3"} <= set(report):
        for protocol in args.protocol:
            report[f"mcnemar_se3_vs_e3_{protocol}"] = mcnemar(report["e3"][protocol]["rows"], report["se3"][protocol]["rows"])
            print(protocol, json.dumps(report[f"mcnemar_se3_vs_e3_{protocol}"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    if args.write_calibration and not args.limit and args.ids is None:
        from dockscore.checkpoint import default_model_path
        from dockscore.enantiomers import flag_calibration_path

        for symmetry in args.symmetry:
            keep = ("n", "n_flagged", "flag_precision", "recovery", "flagged_rate", "median_seconds", "starts", "steps", "coarse_steps")
            calibration = {p: {k: report[symmetry][p][k] for k in keep} for p in args.protocol}
            calibration["source"] = "bench/enantiomer_recovery.py on the chiral crystal ligands of the held-out val, test and FEP-target complexes"
            flag_calibration_path(default_model_path(symmetry)).write_text(json.dumps(calibration, indent=1) + "\n")


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
    """Every protocol of one mode on the chiral held-out ligands: {protocol: summary}."""
    torch.set_num_threads(1)
    rows = {protocol: [] for protocol in args.protocol}
    t_start = time.time()
    n = 0
    options = {"starts": args.starts, "steps": args.steps, "coarse_steps": args.coarse_steps}
    fold_models: dict[str, object] = {}
    for name, cid in ids:
        folder = args.data / "pdbbind" / cid
        record = next(iter_ligands(folder / "ligand.sdf"))
        if not record.ok or perceive(record.mol).kind() != "chiral":
            continue
        scorer = Scorer(folder / "protein.pdb", model=fold_model(args.cv, name, symmetry, fold_models) if args.cv else args.model, symmetry=symmetry)
        compare_stereoisomers(scorer, record, starts=1, steps=1, coarse_steps=1)  # first-call costs are start-up
        peer = None
        if args.vina:  # receptor and maps once per complex: a 10 A padded box around the crystal ligand holds both hands
            from vina_peer import VinaPeer

            peer = VinaPeer.from_ligand_box(folder / "protein.pdb", [record.mol], padding=10.0)
        for protocol in args.protocol:
            c = compare_stereoisomers(scorer, record, protocol=protocol, **options)
            if c.kind != "chiral" or c.enantiomer is None:
                continue
            row = {"id": cid, "set": name, "input": c.input.score, "enantiomer": c.enantiomer.score, "delta": c.delta,
                   "threshold": c.threshold, "flagged": c.flagged, "recovered": c.input.score > c.enantiomer.score,
                   "seconds": c.seconds, "cip": c.input.cip}
            if peer is not None:
                row.update(vina_pair(peer, c))
            rows[protocol].append(row)
            print(symmetry, protocol, json.dumps(row), flush=True)
        n += 1
        if args.limit and n >= args.limit:
            break
    out = {}
    for protocol in args.protocol:
        out[protocol] = summarise(rows[protocol], symmetry, protocol, args)
        if args.cv is not None:
            out[protocol]["per_fold"] = {f: float(np.mean([r["recovered"] for r in rows[protocol] if r["set"] == f]))
                                         for f in sorted({r["set"] for r in rows[protocol]})}
            continue
        out[protocol]["p38"] = p38_pair(args, symmetry, protocol, options)
        out[protocol]["wall_s"] = time.time() - t_start
    return out


def fold_model(run_dir: Path, fold: str, symmetry: str, loaded: dict):
    """The CV fold's model with the shipped inference settings (loaded once per fold)."""
    if fold not in loaded:
        from dockscore.checkpoint import load_model
        from dockscore.training.cv import with_shipped_inference

        loaded[fold] = with_shipped_inference(load_model(run_dir / fold / f"dockscore-{symmetry}.safetensors"))
    return loaded[fold]


def vina_pair(peer, c) -> dict:
    """AutoDock Vina's scores of the two optimised poses, as posed and after its own local optimisation."""
    vi, ve = peer.score_mol(c.input.mol), peer.score_mol(c.enantiomer.mol)
    oi, oe = peer.score_mol(c.input.mol, local_opt=True), peer.score_mol(c.enantiomer.mol, local_opt=True)
    return {"vina_input": vi, "vina_enantiomer": ve, "vina_recovered": bool(vi < ve) if vi == vi and ve == ve else None,
            "vina_opt_input": oi, "vina_opt_enantiomer": oe, "vina_opt_recovered": bool(oi < oe) if oi == oi and oe == oe else None}


def p38_pair(args, symmetry: str, protocol: str, options: dict) -> dict:
    """The FEP set's real enantiomer pair with measured affinities (3fmk, 3fmh) in p38."""
    out = {}
    fep = args.data / "fep" / "jacs_set"
    scorer = Scorer(fep / "p38_protein.pdb", symmetry=symmetry)
    for record in iter_ligands(fep / "p38_ligands.sdf"):
        if record.name in ("3fmk", "3fmh"):
            score = next(scorer.score_records([record])).score
            c = compare_stereoisomers(scorer, record, protocol=protocol, **options)
            out[record.name] = {"dG_exp": float(record.props["r_exp_dg"]), "score_as_posed": score, "optimised": c.input.score,
                                "enantiomer_optimised": c.enantiomer.score if c.enantiomer else None, "cip": c.input.cip,
                                "kind": c.kind, "flagged": c.flagged, "threshold": c.threshold}
    return out


def summarise(rows: list[dict], symmetry: str, protocol: str, args) -> dict:
    mean = lambda xs: float(np.mean(xs)) if len(xs) else None  # noqa: E731
    flagged = [r for r in rows if r["flagged"]]
    summary = {
        "symmetry": symmetry, "protocol": protocol, "n": len(rows), "starts": args.starts, "steps": args.steps,
        "coarse_steps": args.coarse_steps,
        "recovery": mean([r["recovered"] for r in rows]),
        "flagged_rate": mean([r["flagged"] for r in rows]),
        "n_flagged": len(flagged),
        "flag_precision": mean([r["recovered"] for r in flagged]),
        "median_threshold": float(np.median([r["threshold"] for r in rows])) if rows else None,
        "median_seconds": float(np.median([r["seconds"] for r in rows])) if rows else None,
        "rows": rows,
    }
    if args.vina:
        for key, field in (("vina_recovery", "vina_recovered"), ("vina_local_opt_recovery", "vina_opt_recovered")):
            v = [r[field] for r in rows if r.get(field) is not None]
            summary[key] = mean(v)
        summary["vina_n"] = sum(r.get("vina_recovered") is not None for r in rows)
    return summary


if __name__ == "__main__":
    main()
