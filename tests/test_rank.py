"""`dockscore rank`: grouping, best-pose choice, top-N, the store, resume (after a real kill -9),
worker and Ray equality. The library is the 1s3v crystal ligand under small rigid moves, so
every pose has its own score."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from typer.testing import CliRunner

from dockscore import iter_ligands
from dockscore.cli import app
from dockscore.errors import InputError
from dockscore.rank import ScorerSpec, library_files, rank_library, write_ranking


from .conftest import LIGAND_1S3V, PROTEIN_1S3V

runner = CliRunner()
MOLFILE = LIGAND_1S3V.read_text().split("$$$$")[0].strip("\n")


def moved_record(name: str, shift: np.ndarray, props: dict[str, str] | None = None) -> str:
    """The crystal ligand translated by ``shift`` (A), titled ``name``."""
    lines = MOLFILE.split("\n")
    lines[0] = name
    n_atoms = int(lines[3][:3])
    for i in range(4, 4 + n_atoms):
        xyz = [float(lines[i][k : k + 10]) for k in (0, 10, 20)] + shift
        lines[i] = "".join(f"{v:10.4f}" for v in xyz) + lines[i][30:]
    end = next(i for i, line in enumerate(lines) if line.startswith("M  END"))
    text = "\n".join(lines[: end + 1]) + "\n"
    for key, value in (props or {}).items():
        text += f"> <{key}>\n{value}\n\n"
    return text + "$$$$\n"


def make_library(folder: Path, compounds: int = 8, poses: int = 3, files: int = 2, seed: int = 0) -> Path:
    """``compounds`` x ``poses`` records over ``files`` SDF files (poses of one compound spread
    over files, as docking runs write them) and one broken record."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    texts = [""] * files
    for c in range(compounds):
        for p in range(poses):
            texts[(c + p) % files] += moved_record(f"cpd{c:03d}", rng.normal(0, 0.4, 3), {"ID": f"ID{c % 4}", "pose": str(p)})
    texts[0] += "broken\n  no counts line here\n$$$$\n"
    for k, text in enumerate(texts):
        (folder / f"part{k}.sdf").write_text(text)
    return folder


def spec(**kw) -> ScorerSpec:
    return ScorerSpec(str(PROTEIN_1S3V), batch_size=kw.pop("batch_size", 8), **kw)


def ranked_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    return make_library(tmp_path_factory.mktemp("lib") / "docked")


@pytest.fixture(scope="module")
def reference(library, tmp_path_factory) -> tuple[Path, list[dict]]:
    """One uninterrupted single-process run: the ranking every other run must reproduce."""
    out = tmp_path_factory.mktemp("ref")
    run = rank_library(spec(), [library], out / "store.sqlite")
    assert run.poses_scored == 8 * 3 + 1 and run.poses_failed == 1
    write_ranking(out / "store.sqlite", out / "ranked.csv", top=3, top_sdf=out / "top.sdf", failures=out / "failures.csv")
    return out, ranked_rows(out / "ranked.csv")


def test_best_pose_is_the_highest_pose_score_and_compounds_rank_by_score(reference):
    out, rows = reference
    db = sqlite3.connect(out / "store.sqlite")
    poses = db.execute("SELECT compound, score, pose_score, record_index, f.path FROM poses JOIN files f USING (file_id) WHERE status = 'ok'").fetchall()
    assert len(rows) == 8 and [r["rank"] for r in rows] == [str(k) for k in range(1, 9)]
    for row in rows:
        mine = [p for p in poses if p[0] == row["compound"]]
        best = max(mine, key=lambda p: p[2])
        assert len(mine) == int(row["n_poses"]) == 3
        assert float(row["pose_score"]) == pytest.approx(best[2], abs=1e-4) and float(row["score"]) == pytest.approx(best[1], abs=1e-4)
        assert (row["best_pose_source"], int(row["best_pose_index"])) == (best[4], best[3])
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    assert rows[0]["smiles"] and rows[0]["cip"] and rows[0]["score_unit"] == "pK"


def test_failures_name_every_bad_record(reference):
    out, _ = reference
    failures = ranked_rows(out / "failures.csv")
    assert len(failures) == 1 and failures[0]["file"].endswith("part0.sdf") and failures[0]["reason"]


def test_top_sdf_holds_the_best_poses_in_rank_order_with_their_own_properties(reference):
    out, rows = reference
    from dockscore import iter_ligands

    top = list(iter_ligands(out / "top.sdf"))
    assert [r.name for r in top] == [row["compound"] for row in rows[:3]]
    assert [r.props["dockscore_rank"] for r in top] == ["1", "2", "3"]
    assert all("pose" in r.props and "ID" in r.props for r in top)  # the original properties are kept
    assert [r.props["dockscore_score"] for r in top] == [row["score"] for row in rows[:3]]


def test_group_by_an_sd_property(library, tmp_path):
    rank_library(spec(), [library], tmp_path / "s.sqlite", group_by="ID")
    made = write_ranking(tmp_path / "s.sqlite", tmp_path / "r.csv")
    rows = ranked_rows(tmp_path / "r.csv")
    assert made.ranked == 4 and sorted(r["compound"] for r in rows) == ["ID0", "ID1", "ID2", "ID3"]
    assert sum(int(r["n_poses"]) for r in rows) == 24


def test_two_worker_processes_give_the_same_ranking(library, reference, tmp_path):
    rank_library(spec(), [library], tmp_path / "s.sqlite", jobs=2)
    write_ranking(tmp_path / "s.sqlite", tmp_path / "r.csv")
    assert ranked_rows(tmp_path / "r.csv") == reference[1]


def test_resume_scores_nothing_twice_and_a_changed_file_is_scored_again(library, reference, tmp_path):
    lib = make_library(tmp_path / "copy")
    first = rank_library(spec(), [lib], tmp_path / "s.sqlite")
    again = rank_library(spec(), [lib], tmp_path / "s.sqlite")
    assert again.poses_scored == 0 and again.poses_skipped == first.poses_scored
    changed = lib / "part1.sdf"
    changed.write_text(changed.read_text().replace("cpd001", "cpd901"))
    third = rank_library(spec(), [lib], tmp_path / "s.sqlite")
    assert third.poses_scored == changed.read_text().count("$$$$")
    write_ranking(tmp_path / "s.sqlite", tmp_path / "r.csv")
    rows = ranked_rows(tmp_path / "r.csv")
    assert sum(int(r["n_poses"]) for r in rows) == 24  # the old version of part1 is not ranked
    assert "cpd901" in {r["compound"] for r in rows}


def test_a_store_of_another_model_is_refused(library, reference, tmp_path):
    from dockscore import InputError

    with pytest.raises(InputError, match="other settings"):
        rank_library(spec(symmetry="se3"), [library], reference[0] / "store.sqlite")


def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path):
    lib = make_library(tmp_path / "big", compounds=40, poses=3, files=3, seed=1)
    store = tmp_path / "ranked.store.sqlite"
    command = [sys.executable, "-m", "dockscore.cli", "rank", str(PROTEIN_1S3V), str(lib), "-o", str(tmp_path / "ranked.csv"),
               "--batch-size", "4"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stored, deadline = 0, time.time() + 120
    while time.time() < deadline and child.poll() is None:
        time.sleep(0.2)
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
                stored = db.execute("SELECT COUNT(*) FROM poses").fetchone()[0]
        except sqlite3.Error:
            continue
        if stored >= 20:
            break
    assert child.poll() is None, "the run ended before it could be killed"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert 0 < stored < 121
    resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "already in the store" in resumed.stdout
    rank_library(spec(batch_size=16), [lib], tmp_path / "fresh.sqlite")  # another batch size too
    write_ranking(tmp_path / "fresh.sqlite", tmp_path / "fresh.csv")
    assert ranked_rows(tmp_path / "ranked.csv") == ranked_rows(tmp_path / "fresh.csv")
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*) FROM poses").fetchone()[0] == 121


def test_cli_rank_guards_inputs_and_says_what_it_did(library, tmp_path):
    target = tmp_path / "lib.sdf"
    target.write_text((library / "part1.sdf").read_text())
    before = target.read_bytes()
    refused = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(target), "-o", str(tmp_path / "r.csv"), "--top-sdf", str(target)])
    assert refused.exit_code == 1 and "is one of the inputs" in refused.output and target.read_bytes() == before
    done = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(target), "-o", str(tmp_path / "r.csv")])
    assert done.exit_code == 0, done.output
    assert "ranked 8 compounds" in done.output and "poses/s" in done.output
    again = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(target), "-o", str(tmp_path / "r.csv")])
    assert again.exit_code == 1 and "--resume" in again.output
    remade = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(target), "-o", str(tmp_path / "r2.csv"), "--store",
                                 str(tmp_path / "r.store.sqlite"), "--from-store"])
    assert remade.exit_code == 0 and (tmp_path / "r2.csv").read_text() == (tmp_path / "r.csv").read_text()
    missing = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(tmp_path / "nope"), "-o", str(tmp_path / "n.csv")])
    assert missing.exit_code == 1 and "not found" in missing.output and "Traceback" not in missing.output


def test_library_files_from_directories_globs_and_files(library):
    files, problems = library_files([library, str(library / "part*.sdf"), library / "part0.sdf", library / "missing.sdf"])
    assert [f.name for f in files] == ["part0.sdf", "part1.sdf"] and len(problems) == 1


def test_a_local_ray_cluster_gives_the_same_ranking(library, reference, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rank_library(spec(), [library], tmp_path / "s.sqlite", ray_address="local", jobs=2)
    finally:
        ray.shutdown()
    write_ranking(tmp_path / "s.sqlite", tmp_path / "r.csv")
    assert ranked_rows(tmp_path / "r.csv") == reference[1]


def _ray_scorer_processes() -> list:
    import psutil

    return [p for p in psutil.process_iter(["cmdline"]) if any("_RayScorer" in part for part in (p.info["cmdline"] or []))]


def test_a_two_node_cluster_loses_a_node_and_workers_and_loses_nothing(library, reference, tmp_path):
    """Issue 29: on a real two-node Ray cluster (ray.cluster_utils.Cluster, every node on
    127.0.0.1), removing the second node mid-run ended the run. Now the units in flight there are
    sent to the actors left: the run finishes by itself with the local ranking and every record
    counted once; so it does when one worker process is killed with SIGKILL. With every worker
    gone it stops in one line naming --resume, and resuming completes the same ranking."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    second = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    records = 8 * 3 + 1  # the library's poses and its broken record
    try:
        gone = []

        def remove_second_node(done, total, poses):
            if poses and not gone:
                cluster.remove_node(second)
                gone.append(poses)

        run = rank_library(spec(), [library], tmp_path / "a.sqlite", ray_address=cluster.address, jobs=3, chunk_size=2,
                           on_progress=remove_second_node)
        assert gone and run.lost_workers == 1 and run.poses_scored == records and not run.interrupted
        write_ranking(tmp_path / "a.sqlite", tmp_path / "a.csv")
        assert ranked_rows(tmp_path / "a.csv") == reference[1]

        killed = []

        def kill_one_worker(done, total, poses):
            if poses and not killed:
                victim = _ray_scorer_processes()[0]
                os.kill(victim.pid, signal.SIGKILL)
                killed.append(victim.pid)

        run = rank_library(spec(), [library], tmp_path / "b.sqlite", ray_address=cluster.address, jobs=2, chunk_size=2,
                           on_progress=kill_one_worker)
        assert killed and run.lost_workers == 1 and run.poses_scored == records
        write_ranking(tmp_path / "b.sqlite", tmp_path / "b.csv")
        assert ranked_rows(tmp_path / "b.csv") == reference[1]

        def kill_every_worker(done, total, poses):
            if poses:
                for victim in _ray_scorer_processes():
                    os.kill(victim.pid, signal.SIGKILL)

        with pytest.raises(InputError, match="every Ray worker is gone .*run again with --resume"):
            rank_library(spec(), [library], tmp_path / "c.sqlite", ray_address=cluster.address, jobs=2, chunk_size=2,
                         on_progress=kill_every_worker)
    finally:
        ray.shutdown()
        cluster.shutdown()
    resumed = rank_library(spec(), [library], tmp_path / "c.sqlite")
    assert 0 < resumed.poses_skipped and resumed.poses_skipped + resumed.poses_scored == records
    write_ranking(tmp_path / "c.sqlite", tmp_path / "c.csv")
    assert ranked_rows(tmp_path / "c.csv") == reference[1]


def test_the_gpu_split_scores_graphs_built_by_workers_like_one_process(library):
    """--device cuda's pipeline (workers build graphs, this process scores them), run on the CPU."""
    from dockscore.io.ligands import iter_raw_records
    from dockscore.rank import ScoreTask, _DeviceFeed, score_records

    raws = list(iter_raw_records(library / "part0.sdf"))
    feed = _DeviceFeed(spec(), 1, "cpu")
    try:
        split = feed.result(feed.submit(ScoreTask("title"), raws))
    finally:
        feed.close()
    whole = score_records(spec().build(), raws, "title")
    assert [r.status for r in split] == [r.status for r in whole] and "error" in {r.status for r in split}
    for a, b in zip(split, whole):
        assert (a.compound, a.cip, a.smiles, a.message) == (b.compound, b.cip, b.smiles, b.message)
        if a.status == "ok":
            assert a.score == pytest.approx(b.score, abs=1e-4) and a.pose_score == pytest.approx(b.pose_score, abs=1e-4)


def test_workers_of_a_killed_run_exit(tmp_path):
    """kill -9 of the main process must not leave --jobs workers holding cores."""
    lib = make_library(tmp_path / "lib", compounds=30, poses=3, files=2, seed=2)
    command = [sys.executable, "-m", "dockscore.cli", "rank", str(PROTEIN_1S3V), str(lib), "-o", str(tmp_path / "r.csv"), "--jobs", "2",
               "--batch-size", "4"]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store, deadline = tmp_path / "r.store.sqlite", time.time() + 120
    while time.time() < deadline and child.poll() is None:
        time.sleep(0.3)
        try:
            with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as db:
                if db.execute("SELECT COUNT(*) FROM poses").fetchone()[0] > 0:
                    break
        except sqlite3.Error:
            continue
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(child.pid)], capture_output=True, text=True).stdout.split()]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert workers

    def running(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    deadline = time.time() + 15
    while time.time() < deadline and any(map(running, workers)):
        time.sleep(0.5)
    alive = [w for w in workers if running(w)]
    assert not alive, f"workers {alive} outlived their killed main process"


def test_a_worker_started_after_its_main_process_died_exits():
    """Workers are spawned on demand: one that starts up after a kill -9 of its main process must
    still notice (it watches the main process's pid, not whichever parent it has by then)."""
    not_my_parent = os.getpid() + 10**6  # no process: the watcher must see its parent is not it
    code = f"from dockscore.rank import _exit_with_parent; _exit_with_parent({not_my_parent}, every_s=0.05); raise SystemExit(0)"
    done = subprocess.run([sys.executable, "-c", code], timeout=60)
    assert done.returncode == 1


def test_summary_counts_failures_and_duplicate_files_truthfully(tmp_path):
    """A run where every record failed said '190 scored'; two files of the same content said
    '1 already in the store' on a fresh run (issue 27, item 11)."""
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "a.sdf").write_text(moved_record("cpd", np.zeros(3)))
    (folder / "b.sdf").write_text(moved_record("cpd", np.zeros(3)))  # the same content under another name
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(folder), "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    assert "1 scored, 0 failed, 0 already in the store" in result.output and "1 duplicate file read once" in result.output
    bad = tmp_path / "bad.sdf"
    bad.write_text("broken\n  no counts line here\n$$$$\n" * 3)
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(bad), "-o", str(tmp_path / "bad.csv")])
    assert "0 scored, 3 failed" in result.output


def test_numbers_survive_a_narrow_terminal_and_long_names(tmp_path):
    """At 80 columns, GOLD-style long titles squeezed the score columns to nothing (issue 27, item 8)."""
    long_name = "LIG|dock3|" + "very_long_compound_identifier_" * 3
    library = tmp_path / "gold.sdf"
    library.write_text(moved_record(long_name, np.zeros(3)))
    result = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["rank", str(PROTEIN_1S3V), str(library), "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    score = list(csv.DictReader((tmp_path / "r.csv").open()))[0]
    assert f"{float(score['score']):.2f}" in result.output and f"{float(score['pose_score']):.2f}" in result.output
    assert "…" not in result.output


def test_a_store_of_an_older_schema_is_refused_in_one_line(tmp_path):
    """`rank --from-store` on a store written before the contact columns ended in an SQLite traceback."""
    path = tmp_path / "old.store.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL); INSERT INTO meta VALUES ('schema', '1');")
    db.close()
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(LIGAND_1S3V), "-o", str(tmp_path / "old.csv"), "--store", str(path),
                                 "--from-store"])
    assert result.exit_code == 1 and "older dockscore" in result.output and "Traceback" not in result.output


def test_groupings_for_gold_diffdock_and_untitled_vina_outputs(tmp_path):
    """GOLD's 'LIG|dock3' titles made 40 compounds of one ligand; DiffDock writes a folder per
    compound; untitled poses of one file were one compound each (issue 27, item 2)."""
    gold = tmp_path / "gold.sdf"
    gold.write_text("".join(moved_record(f"LIG|dock{k}", np.array([0.1 * k, 0, 0])) for k in range(3)))
    out = tmp_path / "gold.csv"
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(gold), "-o", str(out), "--group-pattern", "^([^|]+)"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert [(r["compound"], r["n_poses"]) for r in rows] == [("LIG", "3")]
    assert "the part matching '^([^|]+)'" in result.output
    diffdock = tmp_path / "diffdock"
    for compound in ("cpdA", "cpdB"):
        (diffdock / compound).mkdir(parents=True)
        for k, name in enumerate(("rank1.sdf", "rank2_confidence-0.48.sdf")):
            (diffdock / compound / name).write_text(moved_record("", np.array([0.2 * k + (compound == "cpdB"), 0, 0])))
    out = tmp_path / "dd.csv"
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(diffdock), "-o", str(out), "--group-by", "dir"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert sorted((Path(r["compound"]).name, r["n_poses"]) for r in rows) == [("cpdA", "2"), ("cpdB", "2")]
    untitled = tmp_path / "vina_out.sdf"
    untitled.write_text("".join(moved_record("", np.array([0.1 * k, 0, 0])) for k in range(3)))
    out = tmp_path / "u.csv"
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(untitled), "-o", str(out), "--group-by", "file"])
    assert [r["n_poses"] for r in csv.DictReader(out.open())] == ["3"]
    bad = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(untitled), "-o", str(tmp_path / "b.csv"), "--group-pattern", "(["])
    assert bad.exit_code == 1 and "not a regular expression" in bad.output and "Traceback" not in bad.output


def test_vina_pdbqt_outputs_score_and_rank(tmp_path):
    """A Vina *_out.pdbqt was refused ('unsupported ligand format'), and a folder of them held 'no
    ligand files' (issue 27, item 1). Each MODEL is a pose; one output file is one compound."""
    vina_out = Path(__file__).parent / "data" / "1s3v_vina_out.pdbqt"
    scored = tmp_path / "scored.csv"
    result = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(vina_out), "-o", str(scored)])
    assert result.exit_code == 0 and "scored 3, failed 0" in result.output, result.output
    rows = list(csv.DictReader(scored.open()))
    as_sdf = tmp_path / "poses.sdf"  # the same poses through the SDF reader give the same scores
    with Chem.SDWriter(str(as_sdf)) as writer:
        for record in iter_ligands(vina_out):
            writer.write(record.mol)
    again = runner.invoke(app, ["score", str(PROTEIN_1S3V), str(as_sdf), "-o", str(tmp_path / "again.csv")])
    assert again.exit_code == 0
    assert [r["score"] for r in rows] == [r["score"] for r in csv.DictReader((tmp_path / "again.csv").open())]
    folder = tmp_path / "vina"
    folder.mkdir()
    shutil.copy(vina_out, folder / "cpd1_out.pdbqt")
    (folder / "cpd2_out.pdbqt").write_text("".join(line for line in vina_out.read_text().splitlines(True) if not line.startswith("REMARK SMILES")))
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(folder), "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 0, result.output
    ranked = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert [(r["compound"], r["n_poses"], r["n_failed"]) for r in ranked] == [("cpd1_out", "3", "0")]
    assert "--template" in (tmp_path / "r.failures.csv").read_text()  # the file without Meeko's SMILES: say what to pass
    crystal = next(iter_ligands(LIGAND_1S3V)).mol
    result = runner.invoke(app, ["rank", str(PROTEIN_1S3V), str(folder / "cpd2_out.pdbqt"), "-o", str(tmp_path / "t.csv"),
                                 "--template", Chem.MolToSmiles(crystal)])
    assert result.exit_code == 0, result.output
    assert [(r["compound"], r["n_poses"], r["n_failed"]) for r in csv.DictReader((tmp_path / "t.csv").open())] == [("cpd2_out", "3", "0")]


def test_work_units_grow_with_the_library_and_every_worker_gets_some():
    """Issue 29: the driver pays per work unit, so a large library goes out in units of 256
    records; a small one in units small enough for four per worker, never below the scoring batch."""
    from dockscore.rank import UNIT_RECORDS, unit_records

    assert unit_records(10_000_000 * 3000, 16, 32) == UNIT_RECORDS
    assert unit_records(100 * 3000, 2, 32) == 32
    assert unit_records(4_000 * 3000, 2, 32) == 256 and unit_records(4_000 * 3000, 8, 32) == 125
