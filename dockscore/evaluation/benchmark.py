"""`dockscore benchmark`: the four CASF-style powers on any data in dockscore's own formats.

Manifest (CSV): one row per protein-ligand-file pair, columns ``protein``, ``ligands`` (paths
relative to the manifest), optional ``group`` (target or congeneric series) and ``kind``
(``crystal``, ``decoys``, ``actives``, ``inactives``). Every protein is featurised once.

Metrics (higher score = better for every tool; each with a bootstrap 95 % interval over groups,
or over poses where there are no groups):

* scoring power: Pearson R of score vs measured activity (pK);
* ranking power: Spearman rho within each group, averaged over groups with >= 3 measured ligands;
* docking power: per group with poses carrying an RMSD, is the best-scored pose within 2 A?
  With the crystal pose(s) (RMSD 0) included and excluded. Poses are chosen by a tool's
  ``pose_score`` where it gives one (dockscore's pose output), otherwise by its score;
* screening power: per group with actives and inactives, EF1 % and ROC AUC, averaged.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dockscore.errors import InputError
from dockscore.evaluation.metrics import enrichment_factor, pearson, roc_auc, spearman
from dockscore.scoring import Scorer

ACTIVITY_UNITS = ("pK", "kcal/mol", "kJ/mol", "M", "uM", "nM")
POSE_COLUMNS = ["row", "group", "kind", "name", "index", "score", "activity", "rmsd", "status", "pose_score"]


def to_pk(value: float, unit: str) -> float:
    """Measured activity in ``unit`` -> pK (-log10 of a molar Kd/Ki/IC50; binding free energy at 298 K)."""
    if unit == "pK":
        return value
    if unit == "kcal/mol":
        return -value / 1.364
    if unit == "kJ/mol":
        return -value / 5.708
    scale = {"M": 1.0, "uM": 1e-6, "nM": 1e-9}[unit]
    return -math.log10(value * scale) if value > 0 else float("nan")


@dataclass
class ManifestRow:
    row: int
    protein: Path
    ligands: Path
    group: str
    kind: str


def read_manifest(path: str | Path) -> list[ManifestRow]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: manifest not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, not a manifest CSV")
    try:
        text = path.read_bytes().decode("utf-8-sig")  # utf-8-sig: the byte-order mark Excel writes is not a column name
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV manifest (binary or non-UTF-8 content)") from None
    if "\x00" in text:
        raise InputError(f"{path}: not a text CSV manifest (binary content)")
    with io.StringIO(text, newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"protein", "ligands"} <= set(reader.fieldnames):
            raise InputError(f"{path}: manifest needs the columns protein, ligands (optional: group, kind)")
        rows = []
        for k, r in enumerate(reader):
            if not (r.get("protein") or "").strip() or not (r.get("ligands") or "").strip():
                raise InputError(f"{path} row {k}: needs a protein and a ligands file (short or empty row)")
            kind = (r.get("kind") or "").strip().lower()
            if kind and kind not in ("crystal", "decoys", "actives", "inactives"):
                raise InputError(f"{path} row {k}: kind must be crystal, decoys, actives or inactives, not {kind!r}")
            rows.append(ManifestRow(k, (path.parent / r["protein"]).resolve(), (path.parent / r["ligands"]).resolve(),
                                    (r.get("group") or "").strip() or f"row{k}", kind))
    if not rows:
        raise InputError(f"{path}: manifest has no rows")
    return rows


def _bootstrap(values_by_unit: list, stat: Callable[[list], float], n: int = 1000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    if len(values_by_unit) < 2:
        return float("nan"), float("nan")
    stats = []
    for _ in range(n):
        sample = [values_by_unit[i] for i in rng.integers(0, len(values_by_unit), len(values_by_unit))]
        v = stat(sample)
        if v == v:
            stats.append(v)
    if not stats:
        return float("nan"), float("nan")
    return float(np.percentile(stats, 2.5)), float(np.percentile(stats, 97.5))


def _pearson(pairs: list[tuple[float, float]]) -> float:
    return pearson(*zip(*pairs)) if len(pairs) >= 3 else float("nan")


def _spearman(pairs: list[tuple[float, float]]) -> float:
    return spearman(*zip(*pairs)) if len(pairs) >= 3 else float("nan")


def _mean(values: Iterable[float]) -> float:
    v = [x for x in values if x == x]
    return float(np.mean(v)) if v else float("nan")


def pose_choice_score(pose: dict) -> float:
    """The number a tool chooses poses by: its ``pose_score`` when it has a finite one, else its score."""
    value = pose.get("pose_score")
    return value if value is not None and value == value and math.isfinite(value) else pose["score"]


def _top1_success(items: list[dict]) -> float:
    """Is the best pose (by :func:`pose_choice_score`) within 2 A? Ties at the top count by expectation
    (random tie-break), so a scorer that cannot tell poses apart (e.g. heavy-atom count) gets no
    credit from file order."""
    top = max(pose_choice_score(p) for p in items)
    tied = [p for p in items if pose_choice_score(p) == top]
    return float(np.mean([p["rmsd"] < 2.0 for p in tied]))


def compute_metrics(poses: list[dict], n_boot: int = 1000) -> dict:
    """Metrics from per-pose rows (keys group, kind, name, score, activity, rmsd; score higher = better):
    scoring and within-group ranking, docking and screening power, each where the rows allow it."""
    ok = [p for p in poses if p.get("score") is not None and p["score"] == p["score"]]
    out: dict = {"n_poses": len(poses), "n_scored": len(ok)}
    out.update(scoring_and_ranking_power(ok, n_boot))
    docking = docking_power(ok, n_boot)
    if docking:
        out["docking"] = docking
    screening = screening_power(ok)
    if screening:
        out["screening"] = screening
    return out


def scoring_and_ranking_power(ok: list[dict], n_boot: int = 1000) -> dict:
    """``scoring`` (Pearson R of best score vs activity, one point per (group, ligand)) and ``ranking``
    (mean Spearman rho within groups of >= 3 ligands), with bootstrap intervals over groups."""
    out: dict = {}
    best: dict[tuple, tuple[float, float]] = {}
    for p in ok:
        if p["activity"] is None or p["activity"] != p["activity"] or p["kind"] in ("decoys",):
            continue
        key = (p["group"], p["name"], p["row"])
        if key not in best or p["score"] > best[key][0]:
            best[key] = (p["score"], p["activity"])
    pairs = list(best.values())
    if len(pairs) < 3:
        return out
    by_group = defaultdict(list)
    for (g, _, _), v in best.items():
        by_group[g].append(v)
    units = list(by_group.values()) if len(by_group) >= 5 else [[v] for v in pairs]
    flat = lambda sample: [x for unit in sample for x in unit]  # noqa: E731
    out["scoring"] = {"pearson": _pearson(pairs), "ci95": _bootstrap(units, lambda s: _pearson(flat(s)), n_boot), "n": len(pairs)}
    rhos = {g: _spearman(v) for g, v in by_group.items() if len(v) >= 3}
    rhos = {g: r for g, r in rhos.items() if r == r}
    if rhos:
        values = list(rhos.values())
        if len(values) == 1:  # one series: resample its ligands, not the single group
            only = by_group[next(iter(rhos))]
            ci = _bootstrap([[v] for v in only], lambda s: _spearman(flat(s)), n_boot)
        else:
            ci = _bootstrap(values, _mean, n_boot)
        out["ranking"] = {"mean_spearman": _mean(values), "ci95": ci, "n_groups": len(values), "per_group": rhos}
    return out


def docking_power(ok: list[dict], n_boot: int = 1000) -> dict:
    """Top-1 success (best-scored pose within 2 A) per group with poses of known RMSD, with the crystal
    pose included and excluded; empty when no group is a test (a lone crystal pose is none)."""
    dock_incl, dock_excl = [], []
    by_group = defaultdict(list)
    for p in ok:
        if p["rmsd"] is not None and p["rmsd"] == p["rmsd"] and p["kind"] in ("crystal", "decoys", ""):
            by_group[p["group"]].append(p)
    for g, items in by_group.items():
        decoys = [p for p in items if p["kind"] != "crystal"]
        if not decoys or not any(p["rmsd"] < 2.0 for p in items):
            continue
        dock_incl.append(_top1_success(items))
        if any(p["rmsd"] < 2.0 for p in decoys):
            dock_excl.append(_top1_success(decoys))
    if not dock_incl:
        return {}
    out = {"top1_native_included": _mean(dock_incl), "ci95_included": _bootstrap(dock_incl, _mean, n_boot), "n_included": len(dock_incl)}
    if dock_excl:
        out.update({"top1_native_excluded": _mean(dock_excl), "ci95_excluded": _bootstrap(dock_excl, _mean, n_boot), "n_excluded": len(dock_excl)})
    return out


def screening_power(ok: list[dict]) -> dict:
    """EF1 % and ROC AUC of actives against inactives within each group (best pose per ligand), averaged over groups
    (dockscore.evaluation.metrics: ties by expectation, so a tool that ties many ligands, like the
    heavy-atom count, gets no credit from file order)."""
    screen = defaultdict(lambda: {"actives": {}, "inactives": {}})
    for p in ok:
        if p["kind"] in ("actives", "inactives"):
            d = screen[p["group"]][p["kind"]]
            key = (p["name"], p["row"])
            d[key] = max(d.get(key, -1e9), p["score"])
    efs, aucs = [], []
    for g, d in screen.items():
        pos, neg = list(d["actives"].values()), list(d["inactives"].values())
        if pos and neg:
            efs.append(enrichment_factor(pos, neg, 0.01))
            aucs.append(roc_auc(pos, neg))
    if not efs:
        return {}
    return {"ef1": _mean(efs), "roc_auc": _mean(aucs), "n_groups": len(efs), "per_group_ef1": efs, "per_group_auc": aucs}


def paired_difference(poses_a: list[dict], poses_b: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """Scorer A minus scorer B on the *same* poses, with paired bootstrap CIs.

    Two tools' CIs overlap long before their difference is in doubt (both err on the same hard
    ligands), so a margin is judged on the paired difference: ranking power resamples ligands
    within each group (the same ligands for both tools), docking power resamples complexes.
    Poses are matched by (row, index); a pose either tool failed to score is dropped from both.
    """
    key = lambda p: (p["row"], p["index"])  # noqa: E731
    ok = lambda p: p.get("score") is not None and p["score"] == p["score"]  # noqa: E731
    b_poses = {key(p): p for p in poses_b if ok(p)}
    common = [(p, b_poses[key(p)]) for p in poses_a if ok(p) and key(p) in b_poses]
    rng = np.random.default_rng(seed)
    out: dict = {"n_poses": len(common)}

    series = defaultdict(list)  # ranking: (score A, score B, activity) per ligand, per group
    for p, q in common:
        if p["kind"] != "decoys" and p["activity"] is not None and p["activity"] == p["activity"]:
            series[p["group"]].append((p["score"], q["score"], p["activity"]))
    series = {g: np.array(v) for g, v in series.items() if len(v) >= 4}
    if series:
        def delta(rows: dict) -> float:
            return _mean(spearman(v[:, 0], v[:, 2]) for v in rows.values()) - _mean(spearman(v[:, 1], v[:, 2]) for v in rows.values())
        boots = [delta({g: v[rng.integers(0, len(v), len(v))] for g, v in series.items()}) for _ in range(n_boot)]
        boots = [b for b in boots if b == b]
        out["ranking_delta"] = {"mean_spearman_a_minus_b": delta(series), "ci95": tuple(np.percentile(boots, [2.5, 97.5]).tolist()),
                                "p_b_at_least_a": float(np.mean([b <= 0 for b in boots])), "n_groups": len(series)}

    complexes = defaultdict(list)  # docking, native excluded: success of A and of B per complex
    for p, q in common:
        if p["kind"] == "decoys" and p["rmsd"] is not None and p["rmsd"] == p["rmsd"]:
            complexes[p["group"]].append((pose_choice_score(p), pose_choice_score(q), p["rmsd"]))
    pairs = []
    for items in complexes.values():
        if any(r < 2.0 for _, _, r in items):
            a = _top1_success([{"score": s, "rmsd": r} for s, _, r in items])
            b = _top1_success([{"score": s, "rmsd": r} for _, s, r in items])
            pairs.append(a - b)
    if pairs:
        d = np.array(pairs)
        boots = [float(d[rng.integers(0, len(d), len(d))].mean()) for _ in range(n_boot)]
        out["docking_delta"] = {"top1_native_excluded_a_minus_b": float(d.mean()), "ci95": tuple(np.percentile(boots, [2.5, 97.5]).tolist()),
                                "a_only": int((d > 0).sum()), "b_only": int((d < 0).sum()), "n": len(d)}
    return out


def run_benchmark(manifest: str | Path, score_file: Callable[[Path, Path], Iterable[dict]], activity_property: str | None,
                  activity_unit: str, rmsd_property: str | None, pose_csv: Path | None = None, on_error=print) -> list[dict]:
    """Score every manifest row with ``score_file(protein, ligands)`` (yields dicts with name, index, score,
    status, message, props) and return per-pose rows; written to ``pose_csv`` as they come."""
    if activity_unit not in ACTIVITY_UNITS:
        raise InputError(f"activity unit must be one of {', '.join(ACTIVITY_UNITS)}")
    rows = read_manifest(manifest)
    handle = open(pose_csv, "w", newline="") if pose_csv else None
    writer = csv.DictWriter(handle, POSE_COLUMNS) if handle else None
    if writer:
        writer.writeheader()
    poses = []
    try:
        for row in rows:
            try:
                results = list(score_file(row.protein, row.ligands))
            except InputError as exc:
                on_error(f"error: manifest row {row.row}: {exc}")
                continue
            for r in results:
                props = r.get("props", {})
                activity = None
                if activity_property and activity_property in props:
                    try:
                        activity = to_pk(float(props[activity_property]), activity_unit)
                    except ValueError:
                        activity = None
                rmsd = 0.0 if row.kind == "crystal" else None
                if rmsd_property and rmsd_property in props:
                    try:
                        rmsd = float(props[rmsd_property])
                    except ValueError:
                        pass
                pose = {"row": row.row, "group": row.group, "kind": row.kind, "name": r["name"], "index": r["index"],
                        "score": r["score"], "pose_score": r.get("pose_score"), "activity": activity, "rmsd": rmsd, "status": r["status"]}
                if r["status"] != "ok":
                    on_error(f"error: {row.ligands} record {r['index']} ({r['name']}): {r.get('message', '')}")
                poses.append(pose)
                if writer:
                    writer.writerow({k: ("" if v is None else v) for k, v in pose.items()})
    finally:
        if handle:
            handle.close()
    return poses


def protein_scorers(symmetry: str = "e3", model=None) -> Callable[[Path], "Scorer"]:  # noqa: F821
    """``protein -> Scorer``, featurising each protein once; only the latest protein is kept
    (manifests are usually grouped by protein, and memory stays flat)."""
    from dockscore.scoring import Scorer

    cache: dict[Path, Scorer] = {}

    def scorer_for(protein: Path) -> Scorer:
        if protein not in cache:
            cache.clear()
            cache[protein] = Scorer(protein, model=model, symmetry=symmetry, stereo=False)
        return cache[protein]

    return scorer_for


def dockscore_scorer(symmetry: str = "e3", model=None) -> Callable[[Path, Path], Iterable[dict]]:
    """A ``score_file`` for :func:`run_benchmark` that featurises each protein once."""
    scorer_for = protein_scorers(symmetry, model)

    def score_file(protein: Path, ligands: Path):
        for r in scorer_for(protein).score_file(ligands):
            yield {"name": r.name, "index": r.index, "score": r.score, "pose_score": r.pose_score, "status": r.status,
                   "message": r.message, "props": r.record.props if r.record else {}}

    return score_file


def plot(poses: list[dict], metrics: dict, path: Path, title: str) -> bool:
    """Score vs measured activity, coloured by group. Returns False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    pts = [(p["score"], p["activity"], p["group"]) for p in poses if p["activity"] is not None and p["score"] is not None and p["kind"] != "decoys"]
    fig, ax = plt.subplots(figsize=(5.5, 5))
    groups = sorted({g for _, _, g in pts})
    for g in groups:
        xs = [(s, a) for s, a, gg in pts if gg == g]
        ax.scatter([a for _, a in xs], [s for s, _ in xs], s=12, label=g if len(groups) <= 12 else None)
    ax.set_xlabel("measured pK")
    ax.set_ylabel("score (higher = better)")
    r = metrics.get("scoring", {}).get("pearson", float("nan"))
    rho = metrics.get("ranking", {}).get("mean_spearman", float("nan"))
    ax.set_title(f"{title}\nR = {r:.2f}, mean within-group rho = {rho:.2f}")
    if len(groups) <= 12 and groups:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_metrics(metrics: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(metrics, indent=1))
