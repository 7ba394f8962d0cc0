"""Model cards: a markdown page next to each checkpoint, written from its metrics JSON."""

from __future__ import annotations

import json
from pathlib import Path


def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def write_model_card(metrics_path: Path, out: Path, extra: dict | None = None) -> str:
    """Render ``metrics_path`` (from :func:`dockscore.train.run_training`) plus ``extra`` sections as markdown."""
    report = json.loads(Path(metrics_path).read_text())
    extra = extra or {}
    m = report["metrics"]
    sym = report["symmetry"]
    cfg, tcfg = report["model_config"], report["train_config"]
    split = report["split"]
    lines = [
        f"# Model card: `{Path(out).stem.replace('.card', '')}` ({sym.upper()} mode)",
        "",
        "**Output**: predicted binding affinity in pK units (-log10 Kd/Ki in M); higher = tighter binding.",
        f"**Symmetry**: {'invariant to rotation, translation and reflection (E(3))' if sym == 'e3' else 'invariant to rotation and translation only (SE(3)); parity-odd channels (cross/triple products) see handedness'}.",
        "",
        "## Training",
        "",
        "- Data: `shared/data/pdbbind` (PDBbind-derived pockets + crystal ligands, pK labels; smina decoys with RMSD for 303). Waters dropped, heavy atoms only, charges normalised.",
        "- Split **by protein (UniProt id)**, `split_seed` 0: every complex of the 8 FEP-benchmark targets' proteins "
        "(BACE1, CDK2, JNK1, MCL1, p38a, PTP1B, thrombin, TYK2) is held out (`fep_targets`); the other proteins are shuffled "
        "into train/val/test groups. Complex ids of each part: `models/split.json`.",
        f"- Sizes: train {len(split['train'])}, val {len(split['val'])} (epoch selection), test {len(split['test'])}, fep_targets {len(split['fep_targets'])}.",
        "- Losses: Huber on pK of crystal poses; hinge ranking crystal > docked decoys / rigid perturbations with RMSD > 2 A (margin grows with RMSD)"
        + ("; hinge crystal complex > its mirror image (keeps parity-odd channels alive)." if sym == "se3" else "."),
        f"- Hyper-parameters: {json.dumps({k: v for k, v in tcfg.items() if k not in ('symmetry',)})}",
        f"- Architecture: {json.dumps(cfg)}",
        f"- Seed {tcfg['seed']}; best epoch {report['best_epoch']} of {report.get('epochs_run', tcfg['epochs'])} (by val Pearson R + val docking top-1).",
        f"- Command: `{extra.get('command', 'bench/train_gpu.sh OUTDIR 340')}`",
        "",
        "## Held-out metrics (not trained on)",
        "",
        "Scoring power is Pearson R / Spearman rho of the crystal-pose score against measured pK; the trivial baseline is the ligand heavy-atom count. "
        "Docking power: share of complexes (with at least one decoy under 2 A) where the best-scored pose is within 2 A.",
        "",
        "| set | n | R | rho | RMSE (pK) [std of pK] | heavy-atom R | heavy-atom rho | docking top-1 (native incl.) | docking top-1 (native excl.) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("test", "fep_targets", "val", "train"):
        s = m[name]
        lines.append(f"| {name}{' (seen in training)' if name == 'train' else ''}{' (used for epoch selection)' if name == 'val' else ''} | {s['n']} | {_f(s['pearson'])} | {_f(s['spearman'])} | {_f(s['rmse'], 2)} [{_f(s.get('pK_std'), 2)}] | "
                     f"{_f(s['heavy_atom_pearson'])} | {_f(s['heavy_atom_spearman'])} | {_f(s.get('docking_top1_native_included'))} (n={s.get('docking_n', 0)}) | {_f(s.get('docking_top1_native_excluded'))} |")
    fep = m.get("fep_series")
    if fep:
        lines += [
            "",
            "## FEP series ranking (JACS set, 8 targets; proteins held out of training)",
            "",
            "Spearman rho of score vs measured pK (= -dG/1.364) within each congeneric series.",
            "",
            "| target | n | dockscore | heavy-atom count | Vina (score-only) |",
            "|---|---|---|---|---|",
        ]
        vina = extra.get("vina_fep", {})
        for t, v in fep.items():
            if t == "mean":
                continue
            lines.append(f"| {t} | {v['n']} | {_f(v['spearman'])} | {_f(v['heavy_atom_spearman'])} | {_f(vina.get(t, {}).get('vina_score_only_rho'))} |")
        vm = vina.get("mean", {}).get("vina_score_only_rho")
        lines.append(f"| **mean** | | **{_f(fep['mean']['spearman'])}** | {_f(fep['mean']['heavy_atom_spearman'])} | {_f(vm)} |")
    for title, body in extra.get("sections", {}).items():
        lines += ["", f"## {title}", "", body]
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    return text
