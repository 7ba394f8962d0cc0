"""The scoring pipeline: records -> prepared ligands -> graphs -> batched model -> per-pose results.

The protein is read, featurised and encoded once per :class:`Scorer`; records stream through
in fixed-size batches, so memory does not grow with the number of poses.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from rdkit import Chem
from torch_geometric.data import Batch

from dockscore.checkpoint import load_model
from dockscore.errors import InputError
from dockscore.graph import PreparedLigand, PreparedProtein, build_complex_graph
from dockscore.io.ligands import LigandRecord, iter_ligands, records_from_mols
from dockscore.io.protein import Protein, read_protein
from dockscore.model import TERM_NAMES, DockScoreEnsemble, DockScoreModel
from dockscore.sanity import pose_problem
from dockscore.stereo import PerceptionCache, StereoReport, chemistry_key


# A receptor hetero group with this many atoms within FOREIGN_CONTACT A of a pose is another
# ligand, not a cofactor: a cofactor's closest contacts with a crystal ligand are van der Waals
# ones (> 3 A); a covalent adduct has one atom that close, a docked ligand left in the file many.
FOREIGN_CONTACT = 2.0
FOREIGN_ATOMS = 3


def foreign_groups(protein: Protein) -> tuple[torch.Tensor, list[str]]:
    """(atom indices, "RES chain:number" per index) of the receptor's hetero groups of 2+ heavy
    atoms that are not water: ions stay out (a metal site is meant to be close)."""
    groups: dict[str, list[int]] = {}
    for k, (het, rid, name) in enumerate(zip(protein.is_hetero, protein.residue_ids, protein.residue_names)):
        if het:
            groups.setdefault(f"{name} {rid}", []).append(k)
    atoms = [(k, label) for label, ks in groups.items() if len(ks) >= 2 for k in ks]
    return torch.tensor([k for k, _ in atoms], dtype=torch.long), [label for _, label in atoms]


@dataclass
class PoseScore:
    """The result for one input record. ``score`` is None unless ``status == "ok"``."""

    source: str
    index: int
    name: str
    status: str  # "ok" or "error"
    score: float | None = None
    message: str = ""
    pose_score: float | None = None  # for pose choice within one ligand (see POSE_SCORE_MEANING)
    terms: dict[str, float] = field(default_factory=dict)  # per interaction term, pK
    atom_contrib: list[float] = field(default_factory=list)  # per ligand heavy atom, pK
    record: LigandRecord | None = None
    stereo: StereoReport | None = None  # tetrahedral centres, CIP labels, declared-vs-geometry check
    closest_contact: float | None = None  # A, shortest ligand-protein heavy-atom distance (dockscore.overlap)
    clashes: int | None = None  # ligand-protein heavy-atom pairs overlapping past OVERLAP_ONSET
    overlap: float | None = None  # A, their summed overlap past it (physically valid up to OVERLAP_ALLOWANCE)


class Scorer:
    """Score poses of ligands against one protein with a dockscore model.

    >>> scorer = Scorer("protein.pdb", symmetry="e3")
    >>> for result in scorer.score_file("poses.sdf"): print(result.name, result.score)
    """

    def __init__(
        self,
        protein: str | Path | Protein,
        model: DockScoreModel | str | Path | None = None,
        symmetry: str = "e3",
        pocket_cutoff: float | None = None,
        batch_size: int = 32,
        keep_waters: bool = False,
        stereo: bool = True,
    ) -> None:
        self.stereo = stereo
        # Poses of one compound come in runs: their chemistry is prepared and perceived once
        self._ligand_cache: tuple | None = None  # (chemistry key, PreparedLigand, heavy-atom indices)
        self._perception = PerceptionCache()
        self._keys: OrderedDict[int, tuple] = OrderedDict()  # id(mol) -> (mol, chemistry key) of the last few records
        self.model = model if isinstance(model, (DockScoreModel, DockScoreEnsemble)) else load_model(model, symmetry=symmetry)
        self.model.eval()
        self.symmetry = self.model.config.symmetry
        self.model_name = getattr(self.model, "name", f"dockscore-{self.symmetry}")
        settings = self.model.config.graph_settings()
        if pocket_cutoff is not None:  # only the pocket: the model's other graph settings (element contacts) stay
            settings = replace(settings, pocket_cutoff=pocket_cutoff)
        self.settings = settings
        self.batch_size = batch_size
        self.protein = protein if isinstance(protein, Protein) else read_protein(protein, keep_waters=keep_waters)
        self.prepared = PreparedProtein.from_protein(self.protein)
        with torch.no_grad():
            self.protein_s, self.protein_v = self.model.encode_protein(self.prepared.x, self.prepared.pos, self.prepared.bond_index)
        self._protein_cache, self._protein_cache_key = None, None
        self._foreign = foreign_groups(self.protein)
        self._settle_heap()

    _heap_settled = False

    @classmethod
    def _settle_heap(cls) -> None:
        """Once per process: let glibc's malloc keep up to 64 MB of freed memory at the heap top.

        Its trim threshold starts low and rises only as large blocks are freed; until then every
        batch's temporaries (tens of MB) go back to the OS and are faulted in again, which cost as
        much as the model arithmetic (~600k page faults per 300 poses, ~45 % of the time). One block
        at glibc's cap (32 MB), allocated untouched and freed, raises the thresholds to that cap, as
        a long run may anyway, and leaves glibc's adaptation on; other allocators see one free."""
        if not cls._heap_settled:
            torch.empty((32 << 20) - 8192, dtype=torch.uint8)  # allocated untouched, freed at once
            cls._heap_settled = True

    # -- graphs ---------------------------------------------------------------------------
    def prepare(self, mol: Chem.Mol) -> PreparedLigand:
        """The heavy-atom graph chemistry of a pose. A pose with the chemistry of the one before
        (the next pose of a docked compound) reuses its features and only reads coordinates."""
        key = self._chemistry_key(mol)
        cached = self._ligand_cache
        if cached is not None and cached[0] == key:
            pos = torch.tensor(mol.GetConformer().GetPositions()[cached[2]], dtype=torch.float32)
            return cached[1].with_positions(pos)
        ligand = PreparedLigand.from_mol(mol)
        heavy = [a.GetIdx() for a in mol.GetAtoms() if a.GetAtomicNum() > 1]
        same_order = len(heavy) == ligand.pos.shape[0] and torch.equal(
            torch.tensor(mol.GetConformer().GetPositions()[heavy], dtype=torch.float32), ligand.pos)
        self._ligand_cache = (key, ligand, heavy) if same_order else None
        return ligand

    def _chemistry_key(self, mol: Chem.Mol) -> bytes:
        """One key per record, though prepare and perception both ask (the mol is held, so its id stays its own)."""
        hit = self._keys.get(id(mol))
        if hit is None or hit[0] is not mol:
            hit = self._keys[id(mol)] = (mol, chemistry_key(mol))
            while len(self._keys) > 4 * self.batch_size:
                self._keys.popitem(last=False)
        return hit[1]

    def graph(self, ligand: PreparedLigand):
        return build_complex_graph(self.prepared, ligand, self.settings)

    def forward(self, graphs: list) -> dict[str, torch.Tensor]:
        """Model outputs for a list of pose graphs (differentiable in their ``pos`` if it requires grad).

        The same outputs as ``self.model(batch, self.protein_s, self.protein_v)`` (to float
        rounding) through the model's per-protein cache (:meth:`protein_cache`): gradients reach
        ligand coordinates exactly, but not the parameters behind the cached protein-side terms."""
        return self.model(Batch.from_data_list(graphs), self.protein_s, self.protein_v, cache=self.protein_cache())

    def protein_cache(self):
        """The model's ``protein_cache`` of this protein's encoding, rebuilt whenever the model, its
        parameters (moved, loaded or stepped) or the encoding changed since it was made."""
        params = tuple((p.data_ptr(), p._version) for p in self.model.parameters())
        key = (self.model, self.protein_s, self.protein_v, params)
        old = self._protein_cache_key
        if old is None or any(a is not b for a, b in zip(old[:3], key[:3])) or old[3] != params:
            with torch.no_grad():
                self._protein_cache = self.model.protein_cache(self.protein_s, self.protein_v)
            self._protein_cache_key = key
        return self._protein_cache

    # -- streaming ------------------------------------------------------------------------
    def score_records(self, records: Iterable[LigandRecord]) -> Iterator[PoseScore]:
        """Yield one :class:`PoseScore` per record, in input order; bad records become errors."""
        pending: list[tuple[LigandRecord, object]] = []
        for record in records:
            graph, error = self._graph_or_error(record)
            if error is not None:  # keep input order: score what is pending, then report
                if pending:
                    yield from self._flush(pending)
                    pending = []
                yield PoseScore(record.source, record.index, record.name, "error", message=error, record=record)
                continue
            pending.append((record, graph))
            if len(pending) >= self.batch_size:
                yield from self._flush(pending)
                pending = []
        if pending:
            yield from self._flush(pending)

    def _graph_or_error(self, record: LigandRecord):
        """(graph, None) for a usable record, (None, one-line reason) otherwise."""
        if not record.ok:
            return None, record.error or "unusable record"
        try:
            problem = pose_problem(record.mol)  # the shared gate: garbage gets a reason, never a score
            if problem is not None:
                return None, problem
            ligand = self.prepare(record.mol)
            graph = self.graph(ligand)  # first: a HETATM copy of this very ligand has its own message there
            problem = self._foreign_overlap(ligand.pos)
            if problem is not None:
                return None, problem
            return graph, None
        except InputError as exc:
            return None, str(exc)
        except Exception as exc:  # chemistry we did not foresee: report, keep going
            return None, f"cannot featurise: {exc}"

    @torch.no_grad()
    def _flush(self, pending: list) -> Iterator[PoseScore]:
        graphs = [g for _, g in pending]
        out = self.forward(graphs)
        scores = out["score"].tolist()
        pose_scores = out["pose_score"].tolist()
        terms = out["terms"].tolist()
        closest, clashes, overlap = out["closest_contact"].tolist(), out["clashes"].tolist(), out["overlap"].tolist()
        contrib = out["atom_contrib"]
        offset = 0
        for k, (record, graph) in enumerate(pending):
            n_lig = int(graph.is_ligand.sum())
            atom = contrib[offset : offset + n_lig].tolist()
            offset += graph.num_nodes
            score = scores[k]
            if not math.isfinite(score):
                yield PoseScore(record.source, record.index, record.name, "error", message="model produced a non-finite score", record=record)
                continue
            yield PoseScore(record.source, record.index, record.name, "ok", score=score, pose_score=pose_scores[k],
                            terms=dict(zip(TERM_NAMES, terms[k])), atom_contrib=atom, record=record,
                            stereo=self._stereo(record.mol), closest_contact=closest[k], clashes=int(clashes[k]),
                            overlap=overlap[k])

    def _foreign_overlap(self, pos: torch.Tensor) -> str | None:
        """A hetero group of the receptor (not water, not a lone ion) that the pose runs through:
        another ligand left in the receptor file, not a cofactor beside this one."""
        atoms, labels = self._foreign
        if not atoms.numel():
            return None
        near = torch.cdist(pos, self.prepared.pos[atoms]).min(dim=0).values < FOREIGN_CONTACT
        if int(near.sum()) < FOREIGN_ATOMS:
            return None
        hit = labels[int(torch.nonzero(near)[0])]
        n_hit = sum(labels[k] == hit for k in torch.nonzero(near).flatten().tolist())
        return (f"the receptor's hetero group {hit} overlaps this pose ({n_hit} of its atoms within {FOREIGN_CONTACT} A): "
                "another ligand left in the receptor file? remove it from the protein")

    def _stereo(self, mol: Chem.Mol) -> StereoReport | None:
        if not self.stereo:
            return None
        try:
            return self._perception.perceive(mol, self._chemistry_key(mol))
        except Exception:  # perception must never cost a score
            return None

    def score_file(self, path: str | Path) -> Iterator[PoseScore]:
        return self.score_records(iter_ligands(path))

    def score_mols(self, mols: list[Chem.Mol]) -> list[PoseScore]:
        """Notebook entry point: score RDKit molecules (with 3D coordinates in the protein's frame)."""
        return list(self.score_records(records_from_mols(mols)))

    # -- split pipelines (dockscore.rank: CPU workers build graphs, one device scores them) --------
    def graph_or_error(self, record: LigandRecord):
        """(graph, None) for a usable record, (None, one-line reason) otherwise."""
        return self._graph_or_error(record)

    def stereo_report(self, mol: Chem.Mol | None) -> StereoReport | None:
        return self._stereo(mol) if mol is not None else None

    @property
    def device(self) -> torch.device:
        return self.protein_s.device

    def to(self, device: str | torch.device) -> "Scorer":
        """Move the model and the encoded protein (every tensor this scorer holds) to ``device``."""
        self.model.to(device)
        for name, value in list(vars(self).items()):
            if isinstance(value, torch.Tensor):
                setattr(self, name, value.to(device))
        return self

    @torch.no_grad()
    def score_graphs(self, graphs: list) -> list[tuple]:
        """(score, pose score, closest contact, clashes, overlap) per graph, in batches of
        ``batch_size`` on this scorer's device; all None where the model gives a non-finite score."""
        out: list[tuple] = []
        for start in range(0, len(graphs), self.batch_size):
            batch = Batch.from_data_list(graphs[start : start + self.batch_size]).to(self.device)
            result = self.model(batch, self.protein_s, self.protein_v, cache=self.protein_cache())
            for score, pose, closest, clashes, overlap in zip(result["score"].tolist(), result["pose_score"].tolist(),
                                                              result["closest_contact"].tolist(), result["clashes"].tolist(),
                                                              result["overlap"].tolist()):
                out.append((score, pose, closest, int(clashes), overlap) if math.isfinite(score) else (None,) * 5)
        return out
