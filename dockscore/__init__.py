"""dockscore: equivariant GNN scoring of protein-ligand poses, E(3) or SE(3)."""

from dockscore.checkpoint import load_model
from dockscore.errors import InputError
from dockscore.io.ligands import LigandRecord, iter_ligands
from dockscore.io.protein import Protein, read_protein
from dockscore.scoring import SCORE_MEANING, SCORE_UNIT, PoseScore, Scorer

__version__ = "0.1.0"
__all__ = ["Scorer", "PoseScore", "load_model", "read_protein", "iter_ligands", "Protein", "LigandRecord",
           "InputError", "SCORE_UNIT", "SCORE_MEANING", "__version__"]
