"""Vectorised overlay primitives shared by the conflict check and the buildable finder.

Everything works on numpy arrays of shapely 2 geometries and integer group
labels: STRtree candidate pairs, pairwise intersections, per-group unions
(padded into a matrix and unioned along an axis, bucketed by group size so no
Python loop runs per feature), polygonal-part extraction and exploding with
owner indices.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import shapely

__all__ = [
    "Overlap",
    "explode",
    "intersect_by_group",
    "polygonal",
    "query_pairs",
    "union_by_group",
]

_POLYGON, _MULTIPOLYGON, _COLLECTION = 3, 6, 7


def polygonal(geoms: np.ndarray) -> np.ndarray:
    """Keep only polygonal parts: lines and points left by overlays are dropped.

    Parameters
    ----------
    geoms : ndarray of shapely geometries

    Returns
    -------
    ndarray
        Polygons and MultiPolygons unchanged; collections reduced to a
        MultiPolygon of their polygon parts (empty when none); anything else
        becomes an empty MultiPolygon.
    """
    geoms = np.asarray(geoms, dtype=object)
    out = geoms.copy()
    types = shapely.get_type_id(geoms)
    out[~np.isin(types, [_POLYGON, _MULTIPOLYGON, _COLLECTION])] = shapely.MultiPolygon()
    coll_pos = np.flatnonzero(types == _COLLECTION)
    if not len(coll_pos):
        return out
    parts, owner = shapely.get_parts(geoms[coll_pos], return_index=True)
    # MultiPolygons inside a collection: flatten one level more.
    sub, sub_owner = shapely.get_parts(parts, return_index=True)
    owner = owner[sub_owner]
    keep = shapely.get_type_id(sub) == _POLYGON
    sub, owner = sub[keep], owner[keep]
    result = np.full(len(coll_pos), shapely.MultiPolygon(), dtype=object)
    if len(sub):
        groups, dense = np.unique(owner, return_inverse=True)
        result[groups] = shapely.multipolygons(sub, indices=dense)
    out[coll_pos] = result
    return out


def union_by_group(geoms: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Union geometries that share a group label.

    Parameters
    ----------
    geoms : ndarray of shapely geometries
    groups : ndarray of int
        Group label of each geometry.

    Returns
    -------
    labels : ndarray of int
        The distinct group labels, sorted.
    unions : ndarray of shapely geometries
        The union of each group, aligned with ``labels``.
    """
    geoms = np.asarray(geoms, dtype=object)
    order = np.argsort(groups, kind="stable")
    geoms, groups = geoms[order], np.asarray(groups)[order]
    labels, start, counts = np.unique(groups, return_index=True, return_counts=True)
    unions = np.empty(len(labels), dtype=object)
    single = counts == 1
    unions[single] = geoms[start[single]]
    pos_in_group = np.arange(len(groups)) - np.repeat(start, counts)
    group_of = np.repeat(np.arange(len(labels)), counts)
    # Bucket groups by size (2, 3–4, 5–8, ...) so the padded matrix stays dense.
    width, largest = 2, counts.max(initial=0)
    while width // 2 < largest:
        sel = (counts > width // 2) & (counts <= width)
        if sel.any():
            rows = np.cumsum(sel) - 1
            member = sel[group_of]
            matrix = np.full((int(sel.sum()), width), None, dtype=object)
            matrix[rows[group_of[member]], pos_in_group[member]] = geoms[member]
            unions[sel] = shapely.union_all(matrix, axis=1)
        width *= 2
    return labels, unions


class Overlap(NamedTuple):
    """What :func:`intersect_by_group` found.

    Attributes
    ----------
    hit : ndarray of int
        Indices of targets that overlap the layer with positive area.
    inside : ndarray of shapely geometries
        ``target ∩ union(layer)`` for each ``hit`` target.
    covered : ndarray of bool
        Per ``hit`` target: it lies wholly in one feature, so ``inside`` is
        the target itself (no geometry was computed for it).
    pair_target, pair_layer : ndarray of int
        All candidate (target, layer feature) pairs with a positive-area
        intersection (every feature a covered target meets), for attributing
        pieces to layer ids; sorted by target, then feature.
    """

    hit: np.ndarray
    inside: np.ndarray
    covered: np.ndarray
    pair_target: np.ndarray
    pair_layer: np.ndarray


def intersect_by_group(
    targets: np.ndarray, layer: np.ndarray, tree: shapely.STRtree | None = None
) -> Overlap:
    """Intersect each target with the union of the layer features it meets.

    Overlapping layer features (a farmland patch drawn twice) are unioned
    first, so areas never double-count.  The layer features a target's box
    reaches are prepared in place (GEOS caches their edge index; prepared
    geometries must not be shared between threads, see
    :mod:`landuse.core.chunks`).

    Parameters
    ----------
    targets : ndarray of shapely geometries
        E.g. parcels.
    layer : ndarray of shapely geometries
        E.g. farmland patches.
    tree : STRtree, optional
        A tree over ``layer`` when the caller already has one.

    Returns
    -------
    Overlap
    """
    tree = tree if tree is not None else shapely.STRtree(layer)
    t_idx, l_idx = _ordered(*tree.query(targets))
    shapely.prepare(layer[np.unique(l_idx)])
    meets = shapely.intersects(layer[l_idx], targets[t_idx])
    t_idx, l_idx = t_idx[meets], l_idx[meets]
    if not len(t_idx):
        empty = np.array([], dtype=int)
        return Overlap(empty, np.array([], dtype=object), np.array([], dtype=bool), empty, empty)
    # Targets covered by a single feature need no geometry work: the piece is the target.
    covered = np.zeros(len(targets), dtype=bool)
    covered[t_idx[shapely.covers(layer[l_idx], targets[t_idx])]] = True
    pieces = np.empty(len(t_idx), dtype=object)
    whole = covered[t_idx]
    pieces[whole] = targets[t_idx[whole]]
    part = ~whole
    pieces[part] = polygonal(shapely.intersection(targets[t_idx[part]], layer[l_idx[part]]))
    positive = shapely.area(pieces) > 0
    t_idx, l_idx, pieces = t_idx[positive], l_idx[positive], pieces[positive]
    hit, inside = union_by_group(pieces, t_idx)
    fully = covered[hit]
    inside[fully] = targets[hit[fully]]
    inside[~fully] = polygonal(inside[~fully])
    return Overlap(hit, inside, fully, t_idx, l_idx)


def _ordered(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs sorted by (first, second).

    STRtree returns pairs in tree order, which depends on what else the tree
    holds; unions in another order differ in the last bits.
    """
    order = np.lexsort((second, first))
    return first[order], second[order]


def query_pairs(
    tree_geoms: np.ndarray, targets: np.ndarray, predicate: str = "intersects"
) -> tuple[np.ndarray, np.ndarray]:
    """(target, tree) index pairs meeting ``predicate``, in a deterministic order."""
    return _ordered(*shapely.STRtree(tree_geoms).query(targets, predicate=predicate))


def explode(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split multi-part geometries into parts.

    Returns
    -------
    parts : ndarray of shapely geometries
    owner : ndarray of int
        Index into ``geoms`` of each part's source.
    """
    parts, owner = shapely.get_parts(np.asarray(geoms, dtype=object), return_index=True)
    return parts, owner
