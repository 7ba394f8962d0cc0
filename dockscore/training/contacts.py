"""The element-contact affinity term: its features and its closed-form fit to a trained model.

Why (ELEMENT_CONTACTS_NOTE in :mod:`dockscore.model`): across proteins, what Vina's terms and the
learned pair correction miss is which ligand elements are buried against which protein elements.
The term is linear in RF-Score's element-pair counts (ligand element x protein C, N, O, S within
the cutoff, smoothly switched), so it is fitted after training by ridge regression on the
model's residuals over its training complexes, with the penalty chosen by a protein-grouped
inner CV of those complexes (never by the complexes it will be judged on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from dockscore.evaluation.metrics import pearson
from dockscore.features import N_ELEM, OFF_ELEM
from dockscore.graph import CONTACT_PROTEIN_ELEMENTS, element_environment

# RF-Score's reach; in protein-grouped CV of the e3 recipe every fold chose 12 A from 6, 8, 10 and 12.
DEFAULT_CUTOFF = 12.0
PENALTIES = (30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0, 30000.0)  # on standardised counts
INNER_FOLDS = 4


@dataclass
class ContactFit:
    """What :func:`fit_element_contacts` chose and measured (saved beside the checkpoint)."""

    cutoff: float
    penalty: float
    inner_pearson: dict[str, float]  # penalty -> pooled inner-CV Pearson R of model + term
    inner_pearson_model: float  # the model alone on the same inner folds
    n: int
    weight: list[list[float]]  # (ligand element, protein element) pK per switched contact
    intercept: float  # added to the offset

    def to_dict(self) -> dict:
        return asdict(self)


def contact_features(model, complexes: list) -> np.ndarray:
    """(n, ligand elements x 4) element-pair contact counts of each complex's crystal pose within
    the model's element-contact cutoff (which must be set): the same counts the term scores."""
    cutoff = model.config.element_contact_cutoff
    if cutoff is None:
        raise ValueError("contact_features needs a model with element_contact_cutoff set")
    rows = []
    with torch.no_grad():
        for c in complexes:
            dist = torch.cdist(c.ligand.pos, c.protein.pos, compute_mode="donot_use_mm_for_euclid_dist")
            env = element_environment(c.ligand.pos, dist, c.protein.x, cutoff)
            element = c.ligand.x[:, OFF_ELEM : OFF_ELEM + N_ELEM]
            rows.append((element.T @ env).flatten().double().numpy())
    return np.array(rows)


def ridge(X: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, float]:
    """Ridge on standardised columns (intercept unpenalised), returned in raw units: (w, b) with
    prediction ``X @ w + b``. Constant columns get weight 0."""
    mu, sd = X.mean(0), X.std(0)
    live = sd > 1e-9
    Z = (X[:, live] - mu[live]) / sd[live]
    A = np.c_[Z, np.ones(len(Z))]
    reg = np.diag([penalty] * Z.shape[1] + [0.0])
    coef = np.linalg.solve(A.T @ A + reg, A.T @ y)
    w = np.zeros(X.shape[1])
    w[live] = coef[:-1] / sd[live]
    return w, float(coef[-1] - w[live] @ mu[live])


def _grouped_folds(groups: list[str], k: int, seed: int = 0) -> list[np.ndarray]:
    from dockscore.training.folds import make_folds

    ids = [str(n) for n in range(len(groups))]
    folds = make_folds(dict(zip(ids, groups)), min(k, len(set(groups))), seed)
    return [np.array(sorted(int(i) for i in fold)) for fold in folds]


def choose_penalty(X: np.ndarray, base: np.ndarray, pK: np.ndarray, groups: list[str], penalties=PENALTIES,
                   k: int = INNER_FOLDS) -> tuple[float, dict[str, float], float]:
    """The penalty with the best pooled Pearson R of base + term over grouped inner folds (ties:
    the larger penalty, the smaller correction). Returns (penalty, R per penalty, R of base alone)."""
    folds = _grouped_folds(groups, k)
    scores = {}
    for penalty in penalties:
        pred = np.empty(len(pK))
        for test in folds:
            fit = np.setdiff1d(np.arange(len(pK)), test)
            w, b = ridge(X[fit], pK[fit] - base[fit], penalty)
            pred[test] = base[test] + X[test] @ w + b
        scores[f"{penalty:g}"] = pearson(pred.tolist(), pK.tolist())
    best = max(penalties, key=lambda p: (round(scores[f"{p:g}"], 6), p))
    return float(best), scores, pearson(base.tolist(), pK.tolist())


def fit_element_contacts(model, complexes: list, groups: list[str], cutoff: float = DEFAULT_CUTOFF, penalties=PENALTIES,
                         log=print) -> ContactFit:
    """Add the element-contact term to a trained (calibrated) model or ensemble, in place.

    ``groups``: the protein group of each complex (UniProt id, or the CV's merged groups), for the
    inner folds that choose the penalty. The residuals are those of the model as it will be used
    (its inference settings applied before the call)."""
    from dockscore.training.evaluate import predict

    if len(groups) != len(complexes):
        raise ValueError("one protein group per complex")
    model.set_element_contacts(cutoff)  # zero weights: scores unchanged, graphs now carry element_env
    base = predict(model, complexes, with_decoys=False)["native"]
    base = np.array([base[c.id] for c in complexes])
    pK = np.array([c.pK for c in complexes])
    X = contact_features(model, complexes)
    penalty, inner, inner_model = choose_penalty(X, base, pK, groups, penalties)
    w, b = ridge(X, pK - base, penalty)
    weight = torch.tensor(w, dtype=torch.float32).reshape(N_ELEM, len(CONTACT_PROTEIN_ELEMENTS))
    model.set_element_contacts(cutoff, weight)
    for member in getattr(model, "members", [model]):
        with torch.no_grad():
            member.head.offset += b
    log(f"element contacts ({cutoff:g} A): penalty {penalty:g} chosen on {len(set(groups))} protein groups, "
        f"inner-CV R {inner[f'{penalty:g}']:.3f} vs {inner_model:.3f} without; fitted on {len(complexes)} complexes")
    return ContactFit(cutoff, penalty, inner, inner_model, len(complexes), weight.tolist(), b)
