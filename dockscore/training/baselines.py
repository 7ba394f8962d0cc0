"""The ligand-only baseline: ridge regression on RDKit 2D descriptors of the ligand alone. A
structure-based scorer that cannot beat it is reading ligand chemistry, not the pocket."""

from __future__ import annotations

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors


ALPHAS = tuple(10.0**k for k in range(-1, 6))


def descriptors(mol: Chem.Mol) -> np.ndarray:
    RDLogger.DisableLog("rdApp.*")
    heavy = Chem.RemoveHs(mol)
    values = [fn(heavy) for _, fn in Descriptors._descList]
    return np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


class LigandOnlyRidge:
    """Standardised descriptors -> ridge (closed form). Clipped standard scores keep a few
    unbounded descriptors (e.g. Ipc) from dominating an unseen ligand's prediction."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LigandOnlyRidge":
        self.mu, self.sd = X.mean(0), X.std(0) + 1e-9
        Z = self._z(X)
        self.y0 = y.mean()
        self.w = np.linalg.solve(Z.T @ Z + self.alpha * np.eye(Z.shape[1]), Z.T @ (y - self.y0))
        return self

    def _z(self, X: np.ndarray) -> np.ndarray:
        return np.clip((X - self.mu) / self.sd, -5, 5)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._z(X) @ self.w + self.y0
