"""Scale of `dockscore rank`: throughput per core, memory, resume after kill -9, and Vina in the same run.

The library is real posed ligands (a JACS FEP series in its protein, ../shared/data/fep/jacs_set)
under small rigid moves (up to 20 degrees about the centroid and 1.5 A), 9 poses per compound,
written as .sdf.gz files of 10,000 poses. In one run, on this machine:

- `dockscore rank` on the 10 k subset with --jobs 1 and --jobs 2 (wall time of the whole
  command, start-up included, and the rate it reports), and whether the two rankings agree;
- peak RSS (main process, and the largest worker) at 10 k and at the full library (100 k);
- a `kill -9` at half of the 10 k run with --jobs 2, the time to finish with --resume, and
  whether the result equals the uninterrupted run's;
- AutoDock Vina score-only (receptor and maps prepared once, not timed per pose) on a 1,000-pose
  subset of the same poses, per core, and the ratio.

    python bench/rank_scale.py [--poses 100000] [--small 10000] [--vina-poses 1000] [--target mcl1_extra_flips]

Needs bench/requirements.txt and Open Babel for the Vina part (skipped with a note without them).
Prints a table and writes bench/results/rank_scale.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rdkit import Chem
from rdkit.Chem.rdMolTransforms import TransformConformer

ROOT = Path(__file__).resolve().parent.parent
FEP = ROOT.parent / "shared" / "data" / "fep" / "jacs_set"
POSES_PER_COMPOUND = 9
FILE_POSES = 10_000

RSS_WRAPPER = """
import json, resource, runpy, sys
sys.argv = ["dockscore"] + sys.argv[1:]
code = 0
try:
    runpy.run_module("dockscore.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
kb = lambda who: resource.getrusage(who).ru_maxrss / 1024
print("RSS " + json.dumps({"main_mb": kb(resource.RUSAGE_SELF), "worker_mb": kb(resource.RUSAGE_CHILDREN)}), file=sys.stderr)
sys.exit(code)
"""


def rigid_move(rng: np.random.Generator, max_angle_deg: float = 20.0, max_shift: float = 1.5) -> np.ndarray:
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    angle = np.radians(rng.uniform(0, max_angle_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    rot = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    move = np.eye(4)
    move[:3, :3] = rot
    move[:3, 3] = rng.uniform(-max_shift, max_shift, 3)
    return move


def build_library(target: str, n_poses: int, folder: Path, file_poses: int = FILE_POSES, seed: int = 0) -> list[Path]:
    """n_poses records over .sdf.gz files of file_poses; compound k is ligand k mod L, copy k // L."""
    folder.mkdir(parents=True, exist_ok=True)
    ligands = [m for m in Chem.SDMolSupplier(str(FEP / f"{target}_ligands.sdf"), removeHs=False) if m is not None]
    files = [folder / f"part{k:03d}.sdf.gz" for k in range((n_poses + file_poses - 1) // file_poses)]
    if all(f.exists() for f in files):
        return files
    rng = np.random.default_rng(seed)
    written = 0
    for path in files:
        with gzip.open(path, "wt") as handle:
            writer = Chem.SDWriter(handle)
            while written < n_poses and written < (files.index(path) + 1) * file_poses:
                compound = written // POSES_PER_COMPOUND
                mol = Chem.Mol(ligands[compound % len(ligands)])
                conf = mol.GetConformer()
                centre = conf.GetPositions().mean(axis=0)
                to_origin, back = np.eye(4), np.eye(4)
                to_origin[:3, 3], back[:3, 3] = -centre, centre
                TransformConformer(conf, back @ rigid_move(rng) @ to_origin)
                mol.SetProp("_Name", f"{target}_{compound % len(ligands):02d}_copy{compound // len(ligands)}")
                mol.SetProp("pose", str(written % POSES_PER_COMPOUND))
                writer.write(mol)
                written += 1
            writer.close()
    return files


def rank(protein: Path, inputs: list[Path], out: Path, jobs: int, extra: tuple[str, ...] = ()) -> dict:
    """One `dockscore rank` command: wall time, the rate it reports, peak RSS."""
    command = [sys.executable, "-c", RSS_WRAPPER, "rank", str(protein), *map(str, inputs), "-o", str(out), "--jobs", str(jobs),
               "--progress-every", "60", *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"rank failed ({done.returncode}): {done.stderr[-2000:]}")
    scored = re.search(r"this run: (\d+) scored.*?([\d.]+) s, ([\d.]+) poses/s", done.stdout.replace("\n", " "))
    rss = json.loads(done.stderr.split("RSS ")[-1].splitlines()[0])
    n = int(scored.group(1)) if scored else 0
    return {"poses": n, "wall_s": round(wall, 1), "rank_s": float(scored.group(2)) if scored else None,
            "poses_per_s_end_to_end": round(n / wall, 1), "poses_per_s_reported": float(scored.group(3)) if scored else None,
            "rss_main_mb": round(rss["main_mb"]), "rss_worker_mb": round(rss["worker_mb"])}


def killed_and_resumed(protein: Path, inputs: list[Path], out: Path, n_poses: int, jobs: int) -> dict:
    """kill -9 at half the poses, then the same command with --resume."""
    store = out.with_suffix("").with_name(out.stem + ".store.sqlite")
    command = [sys.executable, "-m", "dockscore.cli", "rank", str(protein), *map(str, inputs), "-o", str(out), "--jobs", str(jobs)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored = 0
    while child.poll() is None and stored < n_poses // 2:
        time.sleep(0.5)
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=2) as db:
                stored = db.execute("SELECT COUNT(*) FROM poses").fetchone()[0]
        except sqlite3.Error:
            pass
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with sqlite3.connect(store) as db:
        kept = db.execute("SELECT COUNT(*) FROM poses").fetchone()[0]
    start = time.perf_counter()
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if resumed.returncode != 0:
        raise SystemExit(f"resume failed: {resumed.stderr[-2000:]}")
    with sqlite3.connect(store) as db:
        total = db.execute("SELECT COUNT(*) FROM poses").fetchone()[0]
    return {"killed_at_poses": kept, "resume_wall_s": round(seconds, 1), "poses_in_store_after": total}


def vina_rate(protein: Path, library: Path, n: int, reference: Path) -> dict:
    """Vina score-only on the first n poses of the library, one core, receptor prepared once."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from vina_peer import VinaPeer
    except ImportError as exc:
        return {"skipped": f"vina not installed ({exc}); pip install -r bench/requirements.txt"}
    start = time.perf_counter()
    try:
        peer = VinaPeer.from_ligand_box(protein, reference, padding=8.0, cpu=1)
    except Exception as exc:  # no obabel, bad receptor: say so, keep the other figures
        return {"skipped": f"Vina receptor preparation failed: {exc}"}
    prepare = time.perf_counter() - start
    mols = []
    with gzip.open(library, "rb") as handle:
        for mol in Chem.ForwardSDMolSupplier(handle, removeHs=False):
            mols.append(mol)
            if len(mols) >= n:
                break
    cpu0, start = time.process_time(), time.perf_counter()
    scores = [peer.score_mol(m) for m in mols]
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {"poses": len(mols), "prepare_receptor_s": round(prepare, 1), "wall_s": round(wall, 1),
            "poses_per_s": round(len(mols) / wall, 2), "poses_per_cpu_s": round(len(mols) / cpu, 2),
            "failed": int(sum(not np.isfinite(s) for s in scores))}


def same_ranking(a: Path, b: Path) -> bool:
    drop = {"best_pose_source"}  # paths differ between folders; everything else must agree
    import csv

    def rows(p):
        with open(p, newline="") as handle:
            return [{k: v for k, v in r.items() if k not in drop} for r in csv.DictReader(handle)]
    return rows(a) == rows(b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="mcl1_extra_flips")
    parser.add_argument("--poses", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--vina-poses", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=ROOT / ".cache" / "rank_scale")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rank_scale.json")
    parser.add_argument("--file-poses", type=int, default=FILE_POSES, help="poses per library file")
    parser.add_argument("--skip-full", action="store_true", help="only the small library (no 100 k run)")
    args = parser.parse_args()

    protein = FEP / f"{args.target}_protein.pdb"
    library = build_library(args.target, args.poses, args.work / f"library_{args.poses}_{args.file_poses}", args.file_poses)
    small = library[: max(1, args.small // args.file_poses)]
    runs = args.work / "runs"
    if runs.exists():
        import shutil

        shutil.rmtree(runs)
    runs.mkdir(parents=True)
    figures: dict = {"machine": {"cores": os.cpu_count()}, "target": args.target, "library_poses": args.poses,
                     "small_poses": len(small) * args.file_poses, "poses_per_compound": POSES_PER_COMPOUND}
    print(f"library: {args.poses} poses in {len(library)} files ({args.target}); small: {len(small) * args.file_poses}", flush=True)

    figures["small_jobs1"] = rank(protein, small, runs / "j1" / "ranked.csv", 1)
    print("jobs 1:", figures["small_jobs1"], flush=True)
    figures["small_jobs2"] = rank(protein, small, runs / "j2" / "ranked.csv", 2)
    print("jobs 2:", figures["small_jobs2"], flush=True)
    figures["jobs2_equals_jobs1"] = same_ranking(runs / "j1" / "ranked.csv", runs / "j2" / "ranked.csv")
    figures["speedup_jobs2"] = round(figures["small_jobs2"]["poses_per_s_reported"] / figures["small_jobs1"]["poses_per_s_reported"], 2)

    figures["kill9_resume"] = killed_and_resumed(protein, small, runs / "killed" / "ranked.csv", len(small) * args.file_poses, 2)
    figures["kill9_resume"]["equals_uninterrupted"] = same_ranking(runs / "j1" / "ranked.csv", runs / "killed" / "ranked.csv")
    print("kill -9 + resume:", figures["kill9_resume"], flush=True)

    figures["vina"] = vina_rate(protein, library[0], args.vina_poses, FEP / f"{args.target}_ligands.sdf")
    print("vina:", figures["vina"], flush=True)
    if "poses_per_cpu_s" in figures["vina"]:
        per_core = figures["small_jobs1"]["poses_per_s_reported"]
        figures["ratio_per_core_vs_vina"] = round(per_core / figures["vina"]["poses_per_cpu_s"], 1)
        figures["ratio_per_core_end_to_end_vs_vina"] = round(figures["small_jobs1"]["poses_per_s_end_to_end"] / figures["vina"]["poses_per_cpu_s"], 1)

    if not args.skip_full:
        figures["full_jobs2"] = rank(protein, library, runs / "full" / "ranked.csv", 2)
        print("full, jobs 2:", figures["full_jobs2"], flush=True)
        small_rss = figures["small_jobs2"]["rss_main_mb"], figures["small_jobs2"]["rss_worker_mb"]
        full_rss = figures["full_jobs2"]["rss_main_mb"], figures["full_jobs2"]["rss_worker_mb"]
        figures["rss_growth_small_to_full_mb"] = {"main": full_rss[0] - small_rss[0], "worker": full_rss[1] - small_rss[1]}
        rate = figures["full_jobs2"]["poses_per_s_reported"]
        figures["extrapolated_1M_jobs2_hours"] = round(1e6 / rate / 3600, 2) if rate else None
    figures["gpu"] = "not measured: no GPU was lent to this run"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
