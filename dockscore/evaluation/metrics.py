"""The metrics, one function per power: correlation (scoring and ranking power; NaN when undefined)
and screening power (enrichment factor, ROC AUC, BEDROC), shared by training, the CV and
`dockscore benchmark`."""

from __future__ import annotations

import math

import numpy as np


def pearson(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def spearman(x, y) -> float:
    from scipy.stats import spearmanr

    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def _screening_arrays(active_scores, decoy_scores) -> tuple[np.ndarray, np.ndarray]:
    def clean(values) -> np.ndarray:
        a = np.array([float("nan") if v is None else float(v) for v in values], dtype=float)
        a[np.isnan(a)] = -np.inf
        return a

    return clean(active_scores), clean(decoy_scores)


def _tie_groups(active_scores, decoy_scores) -> list[tuple[int, int, int]]:
    """Ranked list as tie groups, best first: (first position, group size, actives in group), positions 0-based."""
    pos, neg = _screening_arrays(active_scores, decoy_scores)
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(len(pos), int), np.zeros(len(neg), int)])
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    groups, start = [], 0
    for k in range(1, len(scores) + 1):
        if k == len(scores) or scores[k] != scores[start]:
            groups.append((start, k - start, int(labels[start:k].sum())))
            start = k
    return groups


def enrichment_factor(active_scores, decoy_scores, fraction: float) -> float:
    """Enrichment factor at the top ``fraction`` of the ranked list (``fraction=0.01`` is "EF1 %").

    EF = (actives in the top n / n) / (actives / all), with n = max(1, round(fraction * all)): the
    hit rate of the top n over the hit rate of random picking. Ligands tied at the cut-off score
    fill the remaining slots by expectation (each tied ligand is in the top n with the same
    probability), so a scorer that cannot tell ligands apart gets the random EF, 1, not credit
    from file order. Best possible: min(n, actives) / n * all / actives. NaN without actives or decoys.
    """
    pos, neg = _screening_arrays(active_scores, decoy_scores)
    if not len(pos) or not len(neg):
        return float("nan")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction} (EF1 % is fraction=0.01)")
    total = len(pos) + len(neg)
    n_top = max(1, int(round(fraction * total)))
    hits = 0.0
    for start, size, actives in _tie_groups(pos, neg):
        if start >= n_top:
            break
        hits += actives * min(size, n_top - start) / size
    return float((hits / n_top) / (len(pos) / total))


def roc_auc(active_scores, decoy_scores) -> float:
    """Area under the ROC curve: the probability that a random active outscores a random decoy,
    ties counting one half (the Mann-Whitney U / (actives * decoys)). 1 = every active above every
    decoy, 0.5 = random, 0 = every active below. NaN without actives or decoys."""
    from scipy.stats import rankdata

    pos, neg = _screening_arrays(active_scores, decoy_scores)
    if not len(pos) or not len(neg):
        return float("nan")
    ranks = rankdata(np.concatenate([pos, neg]), method="average")  # ascending, ties averaged; -inf ranks lowest
    u = ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2.0
    return float(u / (len(pos) * len(neg)))


def bedroc(active_scores, decoy_scores, alpha: float = 80.5) -> float:
    """BEDROC (Truchon & Bayly, J. Chem. Inf. Model. 47, 488 (2007)), early recognition in [0, 1].

    RIE = sum_i exp(-alpha r_i / N) / (n/N * (1 - exp(-alpha)) / (exp(alpha/N) - 1)) over the ranks
    r_i = 1..N of the n actives among N ligands (best = 1), then
    BEDROC = RIE * Ra sinh(alpha/2) / (cosh(alpha/2) - cosh(alpha/2 - alpha Ra)) + 1 / (1 - exp(alpha (1 - Ra))),
    Ra = n/N. alpha = 80.5 puts 80 % of the weight on the top 2 % of the list (the paper's choice for
    early recognition; alpha = 20 would be the top 8 %). 1 = all actives first, 0 = all last; a random
    ranking gives slightly more than Ra, exactly :func:`bedroc_random` (0.035 for 40 actives among 1,240
    ligands). Ties are broken by expectation: the actives of a tie group share its positions' weights
    equally. NaN without actives or decoys.
    """
    pos, neg = _screening_arrays(active_scores, decoy_scores)
    if not len(pos) or not len(neg):
        return float("nan")
    n, total = len(pos), len(pos) + len(neg)
    weights = np.exp(-alpha * np.arange(1, total + 1) / total)
    numerator = 0.0
    for start, size, actives in _tie_groups(pos, neg):
        if actives:
            numerator += actives / size * weights[start:start + size].sum()
    return _bedroc_from_sum(numerator, n, total, alpha)


def _bedroc_from_sum(numerator: float, n: int, total: int, alpha: float) -> float:
    ra = n / total
    rie = numerator / (ra * (1.0 - math.exp(-alpha)) / (math.exp(alpha / total) - 1.0))
    return float(rie * ra * math.sinh(alpha / 2) / (math.cosh(alpha / 2) - math.cosh(alpha / 2 - alpha * ra))
                 + 1.0 / (1.0 - math.exp(alpha * (1.0 - ra))))


def bedroc_random(n_actives: int, n_decoys: int, alpha: float = 80.5) -> float:
    """The expected BEDROC of a random ranking (every active at each rank with probability 1/N): the
    value of :func:`bedroc` when all scores tie. About Ra = n/N when alpha * Ra is small, more otherwise."""
    total = n_actives + n_decoys
    weights = np.exp(-alpha * np.arange(1, total + 1) / total)
    return _bedroc_from_sum(n_actives / total * weights.sum(), n_actives, total, alpha)


def screening_metrics(active_scores, decoy_scores) -> dict:
    """The screening figures of one target: ``ef1`` and ``ef5`` (:func:`enrichment_factor` at 1 % and
    5 %, ratios: 1 = random), ``bedroc`` (alpha 80.5), ``roc_auc``, ``n_actives``, ``n_decoys``. Scores
    higher = better; a missing score (None/NaN) counts as the worst; ties by expectation."""
    pos, neg = _screening_arrays(active_scores, decoy_scores)
    return {"ef1": enrichment_factor(pos, neg, 0.01), "ef5": enrichment_factor(pos, neg, 0.05),
            "bedroc": bedroc(pos, neg, 80.5), "roc_auc": roc_auc(pos, neg), "n_actives": len(pos), "n_decoys": len(neg)}
