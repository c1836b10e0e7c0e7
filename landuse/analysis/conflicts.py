"""Three-control-line conflict check (三区三线): parcels against UDB, farmland, eco red line.

For every parcel: the area inside and outside the urban development boundary
(城镇开发边界), the area on permanent basic farmland (永久基本农田), on the
ecological protection red line (生态保护红线) and on any further constraint
layer, each in m², 亩 and as a share of the parcel, with a status.

Overlapping features of one constraint layer are unioned per parcel first, so
areas never double-count.  Every overlap is cut into connected *pieces* (one
row per parcel × piece, with the parcel id and the ids of the constraint
features it lies on); a piece that is small **and** a small share of the
parcel, or thinner than a strip width, is *boundary noise* (边界误差) —
digitising offsets between layers — rather than a conflict.  Noise pieces are
still listed so nobody has to trust the tolerance blindly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.core.chunks import map_chunks, thread_count
from landuse.core.crs import check_same_crs
from landuse.core.errors import CRSError, SchemaError
from landuse.core.labels import sum_by
from landuse.core.options import CheckOptions
from landuse.core.overlay import explode, intersect_by_group
from landuse.core.units import m2_to_mu
from landuse.core.validate import check_layer

__all__ = [
    "CONSTRAINT_LABELS",
    "ConflictResult",
    "NoiseTolerance",
    "certified_outside_udb",
    "check_conflicts",
    "conflict_summary",
    "sort_pieces",
]

#: Layer name → (Chinese label, English label) of the conflict it causes.
CONSTRAINT_LABELS: dict[str, tuple[str, str]] = {
    "udb_outside": ("超出城镇开发边界", "outside urban development boundary"),
    "farmland": ("占用永久基本农田", "occupies permanent basic farmland"),
    "eco_redline": ("占用生态保护红线", "occupies ecological red line"),
}
NOISE_LABEL = ("边界误差", "boundary noise")
COMPLIANT_LABEL = ("合规", "compliant")

_ID_CANDIDATES = ("zone_id", "patch_id", "park_id")


@dataclass(frozen=True)
class NoiseTolerance:
    """When an overlap piece counts as digitising noise rather than a conflict.

    A piece is noise when it is smaller than ``area_m2`` **and** smaller than
    ``share`` of its parcel, or when it is thinner than ``width_m`` everywhere.
    The defaults are conservative (no official tolerance exists; practitioners
    drop slivers under a few hundred m²): 50 m² and 0.5 %, or 0.5 m wide.
    """

    area_m2: float = 50.0
    share: float = 0.005
    width_m: float = 0.5

    @classmethod
    def from_options(cls, options: CheckOptions) -> NoiseTolerance:
        """The tolerance set in a project's ``[check]`` table."""
        return cls(options.noise_area_m2, options.noise_share, options.noise_width_m)


@dataclass
class ConflictResult:
    """Per-parcel figures and the overlap pieces."""

    parcels: gpd.GeoDataFrame
    pieces: gpd.GeoDataFrame
    tolerance: NoiseTolerance = field(default_factory=NoiseTolerance)


def _feature_ids(gdf: gpd.GeoDataFrame, name: str) -> np.ndarray:
    for col in _ID_CANDIDATES:
        if col in gdf.columns:
            return gdf[col].astype(str).to_numpy()
    return np.array([f"{name}#{k}" for k in range(1, len(gdf) + 1)], dtype=object)


def _geoms(gdf: gpd.GeoDataFrame) -> np.ndarray:
    return np.asarray(gdf.geometry.array, dtype=object)


@dataclass(frozen=True)
class _Layer:
    """A constraint layer as arrays: geometries, and ids as codes in id order."""

    geoms: np.ndarray
    codes: np.ndarray
    names: np.ndarray  # names[codes] are the ids

    @classmethod
    def of(cls, gdf: gpd.GeoDataFrame, name: str) -> _Layer:
        codes, names = pd.factorize(_feature_ids(gdf, name), sort=True)
        return cls(_geoms(gdf), codes, np.asarray(names, dtype=object))

    def near(self, geoms: np.ndarray, pick: np.ndarray) -> _Layer:
        """The features at ``pick`` (their geometries given as ``geoms``)."""
        return _Layer(geoms, self.codes[pick], self.names)


#: Overlap pieces as columns: parcel (position), constraint, constraint_ids, geometry,
#: then from _classify area_m2, area_mu, share, kind.
_Pieces = dict[str, np.ndarray]


def _joined_ids(part: np.ndarray, code: np.ndarray, names: np.ndarray, n: int) -> np.ndarray:
    """Per part (``0 … n-1``), the distinct ids of its features, sorted and ``;``-joined."""
    order = np.lexsort((code, part))  # code order is id order
    part, code = part[order], code[order]
    repeat = np.r_[False, (part[1:] == part[:-1]) & (code[1:] == code[:-1])][: len(part)]
    part, code = part[~repeat], code[~repeat]
    out = np.full(n, "", dtype=object)
    single = np.bincount(part, minlength=n)[part] == 1
    out[part[single]] = names[code[single]]
    if not single.all():  # only parts on several features need Python string joins
        joined = pd.Series(names[code[~single]], dtype=object).groupby(part[~single]).agg(";".join)
        out[joined.index.to_numpy()] = joined.to_numpy()
    return out


def _pairs_of(parcel: np.ndarray, pair_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each entry of ``parcel``, the positions of its pairs in the sorted ``pair_t``.

    Returns (entry, position), entries repeated once per pair.
    """
    start = np.searchsorted(pair_t, parcel, "left")
    count = np.searchsorted(pair_t, parcel, "right") - start
    entry = np.repeat(np.arange(len(parcel)), count)
    position = np.arange(count.sum()) + np.repeat(start - np.cumsum(count) + count, count)
    return entry, position


def _occupation_pieces(parcels: np.ndarray, layer: _Layer, name: str) -> _Pieces:
    """Connected pieces of parcel ∩ layer, with the ids of the features under each."""
    found = intersect_by_group(parcels, layer.geoms)
    parts, owner = explode(found.inside)
    parcel_of_part = found.hit[owner]
    pair_t, pair_l = found.pair_target, found.pair_layer
    # A parcel meeting one feature lies on it with every piece: no second intersection.
    single = np.bincount(pair_t, minlength=len(parcels))[parcel_of_part] == 1
    one = np.flatnonzero(single & (shapely.area(parts) > 0))
    one_feature = pair_l[np.searchsorted(pair_t, parcel_of_part[one])]
    # Pieces of parcels on several features: test each feature their parcel meets.
    multi = np.flatnonzero(~single)
    entry, position = _pairs_of(parcel_of_part[multi], pair_t)
    part_idx, feature_idx = multi[entry], pair_l[position]
    on = shapely.area(shapely.intersection(parts[part_idx], layer.geoms[feature_idx])) > 0
    features = np.concatenate([one_feature, feature_idx[on]])
    return {
        "parcel": parcel_of_part,
        "constraint": np.full(len(parts), name, dtype=object),
        "constraint_ids": _joined_ids(
            np.concatenate([one, part_idx[on]]), layer.codes[features], layer.names, len(parts)
        ),
        "geometry": parts,
    }


def _outside_pieces(parcels: np.ndarray, udb: np.ndarray) -> tuple[_Pieces, np.ndarray]:
    """Pieces of each parcel outside the UDB, and each parcel's inside area (m²)."""
    found = intersect_by_group(parcels, udb)
    inside_m2 = np.zeros(len(parcels))
    inside_m2[found.hit] = shapely.area(found.inside)
    outside = parcels.copy()
    part = found.hit[~found.covered]
    outside[part] = shapely.difference(parcels[part], found.inside[~found.covered])
    # A parcel inside a single UDB feature has nothing outside: no difference computed.
    rest = np.ones(len(parcels), dtype=bool)
    rest[found.hit[found.covered]] = False
    parts, owner = explode(outside[rest])
    owner = np.flatnonzero(rest)[owner]
    keep = shapely.area(parts) > 0
    pieces = {
        "parcel": owner[keep],
        "constraint": np.full(int(keep.sum()), "udb_outside", dtype=object),
        "constraint_ids": np.full(int(keep.sum()), "", dtype=object),
        "geometry": parts[keep],
    }
    return pieces, inside_m2


def _concat(pieces: list[_Pieces]) -> _Pieces:
    return {key: np.concatenate([p[key] for p in pieces]) for key in pieces[0]}


def _chunk_pieces(
    parcels: np.ndarray, udb: np.ndarray, layers: Mapping[str, _Layer], tol: NoiseTolerance
) -> tuple[np.ndarray, _Pieces]:
    """Inside-UDB area (m²) and classified overlap pieces of some parcels."""
    outside, inside_m2 = _outside_pieces(parcels, udb)
    pieces = [outside] + [_occupation_pieces(parcels, lyr, name) for name, lyr in layers.items()]
    return inside_m2, _classify(_concat(pieces), shapely.area(parcels), tol)


def _overlap_pieces(
    parcels: np.ndarray,
    udb: np.ndarray,
    layers: Mapping[str, _Layer],
    tol: NoiseTolerance,
    threads: int,
) -> tuple[np.ndarray, _Pieces]:
    """:func:`_chunk_pieces` on spatial chunks of the parcels, ``threads`` at a time."""

    def run(
        rows: np.ndarray, near: list[np.ndarray], picks: list[np.ndarray]
    ) -> tuple[np.ndarray, _Pieces]:
        local = {
            name: layer.near(geoms, pick)
            for (name, layer), geoms, pick in zip(layers.items(), near[1:], picks[1:], strict=True)
        }
        inside_m2, pieces = _chunk_pieces(parcels[rows], near[0], local, tol)
        pieces["parcel"] = rows[pieces["parcel"]]
        return inside_m2, pieces

    geoms = [udb, *(layer.geoms for layer in layers.values())]
    done = map_chunks(run, parcels, geoms, threads=threads)
    inside_m2 = np.zeros(len(parcels))
    for rows, (chunk_m2, _) in done:
        inside_m2[rows] = chunk_m2
    return inside_m2, _concat([pieces for _, (_, pieces) in done])


def _classify(pieces: _Pieces, parcel_m2: np.ndarray, tol: NoiseTolerance) -> _Pieces:
    geoms = pieces["geometry"]
    area = shapely.area(geoms)
    share = area / parcel_m2[pieces["parcel"]]
    thin = shapely.is_empty(shapely.buffer(geoms, -tol.width_m / 2, join_style="mitre"))
    noise = thin | ((area < tol.area_m2) & (share < tol.share))
    return pieces | {
        "area_m2": area,
        "area_mu": m2_to_mu(area),
        "share": share,
        "kind": np.where(noise, "noise", "conflict").astype(object),
    }


def check_conflicts(
    parcels: gpd.GeoDataFrame,
    *,
    udb: gpd.GeoDataFrame,
    farmland: gpd.GeoDataFrame | None = None,
    eco_redline: gpd.GeoDataFrame | None = None,
    others: Mapping[str, gpd.GeoDataFrame] | None = None,
    labels: Mapping[str, tuple[str, str]] | None = None,
    tolerance: NoiseTolerance | None = None,
    id_field: str = "parcel_id",
    threads: int | None = None,
) -> ConflictResult:
    """Check parcels against the three control lines and further constraint layers.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels (or a proposed project's red-line drawing) with a unique
        ``id_field``; a projected CRS shared by every layer.
    udb : GeoDataFrame
        Urban development boundary (城镇开发边界); overlapping polygons are fine.
    farmland, eco_redline : GeoDataFrame, optional
        Permanent basic farmland and ecological protection red line.
    others : mapping of str to GeoDataFrame, optional
        Further constraint layers (flood zones, water-source protection ...).
    labels : mapping, optional
        Layer name → (Chinese, English) conflict label for ``others``.
    tolerance : NoiseTolerance, optional
        When a piece is boundary noise; conservative defaults.
    id_field : str
        The parcel id column.
    threads : int, optional
        Threads running spatial chunks of the parcels at once (default: every
        core); the result is the same for any number.

    Returns
    -------
    ConflictResult
        ``parcels``: the input rows in input order with, per constraint ``c``
        (``udb_outside``, ``farmland``, ``eco_redline``, others): ``c_m2``,
        ``c_mu``, ``c_share``, a flag (``outside_udb``, ``occupies_c``), plus
        ``area_m2``, ``area_mu``, ``udb_inside_m2``, ``udb_inside_mu``,
        ``noise_m2``, ``compliant``, ``status`` (Chinese) and ``status_en``.
        ``pieces``: one row per connected overlap piece: ``parcel_id``,
        ``constraint``, ``constraint_ids``, ``kind`` (``conflict``/``noise``),
        ``area_m2``, ``area_mu``, ``share``.

    Examples
    --------
    A 100 m square half inside the UDB: 5000 m² = 7.5 亩 in and out.

    >>> import geopandas as gpd, shapely
    >>> p = gpd.GeoDataFrame({"parcel_id": ["A"]}, geometry=[shapely.box(0, 0, 100, 100)],
    ...                      crs="EPSG:4545")
    >>> u = gpd.GeoDataFrame(geometry=[shapely.box(50, -10, 200, 110)], crs="EPSG:4545")
    >>> r = check_conflicts(p, udb=u).parcels
    >>> float(r["udb_inside_mu"].iloc[0]), float(r["udb_outside_mu"].iloc[0]), r["status"].iloc[0]
    (7.5, 7.5, '超出城镇开发边界')
    """
    tol = tolerance or NoiseTolerance()
    layers: dict[str, gpd.GeoDataFrame] = {}
    if farmland is not None:
        layers["farmland"] = farmland
    if eco_redline is not None:
        layers["eco_redline"] = eco_redline
    layers.update(others or {})
    all_labels = {**CONSTRAINT_LABELS, **(labels or {})}
    for name in layers:
        all_labels.setdefault(name, (f"占用{name}", f"occupies {name}"))
    crs = check_same_crs({"parcels": parcels, "udb": udb, **layers})
    if not crs.is_projected:
        raise CRSError(
            f"Conflict areas need a projected CRS, got {crs.name}; reproject all layers with "
            ".to_crs(landuse.core.crs.analysis_crs(parcels))."
        )
    check_layer(parcels, layer_name="parcels", required=[id_field], id_field=id_field)
    if parcels.geometry.isna().any() or parcels.geometry.is_empty.any():
        raise SchemaError(
            "Layer 'parcels' has null or empty geometries; clean it first with "
            "landuse.core.validate.clean_geometries (the report lists what was dropped)."
        )

    geoms = _geoms(parcels)
    parcel_m2 = shapely.area(geoms)
    arrays = {name: _Layer.of(lyr, name) for name, lyr in layers.items()}
    inside_m2, found = _overlap_pieces(geoms, _geoms(udb), arrays, tol, thread_count(threads))
    pieces = pd.DataFrame(found)

    out = parcels.copy()
    out["area_m2"] = parcel_m2
    out["area_mu"] = m2_to_mu(parcel_m2)
    out["udb_inside_m2"] = inside_m2
    out["udb_inside_mu"] = m2_to_mu(inside_m2)
    n = len(parcels)
    conflict_any = np.zeros(n, dtype=bool)
    status_zh = np.full(n, "", dtype=object)
    status_en = np.full(n, "", dtype=object)
    for name in ["udb_outside", *layers]:
        sel = pieces["constraint"] == name
        total = np.bincount(pieces.loc[sel, "parcel"], pieces.loc[sel, "area_m2"], minlength=n)
        real = sel & (pieces["kind"] == "conflict")
        flag = np.bincount(pieces.loc[real, "parcel"], minlength=n) > 0
        out[f"{name}_m2"] = total
        out[f"{name}_mu"] = m2_to_mu(total)
        out[f"{name}_share"] = total / parcel_m2
        out["outside_udb" if name == "udb_outside" else f"occupies_{name}"] = flag
        zh, en = all_labels[name]
        # String work only on the flagged parcels (a few in a county, many at scale).
        status_zh[flag] = np.where(status_zh[flag] == "", zh, status_zh[flag] + "；" + zh)
        status_en[flag] = np.where(status_en[flag] == "", en, status_en[flag] + "; " + en)
        conflict_any |= flag
    noise = pieces["kind"] == "noise"
    out["noise_m2"] = np.bincount(
        pieces.loc[noise, "parcel"], pieces.loc[noise, "area_m2"], minlength=n
    )
    has_noise = out["noise_m2"].to_numpy() > 0
    out["compliant"] = ~conflict_any
    out["status"] = np.where(
        conflict_any, status_zh, np.where(has_noise, NOISE_LABEL[0], COMPLIANT_LABEL[0])
    )
    out["status_en"] = np.where(
        conflict_any, status_en, np.where(has_noise, NOISE_LABEL[1], COMPLIANT_LABEL[1])
    )
    if "certificate_no" in out.columns:
        cert = out["certificate_no"].fillna("").astype(str).str.strip() != ""
        out["certified_outside_udb"] = cert.to_numpy() & out["outside_udb"].to_numpy()

    ids = parcels[id_field].to_numpy()
    piece_gdf = gpd.GeoDataFrame(
        {
            id_field: ids[pieces["parcel"].to_numpy()],
            "constraint": pieces["constraint"].to_numpy(),
            "constraint_label": pieces["constraint"]
            .map({name: label[0] for name, label in all_labels.items()})
            .to_numpy(),
            "constraint_ids": pieces["constraint_ids"].to_numpy(),
            "kind": pieces["kind"].to_numpy(),
            "area_m2": pieces["area_m2"].to_numpy(),
            "area_mu": pieces["area_mu"].to_numpy(),
            "share": pieces["share"].to_numpy(),
        },
        geometry=pieces["geometry"].to_numpy(),
        crs=crs,
    )
    return ConflictResult(
        parcels=out, pieces=sort_pieces(piece_gdf, id_field=id_field), tolerance=tol
    )


def sort_pieces(pieces: gpd.GeoDataFrame, *, id_field: str = "parcel_id") -> gpd.GeoDataFrame:
    """Pieces in report order: by parcel id, constraint, then largest first."""
    order = np.lexsort(
        (
            -pieces["area_m2"].to_numpy(),
            pieces["constraint"].to_numpy(),
            pieces[id_field].astype(str).to_numpy(),
        )
    )
    return pieces.iloc[order].reset_index(drop=True)


def certified_outside_udb(
    result: ConflictResult | pd.DataFrame, *, id_field: str = "parcel_id"
) -> pd.DataFrame:
    """Parcels holding a land certificate that lie (partly) outside the UDB.

    Such parcels cannot get a building permit (a real case from a park report).

    Parameters
    ----------
    result : ConflictResult or DataFrame
        The check, or checked parcels (e.g. the rows of several batches
        flagged ``certified_outside_udb``, in order).

    Returns
    -------
    DataFrame
        Id, name, park, enterprise, certificate and the outside area, largest first.
    """
    p = result.parcels if isinstance(result, ConflictResult) else result
    if "certified_outside_udb" not in p.columns:
        raise SchemaError("Parcels have no certificate_no field; map it in landuse.toml.")
    cols = [
        c
        for c in (
            id_field,
            "parcel_name",
            "park",
            "enterprise_name",
            "certificate_no",
            "area_mu",
            "udb_outside_m2",
            "udb_outside_mu",
            "udb_outside_share",
        )
        if c in p.columns
    ]
    listed = p.loc[p["certified_outside_udb"], cols]
    return pd.DataFrame(listed).sort_values("udb_outside_m2", ascending=False, ignore_index=True)


def conflict_summary(result: ConflictResult) -> pd.DataFrame:
    """Conflicts per park: parcels checked, in conflict, and per constraint parcels and 亩.

    A parcel counts under a constraint only for a real conflict (not boundary
    noise), and its area there is the parcel's area outside the UDB or on the
    constraint layer; a parcel with several conflicts counts under each.

    Returns
    -------
    DataFrame
        ``park``, ``parcels``, ``conflict_parcels``, then ``<c>_parcels`` and
        ``<c>_mu`` for ``udb_outside`` and each checked layer; the 合计 row last.
    """
    p = result.parcels
    flags = {"udb_outside": "outside_udb"}
    flags |= {c.removeprefix("occupies_"): c for c in p.columns if c.startswith("occupies_")}
    frame = pd.DataFrame(
        {
            "park": p["park"] if "park" in p.columns else "全部",
            "parcels": 1,
            "conflict_parcels": (~p["compliant"]).astype(int),
        },
        index=p.index,
    )
    for name, flag in flags.items():
        frame[f"{name}_parcels"] = p[flag].astype(int)
        frame[f"{name}_mu"] = p[f"{name}_mu"].where(p[flag], 0.0)
    return sum_by(frame, "park")
