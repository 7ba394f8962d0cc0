"""dockscore: equivariant GNN scoring of protein-ligand poses, E(3) or SE(3).

The names below load on first use (PEP 562), so that ``dockscore --help`` does not import torch."""

from importlib import import_module

__version__ = "0.1.0"
_EXPORTS = {"Scorer": "dockscore.scoring", "PoseScore": "dockscore.scoring", "load_model": "dockscore.checkpoint",
            "read_protein": "dockscore.io.protein", "iter_ligands": "dockscore.io.ligands", "Protein": "dockscore.io.protein",
            "LigandRecord": "dockscore.io.ligands", "InputError": "dockscore.errors", "SCORE_UNIT": "dockscore.definitions",
            "SCORE_MEANING": "dockscore.definitions"}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'dockscore' has no attribute {name!r}")
