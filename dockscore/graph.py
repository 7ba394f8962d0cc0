"""Protein–ligand complex graphs: pocket selection, typed edges, PyG batching.

The protein is featurised once (:class:`PreparedProtein`); each pose only selects its pocket
and builds edges, so ranking many poses against one receptor costs per-pose work only.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Data

from dockscore.errors import InputError
from dockscore.features import BOND_TYPES, OFF_ELEM, ligand_bonds, ligand_features, ligand_heavy_mol, protein_features, xs_types
from dockscore.io.protein import Protein
from dockscore.neighbors import radius_graph

# Edge types (one-hot in edge_attr[:, :4]); bond orders follow in edge_attr[:, 4:].
LIGAND_BOND, LIGAND_NONBONDED, LIGAND_PROTEIN, PROTEIN_BOND = range(4)
NUM_EDGE_TYPES = 4
NUM_EDGE_FEATURES = NUM_EDGE_TYPES + len(BOND_TYPES)
# Heavy-atom covalent bonds are 1.2-1.9 A and non-bonded heavy-atom contacts > 2.5 A, so a
# 2.0 A threshold finds protein bonds from coordinates alone, whatever the file's CONECT records.
COVALENT_CUTOFF = 2.0


@dataclass(frozen=True)
class GraphSettings:
    """Distances in Angstrom. Saved in each checkpoint: a model is scored with the settings it was trained with."""

    pocket_cutoff: float = 8.0  # protein atoms within this of any ligand heavy atom form the pocket; also the interaction-term cutoff
    contact_cutoff: float = 4.5  # non-bonded message-passing edges
    max_ligand_atoms: int = 200  # refuse larger "ligands" (peptides, whole proteins) with a clear message
    # Reach of the element-contact affinity term (dockscore.training.contacts): each ligand atom's smoothly
    # switched count of protein C, N, O and S atoms within it, as ``element_env`` (None = not built).
    element_contact_cutoff: float | None = None


# Protein elements counted around each ligand atom by the element-contact term (RF-Score's four):
# the first four slots of features.ELEMENTS.
CONTACT_PROTEIN_ELEMENTS = ("C", "N", "O", "S")


def element_environment(ligand_pos: torch.Tensor, dist: torch.Tensor, protein_x: torch.Tensor, cutoff: float) -> torch.Tensor:
    """(n_ligand, 4) switched counts of protein C, N, O, S atoms around each ligand atom.

    ``dist``: (n_ligand, n_protein) distances. The cosine switch makes the count smooth in the
    pose (an atom crossing the cutoff adds nothing abruptly)."""
    switch = torch.where(dist < cutoff, 0.5 * (torch.cos(dist * (torch.pi / cutoff)) + 1.0), torch.zeros_like(dist))
    return switch @ protein_x[:, OFF_ELEM : OFF_ELEM + len(CONTACT_PROTEIN_ELEMENTS)].to(switch.dtype)


@dataclass
class PreparedProtein:
    """A protein featurised once per run: atom features, coordinates, radii and covalent bonds."""

    protein: Protein
    x: torch.Tensor
    pos: torch.Tensor
    radius: torch.Tensor
    bond_index: torch.Tensor  # (2, 2B) covalent neighbours (heavy atoms closer than COVALENT_CUTOFF)

    @cached_property
    def xs(self) -> torch.Tensor:
        """Vina X-Score types (hydrophobic, donor, acceptor) per atom, for the physics prior."""
        return xs_types(self.x, self.bond_index)

    @classmethod
    def from_protein(cls, protein: Protein) -> "PreparedProtein":
        x, radius = protein_features(protein)
        pos = torch.from_numpy(protein.coords.astype(np.float32))
        return cls(protein, torch.from_numpy(x), pos, torch.from_numpy(radius), radius_graph(pos, COVALENT_CUTOFF))


@dataclass
class PreparedLigand:
    """The heavy-atom chemistry of one ligand pose, independent of the protein."""

    heavy: Chem.Mol
    x: torch.Tensor
    pos: torch.Tensor
    radius: torch.Tensor
    bond_index: torch.Tensor
    bond_attr: torch.Tensor

    @classmethod
    def from_mol(cls, mol: Chem.Mol) -> "PreparedLigand":
        heavy = ligand_heavy_mol(mol)
        x, radius = ligand_features(heavy)
        bond_index, bond_order = ligand_bonds(heavy)
        pos = torch.tensor(heavy.GetConformer().GetPositions(), dtype=torch.float32)
        return cls(heavy, torch.from_numpy(x), pos, torch.from_numpy(radius), torch.from_numpy(bond_index), torch.from_numpy(bond_order))

    @cached_property
    def xs(self) -> torch.Tensor:
        """Vina X-Score types (hydrophobic, donor, acceptor) per atom, for the physics prior."""
        return xs_types(self.x, self.bond_index)

    @cached_property
    def far_pairs(self) -> torch.Tensor:
        """(2, P) atom pairs more than three bonds apart: the ones a torsion change can bring into
        clash. From the bond graph, so ligands read from the training cache (no RDKit) have them too."""
        n = self.pos.shape[0]
        hops = torch.full((n, n), n + 1, dtype=torch.long)
        hops.fill_diagonal_(0)
        hops[self.bond_index[0], self.bond_index[1]] = 1
        for k in range(n):  # Floyd–Warshall on a few dozen atoms, once per ligand chemistry
            hops = torch.minimum(hops, hops[:, k : k + 1] + hops[k : k + 1, :])
        return torch.nonzero(torch.triu(hops > 3, diagonal=1)).T

    def with_positions(self, pos: torch.Tensor) -> "PreparedLigand":
        """Same chemistry, new coordinates (perturbed or optimised poses); chemistry-only caches carry over."""
        moved = PreparedLigand(self.heavy, self.x, pos, self.radius, self.bond_index, self.bond_attr)
        for name in ("xs", "far_pairs"):
            if name in self.__dict__:
                moved.__dict__[name] = self.__dict__[name]
        return moved


def _edge_attr(n: int, edge_type: int, bond_order: torch.Tensor | None = None) -> torch.Tensor:
    attr = torch.zeros((n, NUM_EDGE_FEATURES))
    attr[:, edge_type] = 1.0
    if bond_order is not None:
        attr[:, NUM_EDGE_TYPES:] = bond_order
    return attr


def build_complex_graph(protein: PreparedProtein, ligand: PreparedLigand, settings: GraphSettings = GraphSettings()) -> Data:
    """Ligand-centred graph of one pose. Nodes: ligand atoms first, then pocket atoms.

    ``pocket_atom`` maps pocket nodes to protein atom indices (to gather the protein encoding
    computed once per protein). Messages flow into ligand atoms only (``edge_index`` dst is
    always a ligand node); ``pair_index`` lists every ligand-pocket pair for the interaction head.
    Raises :class:`InputError` when no protein atom lies within the pocket cutoff.
    """
    n_lig = ligand.pos.shape[0]
    if n_lig > settings.max_ligand_atoms:
        raise InputError(f"ligand has {n_lig} heavy atoms (> {settings.max_ligand_atoms}); not a small molecule")
    if not torch.isfinite(ligand.pos).all():
        raise InputError("ligand has non-finite coordinates")
    dist = torch.cdist(ligand.pos, protein.pos, compute_mode="donot_use_mm_for_euclid_dist")
    nearest = dist.min(dim=0).values
    pocket = torch.nonzero(nearest < settings.pocket_cutoff).flatten()
    if pocket.numel() == 0:
        gap = float(nearest.min())
        raise InputError(f"ligand is {gap:.1f} A from the nearest protein atom (pocket cutoff {settings.pocket_cutoff} A): not in the pocket")
    overlapping = (dist.min(dim=1).values < 0.5).float().mean()
    if overlapping > 0.5:
        raise InputError("ligand coincides with protein-file atoms (is a HETATM copy of this ligand still in the protein file?)")
    pocket_dist = dist[:, pocket]
    contacts = torch.nonzero(pocket_dist < settings.contact_cutoff).T  # ligand idx, pocket idx
    pair_index = torch.nonzero(pocket_dist < settings.pocket_cutoff).T
    pair_index[1] += n_lig

    lig_lig = radius_graph(ligand.pos, settings.contact_cutoff)
    if ligand.bond_index.numel():
        bonded = torch.zeros((n_lig, n_lig), dtype=torch.bool)
        bonded[ligand.bond_index[0], ligand.bond_index[1]] = True
        lig_lig = lig_lig[:, ~bonded[lig_lig[0], lig_lig[1]]]
    prot_to_lig = torch.stack([contacts[1] + n_lig, contacts[0]])

    edge_index = torch.cat([ligand.bond_index, lig_lig, prot_to_lig], dim=1)
    edge_attr = torch.cat([
        _edge_attr(ligand.bond_index.shape[1], LIGAND_BOND, ligand.bond_attr),
        _edge_attr(lig_lig.shape[1], LIGAND_NONBONDED),
        _edge_attr(prot_to_lig.shape[1], LIGAND_PROTEIN),
    ])
    is_ligand = torch.zeros(n_lig + pocket.numel(), dtype=torch.bool)
    is_ligand[:n_lig] = True
    extra = {}
    if settings.element_contact_cutoff:
        extra["element_env"] = element_environment(ligand.pos, dist, protein.x, settings.element_contact_cutoff)
    return Data(
        ligand_x=ligand.x,
        pos=torch.cat([ligand.pos, protein.pos[pocket]]),
        radius=torch.cat([ligand.radius, protein.radius[pocket]]),
        xs=torch.cat([ligand.xs, protein.xs[pocket]]),
        is_ligand=is_ligand,
        pocket_atom=pocket,
        edge_index=edge_index,
        edge_attr=edge_attr,
        pair_index=pair_index,
        num_nodes=n_lig + pocket.numel(),
        **extra,
    )
