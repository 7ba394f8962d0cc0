"""dockscore (E(3), SE(3)) and AutoDock Vina side by side, same poses, same run.

Builds manifests over the team's shared data (never committed) and runs `dockscore benchmark`'s
metric code for each tool:

* pdbbind-heldout: crystal + smina decoys of the held-out proteins (test and FEP-target parts
  of dockscore/models/split.json): scoring and docking power;
* fep: the 8 JACS FEP series (measured dG): ranking power;
* dekois: DEKOIS 2.0 ACHE and PPARA docked actives vs a seeded sample of decoys: screening power;
* xiap: 100 docked DUD-E XIAP actives with measured Kd/Ki/IC50 (a protein absent from training):
  ranking power on a series nobody tuned on;
* pdbbind-redocked (when bench/dock_train_decoys.py --part test fep_targets has run): crystal +
  Vina-redocked poses of the held-out complexes that have no shared decoys, the same smina-like
  protocol; docking power on more complexes. The paired docking differences are also given over
  all held-out complexes (shared decoys and redocked together).
* pdbbind-vinardo (when bench/dock_train_decoys.py --part test fep_targets --scoring vinardo has
  run): crystal + Vinardo-docked poses of every held-out complex docked so far. Its decoys are
  minima of another function than the one Vina score-only ranks with (as CASF-2016's come from
  other programs), so it tilts less towards Vina; it is reported apart, not in the union.
* pdbbind-ad4 (when bench/dock_train_decoys.py --part test fep_targets --scoring ad4 has run): the
  same with the AutoDock4 function's minima (autogrid4 maps), a third function; also reported apart.
Tools: each dockscore checkpoint, the heavy-atom count, a ligand-only ridge on RDKit descriptors
(bench/ligand_only.py: what a model gets without reading the pocket), Vina score-only and Vina
local-optimised (the pose relaxed in Vina's own field, RMSD label of the input pose kept).
DUD-E fabp4/inha (undocked) are not included: they need docking first.

    python bench/compare_vina.py [--model NAME=PATH ...] [--jobs 2] [--skip-vina] [--skip-local-opt]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
from rdkit import Chem

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dockscore.evaluation.benchmark import compute_metrics, dockscore_scorer, paired_difference, run_benchmark  # noqa: E402
from dockscore.io.ligands import iter_ligands  # noqa: E402


def heavy_atom_scorer():
    def score_file(protein, ligands):
        for r in iter_ligands(ligands):
            yield {"name": r.name, "index": r.index, "score": float(r.mol.GetNumHeavyAtoms()) if r.ok else None,
                   "status": "ok" if r.ok else "error", "message": r.error or "", "props": r.props}
    return score_file


def vina_scorer(padding: float = 12.0, local_opt: bool = False):
    from vina_peer import VinaPeer

    cache = {}

    def score_file(protein, ligands):
        records = list(iter_ligands(ligands))
        if protein not in cache:
            cache.clear()
            cache[protein] = VinaPeer.from_ligand_box(protein, [r.mol for r in records if r.ok], padding=padding)
        peer = cache[protein]
        for r in records:
            kcal = peer.score_mol(r.mol, local_opt=local_opt) if r.ok else float("nan")
            ok = kcal == kcal
            yield {"name": r.name, "index": r.index, "score": -kcal if ok else None, "status": "ok" if ok else "error",
                   "message": "" if ok else "vina failed", "props": r.props}
    return score_file


def dockscore_local_opt_scorer(model_path: str, steps: int = 30):
    """dockscore's counterpart of Vina local-opt: each pose relaxed in the model's own field
    (rigid body + torsions, `dockscore minimize`), scored there; the RMSD label of the input pose is kept."""
    from dockscore.evaluation.benchmark import protein_scorers
    from dockscore.checkpoint import load_model
    from dockscore.errors import InputError
    from dockscore.optimize import optimize_pose

    model = load_model(Path(model_path))
    scorer_for = protein_scorers(model.config.symmetry, model)

    def score_file(protein, ligands):
        scorer = scorer_for(protein)
        for r in iter_ligands(ligands):
            score, message = None, r.error or ""
            if r.ok:
                try:
                    score = optimize_pose(scorer, scorer.prepare(r.mol), steps=steps).score
                except InputError as exc:
                    message = str(exc)
            yield {"name": r.name, "index": r.index, "score": score, "status": "ok" if score is not None else "error",
                   "message": message, "props": r.props}
    return score_file


def make_scorer(spec: tuple):
    """Build a tool's ``score_file`` inside the worker process (closures do not pickle)."""
    kind = spec[0]
    if kind == "dockscore":
        from dockscore.checkpoint import load_model
        return dockscore_scorer(model=load_model(Path(spec[1])))
    if kind == "dockscore-local-opt":
        return dockscore_local_opt_scorer(spec[1])
    if kind == "heavy":
        return heavy_atom_scorer()
    if kind == "ligand_only":
        from ligand_only import ligand_only_scorer
        return ligand_only_scorer(spec[1])
    if kind == "vina":
        return vina_scorer(local_opt=spec[1])
    raise ValueError(kind)


def run_one(tool: str, spec: tuple, set_name: str, manifest: Path, prop, unit, rmsd_prop) -> tuple[str, str, dict]:
    torch.set_num_threads(1)
    t0 = time.time()
    poses = run_benchmark(manifest, make_scorer(spec), prop, unit, rmsd_prop, on_error=lambda m: None)
    metrics = compute_metrics(poses, n_boot=500)
    out = {**headline(metrics), "seconds": time.time() - t0, "per_group_ranking": metrics.get("ranking", {}).get("per_group")}
    print(set_name, tool, json.dumps(headline(metrics)), f"{out['seconds']:.0f} s", flush=True)
    keep = ("row", "index", "group", "kind", "score", "pose_score", "activity", "rmsd")  # for the paired differences
    return set_name, tool, out, [{k: p.get(k) for k in keep} for p in poses]


def build_manifests(data: Path, tmp: Path, max_decoys: int, seed: int = 0,
                    redocked: Path | None = None, vinardo: Path | None = None,
                    ad4: Path | None = None, exclude: dict[str, set[str]] | None = None
                    ) -> dict[str, tuple[Path, str | None, str, str | None]]:
    split = json.loads((ROOT / "dockscore" / "models" / "split.json").read_text())
    labels = {row["id"]: row["pK"] for row in csv.DictReader(open(data / "pdbbind" / "index.csv"))}
    rows = ["protein,ligands,group,kind"]
    for cid in split["test"] + split["fep_targets"]:
        folder = data / "pdbbind" / cid
        mol = Chem.MolFromMolFile(str(folder / "ligand.sdf"), removeHs=False)
        mol.SetProp("pK", labels[cid])
        out = tmp / f"{cid}_crystal.sdf"
        w = Chem.SDWriter(str(out))
        w.write(mol)
        w.close()
        rows.append(f"{folder / 'protein.pdb'},{out},{cid},crystal")
        if (folder / "decoys.sdf").exists():
            rows.append(f"{folder / 'protein.pdb'},{folder / 'decoys.sdf'},{cid},decoys")
    (tmp / "pdbbind.csv").write_text("\n".join(rows) + "\n")

    def docked_rows(docked: Path | None, shared_too: bool, set_name: str) -> list[str]:
        """Manifest rows (crystal + docked poses) of the held-out complexes with a file in ``docked``,
        less those ``exclude`` names for ``set_name``."""
        out = ["protein,ligands,group,kind"]
        skip = (exclude or {}).get(set_name, set())
        for cid in split["test"] + split["fep_targets"]:
            if cid in skip:
                continue
            folder, poses = data / "pdbbind" / cid, (docked / f"{cid}.sdf") if docked else None
            if poses is not None and poses.exists() and (shared_too or not (folder / "decoys.sdf").exists()):
                out += [f"{folder / 'protein.pdb'},{tmp / (cid + '_crystal.sdf')},{cid},crystal", f"{folder / 'protein.pdb'},{poses},{cid},decoys"]
        return out

    redocked_rows = docked_rows(redocked, shared_too=False, set_name="pdbbind-redocked")  # Vina fills in complexes without shared decoys
    (tmp / "redocked.csv").write_text("\n".join(redocked_rows) + "\n")
    vinardo_rows = docked_rows(vinardo, shared_too=True, set_name="pdbbind-vinardo")  # every held-out complex Vinardo docked
    (tmp / "vinardo.csv").write_text("\n".join(vinardo_rows) + "\n")
    ad4_rows = docked_rows(ad4, shared_too=True, set_name="pdbbind-ad4")  # every held-out complex AutoDock4 docked
    (tmp / "ad4.csv").write_text("\n".join(ad4_rows) + "\n")
    fep = data / "fep" / "jacs_set"
    rows = ["protein,ligands,group,kind"]
    for t in ("bace", "cdk2", "jnk1_manual_flips", "mcl1_extra_flips", "p38", "ptp1b", "thrombin_core", "tyk2"):
        rows.append(f"{fep / (t + '_protein.pdb')},{fep / (t + '_ligands.sdf')},{t},actives")
    (tmp / "fep.csv").write_text("\n".join(rows) + "\n")
    rows = ["protein,ligands,group,kind"]
    rng = random.Random(seed)
    for t in ("dekois2_ache", "dekois2_ppara"):
        folder = data / "screening" / t
        blocks = [b for b in (folder / "decoys.sdf").read_text().split("$$$$\n") if b.strip()]
        sample = rng.sample(blocks, min(max_decoys, len(blocks)))
        (tmp / f"{t}_decoys.sdf").write_text("".join(b + "$$$$\n" for b in sample))
        rows.append(f"{folder / 'protein.pdb'},{folder / 'actives.sdf'},{t},actives")
        rows.append(f"{folder / 'protein.pdb'},{tmp / (t + '_decoys.sdf')},{t},inactives")
    (tmp / "dekois.csv").write_text("\n".join(rows) + "\n")
    xiap = data / "dude" / "xiap"
    (tmp / "xiap.csv").write_text(f"protein,ligands,group,kind\n{xiap / 'receptor_rdkit.pdb'},{xiap / 'actives_docked.sdf'},xiap,actives\n")
    sets = {"pdbbind-heldout": (tmp / "pdbbind.csv", "pK", "pK", "rmsd"),
            "fep": (tmp / "fep.csv", "r_exp_dg", "kcal/mol", None),
            "xiap": (tmp / "xiap.csv", "act", "nM", None),
            "dekois": (tmp / "dekois.csv", None, "pK", None)}
    if len(redocked_rows) > 1:
        sets["pdbbind-redocked"] = (tmp / "redocked.csv", "pK", "pK", "rmsd")
    if len(vinardo_rows) > 1:
        sets["pdbbind-vinardo"] = (tmp / "vinardo.csv", "pK", "pK", "rmsd")
    if len(ad4_rows) > 1:
        sets["pdbbind-ad4"] = (tmp / "ad4.csv", "pK", "pK", "rmsd")
    docked = ROOT / ".cache" / "dude"  # written by bench/dock_dude.py (derived data, never committed)
    rows = ["protein,ligands,group,kind"]
    for t in ("fabp4", "inha"):
        if (docked / f"{t}_actives.sdf").exists() and (docked / f"{t}_decoys.sdf").exists():
            rows.append(f"{data / 'dude' / t / 'receptor.pdb'},{docked / (t + '_actives.sdf')},{t},actives")
            rows.append(f"{data / 'dude' / t / 'receptor.pdb'},{docked / (t + '_decoys.sdf')},{t},inactives")
    if len(rows) > 1:
        (tmp / "dude.csv").write_text("\n".join(rows) + "\n")
        sets["dude-docked"] = (tmp / "dude.csv", None, "pK", None)
    return sets


DOCKED_SETS = ("pdbbind-redocked", "pdbbind-vinardo", "pdbbind-ad4")


def read_exclusions(path: Path | None) -> dict[str, set[str]]:
    """Complexes to leave out of the docked sets, so that complexes docked after an earlier read can
    be read alone, as a fresh test. ``path`` is a JSON list of complex ids (left out of every docked
    set) or an earlier results JSON, whose ``_notes["complexes read"]`` names them per set."""
    if path is None:
        return {}
    data = json.loads(path.read_text())
    if isinstance(data, dict):
        data = data.get("_notes", {}).get("complexes read", [])
    if isinstance(data, list):  # one list, as the first AD4 read wrote it: every docked set
        return {name: set(data) for name in DOCKED_SETS}
    return {name: set(ids) for name, ids in data.items()}


def complexes_read(poses: dict, set_names) -> dict[str, list[str]]:
    """The complexes each docked set covered in this run (from any tool's per-pose rows)."""
    out: dict[str, list[str]] = {}
    for (set_name, _tool), rows in poses.items():
        if set_name in set_names and set_name not in out:
            out[set_name] = sorted({str(r["group"]) for r in rows})
    return out


def union_poses(pose_sets: list[list[dict]]) -> list[dict]:
    """Per-pose rows of several sets as one set (rows renumbered so that (row, index) stays unique;
    groups are complex ids, which the sets must not share)."""
    out, offset = [], 0
    for rows in pose_sets:
        out += [{**p, "row": p["row"] + offset} for p in rows]
        offset += 1 + max((p["row"] for p in rows), default=-1)
    return out


def docking_headline(poses: list[dict]) -> dict:
    """Docking power (both conventions) of a pose set, with CIs; the other headline figures left empty."""
    m = compute_metrics([{**p, "activity": None} for p in poses if p["kind"] in ("crystal", "decoys")], n_boot=500)
    h = {k: (v if k.startswith("docking") else None) for k, v in headline(m).items()}
    h.update({k: m.get("docking", {}).get(k) for k in ("n_included", "n_excluded")})
    return h


def headline(m: dict) -> dict:
    g = lambda *k: (lambda d: d)(m.get(k[0], {}).get(k[1]))  # noqa: E731
    return {"scoring_R": g("scoring", "pearson"), "scoring_ci": m.get("scoring", {}).get("ci95"),
            "ranking_rho": g("ranking", "mean_spearman"), "ranking_ci": m.get("ranking", {}).get("ci95"),
            "docking_incl": g("docking", "top1_native_included"), "docking_excl": g("docking", "top1_native_excluded"),
            "docking_ci_excl": m.get("docking", {}).get("ci95_excluded"),
            "ef1": g("screening", "ef1"), "auc": g("screening", "roc_auc"), "n_scored": m.get("n_scored")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--max-decoys", type=int, default=200)
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="dockscore checkpoint to compare (repeatable; default: the two shipped models)")
    parser.add_argument("--local-opt-model", default=None, metavar="NAME=PATH",
                        help="also score every pose after relaxing it in this dockscore model's field (slow)")
    parser.add_argument("--skip-vina", action="store_true")
    parser.add_argument("--skip-local-opt", action="store_true", help="Vina score-only, without its local-optimised run")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (one tool on one set each; 1 thread each)")
    parser.add_argument("--sets", nargs="+", default=None, help="only these sets (default: all; dude-docked needs bench/dock_dude.py first)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "comparison.json")
    parser.add_argument("--redocked", type=Path, default=ROOT / ".cache" / "heldout_docked",
                        help="Vina-redocked held-out complexes (bench/dock_train_decoys.py dock --part test fep_targets)")
    parser.add_argument("--vinardo", type=Path, default=ROOT / ".cache" / "heldout_vinardo",
                        help="Vinardo-docked held-out complexes (bench/dock_train_decoys.py dock --part test fep_targets --scoring vinardo): "
                             "set pdbbind-vinardo, decoys that are not Vina minima")
    parser.add_argument("--ad4", type=Path, default=ROOT / ".cache" / "heldout_ad4",
                        help="AutoDock4-docked held-out complexes (bench/dock_train_decoys.py dock --part test fep_targets --scoring ad4): "
                             "set pdbbind-ad4, a third docking function")
    parser.add_argument("--exclude-read", type=Path, default=None, metavar="JSON",
                        help="leave out of the docked sets the complexes an earlier read covered (its results JSON, "
                             "_notes['complexes read'], or a JSON list of ids): a fresh read of complexes docked since")
    parser.add_argument("--poses-dir", type=Path, default=None,
                        help="also write each tool's per-pose scores, one CSV per set and tool (to see which complexes each gets right)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = dict(m.split("=", 1) for m in args.model) or {
        "dockscore-e3": str(ROOT / "dockscore" / "models" / "dockscore-e3.safetensors"),
        "dockscore-se3": str(ROOT / "dockscore" / "models" / "dockscore-se3.safetensors")}
    tools: dict[str, tuple] = {name: ("dockscore", path) for name, path in models.items()}
    if args.local_opt_model:
        name, path = args.local_opt_model.split("=", 1)
        tools[f"{name} local-opt"] = ("dockscore-local-opt", path)
    tools["heavy-atom count"] = ("heavy",)
    from ligand_only import fit_ligand_only
    ridge, ridge_report = fit_ligand_only(args.data)
    tools["ligand-only ridge"] = ("ligand_only", ridge)
    if not args.skip_vina:
        tools["vina-1.2.7 score-only"] = ("vina", False)
        if not args.skip_local_opt:
            tools["vina-1.2.7 local-opt"] = ("vina", True)
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        manifests = build_manifests(args.data, Path(tmp), args.max_decoys, redocked=args.redocked, vinardo=args.vinardo, ad4=args.ad4,
                                    exclude=read_exclusions(args.exclude_read))
        if args.sets:
            manifests = {k: v for k, v in manifests.items() if k in args.sets}
        jobs = [(tool, spec, set_name, *m) for set_name, m in manifests.items() for tool, spec in tools.items()]
        jobs.sort(key=lambda j: j[1][0] not in ("vina", "dockscore-local-opt"))  # the slow ones first
        with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            poses: dict = {}
            for set_name, tool, out, rows in pool.map(run_one, *zip(*jobs)):
                results.setdefault(set_name, {})[tool] = out
                poses[(set_name, tool)] = rows
    if args.poses_dir is not None:
        args.poses_dir.mkdir(parents=True, exist_ok=True)
        for (set_name, tool), rows in poses.items():
            with open(args.poses_dir / f"{set_name}__{tool.replace(' ', '_')}.csv", "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["row"])
                writer.writeheader()
                writer.writerows(rows)
    order = list(tools)
    results = {s: {t: results[s][t] for t in order if t in results[s]} for s in results}
    # Margins: each dockscore model minus each baseline on the same poses (paired bootstrap), for
    # ranking on the FEP series and docking on the held-out decoys
    peers = [t for t in tools if tools[t][0] != "dockscore"]
    docking_sets = [s for s in ("pdbbind-heldout", "pdbbind-redocked") if s in manifests]
    if len(docking_sets) == 2:  # all held-out docking complexes: the two sets share no complex
        for tool in tools:
            if all((s, tool) in poses for s in docking_sets):
                poses[("docking-all-heldout", tool)] = union_poses([poses[(s, tool)] for s in docking_sets])
                results.setdefault("docking-all-heldout", {})[tool] = docking_headline(poses[("docking-all-heldout", tool)])

    def paired(set_name: str, model: str, peer: str, key: str):
        if (set_name, model) not in poses or (set_name, peer) not in poses:
            return None
        return paired_difference(poses[(set_name, model)], poses[(set_name, peer)]).get(key)

    results["paired_differences"] = {
        f"{model} - {peer}": {"fep_ranking": paired("fep", model, peer, "ranking_delta"),
                              "docking": paired("pdbbind-heldout", model, peer, "docking_delta"),
                              **({"docking_redocked": paired("pdbbind-redocked", model, peer, "docking_delta"),
                                  "docking_all_heldout": paired("docking-all-heldout", model, peer, "docking_delta")}
                                 if "docking-all-heldout" in results else {}),
                              **{f"docking_{name}": paired(f"pdbbind-{name}", model, peer, "docking_delta")
                                 for name in ("vinardo", "ad4") if f"pdbbind-{name}" in results}}
        for model in models for peer in peers}
    results["ligand-only ridge fit"] = {k: v for k, v in ridge_report.items() if k != "fep_series"}
    results["_notes"] = {
        "run": f"bench/compare_vina.py on {time.strftime('%Y-%m-%d')}, {args.jobs} worker processes, 1 thread each",
        "vina": "receptor via obabel -xr (waters stripped), box = ligands of the row + 12 A; local-opt = Vina's own local "
                "optimisation of the given pose, scored with the RMSD label of the input pose; failed poses (outside the box) count as not scored",
        "ligand-only ridge": "ridge on ~200 RDKit 2D descriptors of the ligand, fitted on dockscore/models/split.json train, penalty by val R",
        "caveat": "pdbbind decoys were generated by smina (a Vina-like function): docking power is biased towards Vina",
        "complexes read": complexes_read(poses, DOCKED_SETS),
        **({"excluded (read before)": str(args.exclude_read)} if args.exclude_read else {})}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    f = lambda x: "-" if x is None or x != x else f"{x:.3f}"  # noqa: E731
    print(f"\n{'set':<16}{'tool':<24}{'R':>7}{'rho':>7}{'dock+':>7}{'dock-':>7}{'EF1%':>7}{'AUC':>7}{'poses/s':>9}")
    for set_name in [*manifests, "docking-all-heldout"]:
        for tool, h in results.get(set_name, {}).items():
            rate = (h["n_scored"] or 0) / max(h.get("seconds", 0.0), 1e-9)
            print(f"{set_name:<16}{tool:<24}{f(h['scoring_R']):>7}{f(h['ranking_rho']):>7}{f(h['docking_incl']):>7}{f(h['docking_excl']):>7}"
                  f"{f(h['ef1']):>7}{f(h['auc']):>7}{rate:>9.1f}")
    print(f"\n{'paired difference (same poses)':<48}{'FEP rho':>9}{'95% CI':>16}{'dock-':>8}{'95% CI':>16}{'dock- all':>10}{'95% CI':>16}")
    for pair, d in results["paired_differences"].items():
        r, k, a = d["fep_ranking"] or {}, d["docking"] or {}, d.get("docking_all_heldout") or {}
        ci = lambda c: "-" if not c else f"{c[0]:+.2f}..{c[1]:+.2f}"  # noqa: E731
        print(f"{pair:<48}{f(r.get('mean_spearman_a_minus_b')):>9}{ci(r.get('ci95')):>16}"
              f"{f(k.get('top1_native_excluded_a_minus_b')):>8}{ci(k.get('ci95')):>16}"
              f"{f(a.get('top1_native_excluded_a_minus_b')):>10}{ci(a.get('ci95')):>16}")


if __name__ == "__main__":
    main()
