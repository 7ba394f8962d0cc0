"""Left/right comparisons in a pocket: build the enantiomer (or other stereoisomers), place each
form by optimising its pose under the model from several starts, compare best scores.

Fairness: the input form is optimised by the same procedure, with the same number of starts
and steps. The flag threshold is calibrated per ligand from the optimiser's own noise: the
spread of optimised scores across starts (pooled over both forms), times ``k_sigma``, with a
floor; a difference inside that band is not a preference.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions

from dockscore.choices import check_protocol
from dockscore.errors import InputError
from dockscore.graph import PreparedLigand
from dockscore.io.ligands import LigandRecord
from dockscore.model import prior_hard_wall
from dockscore.optimize import OptimizedPose, optimize_poses, perturb_pose, set_heavy_positions
from dockscore.sanity import pose_problem
from dockscore.stereo import geometry_stereo, mirror_mol, perceive, principal_planes


@dataclass
class FormResult:
    form: str  # "input", "enantiomer" or "isomer N"
    mol: Chem.Mol  # optimised pose (hydrogens re-placed if the input had them)
    cip: str
    score: float  # best optimised score over starts, pK
    start_score: float  # score of the start that won, before optimisation
    rmsd_to_start: float
    start_scores: list[float] = field(default_factory=list)  # best score reached from each start


@dataclass
class StereoComparison:
    source: str
    index: int
    name: str
    kind: str  # chiral / meso / achiral / error
    forms: list[FormResult] = field(default_factory=list)
    threshold: float = float("nan")
    noise: float = float("nan")
    seconds: float = 0.0
    message: str = ""

    @property
    def input(self) -> FormResult | None:
        return self.forms[0] if self.forms else None

    @property
    def enantiomer(self) -> FormResult | None:
        return next((f for f in self.forms if f.form == "enantiomer"), None)

    @property
    def delta(self) -> float:
        """enantiomer score - input score (pK); > 0 means the pocket prefers the enantiomer."""
        e, i = self.enantiomer, self.input
        return e.score - i.score if e and i else float("nan")

    @property
    def preferred(self) -> str:
        if not self.forms or len(self.forms) < 2:
            return ""
        return max(self.forms, key=lambda f: f.score).form

    @property
    def flagged(self) -> bool:
        if len(self.forms) < 2:
            return False
        scores = sorted((f.score for f in self.forms), reverse=True)
        return bool(scores[0] - scores[1] > self.threshold)


def _best(results: list[OptimizedPose]) -> tuple[int, OptimizedPose]:
    k = int(np.argmax([r.score for r in results]))
    return k, results[k]


def _aligned_isomer(isomer: Chem.Mol, template: Chem.Mol, seed: int) -> Chem.Mol | None:
    """3D conformer of a stereoisomer, Kabsch-aligned on the input pose's heavy atoms."""
    mol = Chem.AddHs(isomer)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        return None
    heavy_idx = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
    Chem.rdMolAlign.AlignMol(mol, Chem.RemoveHs(template), atomMap=list(zip(heavy_idx, range(len(heavy_idx)))))
    return geometry_stereo(mol)




def _c2_turn(pos: torch.Tensor, center: torch.Tensor, axis: torch.Tensor) -> torch.Tensor:
    """The pose turned 180 degrees about ``axis`` through ``center``: a reflection through the
    principal plane normal to ``axis`` followed by inversion, so the same hand."""
    axis = axis / axis.norm()
    v = pos - center
    return center + 2 * (v @ axis)[:, None] * axis - v


def _anchored_starts(scorer, mol: Chem.Mol, base: PreparedLigand, starts: int, gen: torch.Generator):
    """The input form from its own pose (and perturbed copies); the enantiomer from the input
    pose's mirror images through its three principal planes, best under the objective first."""
    forms = [("input", mol, [base] + [perturb_pose(base, gen, 0.3, 0.7)[0] for _ in range(starts - 1)])]
    center, axes = principal_planes(base.pos.numpy().astype(float))
    mirrors = [mirror_mol(mol, axis, center) for axis in axes]
    placed = [scorer.prepare(m) for m in mirrors]
    with torch.no_grad(), prior_hard_wall(scorer.model):  # the optimiser's objective picks its starts
        first = scorer.forward([scorer.graph(p) for p in placed])["score"].tolist()
    order = list(np.argsort(first)[::-1])
    chosen = [placed[k] for k in order[:starts]]
    while len(chosen) < starts:
        chosen.append(perturb_pose(placed[order[0]], gen, 0.3, 0.7)[0])
    forms.append(("enantiomer", mirrors[order[0]], chosen))
    return forms


def _symmetric_starts(scorer, mol: Chem.Mol, base: PreparedLigand, starts: int, gen: torch.Generator):
    """Both forms from the placements that keep the input pose's envelope (centroid and principal
    axes): the input form from its pose and its 180-degree turns about the principal axes, the
    enantiomer from the point inversions of exactly those starts (the inversion of the pose and
    its three principal-plane mirrors), perturbed copies included.

    The start of each molecule then depends on the envelope, not on which hand was given: with
    the enantiomer as input, each form gets the same starts. A preference is the model's, not the
    search's."""
    center_np, axes_np = principal_planes(base.pos.numpy().astype(float))
    center = torch.tensor(center_np, dtype=base.pos.dtype)
    axes = [torch.tensor(a, dtype=base.pos.dtype) for a in axes_np[::-1]]  # the flattest plane's normal first
    placed = [base] + [base.with_positions(_c2_turn(base.pos, center, a)) for a in axes]
    input_starts = (placed + [perturb_pose(placed[k % 4], gen, 0.3, 0.7)[0] for k in range(4, starts)])[:starts]
    enantiomer_mol = mirror_mol(mol, axes_np[2], center_np)  # its chemistry and hydrogens; positions are the starts'
    enantiomer = scorer.prepare(enantiomer_mol)
    return [("input", mol, input_starts),
            ("enantiomer", enantiomer_mol, [enantiomer.with_positions(2 * center - s.pos) for s in input_starts])]


def compare_stereoisomers(scorer, record: LigandRecord, starts: int = 4, steps: int = 4, seed: int = 0,
                          k_sigma: float = 2.0, min_threshold: float = 0.25, all_isomers: bool = False,
                          max_isomers: int = 8, coarse_steps: int = 30, patience: int | None = 2,
                          protocol: str = "anchored") -> StereoComparison:
    """Optimise the input form and its enantiomer (or every stereoisomer) in the pocket and compare.

    ``protocol``: ``anchored`` starts the input form at its own pose and the enantiomer at that
    pose's mirror images; ``symmetric`` starts both from mirror-derived placements that are each
    other's inversion images (:func:`_symmetric_starts`). Each start takes ``coarse_steps`` under
    the Vina-typed prior, then up to ``steps`` under the model (``patience``: see
    :func:`dockscore.optimize.optimize_poses`)."""
    check_protocol(protocol, "protocol")
    t0 = time.perf_counter()
    out = StereoComparison(record.source, record.index, record.name, "error")
    if not record.ok:
        out.message = record.error or "unusable record"
        return out
    mol = record.mol
    problem = pose_problem(mol)  # a broken pose must not turn into a 10 pK "stereo preference"
    if problem is not None:
        out.message = problem
        return out
    report = perceive(mol)
    out.kind = report.kind()
    gen = torch.Generator().manual_seed(seed)
    try:
        base = scorer.prepare(mol)
    except Exception as exc:
        out.kind, out.message = "error", f"cannot featurise: {exc}"
        return out

    forms: list[tuple[str, Chem.Mol, list[PreparedLigand]]]
    try:
        if out.kind != "chiral":
            forms = [("input", mol, [base] + [perturb_pose(base, gen, 0.3, 0.7)[0] for _ in range(starts - 1)])]
        elif protocol == "symmetric":
            forms = _symmetric_starts(scorer, mol, base, starts, gen)
        else:
            forms = _anchored_starts(scorer, mol, base, starts, gen)
    except InputError as exc:  # e.g. the pose is not in this pocket
        out.kind, out.message = "error", str(exc)
        return out
    if all_isomers and report.centres:
        options = StereoEnumerationOptions(onlyUnassigned=False, unique=True, maxIsomers=max_isomers + 2)
        seen = {Chem.MolToSmiles(Chem.RemoveHs(geometry_stereo(f[1]))) for f in forms}
        for isomer in EnumerateStereoisomers(Chem.RemoveHs(geometry_stereo(mol)), options=options):
            smi = Chem.MolToSmiles(isomer)
            if smi in seen or len(forms) >= max_isomers:
                continue
            seen.add(smi)
            placed_mol = _aligned_isomer(isomer, mol, seed)
            if placed_mol is None:
                continue
            iso = scorer.prepare(placed_mol)
            forms.append((f"isomer {len(forms) - 1}", placed_mol, [iso] + [perturb_pose(iso, gen, 0.3, 0.7)[0] for _ in range(starts - 1)]))
    all_starts = [s for _, _, ss in forms for s in ss]
    try:
        results = optimize_poses(scorer, all_starts, steps=steps, coarse_steps=coarse_steps, patience=patience)
    except InputError as exc:
        out.kind, out.message = "error", str(exc)
        return out
    spreads = []
    k = 0
    for name, form_mol, ss in forms:
        chunk = results[k : k + len(ss)]
        k += len(ss)
        j, best = _best(chunk)
        optimised = geometry_stereo(set_heavy_positions(form_mol, best.pos))
        out.forms.append(FormResult(name, optimised, perceive(optimised).cip(), best.score, chunk[j].start_score,
                                    best.rmsd_to_start, [r.score for r in chunk]))
        spreads.append(np.var([r.score for r in chunk], ddof=1) if len(chunk) > 1 else 0.0)
    out.noise = float(np.sqrt(np.mean(spreads)))
    out.threshold = max(min_threshold, k_sigma * out.noise)
    out.seconds = time.perf_counter() - t0
    return out


def flag_calibration_path(model_path: Path) -> Path:
    """Where the measured precision of a checkpoint's flag lives: beside it, written by
    bench/enantiomer_recovery.py (held-out crystal complexes, per protocol)."""
    return model_path.with_name(model_path.stem + ".enantiomers.json")


def flag_precision_note(model: str | Path | None, symmetry: str, protocol: str) -> str:
    """One sentence on how often a flag was right for this model and protocol, or that it was never measured."""
    from dockscore.checkpoint import default_model_path

    path = flag_calibration_path(Path(model) if model else default_model_path(symmetry))
    try:
        measured = json.loads(path.read_text())[protocol]
    except (OSError, ValueError, KeyError):
        return "The flag's precision was not measured for this model."
    return (f"Flag precision measured on {measured['n']} held-out chiral crystal ligands ({protocol} starts): "
            f"{measured['n_flagged']} flagged, the crystallised hand preferred in {100 * measured['flag_precision']:.0f} % of them "
            f"(recovery over all: {100 * measured['recovery']:.0f} %).")


def form_mol(c: StereoComparison, form: FormResult, symmetry: str, model: str) -> Chem.Mol:
    """The optimised pose of one form with its dockscore properties, for SDF output."""
    mol = Chem.Mol(form.mol)
    mol.SetProp("_Name", c.name)
    from dockscore.report import dockscore_properties

    for key, value in dockscore_properties(form=form.form, score=form.score, start_score=form.start_score, rmsd_to_start=form.rmsd_to_start,
                                           cip=form.cip, symmetry=symmetry, model=model, source_index=c.index).items():
        mol.SetProp(key, value)
    return mol


@dataclass
class IsomerGroup:
    """Records of one constitution (same molecule ignoring stereo) and their best score per stereoisomer."""

    constitution: str  # canonical SMILES without stereo
    isomers: dict[str, tuple[float, str, str, int]] = field(default_factory=dict)  # isomeric SMILES -> (best score, CIP, name, index)

    def ranked(self) -> list[tuple[str, tuple[float, str, str, int]]]:
        return sorted(self.isomers.items(), key=lambda kv: -kv[1][0])

    @property
    def delta(self) -> float:
        r = self.ranked()
        return r[0][1][0] - r[1][1][0] if len(r) > 1 else float("nan")


def group_stereoisomers(results) -> list[IsomerGroup]:
    """Group scored poses (``PoseScore`` with status ok) by constitution, then by stereoisomer (read from 3D)."""
    groups: dict[str, IsomerGroup] = {}
    for r in results:
        if r.status != "ok" or r.record is None or r.record.mol is None:
            continue
        geo = Chem.RemoveHs(geometry_stereo(r.record.mol))
        key = Chem.MolToSmiles(geo, isomericSmiles=False)
        iso = Chem.MolToSmiles(geo)
        group = groups.setdefault(key, IsomerGroup(key))
        if iso not in group.isomers or r.score > group.isomers[iso][0]:
            group.isomers[iso] = (r.score, r.stereo.cip() if r.stereo else "", r.name, r.index)
    return list(groups.values())
