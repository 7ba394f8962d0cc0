"""Add the element-contact affinity term to a trained checkpoint (the last step of the shipped recipe).

    python bench/add_element_contacts.py IN.safetensors OUT.safetensors [--cutoff 12]

Fits the term (dockscore.training.contacts: ridge on the model's residuals, penalty chosen on UniProt-grouped
inner folds) on the train + val complexes of IN's split (its metrics JSON beside it), then reads
the held-out parts (test, fep_targets, the JACS FEP series) with and without it. Writes OUT and
OUT's metrics JSON: IN's report with the new metrics, the old ones under
``metrics_before_element_contacts`` and the fit under ``element_contacts``. IN is never written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dockscore.checkpoint import load_model, metrics_path, save_model  # noqa: E402
from dockscore.training.contacts import DEFAULT_CUTOFF, fit_element_contacts  # noqa: E402
from dockscore.training.evaluate import evaluate, evaluate_fep  # noqa: E402
from dockscore.training.data import load_complexes  # noqa: E402
from dockscore.training.recipes import recipe  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--cutoff", type=float, default=recipe("se3").inference.element_contacts or DEFAULT_CUTOFF,
                        help="reach in A (default: dockscore-se3's recipe)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "pdbbind.pt")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if args.out.resolve() in (args.model.resolve(), metrics_path(args.model).resolve()):
        raise SystemExit(f"error: {args.out}: is the input; write elsewhere and move it")
    torch.set_num_threads(1)
    report = json.loads(metrics_path(args.model).read_text())
    split = report["split"]
    model = load_model(args.model)
    if model.config.element_contact_cutoff is not None:
        raise SystemExit(f"error: {args.model}: already has an element-contact term")
    by_id = {c.id: c for c in load_complexes(args.cache)}
    fit_set = [by_id[i] for i in split["train"] + split["val"] if i in by_id]

    def read(m) -> dict:
        out = {part: evaluate(m, [by_id[i] for i in split[part] if i in by_id]) for part in ("train", "val", "test", "fep_targets")}
        out["fep_series"] = evaluate_fep(m, args.data / "fep" / "jacs_set")
        return out

    before = report.get("metrics") or read(model)
    fit = fit_element_contacts(model, fit_set, [c.uniprot for c in fit_set], args.cutoff)
    after = read(model)
    extra = {"element_contacts": {k: v for k, v in fit.to_dict().items() if k != "weight"}, "base_checkpoint": str(args.model)}
    save_model(model, args.out, extra=extra)
    report.update({"model_config": model.config.to_dict(), "metrics_before_element_contacts": before, "metrics": after,
                   "element_contacts": fit.to_dict()})
    metrics_path(args.out).write_text(json.dumps(report, indent=1))
    for part in ("test", "fep_targets", "val"):
        print(f"{part}: R {before[part]['pearson']:.3f} -> {after[part]['pearson']:.3f}, within-protein rho "
              f"{before[part].get('ranking_mean_spearman', float('nan')):.3f} -> {after[part].get('ranking_mean_spearman', float('nan')):.3f}")
    print(f"JACS mean rho {before['fep_series']['mean']['spearman']:.3f} -> {after['fep_series']['mean']['spearman']:.3f}")


if __name__ == "__main__":
    main()
