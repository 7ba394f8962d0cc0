"""Finish a trained checkpoint for shipping: FEP-series evaluation (CPU), split file, model card.

    python bench/model_card.py CHECKPOINT METRICS_JSON --name dockscore-e3 [--seeds m1.json m2.json ...]
    python bench/model_card.py dockscore/models/dockscore-e3.safetensors dockscore/models/dockscore-e3.metrics.json --name dockscore-e3
        (re-render the shipped card after editing its sources or a comparison)

Copies the checkpoint to dockscore/models/NAME.safetensors, adds the FEP-series figures to the metrics,
writes dockscore/models/NAME.metrics.json, dockscore/models/split.json and dockscore/models/NAME.md. The card is a fixed
template (PyTorch Hub / Hugging Face shape: intended use, data and split, recipe, one metrics
table against the baselines and Vina, where it loses, how to reproduce). Generated parts come
from the metrics JSON (split, recipe, per-split figures, seeds) and from the compare_vina.py runs
in bench/results/ (the metrics table; comparison.json and the held-out docking reads listed in
DOCKING_READS). Hand-written parts are tracked in dockscore/models/cards/NAME/: summary.md,
intended-use.md, recipe.md, where-it-loses.md, reproduce.md (each optional) and command.txt
(the training command line). tests/test_model_cards.py checks each shipped card equals its render.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model  # noqa: E402
from dockscore.training.evaluate import evaluate_fep  # noqa: E402


def seed_line(members: list[tuple[int, dict]], ensemble: dict | None = None) -> str:
    """Test R, test docking and FEP-series mean rho per training seed, and the ensemble's (each
    member's full figures: ``members`` in the metrics JSON)."""
    figures = (("test R", "test", "pearson"), ("test docking top-1", "test", "docking_top1_native_excluded"), ("FEP-series mean rho", "fep_series", None))
    pick = lambda m, part, key: m.get(part, {}).get("mean", {}).get("spearman") if key is None else m.get(part, {}).get(key)  # noqa: E731
    seeds = ", ".join(str(s) for s, _ in members)
    parts = [f"{title} " + " / ".join(_f(pick(m, part, key), 3) for _, m in members) + (f" (ensemble {_f(pick(ensemble, part, key), 3)})" if ensemble else "")
             for title, part, key in figures]
    return f"Seeds {seeds}: " + "; ".join(parts) + "."


VINA, LOCAL_OPT, HEAVY, RIDGE = "vina-1.2.7 score-only", "vina-1.2.7 local-opt", "heavy-atom count", "ligand-only ridge"
# Rows of the metrics table from comparison.json (one bench/compare_vina.py run):
# (what, data, set, value key, CI key, paired-difference key in "paired_differences" or None)
POWERS = (("scoring R", "PDBbind crystal poses (115)", "pdbbind-heldout", "scoring_R", "scoring_ci", None),
          ("ranking: mean rho in series", "JACS FEP, 8 series (243 ligands)", "fep", "ranking_rho", "ranking_ci", "fep_ranking"),
          ("ranking: rho", "DUD-E XIAP, 100 docked actives", "xiap", "ranking_rho", "ranking_ci", None),
          ("docking top-1", "smina decoys (47)", "pdbbind-heldout", "docking_excl", "docking_ci_excl", "docking"))
SCREENING = (("screening EF1 % / ROC AUC", "DEKOIS 2.0 ACHE + PPARA", "dekois"),
             ("screening ROC AUC", "DUD-E fabp4 + inha, Vina-docked", "dude-docked"))
# The held-out docking reads after comparison.json (docs/docking-power.md), one compare_vina.py run each:
# (data, candidate files (the first holding this model is used), set, paired-difference key,
#  {file: {model: (score tool, pose-score tool)}} where a tool name differs from the model's)
DOCKING_READS = (
    ("smina + Vina-redocked union", ("comparison_pose_model.json", "comparison_pose_weight.json"), "docking-all-heldout", "docking_all_heldout",
     {"comparison_pose_model.json": {"dockscore-e3": ("dockscore-e3", "dockscore-e3-pose-w2")},
      "comparison_pose_weight.json": {"dockscore-e3": ("dockscore-e3", "dockscore-e3-pose")}}),
    ("docked by Vinardo", ("comparison_vinardo.json",), "pdbbind-vinardo", "docking_vinardo",
     {"comparison_vinardo.json": {"dockscore-e3": ("dockscore-e3", "dockscore-e3-pose")}}),
    ("docked by AutoDock4, first read", ("comparison_ad4.json",), "pdbbind-ad4", "docking_ad4",
     {"comparison_ad4.json": {"dockscore-e3": ("dockscore-e3", "dockscore-e3-pose")}}),
    ("docked by AutoDock4, fresh read", ("comparison_ad4_fresh.json",), "pdbbind-ad4", "docking_ad4",
     {"comparison_ad4_fresh.json": {"dockscore-e3": ("dockscore-e3-score", "dockscore-e3")}}),
)
# The compare_vina.py run of each model's metrics table, where it is not comparison.json: each model
# was replaced after that run (dockscore-se3 2026-12-03, dockscore-e3 2026-12-06: the learned
# correction's fade), and the docking reads above are of the checkpoints before.
COMPARISON_OF = {"dockscore-se3": "comparison_se3.json", "dockscore-e3": "comparison_e3.json"}
# The 47-complex docking row, per comparison run and model: (the tool that chooses poses by the
# affinity score in that run, the run holding the pose score's choice, its tool). comparison.json
# predates the pose score being shipped; comparison_e3.json's model chooses poses by it, and its
# affinity score's choice is the same weights at w = 1.
POSE_47 = {"comparison.json": {"dockscore-e3": ("dockscore-e3", "comparison_pose_model.json", "dockscore-e3-pose-w2")},
           "comparison_e3.json": {"dockscore-e3": ("dockscore-e3-score", "comparison_e3.json", "dockscore-e3")}}


def _f(x, digits: int = 2) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _ci(h: dict, key: str | None) -> str:
    ci = h.get(key) if key else None
    return f" [{_f(ci[0])}, {_f(ci[1])}]" if ci else ""


def _paired(comparison: dict, tool: str, key: str | None) -> str:
    d = (comparison.get("paired_differences", {}).get(f"{tool} - {VINA}") or {}).get(key) if key else None
    if not d:
        return "—"
    value = d.get("top1_native_excluded_a_minus_b", d.get("mean_spearman_a_minus_b"))
    alone = f"; {d['a_only']} / {d['b_only']}" if "a_only" in d else ""
    return f"{value:+.{3 if 0 < abs(value) < 0.01 else 2}f} [{d['ci95'][0]:+.2f}, {d['ci95'][1]:+.2f}{alone}]"


def _n_complexes(comparison: dict, tool: str, key: str) -> str:
    d = (comparison.get("paired_differences", {}).get(f"{tool} - {VINA}") or {}).get(key) or {}
    return f" ({d['n']})" if d.get("n") else ""


def metrics_table(name: str, comparison_path: Path) -> str:
    """This model, its pose score where it has one, the baselines and Vina on every held-out set
    (``comparison_path`` and the docking reads beside it); the last column is this model's score
    minus Vina score-only on the same poses (paired bootstrap 95 % interval; complexes where only
    this / only Vina is right)."""
    comparison = json.loads(Path(comparison_path).read_text())
    results = Path(comparison_path).parent
    score_47, pose_file, pose_tool = POSE_47.get(Path(comparison_path).name, {}).get(name, (name, None, None))
    pose_run = json.loads((results / pose_file).read_text()) if pose_file and (results / pose_file).exists() else None
    has_pose = pose_run is not None
    cols = ["this model"] + (["pose score"] if has_pose else []) + ["heavy atoms", "ligand-only ridge", "Vina score-only", "Vina local-opt"]
    lines = ["| metric | held-out data | " + " | ".join(cols) + " | score − Vina |", "|" + "---|" * (len(cols) + 3)]

    def row(what, data, run, set_name, key, ci_key, score_tool, pose_cell, paired):
        s = run.get(set_name, {})
        me, vina = s.get(score_tool, {}), s.get(VINA, {})
        cells = [f"**{_f(me.get(key))}**{_ci(me, ci_key)}"] + ([pose_cell] if has_pose else [])
        cells += [_f(s.get(HEAVY, {}).get(key)), _f(s.get(RIDGE, {}).get(key)), _f(vina.get(key)) + _ci(vina, ci_key),
                  _f(s[LOCAL_OPT].get(key)) if LOCAL_OPT in s else "not run"]
        lines.append(f"| {what} | {data} | " + " | ".join(cells) + f" | {paired} |")

    for what, data, set_name, key, ci_key, paired_key in POWERS:
        pose, tool = "—", name
        if key == "docking_excl" and has_pose:
            pose, tool = _f(pose_run["pdbbind-heldout"][pose_tool][key]), score_47
        row(what, data, comparison, set_name, key, ci_key, tool, pose, _paired(comparison, tool, paired_key))
    for data, files, set_name, paired_key, tools in DOCKING_READS:
        for file in files:
            run = json.loads((results / file).read_text()) if (results / file).exists() else {}
            if name not in tools.get(file, {}):  # a read of another model (or of an earlier checkpoint of this name)
                continue
            score_tool, pose_tool = tools[file][name]
            if score_tool in run.get(set_name, {}):
                pose = _f(run[set_name][pose_tool]["docking_excl"]) if pose_tool else "—"
                row("docking top-1", f"{data}{_n_complexes(run, score_tool, paired_key)}", run, set_name, "docking_excl",
                    "docking_ci_excl", score_tool, pose, _paired(run, score_tool, paired_key))
                break
    for what, data, set_name in SCREENING:
        if name not in comparison.get(set_name, {}):  # a set this model's run did not score
            continue
        s = comparison[set_name]
        cell = (lambda h: f"{_f(h.get('ef1'), 1)} / {_f(h.get('auc'))}") if set_name == "dekois" else (lambda h: _f(h.get("auc")))
        cells = [f"**{cell(s.get(name, {}))}**"] + (["—"] if has_pose else []) + [cell(s.get(t, {})) for t in (HEAVY, RIDGE, VINA, LOCAL_OPT)]
        lines.append(f"| {what} | {data} | " + " | ".join(cells) + " | — |")
    return "\n".join(lines)


def split_table(m: dict, val_fitted: bool = False) -> str:
    """The model's own figures on each part of its split (crystal poses; docking on the shared smina decoys);
    ``val_fitted``: the element-contact term was fitted on val too."""
    lines = ["| part | n | R | heavy-atom R | within-protein rho | RMSE [sd of pK] | docking top-1 |", "|---|---|---|---|---|---|---|"]
    val_note = " (selection; the contact term fitted on it)" if val_fitted else " (selection)"
    for part, note in (("test", ""), ("fep_targets", ""), ("val", val_note), ("train", " (trained on)")):
        s = m[part]
        lines.append(f"| {part}{note} | {s['n']} | {_f(s['pearson'], 3)} | {_f(s['heavy_atom_pearson'], 3)} | {_f(s.get('ranking_mean_spearman'), 3)} | "
                     f"{_f(s['rmse'])} [{_f(s.get('pK_std'))}] | {_f(s.get('docking_top1_native_excluded'), 3)} of {s.get('docking_n', 0)} |")
    return "\n".join(lines)


def physical_validity_lines(report: dict, name: str) -> list[str]:
    """The clash test of the metrics JSON (test split; before and after the overlap wall or the
    fine-tune) and, when bench/screening.py has run, its screening table for this model."""
    lines = []
    clash = report.get("clash_test") or {}
    if clash:
        parts = []
        for label, c in clash.items():
            if isinstance(c, dict) and "pushed_above_crystal" in c:
                parts.append(f"{label}: {c['pushed_above_crystal']} of {c['complexes']} (median margin {_f(c.get('median_margin_pK'))} pK)")
        lines += ["", "**Clash test** (each crystal ligand pushed rigidly 1–2 Å into its protein, 26 directions; complexes with a pushed "
                  "pose scored above the crystal pose): " + "; ".join(parts) + "."]
    screening = ROOT / "bench" / "results" / "screening.json"
    if screening.exists():
        table = screening_table(json.loads(screening.read_text()), name)
        if table:
            lines += ["", "Screening (`bench/screening.py`, `bench/results/screening.json`; every tool on the same docked poses):", "", table]
    return lines


def screening_table(results: dict, name: str) -> str:
    """Per screening target of bench/screening.py's JSON: EF1 %, BEDROC and ROC AUC of this model
    beside Vina and ligand size, and the clash test."""
    targets = {k: v for k, v in results.items() if isinstance(v, dict) and "sample" in v and "tools" in v}
    tools = [t for t in (name, VINA, LOCAL_OPT, HEAVY) if any(t in v["tools"] for v in targets.values())]
    if name not in tools:
        return ""
    lines = ["| target (actives + decoys) | " + " | ".join(f"{t}: EF1 / BEDROC / AUC" for t in tools) + " |", "|---|" + "---|" * len(tools)]
    for target, v in targets.items():
        first = next(iter(v["tools"].values()))
        cells = []
        for t in tools:
            f = v["tools"].get(t)
            cells.append(f"{_f(f['ef1'], 1)} / {_f(f['bedroc'])} / {_f(f['roc_auc'])}" if f else "")
        lines.append(f"| {target} ({first['n_actives']} + {first['n_decoys']}) | " + " | ".join(cells) + " |")
    clash = results.get("clash", {}).get("tools", {})
    if name in clash:
        cells = [f"{clash[t]['complexes_with_a_pushed_pose_above_crystal']} of {clash[t]['of_complexes']}" if t in clash else "" for t in tools]
        lines.append("| clash test, test split (complexes with a pushed pose above crystal) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _losses(tcfg: dict, sym: str) -> str:
    parts = ["Huber on crystal-pose pK", "hinge: crystal above " + ("rigid, torsional" if tcfg.get("torsion_decoys") else "rigid") + " and docked decoys > 2 Å"]
    if tcfg.get("pose_weight"):
        parts.append(f"listwise pick of the near-native docked pose (weight {tcfg['pose_weight']:g})")
    if tcfg.get("group_weight"):
        parts.append(f"pK differences within a protein (weight {tcfg['group_weight']:g})")
    if sym == "se3":
        parts.append("hinge: crystal above its mirror image")
    return "; ".join(parts)


def _source(folder: Path, name: str) -> str | None:
    path = folder / name
    return path.read_text().strip("\n") if path.exists() else None


def render_card(name: str, metrics: Path, out: Path, comparison_path: Path | None = None,
                seeds: list[Path] = (), sections_dir: Path | None = None, command: str | None = None) -> str:
    """Write the card of ``name`` to ``out`` from its metrics JSON, the compare_vina runs beside
    ``comparison_path`` (default: the model's run in bench/results, COMPARISON_OF) and its tracked
    sources in ``sections_dir`` (default dockscore/models/cards/NAME)."""
    if comparison_path is None:
        comparison_path = ROOT / "bench" / "results" / COMPARISON_OF.get(name, "comparison.json")
    report = json.loads(Path(metrics).read_text())
    sources = sections_dir or ROOT / "dockscore" / "models" / "cards" / name
    if command is None:
        command = _source(sources, "command.txt") or "bench/train_shipped.sh"
    m, sym = report["metrics"], report["symmetry"]
    cfg, tcfg, split = report["model_config"], report["train_config"], report["split"]
    members = report.get("members") or []
    if not members and seeds:
        members = [{"seed": r["train_config"]["seed"], "metrics": r["metrics"]} for r in (json.loads(Path(p).read_text()) for p in [metrics, *seeds])]
    seed_list = ", ".join(str(x["seed"]) for x in members) if members else str(tcfg["seed"])
    prior = (f" + AutoDock Vina's own intermolecular terms, fixed (weight {cfg['vina_prior']:g}"
             + (f"; repulsion a soft core, flat beyond {cfg['prior_overlap_cap']:g} Å of overlap" if cfg.get("prior_overlap_cap") else "")
             + "): the network learns a correction to Vina") if cfg.get("vina_prior") else ""
    selection = ("R + within-protein rho + docking top-1" + (" + mirror credit" if sym == "se3" else "")) if "pose_weight" in tcfg else "R + docking top-1 (an earlier rule)"
    lines = [f"# Model card: `{name}`", ""]
    lines += [_source(sources, "summary.md") or "", ""]
    lines += ["**Output** predicted binding affinity, pK = −log10(Kd/M), higher = tighter binding. **Symmetry** "
              + ("E(3): blind to rotation, translation and reflection." if sym == "e3" else "SE(3): blind to rotation and translation, not to reflection.")
              + f" **Files** `dockscore/models/{name}.safetensors`, `.metrics.json`.", ""]
    if _source(sources, "intended-use.md"):
        lines += ["## Intended use", "", _source(sources, "intended-use.md"), ""]
    lines += ["## Data and split", "",
              "PDBbind-derived complexes (pocket, crystal ligand, pK; smina decoys for 303), heavy atoms only, split **by protein "
              "(UniProt)**: the 8 JACS FEP targets' proteins held out whole, the rest in protein groups "
              f"(train {len(split['train'])}, val {len(split['val'])}, test {len(split['test'])}, fep_targets {len(split['fep_targets'])}; "
              "`dockscore/models/split.json`). Every benchmark below is on proteins never trained on.", "",
              "## Recipe", "",
              f"- Score = offset + learned Vina-shaped pair terms + a fixed hard-clash term{prior}.",
              f"- Losses: {_losses(tcfg, sym)}.",
              f"- Network: {cfg['layers']} ligand + {cfg['protein_layers']} protein layers, {cfg['hidden']} scalar / {cfg['vectors']} vector channels, "
              f"pocket {cfg['pocket_cutoff']:g} Å. Training: lr {tcfg['lr']:g}"
              + (f", EMA {tcfg['ema_decay']:g}" if tcfg.get("ema_decay") else "") + f", seed(s) {seed_list}, best epoch {report['best_epoch']} of "
              f"{report.get('epochs_run', tcfg['epochs'])} by validation {selection}.",
              f"- Command: `{command}`"]
    if cfg.get("overlap_wall"):
        lines += [f"- Fixed overlap wall (`dockscore.overlap`, set after training: `bench/set_fixed_terms.py`): {cfg['overlap_wall']:g} pK "
                  "per Å of a pose's summed heavy-atom overlap with the protein beyond 1.5 Å (each pair counted past 1.2 Å inside "
                  "van der Waals contact), added after the pK calibration."]
    if _source(sources, "recipe.md"):
        lines += [_source(sources, "recipe.md")]
    lines += ["", "## Metrics", "",
              "Same poses for every tool (`bench/compare_vina.py`, `bench/results/comparison*.json`, [docking-power.md](../../docs/docking-power.md)); "
              "[95 % interval]; docking: top pose within 2 Å, crystal excluded; the ridge reads no protein; last column paired, "
              "then complexes only this model / only Vina gets right.", "",
              metrics_table(name, comparison_path), "",
              "Its own split (crystal poses; docking on the shared smina decoys; per FEP series: [benchmarks.md](../../docs/benchmarks.md)):",
              "", split_table(m, "element_contacts" in report)]
    lines += physical_validity_lines(report, name)
    if report.get("members"):
        lines += ["", seed_line([(x["seed"], x["metrics"]) for x in members], m)]
    elif seeds:
        lines += ["", seed_line([(x["seed"], x["metrics"]) for x in members])]
    for title, file in (("Where it loses", "where-it-loses.md"), ("How to reproduce", "reproduce.md")):
        if _source(sources, file):
            lines += ["", f"## {title}", "", _source(sources, file)]
    text = "\n".join(lines) + "\n"
    Path(out).write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("metrics", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--command", default=None, help="training command line (default: dockscore/models/cards/NAME/command.txt)")
    parser.add_argument("--sections-dir", type=Path, default=None, help="hand-written sources (default: dockscore/models/cards/NAME)")
    parser.add_argument("--comparison", type=Path, default=None, help="the compare_vina.py run (default: the model's, COMPARISON_OF)")
    parser.add_argument("--seeds", type=Path, nargs="*", default=[], help="metrics JSONs of the same recipe, other seeds")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models = ROOT / "dockscore" / "models"
    target = models / f"{args.name}.safetensors"
    if args.checkpoint.resolve() != target.resolve():
        shutil.copyfile(args.checkpoint, target)
    report = json.loads(args.metrics.read_text())
    model = load_model(target)
    if "fep_series" not in report["metrics"]:
        report["metrics"]["fep_series"] = evaluate_fep(model, args.data / "fep" / "jacs_set")
    (models / f"{args.name}.metrics.json").write_text(json.dumps(report, indent=1))
    (models / "split.json").write_text(json.dumps(report["split"], indent=1))
    render_card(args.name, models / f"{args.name}.metrics.json", models / f"{args.name}.md", args.comparison,
                seeds=args.seeds, sections_dir=args.sections_dir, command=args.command)
    print((models / f"{args.name}.md").read_text())


if __name__ == "__main__":
    main()
