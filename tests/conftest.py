from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "data" / "examples"
PROTEIN_1S3V = EXAMPLES / "1s3v" / "protein.pdb"
LIGAND_1S3V = EXAMPLES / "1s3v" / "ligand.sdf"  # chiral (2 stereocentres): DHFR inhibitor TQD
PROTEIN_1IA1 = EXAMPLES / "1ia1" / "protein.pdb"
LIGANDS_1IA1 = EXAMPLES / "1ia1" / "ligands.sdf"

torch.set_num_threads(1)
# Ray's own switch: every node and driver a test starts binds 127.0.0.1, never the machine's address
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")


@pytest.fixture(scope="session")
def scorers():
    """The shipped models, one Scorer per symmetry mode, on the chiral 1s3v complex."""
    from dockscore import Scorer

    return {sym: Scorer(PROTEIN_1S3V, symmetry=sym) for sym in ("e3", "se3")}


@pytest.fixture(scope="session")
def crystal_1s3v():
    from dockscore import iter_ligands

    return next(iter_ligands(LIGAND_1S3V)).mol


def jittered(mol, n: int, sigma: float, seed: int) -> list:
    """``n`` copies of a pose, each translated by a random shift of scale ``sigma`` (A)."""
    import numpy as np
    from rdkit import Chem

    rng = np.random.default_rng(seed)
    copies = []
    for _ in range(n):
        copy = Chem.Mol(mol)
        conf = copy.GetConformer()
        for i, p in enumerate(conf.GetPositions() + rng.normal(0, sigma, 3)):
            conf.SetAtomPosition(i, p.tolist())
        copies.append(copy)
    return copies


def bench_script(name: str):
    """``bench/NAME.py`` as a module, loaded from its file: bench/ is a folder of maintainer scripts,
    not a package, and stays off ``sys.path``."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
