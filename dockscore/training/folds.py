"""Protein groups and folds for cross-validation: UniProt ids merged across near-identical pockets
(shared pocket-sequence k-mers), so that no fold tests on a protein another fold trained on."""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass, field
from pathlib import Path


# Pocket similarity: residues of protein.pdb (amino acids, file order), cut into segments at chain
# breaks and numbering gaps; two pockets are near-identical when at least MERGE_CONTAINMENT of the
# smaller pocket's 5-residue windows occur in the other, and at least MIN_SHARED_KMERS of them.
# Chosen on the pool's pairs: same-UniProt pairs have a median containment of 1.0; with k = 5 the
# pairs of different proteins above 0.6 are orthologues and strain variants (CK2 alpha of maize and
# human, HSP90 of yeast and human, FABP4 of mouse and human, HIV-1 protease strains, a GPCR filed
# under its G protein), while family members (trypsin / factor Xa / kallikrein, HIV / RSV protease,
# carbonic anhydrase 2 / 12) stay below it. Windows of 5 need ~90 % identity to survive (0.9^5 = 0.59).
POCKET_KMER = 5


MERGE_CONTAINMENT = 0.6


MIN_SHARED_KMERS = 8


UNKNOWN_UNIPROT = ("", "------")


_AMINO = {"ALA": "A", "ARG": "R", "ASN": "N", "ASP": "D", "CYS": "C", "GLN": "Q", "GLU": "E", "GLY": "G", "HIS": "H", "ILE": "I",
          "LEU": "L", "LYS": "K", "MET": "M", "PHE": "F", "PRO": "P", "SER": "S", "THR": "T", "TRP": "W", "TYR": "Y", "VAL": "V",
          "HID": "H", "HIE": "H", "HIP": "H", "CYX": "C", "MSE": "M", "ASH": "D", "GLH": "E", "LYN": "K"}


def pocket_segments(pdb_path: str | Path) -> list[str]:
    """One-letter residue strings of a pocket file, a new segment at each chain break or numbering gap."""
    residues, seen = [], set()
    with open(pdb_path) as handle:
        for line in handle:
            if not line.startswith(("ATOM", "HETATM")) or line[17:20].strip() not in _AMINO:
                continue
            key = (line[21], line[22:27])
            if key in seen:
                continue
            seen.add(key)
            try:
                residues.append((line[21], int(line[22:26]), _AMINO[line[17:20].strip()]))
            except ValueError:
                continue
    segments, current, previous = [], "", None
    for chain, number, letter in residues:
        if previous is not None and (chain != previous[0] or number - previous[1] not in (0, 1)):
            segments.append(current)
            current = ""
        current += letter
        previous = (chain, number)
    return segments + ([current] if current else [])


def pocket_kmers(pdb_path: str | Path, k: int = POCKET_KMER) -> frozenset[str]:
    return frozenset(s[i : i + k] for s in pocket_segments(pdb_path) for i in range(len(s) - k + 1))


@dataclass(frozen=True)
class GroupInput:
    """What grouping reads of one complex."""

    id: str
    uniprot: str
    name: str
    kmers: frozenset[str] = frozenset()


def read_group_inputs(pdbbind_root: str | Path, ids: list[str]) -> list[GroupInput]:
    """UniProt id and protein name from ``index.csv``, pocket k-mers from each ``protein.pdb``."""
    root = Path(pdbbind_root)
    rows = {r["id"]: r for r in csv.DictReader(open(root / "index.csv"))}
    return [GroupInput(i, rows[i]["uniprot"], rows[i]["protein_name"], pocket_kmers(root / i / "protein.pdb")) for i in ids]


def _name_key(name: str) -> str:
    return re.sub(r"[^A-Z0-9]+", " ", name.upper()).strip()


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)  # the smaller key is the root: deterministic
        return True


@dataclass
class ProteinGroups:
    """Complex id -> protein group after merging; ``n_uniprot``: groups before merging."""

    group_of: dict[str, str]
    n_uniprot: int
    merges: list[dict] = field(default_factory=list)  # each merge of two groups: keys a, b, why

    @property
    def members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for cid in sorted(self.group_of):
            out.setdefault(self.group_of[cid], []).append(cid)
        return out

    def summary(self) -> dict:
        sizes = sorted((len(v) for v in self.members.values()), reverse=True)
        return {"complexes": len(self.group_of), "uniprot_groups": self.n_uniprot, "merged_groups": len(sizes),
                "largest": sizes[:5], "singletons": sum(s == 1 for s in sizes), "merges": self.merges,
                "rule": {"kmer": POCKET_KMER, "containment": MERGE_CONTAINMENT, "min_shared": MIN_SHARED_KMERS, "same_name": True}}


def protein_groups(entries: list[GroupInput], containment: float = MERGE_CONTAINMENT, min_shared: int = MIN_SHARED_KMERS) -> ProteinGroups:
    """UniProt groups, merged (union-find) when two share a protein name or two of their complexes
    have near-identical pockets, so that no fold tests a close homologue of what it trained on."""
    key = {e.id: (e.uniprot if e.uniprot not in UNKNOWN_UNIPROT else f"id:{e.id}") for e in entries}
    uf = _UnionFind()
    for k in key.values():
        uf.find(k)
    merges = []
    by_name: dict[str, str] = {}
    for e in sorted(entries, key=lambda e: e.id):
        name = _name_key(e.name)
        if not name:
            continue
        if name in by_name and uf.union(by_name[name], key[e.id]):
            merges.append({"a": by_name[name], "b": key[e.id], "why": f"name {name}"})
        by_name.setdefault(name, key[e.id])
    ordered = sorted(entries, key=lambda e: e.id)
    for n, a in enumerate(ordered):
        for b in ordered[n + 1 :]:
            if not a.kmers or not b.kmers or uf.find(key[a.id]) == uf.find(key[b.id]):
                continue
            shared = len(a.kmers & b.kmers)
            if shared >= min_shared and shared / min(len(a.kmers), len(b.kmers)) >= containment:
                uf.union(key[a.id], key[b.id])
                merges.append({"a": key[a.id], "b": key[b.id], "why": f"pockets {a.id} {b.id}: {shared} shared {POCKET_KMER}-mers, "
                               f"containment {shared / min(len(a.kmers), len(b.kmers)):.2f}"})
    roots: dict[str, set[str]] = {}
    for k in set(key.values()):
        roots.setdefault(uf.find(k), set()).add(k)
    label = {r: (min(ks) if len(ks) == 1 else f"{min(ks)}+{len(ks) - 1}") for r, ks in roots.items()}
    return ProteinGroups({cid: label[uf.find(k)] for cid, k in key.items()}, len(set(key.values())), merges)


def make_folds(group_of: dict[str, str], k: int, seed: int = 0) -> list[list[str]]:
    """K folds of whole groups, balanced by complex count: groups in decreasing size (ties in a
    seeded random order) each go to the fold with the fewest complexes so far. Deterministic for
    a seed; every complex is in exactly one fold."""
    groups: dict[str, list[str]] = {}
    for cid in sorted(group_of):
        groups.setdefault(group_of[cid], []).append(cid)
    if k < 2 or k > len(groups):
        raise ValueError(f"{k} folds need 2 to {len(groups)} (the number of protein groups)")
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda g: -len(groups[g]))  # stable: equal sizes keep the seeded order
    folds: list[list[str]] = [[] for _ in range(k)]
    for g in order:
        min(folds, key=len).extend(groups[g])
    return [sorted(f) for f in folds]


def inner_validation(train_ids: list[str], group_of: dict[str, str], frac: float, seed: int) -> tuple[list[str], list[str]]:
    """Carve whole groups (about ``frac`` of the complexes) out of a fold's training ids for the
    recipe's epoch choice, so that nothing about the test fold is chosen on the test fold."""
    groups: dict[str, list[str]] = {}
    for cid in sorted(train_ids):
        groups.setdefault(group_of[cid], []).append(cid)
    order = sorted(groups)
    random.Random(seed).shuffle(order)
    target, val = frac * len(train_ids), []
    for g in order:
        if len(val) >= target:
            break
        if len(val) + len(groups[g]) <= 1.5 * target or not val:
            val.extend(groups[g])
    chosen = set(val)
    return sorted(i for i in train_ids if i not in chosen), sorted(val)
