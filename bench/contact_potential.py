"""Experiment (not shipped): a typed contact potential beside the E(3) score, judged by docking power.

    python bench/contact_potential.py [--model models/dockscore-e3.safetensors]
        [--cache .cache/pdbbind_relaxed.pt] [--out bench/results/contact_potential.json]

The idea: each ligand–protein heavy-atom pair within 8 A adds ``table[t_lig, t_prot](d)``, a
piecewise-linear function of distance on fixed knots (0.25 A steps to 5 A, 0.5 A steps to 8 A)
for one of 9 x 9 atom-type pairs, in pK units: a knowledge-based potential (DrugScore-like)
whose 1,377 values are fitted discriminatively. A listwise softmax loss asks score + table to
put near-native poses (< 2 A) above the smina decoys and the prior-relaxed decoys
(bench/relax_decoys.py) of the training complexes, with an L2 penalty on standardised counts.
Low capacity next to the GNN, and invariant under rotations, translations, reflections and
atom permutations (distances and atom types only). The question: does it transfer where the
GNN's learned pair terms did not?

Protocol, all choices on training complexes (5-fold protein-wise cross-validation) and
validation, before the test and FEP-target complexes are read:
1. score every pose with the shipped ensemble (the base) and count its typed contacts;
2. choose the penalty with the most complexes whose top-scored smina decoy is under 2 A
   (native excluded), summed over the held-out training folds and validation (ties: the first
   in grid order);
3. fit on all training complexes and read docking power, scoring power (Pearson R of the crystal poses) and the
   JACS FEP series' mean Spearman with and without the table on every split.

Result (dockscore-e3 card, "Docking power: what was tried"): training and validation docking
rose, held-out docking barely moved and held-out scoring R fell, so it was not shipped.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.benchmark import to_pk  # noqa: E402
from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.features import ELEMENTS, OFF_ELEM, OFF_METAL, XS_ACCEPTOR, XS_DONOR, XS_HYDROPHOBIC  # noqa: E402
from dockscore.metrics import pearson, spearman  # noqa: E402
from dockscore.train import FEP_TARGETS, _encode_and_graphs, drop_unscorable_decoys, load_complexes  # noqa: E402

CONTACT_TYPES = ("C_hydrophobic", "C_polar", "NO_donor", "NO_acceptor", "NO_donor_acceptor", "NO_other",
                 "S_P_other", "halogen", "metal")
N_CONTACT_TYPES = len(CONTACT_TYPES)
KNOTS = torch.tensor([2.5 + 0.25 * k for k in range(11)] + [5.5 + 0.5 * k for k in range(6)])
N_KNOTS = len(KNOTS)
MIN_DISTANCE = 2.0  # A: closer pairs are the hard-clash term's business, not contact statistics
MAX_DISTANCE = 8.0  # A: Vina's cutoff, the prior's too


def contact_types(x: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    """(n,) type index (into CONTACT_TYPES) from atom features ``x`` and X-Score flags ``xs``."""
    element = lambda e: x[:, OFF_ELEM + ELEMENTS.index(e)] > 0  # noqa: E731
    t = torch.full((x.shape[0],), CONTACT_TYPES.index("S_P_other"), dtype=torch.long)
    carbon, n_or_o = element("C"), element("N") | element("O")
    hydrophobic, donor, acceptor = xs[:, XS_HYDROPHOBIC] > 0, xs[:, XS_DONOR] > 0, xs[:, XS_ACCEPTOR] > 0
    t[carbon & hydrophobic] = CONTACT_TYPES.index("C_hydrophobic")
    t[carbon & ~hydrophobic] = CONTACT_TYPES.index("C_polar")
    t[n_or_o & donor & ~acceptor] = CONTACT_TYPES.index("NO_donor")
    t[n_or_o & ~donor & acceptor] = CONTACT_TYPES.index("NO_acceptor")
    t[n_or_o & donor & acceptor] = CONTACT_TYPES.index("NO_donor_acceptor")
    t[n_or_o & ~donor & ~acceptor] = CONTACT_TYPES.index("NO_other")
    t[element("F") | element("CL") | element("BR") | element("I")] = CONTACT_TYPES.index("halogen")
    t[x[:, OFF_METAL] > 0] = CONTACT_TYPES.index("metal")
    return t


def knot_weights(d: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Linear interpolation on KNOTS: (upper knot index k, weight of knot k-1, weight of knot k).

    Distances are clamped to the knot range; pairs outside [MIN_DISTANCE, MAX_DISTANCE) get weight 0."""
    knots = KNOTS.to(d.device, d.dtype)
    dc = d.clamp(knots[0], knots[-1])
    k = torch.searchsorted(knots, dc.detach()).clamp(1, N_KNOTS - 1)
    frac = ((dc - knots[k - 1]) / (knots[k] - knots[k - 1])).clamp(0, 1)
    inside = ((d >= MIN_DISTANCE) & (d < MAX_DISTANCE)).to(d.dtype)
    return k, (1 - frac) * inside, frac * inside


def contact_counts(lig_types: torch.Tensor, prot_types: torch.Tensor, lig_pos: torch.Tensor, prot_pos: torch.Tensor) -> torch.Tensor:
    """(types * types * knots,) interpolated contact counts of one pose: the table's features,
    so that ``contact_counts(...) @ table.flatten()`` is the pose's total contact energy."""
    d = torch.cdist(lig_pos, prot_pos, compute_mode="donot_use_mm_for_euclid_dist")
    i, j = torch.nonzero(d < MAX_DISTANCE, as_tuple=True)
    k, w_lo, w_hi = knot_weights(d[i, j])
    row = lig_types[i] * N_CONTACT_TYPES + prot_types[j]
    counts = torch.zeros(N_CONTACT_TYPES * N_CONTACT_TYPES, N_KNOTS, dtype=lig_pos.dtype)
    counts.index_put_((row, k - 1), w_lo, accumulate=True)
    counts.index_put_((row, k), w_hi, accumulate=True)
    return counts.flatten()


def fit_contact_table(lists: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], l2: float, epochs: int = 300,
                      lr: float = 0.01) -> torch.Tensor:
    """Fit a (types, types, knots) table on per-complex pose lists.

    ``lists``: per complex, (contact counts (poses, features), base score (poses,), RMSD (poses,)).
    Loss: listwise softmax cross-entropy of base + counts @ table towards a uniform distribution
    over the poses under 2 A, plus ``l2`` * |table|^2 in units of each feature's spread (so one
    penalty suits common and rare type pairs). Lists without poses on both sides of 2 A are
    skipped. Deterministic (full-batch Adam from zero)."""
    lists = [(c, b, r) for c, b, r in lists if (r < 2).any() and (r >= 2).any()]
    if not lists:
        raise ValueError("no complex has poses on both sides of 2 A")
    counts = torch.cat([c for c, _, _ in lists]).double()
    base = torch.cat([b for _, b, _ in lists]).double()
    group = torch.cat([torch.full((len(r),), g) for g, (_, _, r) in enumerate(lists)])
    target = torch.cat([(r < 2).double() / (r < 2).sum() for _, _, r in lists])
    spread = counts.std(0) + 1e-3
    z = counts / spread
    w = torch.zeros(counts.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=lr)
    n = len(lists)
    for _ in range(epochs):
        s = base + z @ w
        top = torch.zeros(n, dtype=s.dtype).scatter_reduce(0, group, s, "amax", include_self=False).detach()
        log_norm = torch.log(torch.zeros(n, dtype=s.dtype).index_add(0, group, torch.exp(s - top[group]))) + top
        loss = -(target * (s - log_norm[group])).sum() / n + l2 * (w**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (w / spread).detach().float().view(N_CONTACT_TYPES, N_CONTACT_TYPES, N_KNOTS)


L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 5


@torch.no_grad()
def pose_table(model, cache: Path, split: dict, smina_cache: Path, with_counts: bool = True) -> list[dict]:
    """Per complex: base score of the crystal pose and every decoy, RMSDs and (``with_counts``) contact counts."""
    complexes = load_complexes(cache)
    drop_unscorable_decoys(complexes, model.config.graph_settings())
    smina = {d["id"]: d["decoy_rmsd"].shape[0] for d in torch.load(smina_cache, weights_only=True)}
    where = {c: k for k, ids in split.items() if isinstance(ids, list) for c in ids}
    rows = []
    for cx in complexes:
        poses = [(cx.ligand, 0.0)] + cx.decoys
        score = []
        for k in range(0, len(poses), 64):
            out = model(*_encode_and_graphs(model, [(cx, pose, False) for pose, _ in poses[k : k + 64]], model.config.graph_settings()))
            score += out["score"].tolist()
        rows.append({"id": cx.id, "uniprot": cx.uniprot, "pK": cx.pK, "split": where.get(cx.id, "none"),
                     "n_smina": 1 + smina.get(cx.id, 0),  # crystal + smina decoys come first, relaxed decoys after
                     "rmsd": torch.tensor([r for _, r in poses]), "score": torch.tensor(score)})
        if with_counts:
            lt, pt = contact_types(cx.ligand.x, cx.ligand.xs), contact_types(cx.protein.x, cx.protein.xs)
            rows[-1]["counts"] = torch.stack([contact_counts(lt, pt, pose.pos, cx.protein.pos) for pose, _ in poses])
    return rows


def docking(rows: list[dict], score_fn, splits: set[str]) -> tuple[int, int]:
    """(complexes whose top-scored smina decoy is under 2 A, complexes with smina decoys on both sides of 2 A)."""
    ok = n = 0
    for r in rows:
        if r["split"] not in splits:
            continue
        rmsd = r["rmsd"][1 : r["n_smina"]]
        if not len(rmsd) or not (rmsd < 2).any() or not (rmsd >= 2).any():
            continue
        n += 1
        ok += bool(rmsd[score_fn(r)[1 : r["n_smina"]].argmax()] < 2)
    return ok, n


def fit(rows: list[dict], l2: float) -> torch.Tensor:
    return fit_contact_table([(r["counts"], r["score"], r["rmsd"]) for r in rows], l2)


def with_table(table: torch.Tensor):
    flat = table.flatten()
    return lambda r: r["score"] + r["counts"] @ flat


def choose_l2(rows: list[dict]) -> tuple[float, dict]:
    train = [r for r in rows if r["split"] == "train"]
    proteins = sorted({r["uniprot"] for r in train})
    random.Random(0).shuffle(proteins)
    fold = {p: k % FOLDS for k, p in enumerate(proteins)}
    grid = {"none": {"train_cv": docking(rows, lambda r: r["score"], {"train"}), "val": docking(rows, lambda r: r["score"], {"val"})}}
    for l2 in L2_GRID:
        ok = n = 0
        for k in range(FOLDS):
            table = fit([r for r in train if fold[r["uniprot"]] != k], l2)
            o, m = docking([r for r in train if fold[r["uniprot"]] == k], with_table(table), {"train"})
            ok, n = ok + o, n + m
        val = docking(rows, with_table(fit(train, l2)), {"val"})
        grid[f"{l2:g}"] = {"train_cv": (ok, n), "val": val}
        print(f"l2 {l2:g}: cross-validated train {ok}/{n}, validation {val[0]}/{val[1]}", flush=True)
    best = max(L2_GRID, key=lambda l2: grid[f"{l2:g}"]["train_cv"][0] + grid[f"{l2:g}"]["val"][0])
    return best, grid


def affinity_read(rows: list[dict], table: torch.Tensor) -> dict:
    """Pearson R of the crystal poses' scores against pK, per split, without and with the table."""
    flat, out = table.flatten(), {}
    for s in ("train", "val", "test", "fep_targets"):
        rs = [r for r in rows if r["split"] == s]
        pk = [r["pK"] for r in rs]
        out[s] = {"without": pearson([float(r["score"][0]) for r in rs], pk),
                  "with": pearson([float(r["score"][0] + r["counts"][0] @ flat) for r in rs], pk)}
    return out


@torch.no_grad()
def fep_read(model, table: torch.Tensor, fep_root: Path) -> dict:
    """JACS FEP series: Spearman of score vs measured pK per target, without and with the table."""
    from dockscore.scoring import Scorer

    flat, out = table.flatten(), {}
    for target in FEP_TARGETS:
        scorer = Scorer(fep_root / f"{target}_protein.pdb", model=model, stereo=False)
        pt = contact_types(scorer.prepared.x, scorer.prepared.xs)
        base, extra, pk = [], [], []
        for result in scorer.score_file(fep_root / f"{target}_ligands.sdf"):
            if result.status != "ok" or "r_exp_dg" not in result.record.props:
                continue
            lig = scorer.prepare(result.record.mol)
            base.append(result.score)
            extra.append(float(contact_counts(contact_types(lig.x, lig.xs), pt, lig.pos, scorer.prepared.pos) @ flat))
            pk.append(to_pk(float(result.record.props["r_exp_dg"]), "kcal/mol"))
        out[target] = {"without": spearman(base, pk), "with": spearman([b + e for b, e in zip(base, extra)], pk)}
    out["mean"] = {k: float(np.mean([v[k] for v in out.values()])) for k in ("without", "with")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "dockscore-e3.safetensors")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind_relaxed.pt")
    parser.add_argument("--smina-cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt",
                        help="the cache without relaxed decoys (for the smina-decoy counts)")
    parser.add_argument("--split", type=Path, default=ROOT / "models" / "split.json")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "contact_potential.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    t0 = time.time()
    model = load_model(args.model)
    split = json.loads(args.split.read_text())
    rows = pose_table(model, args.cache, split, args.smina_cache)
    print(f"pose table: {sum(len(r['rmsd']) for r in rows)} poses of {len(rows)} complexes ({time.time() - t0:.0f} s)", flush=True)
    l2, grid = choose_l2(rows)
    train = [r for r in rows if r["split"] == "train"]
    table = fit(train, l2)
    centre = float(torch.stack([r["counts"][0] for r in train]).mean(0) @ table.flatten())  # a constant offset to undo for
    # calibrated pK; no correlation or top-1 figure depends on it
    summary = {
        "l2": l2, "l2_grid": grid, "mean_added_pK_on_training_crystals": centre,
        "docking_top1_native_excluded": {s: {"without": docking(rows, lambda r: r["score"], {s}), "with": docking(rows, with_table(table), {s})}
                                         for s in ("train", "val", "test", "fep_targets")},
        "scoring_R": affinity_read(rows, table),
        "fep_series_spearman": fep_read(model, table, args.data / "fep" / "jacs_set"),
        "poses": sum(len(r["rmsd"]) for r in rows),
        "training_lists": sum(1 for r in train if (r["rmsd"] < 2).any() and (r["rmsd"] >= 2).any()),
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "l2_grid"}, indent=1), flush=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"-> {args.out} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
