import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from landuse.analysis.conflicts import NoiseTolerance, certified_outside_udb, check_conflicts
from landuse.core.errors import CRSError, CRSMismatchError, DuplicateIdError
from landuse.core.options import CheckOptions

CRS = "EPSG:4545"  # CGCS2000 GK CM 108°E, no prefix: small local coordinates


def layer(boxes, ids=None, id_field="patch_id", **cols):
    data = dict(cols)
    if ids is not None:
        data[id_field] = ids
    return gpd.GeoDataFrame(data, geometry=[shapely.box(*b) for b in boxes], crs=CRS)


def parcels(boxes, ids, **cols):
    return layer(boxes, ids, "parcel_id", **cols)


def test_half_inside_udb():
    # 100 m × 100 m parcel, UDB covers x ≥ 50: 5000 m² = 7.5 亩 in and out.
    p = parcels([(0, 0, 100, 100)], ["A"])
    u = layer([(50, -10, 200, 110)], ["U1"], "zone_id")
    r = check_conflicts(p, udb=u)
    row = r.parcels.iloc[0]
    assert row["area_m2"] == pytest.approx(10_000)
    assert row["udb_inside_m2"] == pytest.approx(5_000)
    assert row["udb_outside_m2"] == pytest.approx(5_000)
    assert row["udb_inside_mu"] == pytest.approx(7.5)
    assert row["udb_outside_mu"] == pytest.approx(7.5)
    assert row["udb_outside_share"] == pytest.approx(0.5)
    assert row["outside_udb"] and not row["compliant"]
    assert row["status"] == "超出城镇开发边界"
    piece = r.pieces.iloc[0]
    assert (piece["constraint"], piece["kind"]) == ("udb_outside", "conflict")
    assert piece.geometry.equals(shapely.box(0, 0, 50, 100))


def test_overlapping_farmland_never_double_counts():
    # Parcel 100 × 100. Patch F1 = x 0–60 (6000 m²); F2 = x 40–100, y 0–50 overlaps F1
    # on 40–60 × 0–50; F3 is F1 drawn twice. Union in parcel: 6000 + 40·50 = 8000 m².
    p = parcels([(0, 0, 100, 100)], ["A"])
    u = layer([(-10, -10, 110, 110)])
    f = layer([(0, 0, 60, 100), (40, 0, 100, 50), (0, 0, 60, 100)], ["F1", "F2", "F3"])
    r = check_conflicts(p, udb=u, farmland=f)
    row = r.parcels.iloc[0]
    assert row["farmland_m2"] == pytest.approx(8_000)
    assert row["farmland_mu"] == pytest.approx(12.0)
    assert row["farmland_share"] == pytest.approx(0.8)
    pieces = r.pieces[r.pieces["constraint"] == "farmland"]
    assert len(pieces) == 1
    assert pieces["constraint_ids"].iloc[0] == "F1;F2;F3"
    assert pieces["area_m2"].sum() == pytest.approx(8_000)
    assert row["status"] == "占用永久基本农田"


def test_sliver_under_tolerance_is_noise_not_conflict():
    # A 0.3 m strip along the edge (30 m², 0.3 % of the parcel): noise.
    p = parcels([(0, 0, 100, 100), (200, 0, 300, 100), (400, 0, 410, 10)], ["S", "R", "T"])
    u = layer([(-10, -10, 500, 110)])
    f = layer(
        [
            (99.7, 0, 150, 100),  # S: 30 m² sliver
            (290, 90, 310, 110),  # R: 10 × 10 = 100 m², 1 %: above 50 m² → conflict
            (405, 5, 420, 20),
        ],  # T: 5 × 5 = 25 m² of a 100 m² parcel: small but 25 %
        ["F1", "F2", "F3"],
    )
    r = check_conflicts(p, udb=u, farmland=f).parcels.set_index("parcel_id")
    assert r.loc["S", "status"] == "边界误差" and r.loc["S", "compliant"]
    assert r.loc["S", "farmland_m2"] == pytest.approx(30)
    assert r.loc["S", "noise_m2"] == pytest.approx(30)
    assert not r.loc["S", "occupies_farmland"]
    assert r.loc["R", "occupies_farmland"] and r.loc["R", "farmland_m2"] == pytest.approx(100)
    assert r.loc["T", "occupies_farmland"] and r.loc["T", "farmland_m2"] == pytest.approx(25)


def test_tolerance_is_configurable():
    p = parcels([(0, 0, 100, 100)], ["A"])
    u = layer([(-10, -10, 110, 110)])
    f = layer([(90, 90, 110, 110)], ["F1"])  # 100 m², 1 %
    strict = check_conflicts(p, udb=u, farmland=f).parcels.iloc[0]
    loose = check_conflicts(
        p, udb=u, farmland=f, tolerance=NoiseTolerance(area_m2=200, share=0.02)
    ).parcels.iloc[0]
    assert strict["occupies_farmland"] and not loose["occupies_farmland"]
    assert NoiseTolerance.from_options(CheckOptions(noise_area_m2=200)).area_m2 == 200


def test_several_statuses_and_other_layers():
    # Outside the UDB on x < 20 (2000 m²), eco red line on x > 70 (3000 m²),
    # a flood zone on y > 90 (1000 m²).
    p = parcels(
        [(0, 0, 100, 100), (500, 500, 600, 600)],
        ["A", "OK"],
        certificate_no=["桂(2020)来宾市不动产权第1号", None],
    )
    u = layer([(20, -10, 110, 110), (400, 400, 700, 700)])
    e = layer([(70, -10, 130, 110)], ["E1"])
    flood = layer([(-10, 90, 110, 200)], ["W1"])
    r = check_conflicts(
        p,
        udb=u,
        eco_redline=e,
        others={"flood": flood},
        labels={"flood": ("占用洪水淹没区", "in flood zone")},
    )
    a = r.parcels.set_index("parcel_id").loc["A"]
    assert a["status"] == "超出城镇开发边界；占用生态保护红线；占用洪水淹没区"
    assert a["status_en"].startswith("outside urban development boundary; occupies eco")
    assert a["udb_outside_m2"] == pytest.approx(2000)
    assert a["eco_redline_m2"] == pytest.approx(3000)
    assert a["flood_m2"] == pytest.approx(1000) and a["occupies_flood"]
    assert r.parcels.set_index("parcel_id").loc["OK", "status"] == "合规"
    listed = certified_outside_udb(r)
    assert listed["parcel_id"].tolist() == ["A"]
    assert listed["udb_outside_mu"].iloc[0] == pytest.approx(3.0)


def test_count_in_equals_count_out_and_input_untouched():
    p = parcels([(0, 0, 10, 10), (20, 0, 30, 10), (40, 0, 50, 10)], ["c", "a", "b"])
    p.index = [7, 3, 5]
    before = p.copy()
    r = check_conflicts(p, udb=layer([(0, 0, 25, 10)]))
    assert r.parcels.index.tolist() == [7, 3, 5]
    assert r.parcels["parcel_id"].tolist() == ["c", "a", "b"]
    pd.testing.assert_frame_equal(p, before)


def test_bad_inputs():
    p = parcels([(0, 0, 10, 10), (0, 0, 10, 10)], ["A", "A"])
    with pytest.raises(DuplicateIdError):
        check_conflicts(p, udb=layer([(0, 0, 5, 5)]))
    ok = parcels([(0, 0, 10, 10)], ["A"])
    with pytest.raises(CRSMismatchError):
        check_conflicts(ok, udb=layer([(0, 0, 5, 5)]).set_crs(4546, allow_override=True))
    geo = ok.set_crs(4490, allow_override=True)
    with pytest.raises(CRSError, match="projected"):
        check_conflicts(geo, udb=layer([(0, 0, 5, 5)]).set_crs(4490, allow_override=True))


def _overlay_areas(p, constraint):
    """Independent reference: geopandas.overlay on the dissolved constraint layer."""
    dissolved = constraint[["geometry"]].dissolve()
    inter = gpd.overlay(
        p[["parcel_id", "geometry"]], dissolved, how="intersection", keep_geom_type=True
    )
    return inter.dissolve("parcel_id").area.reindex(p["parcel_id"], fill_value=0.0)


rect = st.tuples(
    st.integers(0, 80), st.integers(0, 80), st.integers(1, 40), st.integers(1, 40)
).map(lambda t: (t[0], t[1], t[0] + t[2], t[1] + t[3]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parcel_boxes=st.lists(rect, min_size=1, max_size=8),
    farm_boxes=st.lists(rect, min_size=1, max_size=8),
    udb_boxes=st.lists(rect, min_size=1, max_size=4),
    seed=st.integers(0, 2**16),
)
def test_properties_against_overlay(parcel_boxes, farm_boxes, udb_boxes, seed):
    p = parcels(parcel_boxes, [f"P{k}" for k in range(len(parcel_boxes))])
    f = layer(farm_boxes, [f"F{k}" for k in range(len(farm_boxes))])
    u = layer(udb_boxes)
    res = check_conflicts(p, udb=u, farmland=f).parcels
    area = res["area_m2"].to_numpy()
    # Conservation: inside + outside = parcel; conflicts never exceed the parcel.
    np.testing.assert_allclose(res["udb_inside_m2"] + res["udb_outside_m2"], area, rtol=1e-9)
    assert (res["farmland_m2"] <= area * (1 + 1e-9)).all()
    # Same areas as the geopandas.overlay formulation.
    np.testing.assert_allclose(res["farmland_m2"], _overlay_areas(p, f), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res["udb_inside_m2"], _overlay_areas(p, u), rtol=1e-6, atol=1e-6)
    # Independent of input order.
    rng = np.random.default_rng(seed)
    shuffled = (
        check_conflicts(
            p.iloc[rng.permutation(len(p))],
            udb=u.iloc[rng.permutation(len(u))],
            farmland=f.iloc[rng.permutation(len(f))],
        )
        .parcels.set_index("parcel_id")
        .loc[res["parcel_id"]]
    )
    for col in ("udb_outside_m2", "farmland_m2", "status"):
        got, want = shuffled[col].to_numpy(), res[col].to_numpy()
        if got.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        else:
            assert (got == want).all()


def test_sample_matches_overlay(sample_data):
    L = sample_data.layers
    r = check_conflicts(
        L["parcels"], udb=L["udb"], farmland=L["farmland"], eco_redline=L["eco_redline"]
    ).parcels
    for col, layer_name in (
        ("farmland_m2", "farmland"),
        ("eco_redline_m2", "eco_redline"),
        ("udb_inside_m2", "udb"),
    ):
        np.testing.assert_allclose(
            r[col], _overlay_areas(L["parcels"], L[layer_name]), rtol=1e-6, atol=1e-6
        )
    assert r["status"].ne("合规").sum() > 100  # the sample has conflicts to find


def _same(got, want):
    """Bit-identical frames: every column, every geometry coordinate."""
    pd.testing.assert_frame_equal(
        pd.DataFrame(got.drop(columns="geometry")), pd.DataFrame(want.drop(columns="geometry"))
    )
    assert got.geometry.geom_equals_exact(want.geometry, 0).all()


def test_threads_give_identical_results_on_a_small_case():
    # Two clusters 5 km apart, two parcels each (100 × 100 m = 10 000 m²).
    # West: UDB covers x ≤ 150, so W1 is inside one feature and W2 (x 200–300) wholly
    # outside; farmland F1 = x 250–300 covers 5 000 m² of W2.
    # East: E1 half outside the UDB (x ≥ 5050 inside: 5 000 m² outside); farmland F2
    # (x 5000–5060, 6 000 m²) and F3 (x 5040–5100, y ≤ 50) overlap on 20 × 50: E1 has
    # 6 000 + 60·50 − 20·50 = 8 000 m² on farmland, one piece on F2;F3.  E2 is compliant.
    p = parcels(
        [(0, 0, 100, 100), (200, 0, 300, 100), (5000, 0, 5100, 100), (5200, 0, 5300, 100)],
        ["W1", "W2", "E1", "E2"],
    )
    u = layer([(-10, -10, 150, 110), (5050, -10, 5310, 110)], ["U1", "U2"], "zone_id")
    f = layer([(250, 0, 300, 100), (5000, 0, 5060, 100), (5040, 0, 5100, 50)], ["F1", "F2", "F3"])
    one = check_conflicts(p, udb=u, farmland=f, threads=1)
    for threads in (2, 3):  # 4 chunks of one parcel each
        got = check_conflicts(p, udb=u, farmland=f, threads=threads)
        _same(got.parcels, one.parcels)
        _same(got.pieces, one.pieces)
    r = one.parcels.set_index("parcel_id")
    assert r["udb_outside_m2"].tolist() == pytest.approx([0, 10_000, 5_000, 0])
    assert r["farmland_m2"].tolist() == pytest.approx([0, 5_000, 8_000, 0])
    assert r["status"].tolist() == [
        "合规",
        "超出城镇开发边界；占用永久基本农田",
        "超出城镇开发边界；占用永久基本农田",
        "合规",
    ]
    farm = one.pieces[one.pieces["constraint"] == "farmland"].set_index("parcel_id")
    assert farm["constraint_ids"].to_dict() == {"W2": "F1", "E1": "F2;F3"}


def test_threads_give_identical_results_on_the_sample(sample_data):
    L = sample_data.layers
    args = dict(
        udb=L["udb"],
        farmland=L["farmland"],
        eco_redline=L["eco_redline"],
        others={"flood": L["eco_redline"].iloc[:2].drop(columns="patch_id")},  # default ids
    )
    one = check_conflicts(L["parcels"], threads=1, **args)
    two = check_conflicts(L["parcels"], threads=2, **args)  # 8 chunks of 250 parcels
    _same(two.parcels, one.parcels)
    _same(two.pieces, one.pieces)
    assert (one.pieces["constraint"] == "flood").any()


def _slow_path(parcels_gdf, udb, farmland):
    """The overlay without shortcuts, parcel by parcel: outside-UDB m², farmland m², pieces.

    Every parcel goes through the difference with the union of the UDB features
    it meets, and the intersection with the union of its farmland; every piece
    is intersected with every candidate patch to find the patches under it.
    """
    geoms = np.asarray(parcels_gdf.geometry.array, dtype=object)
    u_geoms = np.asarray(udb.geometry.array, dtype=object)
    f_geoms = np.asarray(farmland.geometry.array, dtype=object)
    f_ids = farmland["patch_id"].to_numpy()
    u_tree, f_tree = shapely.STRtree(u_geoms), shapely.STRtree(f_geoms)
    outside, on_farmland, pieces = [], [], []
    for pid, g in zip(parcels_gdf["parcel_id"], geoms, strict=True):
        near = u_geoms[u_tree.query(g, predicate="intersects")]
        outside.append(shapely.difference(g, shapely.union_all(near)).area if len(near) else g.area)
        cand = f_tree.query(g, predicate="intersects")
        inside = shapely.intersection(g, shapely.union_all(f_geoms[cand]))
        on_farmland.append(inside.area if len(cand) else 0.0)
        for part in shapely.get_parts(shapely.get_parts(inside)) if len(cand) else []:
            if part.geom_type == "Polygon" and part.area > 0:
                under = {f_ids[c] for c in cand if shapely.intersection(part, f_geoms[c]).area > 0}
                pieces.append((pid, ";".join(sorted(under)), part.area))
    return np.array(outside), np.array(on_farmland), pieces


def test_shortcuts_match_the_slow_path(sample_data):
    L = sample_data.layers
    parcels_gdf, udb, farm = L["parcels"], L["udb"], L["farmland"]
    # The sample exercises both shortcuts: most parcels lie inside one UDB feature, and
    # farmland pieces come from parcels on one patch and on several.
    geoms = np.asarray(parcels_gdf.geometry.array, dtype=object)
    inside_one = len(np.unique(shapely.STRtree(udb.geometry.array).query(geoms, "covered_by")[0]))
    assert inside_one > 1500
    pairs = shapely.STRtree(farm.geometry.array).query(geoms, "intersects")[0]
    per_parcel = np.bincount(pairs)
    assert (per_parcel == 1).sum() > 20 and (per_parcel > 1).sum() >= 3

    r = check_conflicts(parcels_gdf, udb=udb, farmland=farm)
    outside, on_farmland, slow_pieces = _slow_path(parcels_gdf, udb, farm)
    np.testing.assert_allclose(r.parcels["udb_outside_m2"], outside, rtol=0, atol=1e-6)
    np.testing.assert_allclose(r.parcels["farmland_m2"], on_farmland, rtol=0, atol=1e-6)
    got = r.pieces[r.pieces["constraint"] == "farmland"]
    got = sorted(zip(got["parcel_id"], got["constraint_ids"], got["area_m2"], strict=True))
    want = sorted(slow_pieces)
    assert [g[:2] for g in got] == [w[:2] for w in want]
    np.testing.assert_allclose([g[2] for g in got], [w[2] for w in want], rtol=0, atol=1e-6)
