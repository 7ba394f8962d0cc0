"""Screening benchmark (issue 26, item 4): every tool on the same poses, in one command.

What it measures, per tool (each dockscore checkpoint, Vina 1.2.7 score-only, Vina 1.2.7
local-opt, the heavy-atom count), all with "higher score = ranked better" (Vina: -kcal/mol):

* screening, per target: EF1 % and EF5 % (enrichment factor at the top 1 % / 5 % of the ranked
  list, in "x random": 1 = random), BEDROC (alpha 80.5, Truchon & Bayly 2007; 0..1) and ROC AUC
  (0..1), from ``dockscore.evaluation.benchmark.screening_metrics`` (ties broken by expectation):
  - DEKOIS 2.0 ACHE and PPARA: all 40 docked actives and all 1,200 docked decoys each;
  - DUD-E fabp4 and inha: the poses bench/dock_dude.py wrote to .cache/dude (all actives, a seeded
    sample of decoys; the sample is printed and stored). ``--dock-dude`` docks them first when
    missing (one process; ``--dude-decoys-per-active`` sets the sample size);
* XIAP (100 docked DUD-E actives with measured Kd/Ki/IC50, no decoys): Spearman rho of the score
  against the measured pK instead (ranking power, not screening);
* clash test (``--clash``, on by default): on the held-out test complexes of dockscore/models/split.json,
  the crystal ligand pushed rigidly into the protein (26 grid directions x 1.0 / 1.5 / 2.0 A),
  keeping the poses that clash (closest ligand-protein heavy-atom distance < 1.5 A and >= 3 ligand
  heavy atoms within 2.2 A of a protein heavy atom); per tool (dockscore models, Vina score-only),
  the complexes where any kept pose scores above the crystal pose.

A pose a tool fails on counts as that tool's worst score (-inf); the failures are counted and
printed. Vina's and the heavy-atom count's per-pose scores are cached under .cache/screening/
(git-ignored), keyed by tool, target, protein and ligand file content (SHA-256) and the tool's
settings, so a rerun after a model change rescores only dockscore. dockscore itself is never
cached (~200 poses/s): its scores always come from the current code and checkpoint.

    python bench/screening.py [--model NAME=PATH ...] [--parts dekois dude xiap clash] [--no-clash]
                              [--skip-vina] [--skip-local-opt] [--dock-dude] [--dude-decoys-per-active 1]
                              [--out bench/results/screening.json]

Vina needs bench/requirements.txt (vina==1.2.7, meeko==0.8.0, gemmi) and Open Babel's CLI
(apt-get install -y openbabel). Runs on one process, one torch thread.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem, RDLogger

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dockscore.evaluation.metrics import screening_metrics  # noqa: E402
from dockscore.evaluation.benchmark import to_pk  # noqa: E402
from dockscore.io.ligands import iter_ligands  # noqa: E402
from dockscore.evaluation.metrics import spearman  # noqa: E402
from dockscore.overlap import PUSH_DIRECTIONS, pushed_into_protein  # noqa: E402

CACHE = ROOT / ".cache" / "screening"
VINA_PADDING = 12.0  # A around every pose of a target (compare_vina.py's box)
WATERS = {"HOH", "WAT", "DOD", "H2O", "TIP", "TIP3", "SOL"}
SHIFTS = (1.0, 1.5, 2.0)  # A
CLASH_MIN = 1.5  # A: closest ligand-protein heavy-atom distance below this ...
CLASH_CONTACT = 2.2  # A: ... and at least CLASH_ATOMS ligand heavy atoms within this of the protein
CLASH_ATOMS = 3
VINA_SO, VINA_LO, HEAVY = "vina-1.2.7 score-only", "vina-1.2.7 local-opt", "heavy-atom count"


# ----------------------------------------------------------------------------- caching
def file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def cache_path(tool: str, target: str, key: dict) -> Path:
    """One JSON per (tool, target, content key): a changed input or setting is a new file."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return CACHE / tool.replace(" ", "_") / f"{target}__{digest}.json"


def cached_scores(tools: list[str], target: str, key: dict, n: int, compute) -> tuple[dict[str, list], dict[str, dict]]:
    """Per-record scores of ``tools`` (one pass of ``compute(index) -> {tool: score}`` over ``n``
    records), from the cache where every tool has them. Progress is appended to a ``.partial`` file
    as it comes, so an interrupted run resumes. Returns ({tool: scores}, {tool: info})."""
    paths = {t: cache_path(t, target, key) for t in tools}
    if all(p.exists() for p in paths.values()):
        data = {t: json.loads(p.read_text()) for t, p in paths.items()}
        return {t: d["scores"] for t, d in data.items()}, {t: {"cached": True, "compute_seconds": d["seconds"]} for t, d in data.items()}
    partial = CACHE / "partial" / (f"{target}__" + "+".join(sorted(t.replace(" ", "_") for t in tools)) + "__"
                                   + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16] + ".jsonl.partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    done, seconds = {}, 0.0
    if partial.exists():
        for line in partial.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by an interruption
                continue
            done[row["i"]] = row["scores"]
            seconds = max(seconds, row["t"])
    t0 = time.time() - seconds
    with open(partial, "a") as fh:
        for i in range(n):
            if i in done:
                continue
            done[i] = compute(i)
            fh.write(json.dumps({"i": i, "scores": done[i], "t": time.time() - t0}) + "\n")
            fh.flush()
            if (i + 1) % 200 == 0:
                print(f"  {target} {'/'.join(tools)}: {i + 1} of {n} ({(time.time() - t0) / (i + 1):.2f} s/pose)", flush=True)
    seconds = time.time() - t0
    out = {t: [done[i][t] for i in range(n)] for t in tools}
    for t, p in paths.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps({"tool": t, "target": target, "key": key, "seconds": seconds, "scores": out[t]}))
    partial.unlink(missing_ok=True)
    return out, {t: {"cached": False, "compute_seconds": seconds} for t in tools}


# ----------------------------------------------------------------------------- tools
def read_records(path: Path) -> list:
    return list(iter_ligands(path))


def dockscore_scores(models: dict[str, str | None], protein: Path, records: list) -> tuple[dict[str, list], dict[str, dict]]:
    """{model name: per-record score (None where it failed)}; never cached."""
    from dockscore.scoring import Scorer

    out, info = {}, {}
    for name, spec in models.items():
        t0 = time.time()
        if spec in ("e3", "se3"):
            scorer = Scorer(protein, symmetry=spec, stereo=False)
        else:
            scorer = Scorer(protein, model=spec, stereo=False)
        scores = [r.score if r.status == "ok" else None for r in scorer.score_records(records)]
        out[name] = scores
        info[name] = {"cached": False, "compute_seconds": time.time() - t0}
    return out, info


class VinaBoth:
    """Vina 1.2.7 through bench/vina_peer.py's VinaPeer (receptor PDBQT and maps once per target):
    each pose prepared once, then scored as given and after Vina's local optimisation."""

    def __init__(self, protein: Path, box_mols: list) -> None:
        from vina_peer import VinaPeer

        self.peer = VinaPeer.from_ligand_box(protein, box_mols, padding=VINA_PADDING)

    def score(self, mol, local_opt: bool = True) -> dict[str, float | None]:
        out: dict[str, float | None] = {VINA_SO: None, VINA_LO: None} if local_opt else {VINA_SO: None}
        if mol is None:
            return out
        try:
            self.peer.v.set_ligand_from_string(self.peer.ligand_pdbqt(mol))
        except Exception:  # noqa: BLE001 - meeko/Vina cannot take this ligand: a failure for both
            return out
        for tool, call in ((VINA_SO, self.peer.v.score), (VINA_LO, self.peer.v.optimize))[: 2 if local_opt else 1]:
            try:
                e = float(call()[0])
                out[tool] = -e if math.isfinite(e) else None  # higher = better
            except Exception:  # noqa: BLE001 - e.g. a pose outside the grid box
                pass
        return out


def vina_version() -> str:
    try:
        from importlib.metadata import version
        return f"vina {version('vina')}, meeko {version('meeko')}"
    except Exception:  # noqa: BLE001
        return "vina ?"


# ----------------------------------------------------------------------------- targets
def best_per_compound(names: list[str], scores: list) -> tuple[list[str], list]:
    """One score per compound name, in first-seen order: its best pose (a failed pose is the worst;
    None only when every pose of the compound failed)."""
    best: dict[str, float | None] = {}
    for name, v in zip(names, scores):
        if name not in best or (v is not None and (best[name] is None or v > best[name])):
            best[name] = v
    return list(best), list(best.values())


def screening_target(name: str, protein: Path, files: dict[str, Path], models: dict, args, sample: str) -> dict:
    """All tools on one target's actives and decoys: metrics, failure counts, timings."""
    t_target = time.time()
    records = {kind: read_records(path) for kind, path in files.items()}
    all_records = records["actives"] + records["decoys"]
    n_act = len(records["actives"])
    scores, info = dockscore_scores(models, protein, all_records)
    heavy = [float(r.mol.GetNumHeavyAtoms()) if r.ok else None for r in all_records]
    scores[HEAVY], info[HEAVY] = heavy, {"cached": False, "compute_seconds": 0.0}
    if not args.skip_vina:
        vina_tools = [VINA_SO] + ([] if args.skip_local_opt else [VINA_LO])
        key = {"protein": file_hash(protein), "actives": file_hash(files["actives"]), "decoys": file_hash(files["decoys"]),
               "box": f"all poses of the target + {VINA_PADDING} A", "version": vina_version()}
        state: dict = {}

        def compute(i: int) -> dict:
            if "vina" not in state:
                state["vina"] = VinaBoth(protein, [r.mol for r in all_records if r.ok])
            return state["vina"].score(all_records[i].mol, local_opt=not args.skip_local_opt)

        vina, vinfo = cached_scores(vina_tools, name, key, len(all_records), compute)
        scores.update(vina)
        info.update(vinfo)
    out = {"protein": str(protein), "files": {k: str(v) for k, v in files.items()}, "sample": sample,
           "n_poses": {k: len(v) for k, v in records.items()}, "tools": {}}
    names = [f"{r.name}#{r.index}" if not r.name else r.name for r in all_records]
    for tool, s in scores.items():
        # best pose per compound name, actives and decoys apart (a name in both files stays in both)
        act_names, act = best_per_compound(names[:n_act], s[:n_act])
        dec_names, dec = best_per_compound(names[n_act:], s[n_act:])
        m = screening_metrics(act, dec)
        n_all = len(act) + len(dec)
        n_top1 = max(1, round(0.01 * n_all))
        m["actives_in_top1pct"] = m["ef1"] * n_top1 * len(act) / n_all  # expected count where scores tie at the cut
        m["top1pct_size"] = n_top1
        m["n_failed"] = sum(v is None for v in s)
        out["tools"][tool] = {**m, **info[tool]}
    out["seconds"] = time.time() - t_target
    return out


def dude_compound_count(path: Path) -> int:
    """Distinct compound names in a DUD-E MOL2(.gz) (several protomers share a name)."""
    names, take = set(), False
    with (gzip.open(path, "rt") if path.suffix == ".gz" else open(path)) as fh:
        for line in fh:
            if take:
                names.add(line.strip())
                take = False
            elif line.startswith("@<TRIPOS>MOLECULE"):
                take = True
    return len(names)


def xiap_target(data: Path, models: dict, args) -> dict:
    t0 = time.time()
    folder = data / "dude" / "xiap"
    protein, ligands = folder / "receptor_rdkit.pdb", folder / "actives_docked.sdf"
    records = read_records(ligands)
    pk = [to_pk(float(r.props["act"]), "nM") if "act" in r.props else float("nan") for r in records]
    scores, info = dockscore_scores(models, protein, records)
    scores[HEAVY], info[HEAVY] = [float(r.mol.GetNumHeavyAtoms()) if r.ok else None for r in records], {"cached": False, "compute_seconds": 0.0}
    if not args.skip_vina:
        vina_tools = [VINA_SO] + ([] if args.skip_local_opt else [VINA_LO])
        key = {"protein": file_hash(protein), "actives": file_hash(ligands), "box": f"all poses + {VINA_PADDING} A", "version": vina_version()}
        state: dict = {}

        def compute(i: int) -> dict:
            if "vina" not in state:
                state["vina"] = VinaBoth(protein, [r.mol for r in records if r.ok])
            return state["vina"].score(records[i].mol, local_opt=not args.skip_local_opt)

        vina, vinfo = cached_scores(vina_tools, "xiap", key, len(records), compute)
        scores.update(vina)
        info.update(vinfo)
    names = [r.name or f"#{r.index}" for r in records]
    activity = {}
    for name, a in zip(names, pk):
        if a == a:
            activity.setdefault(name, a)
    out = {"measure": "Spearman rho of score (best pose per compound) vs measured pK (Kd/Ki/IC50 in nM, SD 'act'); "
                      "no decoys: ranking, not screening",
           "n_poses": len(records), "n_compounds": len(activity), "tools": {}}
    for tool, s in scores.items():
        compounds, best = best_per_compound(names, s)
        finite = [v for v in best if v is not None]
        worst = (min(finite) - 1.0) if finite else 0.0
        pairs = [(worst if v is None else v, activity[c]) for c, v in zip(compounds, best) if c in activity]
        out["tools"][tool] = {"spearman_rho": spearman([p[0] for p in pairs], [p[1] for p in pairs]), "n": len(pairs),
                              "n_failed": sum(v is None for v in s), **info[tool]}
    out["seconds"] = time.time() - t0
    return out


# ----------------------------------------------------------------------------- clash test
def grid_directions() -> np.ndarray:
    """The 26 unit vectors from the centre of a 3x3x3 grid to its other points (dockscore.overlap's)."""
    return np.array(PUSH_DIRECTIONS, float)


def protein_heavy_atoms(pdb: Path) -> np.ndarray:
    """Heavy-atom coordinates of a PDB (ATOM/HETATM, waters and hydrogens left out)."""
    xyz = []
    for line in Path(pdb).read_text().splitlines():
        if not line.startswith(("ATOM  ", "HETATM")) or line[17:21].strip().upper() in WATERS:
            continue
        element = (line[76:78].strip() if len(line) >= 78 else "").upper() or line[12:16].strip().lstrip("0123456789")[:1].upper()
        if element in ("H", "D"):
            continue
        xyz.append((float(line[30:38]), float(line[38:46]), float(line[46:54])))
    return np.array(xyz, float).reshape(-1, 3)


def clashing_poses(protein_pdb: Path, ligand: Chem.Mol, shifts=SHIFTS) -> list[tuple[Chem.Mol, dict]]:
    """Rigid translations of ``ligand`` (all atoms, hydrogens too) that clash, by
    :func:`dockscore.overlap.pushed_into_protein` (closest ligand-protein heavy-atom distance
    < 1.5 A and at least 3 ligand heavy atoms within 2.2 A; waters and H ignored), with the
    protein's heavy atoms read straight from the file. Returns [(moved copy, {direction, shift})]."""
    protein = protein_heavy_atoms(protein_pdb)
    pos = ligand.GetConformer().GetPositions()
    heavy = [a.GetIdx() for a in ligand.GetAtoms() if a.GetAtomicNum() > 1]
    kept = []
    for d_index, shift, moved_heavy in pushed_into_protein(pos[heavy], protein, tuple(shifts), CLASH_MIN, CLASH_CONTACT, CLASH_ATOMS):
        moved = pos + (moved_heavy[0] - pos[heavy][0])
        mol = Chem.Mol(ligand)
        conf = mol.GetConformer()
        for i, p in enumerate(moved):
            conf.SetAtomPosition(i, p.tolist())
        kept.append((mol, {"direction": d_index, "shift": shift}))
    return kept


def clash_test(data: Path, models: dict, args) -> dict:
    from dockscore.scoring import Scorer

    t0 = time.time()
    ids = json.loads((ROOT / "dockscore" / "models" / "split.json").read_text())["test"]
    tools = list(models) + ([] if args.skip_vina else [VINA_SO])
    per_complex, timing = {}, {t: 0.0 for t in tools}
    vina_cached = vina_computed = 0
    for cid in ids:
        folder = data / "pdbbind" / cid
        protein, ligand_file = folder / "protein.pdb", folder / "ligand.sdf"
        crystal = Chem.MolFromMolFile(str(ligand_file), removeHs=False)
        if crystal is None:
            per_complex[cid] = {"error": "crystal ligand unreadable"}
            continue
        kept = clashing_poses(protein, crystal)
        row = {"n_kept": len(kept)}
        if kept:
            mols = [crystal] + [m for m, _ in kept]
            for name, spec in models.items():
                t1 = time.time()
                scorer = Scorer(protein, symmetry=spec, stereo=False) if spec in ("e3", "se3") else Scorer(protein, model=spec, stereo=False)
                s = [r.score if r.status == "ok" else None for r in scorer.score_mols(mols)]
                timing[name] += time.time() - t1
                row[name] = s
            if not args.skip_vina:
                key = {"protein": file_hash(protein), "ligand": file_hash(ligand_file), "shifts": list(SHIFTS),
                       "criterion": [CLASH_MIN, CLASH_CONTACT, CLASH_ATOMS], "box": f"crystal ligand + {VINA_PADDING} A",
                       "version": vina_version()}
                state: dict = {}

                def compute(i: int) -> dict:
                    if "vina" not in state:
                        try:
                            state["vina"] = VinaBoth(protein, [crystal])
                        except Exception as exc:  # noqa: BLE001 - receptor preparation failed: every pose fails
                            print(f"  vina receptor failed for {cid}: {exc}", flush=True)
                            state["vina"] = None
                    return state["vina"].score(mols[i], local_opt=False) if state["vina"] else {VINA_SO: None}

                vina, vinfo = cached_scores([VINA_SO], f"clash_{cid}", key, len(mols), compute)
                timing[VINA_SO] += vinfo[VINA_SO]["compute_seconds"]  # the cold time, also when read from the cache
                vina_cached += vinfo[VINA_SO]["cached"]
                vina_computed += not vinfo[VINA_SO]["cached"]
                row[VINA_SO] = vina[VINA_SO]
        per_complex[cid] = row
    summary = {}
    with_kept = [c for c, r in per_complex.items() if r.get("n_kept")]
    for tool in tools:
        above, failed = [], 0
        for cid in with_kept:
            s = per_complex[cid][tool]
            failed += sum(v is None for v in s)
            worst = -math.inf
            crystal_score = worst if s[0] is None else s[0]
            if any((worst if v is None else v) > crystal_score for v in s[1:]):
                above.append(cid)
        summary[tool] = {"complexes_with_a_pushed_pose_above_crystal": len(above), "of_complexes": len(with_kept),
                         "complexes": above, "n_failed_poses": failed, "seconds": timing[tool],
                         "cached": tool == VINA_SO and vina_computed == 0 and vina_cached > 0}
    return {"measure": "crystal ligand translated rigidly (26 grid directions x 1.0/1.5/2.0 A), kept when closest "
                       f"ligand-protein heavy-atom distance < {CLASH_MIN} A and >= {CLASH_ATOMS} ligand heavy atoms within "
                       f"{CLASH_CONTACT} A of a protein heavy atom (waters, H ignored); count: complexes where any kept pose "
                       "scores above the crystal pose",
            "n_test_complexes": len(ids), "n_complexes_with_kept_poses": len(with_kept),
            "n_kept_poses": sum(r.get("n_kept", 0) for r in per_complex.values()),
            "tools": summary, "vina_cache": {"complexes cached": vina_cached, "complexes computed": vina_computed},
            "per_complex": per_complex, "seconds": time.time() - t0}


# ----------------------------------------------------------------------------- report
def f3(x) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"


def print_screening(name: str, res: dict) -> None:
    tools = res["tools"]
    any_tool = next(iter(tools.values()))
    print(f"\n{name}: {any_tool['n_actives']} actives, {any_tool['n_decoys']} decoys (best pose per compound; {res['sample']}); "
          f"top 1 % = {any_tool['top1pct_size']} ligand(s)")
    print(f"{'tool':<24}{'EF1% (x)':>10}{'EF5% (x)':>10}{'BEDROC80.5':>12}{'ROC AUC':>9}{'act. in top 1%':>16}{'failed (poses)':>16}{'time (s)':>14}")
    for tool, m in tools.items():
        t = f"{m['compute_seconds']:.1f}" + (" cached" if m.get("cached") else "")
        print(f"{tool:<24}{m['ef1']:>10.2f}{m['ef5']:>10.2f}{m['bedroc']:>12.3f}{m['roc_auc']:>9.3f}"
              f"{m['actives_in_top1pct']:>16.2f}{m['n_failed']:>16d}{t:>14}")


def dock_dude(args, out_dir: Path) -> None:
    """Dock the DUD-E sample with bench/dock_dude.py (one process) where its poses are missing."""
    missing = [t for t in ("fabp4", "inha") if not ((out_dir / f"{t}_actives.sdf").exists() and (out_dir / f"{t}_decoys.sdf").exists())]
    if not missing:
        return
    cmd = [sys.executable, str(ROOT / "bench" / "dock_dude.py"), "--targets", *missing, "--jobs", "1",
           "--decoys-per-active", str(args.dude_decoys_per_active), "--exhaustiveness", str(args.dude_exhaustiveness),
           "--seed", str(args.seed), "--out", str(out_dir)]
    print("docking:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    for t in missing:
        (out_dir / f"{t}.params.json").write_text(json.dumps({"decoys_per_active": args.dude_decoys_per_active,
                                                               "exhaustiveness": args.dude_exhaustiveness, "seed": args.seed}))


def git_head() -> str:
    """The commit the code was read at, with '+changes' when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (" +changes" if dirty else "")
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--model", action="append", default=[], metavar="NAME=PATH",
                        help="dockscore checkpoint (repeatable); dockscore-e3 / dockscore-se3 (the shipped models) "
                             "are replaced when NAME is theirs, otherwise added")
    parser.add_argument("--parts", nargs="+", default=["dekois", "dude", "xiap", "clash"], choices=["dekois", "dude", "xiap", "clash"])
    parser.add_argument("--no-clash", action="store_true", help="leave the clash test out")
    parser.add_argument("--skip-vina", action="store_true")
    parser.add_argument("--skip-local-opt", action="store_true", help="Vina score-only without its local-optimised run")
    parser.add_argument("--dude-dir", type=Path, default=ROOT / ".cache" / "dude", help="bench/dock_dude.py's output")
    parser.add_argument("--dock-dude", action="store_true", help="dock the DUD-E sample first where its poses are missing (slow)")
    parser.add_argument("--dude-decoys-per-active", type=int, default=1, help="decoy sample size when docking (--dock-dude)")
    parser.add_argument("--dude-exhaustiveness", type=int, default=1, help="Vina exhaustiveness when docking (--dock-dude)")
    parser.add_argument("--seed", type=int, default=0, help="decoy sample seed when docking (--dock-dude)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "screening.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    RDLogger.DisableLog("rdApp.*")
    logging.basicConfig(level=logging.ERROR)
    models: dict[str, str] = {"dockscore-e3": "e3", "dockscore-se3": "se3"}
    for spec in args.model:
        name, _, path = spec.partition("=")
        if not name or not path:
            parser.error(f"--model {spec!r}: give NAME=PATH")
        if not Path(path).is_file():
            parser.error(f"--model {spec!r}: {path} is not a file")
        models[name] = path
    parts = [p for p in args.parts if not (p == "clash" and args.no_clash)]
    t_run = time.time()
    from dockscore.checkpoint import default_model_path

    checkpoints = {name: str(default_model_path(spec) if spec in ("e3", "se3") else Path(spec)) for name, spec in models.items()}
    results: dict = {"_notes": {
        "run": f"bench/screening.py on {time.strftime('%Y-%m-%d %H:%M')}, one process, 1 torch thread",
        "git_head": git_head(),
        "models": {name: {"checkpoint": path, "sha256_16": file_hash(Path(path))} for name, path in checkpoints.items()},
        "split_sha256_16": file_hash(ROOT / "dockscore" / "models" / "split.json"),
        "vina": vina_version() if not args.skip_vina else "skipped",
        "conventions": "higher score = better (Vina: -kcal/mol); EF in x random at the top round(f * N) ligands, ties by "
                       "expectation; BEDROC alpha 80.5; a failed pose = the tool's worst score (counted in n_failed)",
        "vina box": f"every pose of the target (clash test: the crystal ligand) + {VINA_PADDING} A; local-opt = Vina's "
                    "local optimisation of the given pose",
        "caveat": "DUD-E poses are Vina's own minima (bench/dock_dude.py), which favours Vina there"},
        "timing_seconds": {}}
    data = args.data
    if "dekois" in parts:
        t0 = time.time()
        for t in ("dekois2_ache", "dekois2_ppara"):
            folder = data / "screening" / t
            print(f"scoring {t} ...", flush=True)
            results[t] = screening_target(t, folder / "protein.pdb", {"actives": folder / "actives.sdf", "decoys": folder / "decoys.sdf"},
                                          models, args, "all actives, all decoys")
        results["timing_seconds"]["dekois"] = time.time() - t0
    if "dude" in parts:
        t0 = time.time()
        if args.dock_dude:
            dock_dude(args, args.dude_dir)
        for t in ("fabp4", "inha"):
            act, dec = args.dude_dir / f"{t}_actives.sdf", args.dude_dir / f"{t}_decoys.sdf"
            if not (act.exists() and dec.exists() and act.stat().st_size and dec.stat().st_size):
                results[f"dude_{t}"] = {"missing": f"no docked poses in {args.dude_dir} (bench/dock_dude.py, or --dock-dude)"}
                print(f"\ndude_{t}: MISSING (no docked poses in {args.dude_dir}; run bench/dock_dude.py or --dock-dude)")
                continue
            folder = data / "dude" / t
            n_act_all, n_dec_all = dude_compound_count(folder / "actives_final.mol2.gz"), dude_compound_count(folder / "decoys_final.mol2.gz")
            n_act = sum(1 for _ in iter_ligands(act))
            n_dec = sum(1 for _ in iter_ligands(dec))
            params = args.dude_dir / f"{t}.params.json"
            how = json.loads(params.read_text()) if params.exists() else {}
            sample = (f"docked {n_act} of {n_act_all} DUD-E actives and {n_dec} of {n_dec_all} decoys (seeded sample"
                      + (f", {how['decoys_per_active']} per active, exhaustiveness {how['exhaustiveness']}, seed {how['seed']}" if how else "")
                      + "; compounds Vina/meeko could not dock are left out)")
            print(f"scoring dude_{t} ...", flush=True)
            results[f"dude_{t}"] = screening_target(f"dude_{t}", folder / "receptor.pdb", {"actives": act, "decoys": dec}, models, args, sample)
        results["timing_seconds"]["dude"] = time.time() - t0
    if "xiap" in parts:
        t0 = time.time()
        print("scoring xiap ...", flush=True)
        results["xiap"] = xiap_target(data, models, args)
        results["timing_seconds"]["xiap"] = time.time() - t0
    if "clash" in parts:
        t0 = time.time()
        print("clash test ...", flush=True)
        results["clash"] = clash_test(data, models, args)
        results["timing_seconds"]["clash"] = time.time() - t0
    results["timing_seconds"]["total"] = time.time() - t_run

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print("\n=== screening (EF in x random; BEDROC alpha 80.5, 0..1; ROC AUC 0..1; failed poses count as the worst score) ===")
    for name in ("dekois2_ache", "dekois2_ppara", "dude_fabp4", "dude_inha"):
        if name in results and "tools" in results[name]:
            print_screening(name, results[name])
        elif name in results:
            print(f"\n{name}: MISSING: {results[name]['missing']}")
    if "xiap" in results:
        x = results["xiap"]
        print(f"\nxiap: NOT screening (no decoys): Spearman rho of score (best pose per compound) vs measured pK, "
              f"{x['n_compounds']} actives ({x['n_poses']} poses)")
        print(f"{'tool':<24}{'rho (-1..1)':>12}{'failed (poses)':>16}{'time (s)':>14}")
        for tool, m in x["tools"].items():
            t = f"{m['compute_seconds']:.1f}" + (" cached" if m.get("cached") else "")
            print(f"{tool:<24}{f3(m['spearman_rho']):>12}{m['n_failed']:>16d}{t:>14}")
    if "clash" in results:
        c = results["clash"]
        print(f"\nclash test: {c['n_kept_poses']} kept clashing poses over {c['n_complexes_with_kept_poses']} of {c['n_test_complexes']} "
              f"test complexes (the others have no pose meeting the criterion)")
        print(f"{'tool':<24}{'complexes with a pushed pose above crystal':>44}{'failed (poses)':>16}{'time (s)':>14}")
        for tool, m in c["tools"].items():
            t = f"{m['seconds']:.1f}" + (" cached" if m.get("cached") else "")
            print(f"{tool:<24}{str(m['complexes_with_a_pushed_pose_above_crystal']) + ' of ' + str(m['of_complexes']):>44}"
                  f"{m['n_failed_poses']:>16d}{t:>14}")
    print("\ntime per part (s): " + ", ".join(f"{k} {v:.0f}" for k, v in results["timing_seconds"].items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
