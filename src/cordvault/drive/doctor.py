"""``cordvault drive doctor``: find folders cut off from the root, and re-attach them.

Before moves were serialised (issue 19, see :mod:`cordvault.drive.folders`), two crossed
moves could store a parent cycle: the folders on it, and everything below them, no longer
reach the root, and requests on them answer ``TREE_CORRUPT``. :func:`find_broken` reads every
folder's parent once and groups the unreachable ones by the cycle (or the parentless folder)
they hang from; :func:`repair` breaks each cycle by moving one of its folders, the one changed
last (most likely the move that closed it), to the root under a free name. Nothing is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from cordvault.drive import repository as repo
from cordvault.drive.models import ROOT_ID, TRASH_ID, utcnow
from cordvault.drive.names import OnConflict
from cordvault.drive.placement import place, unique_names


@dataclass(frozen=True)
class Broken:
    """One group of folders cut off from the root.

    ``kind``: ``"cycle"`` (``loop`` lists the ids on the parent cycle) or ``"no parent"``
    (``loop`` is the one non-root folder without a parent); ``cut_off``: how many folders do
    not reach the root because of it (the loop included); ``reattach``: the folder
    :func:`repair` moves (or moved) to the root, as ``new_name``."""

    kind: str
    loop: list[str]
    cut_off: int
    reattach: str
    new_name: str | None = None


def find_broken(db: Session) -> list[Broken]:
    """Every group of folders that do not reach the root (read only; two bounded queries)."""
    rows = repo.all_folder_edges(db)
    parent = {row_id: parent_id for row_id, parent_id, _updated in rows}
    updated = {row_id: updated_at for row_id, _parent, updated_at in rows}
    reachable = {row_id for row_id, _parent in repo.subtree_edges(db, ROOT_ID)}
    # Trashed folders hang from the trash folder, the tree's second (hidden) root.
    reachable |= {row_id for row_id, _parent in repo.subtree_edges(db, TRASH_ID)}
    head_of: dict[str, str] = {}  # unreachable folder -> the id its group is known by
    groups: dict[str, tuple[str, list[str]]] = {}  # group id -> (kind, loop)
    for start in parent:
        if start in reachable or start in head_of:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        current: str | None = start
        head: str | None = None
        while True:  # each step grows ``on_path`` or stops: at most len(parent) steps
            if current is None:  # a non-root folder without a parent heads the group
                head = path[-1]
                groups[head] = ("no parent", [head])
                break
            if current in reachable:  # moved or deleted between the two reads: not broken
                break
            if current in head_of:
                head = head_of[current]
                break
            if current in on_path:  # closed a cycle: its members are path[from current:]
                loop = path[path.index(current) :]
                head = loop[0]
                groups[head] = ("cycle", loop)
                break
            path.append(current)
            on_path.add(current)
            current = parent.get(current)
        if head is not None:
            for row_id in path:
                head_of[row_id] = head
    out: list[Broken] = []
    for head, (kind, loop) in groups.items():
        out.append(
            Broken(
                kind=kind,
                loop=loop,
                cut_off=sum(1 for h in head_of.values() if h == head),
                reattach=max(loop, key=lambda row_id: (updated[row_id], row_id)),
            )
        )
    return sorted(out, key=lambda b: b.reattach)


def repair(db: Session) -> list[Broken]:
    """Re-attach one folder of each broken group to the root (renamed if its name is taken
    there); returns the groups with their new names. Takes the tree lock first."""
    repo.lock_folder_tree(db)
    done: list[Broken] = []
    for broken in find_broken(db):
        row = repo.folder(db, broken.reattach)
        assert row is not None
        spot = place(db, ROOT_ID, row.name, OnConflict.RENAME)
        with unique_names(db):
            row.parent_id, row.name, row.updated_at = ROOT_ID, spot.name, utcnow()
        done.append(replace(broken, new_name=spot.name))
    return done
