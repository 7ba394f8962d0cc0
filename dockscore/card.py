"""Model cards: a markdown page next to each checkpoint, written from its metrics JSON."""

from __future__ import annotations

import json
from pathlib import Path


def _f(x, digits: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _losses(tcfg: dict, sym: str) -> str:
    parts = ["Huber on pK of crystal poses",
             "hinge ranking crystal > docked decoys / rigid moves" + (" / torsionally perturbed conformers" if tcfg.get("torsion_decoys") else "")
             + " with RMSD > 2 A (margin grows with RMSD)"]
    if tcfg.get("pose_weight"):
        parts.append(f"listwise softmax over each complex's docked poses putting the mass on those within 2 A (weight {tcfg['pose_weight']}; docking power with the native excluded)")
    if tcfg.get("group_weight"):
        parts.append(f"Huber on score differences vs pK differences for pairs of complexes of the same protein in a batch (weight {tcfg['group_weight']}; ranking power)")
    if sym == "se3":
        parts.append("hinge crystal complex > its mirror image (keeps parity-odd channels alive)")
    return "; ".join(parts) + "."


POWERS = (("scoring (Pearson R)", "pdbbind-heldout", "scoring_R", "PDBbind test + FEP-target proteins, crystal poses"),
          ("ranking (mean Spearman rho)", "fep", "ranking_rho", "JACS FEP, 8 series"),
          ("ranking (Spearman rho)", "xiap", "ranking_rho", "DUD-E XIAP, 100 docked actives (Kd/Ki/IC50); protein absent from training"),
          ("docking (top-1 < 2 A, native excluded)", "pdbbind-heldout", "docking_excl", "smina decoys of the held-out complexes"),
          ("docking (top-1 < 2 A, native included)", "pdbbind-heldout", "docking_incl", "same"),
          ("screening EF1 %", "dekois", "ef1", "DEKOIS 2.0 ACHE + PPARA, 40 actives + 200 decoys each"),
          ("screening ROC AUC", "dekois", "auc", "same"))
CI_KEY = {"scoring_R": "scoring_ci", "ranking_rho": "ranking_ci", "docking_excl": "docking_ci_excl"}
# (the crystal-pose scoring set is the PDBbind test + FEP-target proteins: 115 complexes; docking: the 47 of them with decoys)


def comparison_table(comparison: dict, tools: list[str]) -> str:
    """The four powers for several tools from one ``bench/compare_vina.py`` run; 95 % bootstrap CIs in brackets."""
    head = "| power | data (held out) | " + " | ".join(tools) + " |"
    lines = [head, "|" + "---|" * (len(tools) + 2)]
    for title, set_name, key, data in POWERS:
        cells = []
        for tool in tools:
            h = comparison.get(set_name, {}).get(tool, {})
            ci = h.get(CI_KEY.get(key, ""), None)
            cells.append(_f(h.get(key), 2) + (f" ({_f(ci[0], 2)} to {_f(ci[1], 2)})" if ci else ""))
        lines.append(f"| {title} | {data} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fep_table(comparison: dict, tools: list[str]) -> str:
    """Per-series Spearman rho on the JACS FEP set for several tools from one comparison run."""
    fep = comparison.get("fep", {})
    series = list(next(iter(fep.values()))["per_group_ranking"]) if fep else []
    lines = ["| series | " + " | ".join(tools) + " |", "|" + "---|" * (len(tools) + 1)]
    for s in series:
        lines.append(f"| {s} | " + " | ".join(_f(fep.get(t, {}).get("per_group_ranking", {}).get(s), 2) for t in tools) + " |")
    lines.append("| **mean** | " + " | ".join(f"**{_f(fep.get(t, {}).get('ranking_rho'), 3)}**" for t in tools) + " |")
    return "\n".join(lines)


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
        "**Output**: predicted binding affinity in pK units (-log10 Kd/Ki in M); higher = tighter binding."
        + (f" The checkpoint is a seed ensemble: the mean of {len(report['members'])} models of one recipe (seeds {', '.join(str(x['seed']) for x in report['members'])})."
           if report.get("members") else ""),
        f"**Symmetry**: {'invariant to rotation, translation and reflection (E(3))' if sym == 'e3' else 'invariant to rotation and translation only (SE(3)); parity-odd channels (cross/triple products) see handedness'}.",
        "",
        "## Training",
        "",
        "- Data: `shared/data/pdbbind` (PDBbind-derived pockets + crystal ligands, pK labels; smina decoys with RMSD for 303). Waters dropped, heavy atoms only, charges normalised.",
        "- Split **by protein (UniProt id)**, `split_seed` 0: every complex of the 8 FEP-benchmark targets' proteins "
        "(BACE1, CDK2, JNK1, MCL1, p38a, PTP1B, thrombin, TYK2) is held out (`fep_targets`); the other proteins are shuffled "
        "into train/val/test groups. Complex ids of each part: `models/split.json`.",
        f"- Sizes: train {len(split['train'])}, val {len(split['val'])} (epoch selection), test {len(split['test'])}, fep_targets {len(split['fep_targets'])}.",
        "- Losses: " + _losses(tcfg, sym),
        f"- Hyper-parameters: {json.dumps({k: v for k, v in tcfg.items() if k not in ('symmetry',)})}",
        f"- Architecture: {json.dumps(cfg)}",
        "- Score = offset + learned pair terms (Vina-shaped distance functions, weights from the equivariant network) + a fixed hard-clash term"
        + (f" + a fixed Vina-typed physics prior (AutoDock Vina's intermolecular terms, weights and X-Score typing, in pK; weight {cfg.get('vina_prior')}): "
           "the network learns a correction to Vina (delta learning)"
           + (f"; the prior's repulsion is a soft core, flat beyond {cfg['prior_overlap_cap']} A of overlap (deeper clashes are left to the hard-clash "
              "term and the learned repulsion, so one modelled clash cannot outweigh the ligand's whole interaction)" if cfg.get("prior_overlap_cap") else "")
           + "." if cfg.get("vina_prior") else "."),
        f"- Seed(s) {', '.join(str(x['seed']) for x in report['members']) if report.get('members') else tcfg['seed']}; "
        f"best epoch {report['best_epoch']} of {report.get('epochs_run', tcfg['epochs'])}, selected on the validation proteins by "
        + ("Pearson R + mean within-protein Spearman rho + docking top-1 (native excluded)" + (" + mirror credit" if sym == "se3" else "")
           if "pose_weight" in tcfg else "Pearson R + docking top-1 (an earlier rule)") + ".",
        f"- Command: `{extra.get('command', 'bench/train_shipped.sh')}`",
        "",
        "## Held-out metrics (not trained on)",
        "",
        "Scoring power is Pearson R / Spearman rho of the crystal-pose score against measured pK; the trivial baseline is the ligand heavy-atom count. "
        "Docking power: share of complexes (with at least one decoy under 2 A) where the best-scored pose is within 2 A.",
        "",
        "Within-protein rho: Spearman rho among complexes of one protein (proteins with >= 4 complexes), averaged.",
        "",
        "| set | n | R | rho | within-protein rho | RMSE (pK) [std of pK] | heavy-atom R | heavy-atom rho | docking top-1 (native incl.) | docking top-1 (native excl.) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in ("test", "fep_targets", "val", "train"):
        s = m[name]
        lines.append(f"| {name}{' (seen in training)' if name == 'train' else ''}{' (used for epoch selection)' if name == 'val' else ''} | {s['n']} | {_f(s['pearson'])} | {_f(s['spearman'])} | {_f(s.get('ranking_mean_spearman'))} ({s.get('ranking_n_proteins', 0)}) | {_f(s['rmse'], 2)} [{_f(s.get('pK_std'), 2)}] | "
                     f"{_f(s['heavy_atom_pearson'])} | {_f(s['heavy_atom_spearman'])} | {_f(s.get('docking_top1_native_included'))} (n={s.get('docking_n', 0)}) | {_f(s.get('docking_top1_native_excluded'))} |")
    comparison, tools = extra.get("comparison"), extra.get("tools")
    if comparison and tools:
        lines += ["", "## The four powers next to the baselines and Vina", "",
                  "Same poses, same run (`bench/compare_vina.py`, `bench/results/comparison.json`); 95 % bootstrap intervals in brackets. "
                  "The ligand-only ridge reads no protein: what it reaches is what a scorer can get from ligand chemistry alone.", "",
                  comparison_table(comparison, tools), "",
                  "## FEP series ranking (JACS set; proteins held out of training)", "",
                  "Spearman rho of score vs measured pK (= -dG/1.364) within each congeneric series, same run.", "",
                  fep_table(comparison, tools)]
    for title, body in extra.get("sections", {}).items():
        lines += ["", f"## {title}", "", body]
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    return text
