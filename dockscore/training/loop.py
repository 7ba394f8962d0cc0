"""Training on the PDBbind-derived complexes in ``shared/data/pdbbind``.

Losses (all in pK units):

* affinity: Huber loss between the crystal pose's score and the measured pK;
* pose ranking: the crystal pose must outscore docked decoys, rigidly moved copies and
  torsionally perturbed conformers with RMSD > 2 A by a margin that grows with RMSD;
* pose choice among docked poses (listwise): over each complex's docked decoys, a softmax of the
  scores must put its mass on the poses within 2 A. This is docking power with the native pose
  excluded, trained directly: a crystal pose differs from docked ones in ways no user's pose
  will, so outscoring it alone does not teach which docked pose is right;
* within-protein differences: for two complexes of the same protein (UniProt) in a batch, the
  score difference must match the pK difference. Ranking a congeneric series is this task;
  the absolute level of a protein's affinities is largely not learnable from ~550 structures;
* se3 only, handedness: the crystal complex must outscore its mirror image (protein and ligand
  reflected). Real proteins are L; without this term nothing in the data asks the parity-odd
  channels to carry signal, and an SE(3) model would collapse to an E(3) one.

Split by protein (UniProt id): complexes of the FEP-benchmark targets are never trained on,
then the remaining proteins are divided into train/val/test groups with a fixed seed.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dockscore.checkpoint import save_model
from dockscore.errors import InputError
from dockscore.graph import PreparedLigand
from dockscore.model import DockScoreModel, ModelConfig
from dockscore.optimize import perturb_pose
from dockscore.overlap import pushed_into_protein
from dockscore.training.data import Complex, load_training_complexes, split_by_protein
from dockscore.training.decoys import perturb_torsions, torsions_from_bonds
from dockscore.training.evaluate import _encode_and_graphs, calibrate, clash_test, evaluate, evaluate_fep, predict
from dockscore.training.losses import affinity_loss, listwise_pose_loss, nonbinder_loss, ranking_hinge, within_protein_loss


@dataclass
class TrainConfig:
    symmetry: str = "e3"
    epochs: int = 40
    batch_complexes: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    rank_weight: float = 1.0
    mirror_weight: float = 0.5
    # Margin (pK) by which a chiral crystal ligand must outscore its enantiomer placed in the same
    # pocket (dockscore.training.negatives; 0 = off). Unlike the mirror hinge, the protein keeps its hand.
    enantiomer_weight: float = 0.0
    huber_delta: float = 1.0
    time_budget_s: float | None = None  # cap on training time; the LR schedule is fitted to it after epoch 0
    ema_decay: float = 0.0  # exponential moving average of weights (0 = off); evaluated and saved when on
    pose_weight: float = 0.0  # listwise choice of the near-native docked pose (0 = off)
    group_weight: float = 0.0  # within-protein pK differences (0 = off; batches then pair complexes of one protein)
    torsion_decoys: bool = False  # torsionally perturbed conformers as negatives besides rigid moves
    max_decoys: int = 8  # docked decoys per complex per step in the listwise term
    # Non-binders (dockscore.training.negatives: size-matched ligands of other protein groups placed in the
    # pocket by the prior alone): each step, one per complex must score ``nonbinder_margin`` pK
    # below the pocket's own ligand and no higher than ``nonbinder_pk`` (0 = off).
    nonbinder_weight: float = 0.0
    nonbinder_margin: float = 1.0
    nonbinder_pk: float = 4.0  # 100 uM: the activity cut-off of DUD-E's and DEKOIS's actives is at or above it
    clash_negatives: bool = False  # one pose of the ligand pushed into its protein (dockscore.overlap) as a rigid-move negative
    clash_margin: float = 1.0  # pK by which the crystal pose must outscore it
    clash_selection: bool = False  # epoch selection also credits the validation clash test (~20 s an epoch)


def _mirror_credit(metrics: dict, config: TrainConfig) -> float:
    """SE(3) selection credit, 0..1: the mean validation gap between a complex and its mirror image
    relative to the margin the training hinge asks for. (The win rate alone saturates at 1 with
    gaps of 0.01 pK, which would select epochs whose parity-odd channels are all but silent.)"""
    if "mirror_mean_gap" not in metrics or config.mirror_weight <= 0:  # no mirror hinge: no mirror credit
        return 0.0
    margin = config.mirror_weight / max(config.rank_weight, 1e-9)
    return float(np.clip(metrics["mirror_mean_gap"] / max(margin, 1e-9), 0.0, 1.0))


def _batches(train_set: list[Complex], config: TrainConfig, gen: torch.Generator) -> list[list[Complex]]:
    """One epoch of batches. With the within-protein term on, complexes of one protein are
    shuffled into pairs that stay in the same batch (so the term sees pairs at every step)."""
    order = torch.randperm(len(train_set), generator=gen).tolist()
    if not config.group_weight:
        units = [[train_set[i]] for i in order]
    else:
        groups: dict[str, list[Complex]] = {}
        for i in order:
            groups.setdefault(train_set[i].uniprot, []).append(train_set[i])
        units = [members[k : k + 2] for members in groups.values() for k in range(0, len(members), 2)]
        units = [units[i] for i in torch.randperm(len(units), generator=gen).tolist()]
    batches, current = [], []
    for unit in units:
        if current and len(current) + len(unit) > config.batch_complexes:
            batches.append(current)
            current = []
        current = current + unit
    return batches + ([current] if current else [])


def _negatives(cx: Complex, config: TrainConfig, gen: torch.Generator, torsions: list) -> list[tuple[PreparedLigand, float]]:
    """Poses the crystal pose must outscore: one far docked decoy (if any), a rigid move, and a
    torsionally perturbed conformer when the ligand has rotors (else a second rigid move)."""
    negatives = []
    far = [(d, r) for d, r in cx.decoys if r > 2.0]
    if far:
        negatives.append(far[int(torch.randint(len(far), (1,), generator=gen))])
    flexible = perturb_torsions(cx.ligand, gen, torsions) if config.torsion_decoys else None
    if flexible is not None:
        negatives.append(flexible)
    while len(negatives) < (3 if config.torsion_decoys else 2):
        negatives.append(perturb_pose(cx.ligand, gen))
    return negatives


def _nonbinder_partners(train_set: list[Complex], by_id: dict[str, Complex],
                        nonbinders: dict[tuple[str, str], torch.Tensor] | None) -> dict[str, list[PreparedLigand]]:
    """Per training complex, its placed non-binders that are ligands of training complexes (none from
    validation or test: a fold's held-out ligands never enter its training)."""
    out: dict[str, list[PreparedLigand]] = {}
    train_ids = {c.id for c in train_set}
    for (pocket, ligand), pos in (nonbinders or {}).items():
        if pocket in train_ids and ligand in train_ids and by_id[ligand].ligand.pos.shape == pos.shape:
            out.setdefault(pocket, []).append(by_id[ligand].ligand.with_positions(pos))
    return out


def _listwise_decoys(cx: Complex, limit: int, gen: torch.Generator) -> list[tuple[PreparedLigand, float]]:
    """Docked decoys for the listwise pose term: up to ``limit``, at least one within 2 A and one
    beyond; none when the complex lacks either kind (nothing to choose between)."""
    near = [d for d in cx.decoys if d[1] < 2.0]
    far = [d for d in cx.decoys if d[1] >= 2.0]
    if not near or not far:
        return []
    pick = lambda pool, k: [pool[i] for i in torch.randperm(len(pool), generator=gen)[:k].tolist()]  # noqa: E731
    n_near = min(len(near), max(1, limit // 3))
    return pick(near, n_near) + pick(far, limit - n_near)


def train(complexes: list[Complex], split: dict, config: TrainConfig, model_config: ModelConfig, log=print,
          device: str = "cpu", enantiomers: dict[str, torch.Tensor] | None = None,
          nonbinders: dict[tuple[str, str], torch.Tensor] | None = None, init_state: dict | None = None) -> tuple[DockScoreModel, dict]:
    """``init_state``: a trained model's state dict to start from (a fine-tune) instead of a fresh one.
    ``enantiomers``: complex id -> heavy-atom positions of its ligand's enantiomer in the pocket
    (:func:`dockscore.training.negatives.enantiomer_negatives`), used when ``config.enantiomer_weight`` > 0.
    ``nonbinders``: (pocket id, ligand id) -> that ligand's heavy-atom positions placed in that
    pocket (:func:`dockscore.training.negatives.nonbinder_poses`), used when ``config.nonbinder_weight`` > 0."""
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    by_id = {c.id: c for c in complexes}
    train_set = [by_id[i] for i in split["train"] if i in by_id]
    val_set = [by_id[i] for i in split["val"] if i in by_id]
    mean_pk = float(np.mean([c.pK for c in train_set]))
    model_config = ModelConfig(**{**model_config.to_dict(), "symmetry": config.symmetry, "score_offset": mean_pk})
    model = DockScoreModel(model_config).to(device)
    if init_state is not None:
        model.load_state_dict(init_state)
    else:
        with torch.no_grad():  # start at the training mean pK, whatever the fixed terms (clash, Vina prior) add
            start = predict(model, train_set[:128], with_decoys=False)["native"]
            model.head.offset += mean_pk - float(np.mean(list(start.values())))
    settings = model_config.graph_settings()
    torsions = {c.id: torsions_from_bonds(c.ligand.pos.shape[0], c.ligand.bond_index, c.ligand.bond_attr) if config.torsion_decoys else []
                for c in train_set}
    partners = _nonbinder_partners(train_set, by_id, nonbinders) if config.nonbinder_weight else {}
    pushed = {c.id: [pos for _, _, pos in pushed_into_protein(c.ligand.pos.numpy(), c.protein.pos.numpy())] for c in train_set} \
        if config.clash_negatives else {}
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_complexes)  # nominal, for the LR schedule
    planned_epochs = config.epochs
    step = 0

    def set_lr() -> None:  # linear warm-up, then cosine decay over the planned epochs
        total = planned_epochs * steps_per_epoch
        warm = max(1, total // 20)
        frac = step / warm if step < warm else 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))
        for group in opt.param_groups:
            group["lr"] = config.lr * max(frac, 0.02)

    t_start = time.time()
    ema = None
    if config.ema_decay:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay))
    scored = lambda: ema.module if ema is not None else model  # noqa: E731  (the weights we evaluate and ship)
    best, best_state, history = -1e9, None, []
    epoch = 0
    while epoch < planned_epochs:
        model.train()
        t0, total = time.time(), 0.0
        batches = _batches(train_set, config, gen)
        for chunk in batches:
            items, pairs, native_idx, lists, unbound = [], [], [], [], []  # pairs: (positive idx, negative idx, margin)
            for cx in chunk:
                n_idx = len(items)
                native_idx.append(n_idx)
                items.append((cx, cx.ligand, False))
                for pose, rmsd in _negatives(cx, config, gen, torsions[cx.id]):
                    # a perturbation can carry the ligand out of the pocket: no graph, no lesson
                    if rmsd > 2.0 and float(torch.cdist(pose.pos, cx.protein.pos).min()) < settings.pocket_cutoff - 1.0:
                        pairs.append((n_idx, len(items), min(rmsd, 6.0) / 4.0))
                        items.append((cx, pose, False))
                if config.pose_weight:
                    chosen = _listwise_decoys(cx, config.max_decoys, gen)
                    if chosen:
                        lists.append((len(items), [r < 2.0 for _, r in chosen]))
                        items.extend((cx, pose, False) for pose, _ in chosen)
                if config.symmetry == "se3" and config.mirror_weight > 0:
                    pairs.append((n_idx, len(items), 1.0 * config.mirror_weight / max(config.rank_weight, 1e-9)))
                    items.append((cx, cx.ligand, True))
                if pushed.get(cx.id):
                    pose = pushed[cx.id][int(torch.randint(len(pushed[cx.id]), (1,), generator=gen))]
                    pairs.append((n_idx, len(items), config.clash_margin / max(config.rank_weight, 1e-9)))
                    items.append((cx, cx.ligand.with_positions(torch.tensor(pose, dtype=torch.float32)), False))
                if partners.get(cx.id):
                    ligand = partners[cx.id][int(torch.randint(len(partners[cx.id]), (1,), generator=gen))]
                    unbound.append((n_idx, len(items)))
                    items.append((cx, ligand, False))
                if config.enantiomer_weight > 0 and enantiomers and cx.id in enantiomers:
                    pairs.append((n_idx, len(items), config.enantiomer_weight / max(config.rank_weight, 1e-9)))
                    items.append((cx, cx.ligand.with_positions(enantiomers[cx.id]), False))
            batch, ps, pv = _encode_and_graphs(model, items, settings)
            scores = model(batch, ps, pv)["score"]
            dev = scores.device
            natives = torch.tensor(native_idx, device=dev)
            targets = torch.tensor([items[i][0].pK for i in native_idx], device=dev)
            loss = affinity_loss(scores, natives, targets, config.huber_delta)
            if pairs:
                loss = loss + config.rank_weight * ranking_hinge(scores, pairs)
            if unbound:
                loss = loss + config.nonbinder_weight * nonbinder_loss(scores, unbound, config.nonbinder_margin, config.nonbinder_pk)
            if lists:
                loss = loss + config.pose_weight * listwise_pose_loss(scores, lists)
            if config.group_weight:
                same = [(i, j) for i in range(len(chunk)) for j in range(i + 1, len(chunk)) if chunk[i].uniprot == chunk[j].uniprot]
                if same:
                    loss = loss + config.group_weight * within_protein_loss(scores, natives, targets, same, config.huber_delta)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            set_lr()
            opt.step()
            step += 1
            if ema is not None:
                ema.update_parameters(model)
            total += float(loss.detach())
        metrics = evaluate(scored(), val_set)
        # NaN (a validation set too small for a correlation) counts as 0, never as "better"
        # Selection on the validation proteins by the powers a user relies on: scoring (R), ranking
        # within a protein (mean Spearman over proteins with >= 4 complexes) and docking (top-1, native
        # excluded). SE(3): an epoch whose parity-odd channels cannot tell the real complex from its
        # mirror is not an SE(3) model (see _mirror_credit)
        if config.clash_selection:  # the share of validation complexes whose pushed poses all score below the crystal pose
            clash = clash_test(scored(), val_set)
            metrics["clash_pass"] = 1.0 - clash["pushed_above_crystal"] / max(clash["complexes"], 1)
        selection = (float(np.nan_to_num(metrics["pearson"])) + float(np.nan_to_num(metrics.get("ranking_mean_spearman", 0.0)))
                     + float(np.nan_to_num(metrics.get("docking_top1_native_excluded", 0.0))) + _mirror_credit(metrics, config)
                     + metrics.get("clash_pass", 0.0))
        history.append({"epoch": epoch, "loss": total / len(batches), **metrics, "seconds": time.time() - t0})
        log(f"epoch {epoch}: loss {total / len(batches):.3f} val R {metrics['pearson']:.3f} rho {metrics['spearman']:.3f} "
            f"within-protein rho {metrics.get('ranking_mean_spearman', float('nan')):.3f} "
            f"dock {metrics.get('docking_top1_native_excluded', float('nan')):.2f}"
            + (f" mirror {metrics['mirror_win_rate']:.2f} gap {metrics['mirror_mean_gap']:.2f}" if "mirror_win_rate" in metrics else "")
            + (f" clash pass {metrics['clash_pass']:.2f}" if "clash_pass" in metrics else "")
            + f" ({time.time() - t0:.0f} s)")
        if best_state is None or selection > best:
            best, best_state = selection, {k: v.clone() for k, v in scored().state_dict().items()}
            best_epoch = epoch
        if epoch == 0 and config.time_budget_s:  # fit the schedule to the time we have
            affordable = int(config.time_budget_s / max(time.time() - t_start, 1e-3))
            planned_epochs = max(2, min(planned_epochs, affordable))
            log(f"time budget {config.time_budget_s:.0f} s: training {planned_epochs} epochs")
        epoch += 1
    model.load_state_dict(best_state)
    model.cpu().eval()
    return model, {"history": history, "best_epoch": best_epoch, "epochs_run": epoch, "mean_train_pK": mean_pk}


def training_enantiomers(data_root: Path, ids: list[str], cache: Path | None, out_dir: Path, log=print) -> dict[str, torch.Tensor]:
    """Enantiomer negatives of the training ids, stored beside the tensor cache (or in ``out_dir``)."""
    from dockscore.training.negatives import enantiomer_negatives

    store = Path(cache).with_suffix(".enantiomers.pt") if cache is not None else Path(out_dir) / "enantiomer_negatives.pt"
    t0 = time.time()
    negatives = enantiomer_negatives(Path(data_root) / "pdbbind", list(ids), store, log)
    log(f"enantiomer negatives: {len(negatives)} of {len(ids)} training complexes have a chiral ligand ({time.time() - t0:.0f} s)")
    return negatives


def training_nonbinders(data_root: Path, complexes: list[Complex], ids: list[str], group_of: dict[str, str], cache: Path | None,
                        out_dir: Path, per_pocket: int = 2, seed: int = 0, log=print) -> dict[tuple[str, str], torch.Tensor]:
    """Size-matched non-binders of the pockets ``ids``, drawn from the ligands of ``ids`` of other
    groups and placed by the prior (:mod:`dockscore.training.negatives`), stored beside the tensor cache."""
    from dockscore.training.negatives import nonbinder_poses, nonbinder_store, size_matched_partners

    store = nonbinder_store(cache, out_dir)
    heavy = {c.id: c.heavy_atoms for c in complexes}
    partners = size_matched_partners(heavy, group_of, list(ids), list(ids), per_pocket, seed)
    t0 = time.time()
    poses = nonbinder_poses(Path(data_root) / "pdbbind", partners, store, log)
    log(f"non-binders: {len(poses)} placed in {len(partners)} pockets ({time.time() - t0:.0f} s)")
    return poses


def run_training(data_root: Path, symmetry: str, out_dir: Path, epochs: int = 40, seed: int = 0, limit: int | None = None,
                 model_config: ModelConfig | None = None, log=print, device: str = "cpu", cache: Path | None = None,
                 time_budget_s: float | None = None, name: str | None = None, train_overrides: dict | None = None,
                 split_seed: int = 0, element_contacts: float | None = None) -> dict:
    """Load (or read the tensor cache), split by protein, train, evaluate on held-out sets, write checkpoint + metrics JSON.

    ``element_contacts`` (A): fit the element-contact term (:mod:`dockscore.training.contacts`) on the
    train + val complexes after calibration (val chose the epoch; the term's penalty is chosen
    on protein-grouped inner folds)."""
    data_root = Path(data_root)
    complexes = load_training_complexes(data_root, (model_config or ModelConfig(symmetry=symmetry)).graph_settings(), cache, limit, log)
    split = split_by_protein(complexes, seed=split_seed)  # fixed across training seeds: seeds vary only the training
    log(", ".join(f"{k}: {len(v)}" for k, v in split.items()))
    if not split["train"] or not split["val"]:
        raise InputError(f"{data_root}: the protein-wise split of {len(complexes)} complexes left {len(split['train'])} for training and "
                         f"{len(split['val'])} for validation; give more (--limit)")
    cfg = TrainConfig(symmetry=symmetry, epochs=epochs, seed=seed, time_budget_s=time_budget_s, **(train_overrides or {}))
    negatives = training_enantiomers(data_root, split["train"], cache, out_dir, log) if cfg.enantiomer_weight > 0 else None
    nonbinders = None
    if cfg.nonbinder_weight > 0:
        group_of = {c.id: c.uniprot for c in complexes}
        nonbinders = training_nonbinders(data_root, complexes, split["train"], group_of, cache, out_dir, seed=split_seed, log=log)
    model, info = train(complexes, split, cfg, model_config or ModelConfig(symmetry=symmetry), log=log, device=device,
                        enantiomers=negatives, nonbinders=nonbinders)
    by_id = {c.id: c for c in complexes}
    info["calibration"] = calibrate(model, [by_id[i] for i in split["train"] if i in by_id])
    if element_contacts:
        from dockscore.training.contacts import fit_element_contacts

        fit_set = [by_id[i] for i in split["train"] + split["val"] if i in by_id]
        info["element_contacts"] = fit_element_contacts(model, fit_set, [c.uniprot for c in fit_set], element_contacts, log=log).to_dict()
    out_dir.mkdir(parents=True, exist_ok=True)  # the weights first: an evaluation that fails must not cost the training
    name = name or f"dockscore-{symmetry}"
    path = out_dir / f"{name}.safetensors"
    save_model(model, path, extra={"seed": seed, "split_seed": split_seed, "epochs": epochs, "best_epoch": info["best_epoch"]})
    metrics = {part: evaluate(model, [by_id[i] for i in split[part] if i in by_id]) for part in ("train", "val", "test", "fep_targets")}
    if (data_root / "fep" / "jacs_set").exists():
        metrics["fep_series"] = evaluate_fep(model, data_root / "fep" / "jacs_set")
    report = {"symmetry": symmetry, "train_config": cfg.__dict__, "model_config": model.config.to_dict(), "split": split,
              "metrics": metrics, **info}
    (out_dir / f"{name}.metrics.json").write_text(json.dumps(report, indent=1))
    log(json.dumps(metrics, indent=1))
    return report
