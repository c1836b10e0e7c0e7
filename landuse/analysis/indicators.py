"""Industrial land control indicators (工业项目建设用地控制指标) and 标准地 "4+X" targets.

The measures, per parcel (用地面积 = the parcel's area in the analysis CRS):

- **容积率** = 计容建筑面积 ÷ 用地面积.  A footprint of the ``buildings`` layer
  carries ``floors`` and ``height_m``; its storey height is height ÷ floors
  (the storeys of one footprint taken as equal) and its floor area is
  footprint × floors, counted twice when the storey height exceeds the limit
  (8 m in 2008: "层高超过8米的…该层建筑面积加倍计算"; exactly 8 m counts once).
  构筑物 and 露天堆场 have no floor area.  A building without a height counts
  once and the ``calculation`` column says so.
- **建筑系数** = (建筑物 + 构筑物 + 露天堆场) 基底面积 ÷ 用地面积, footprints unioned
  per parcel so an overlap counts once.
- **投资强度** = 固定资产投资 ÷ 用地面积, in 万元/公顷 and 万元/亩, with the land
  price added or taken out as the table in force rules (2008: included).
- **行政办公及生活服务设施用地所占比重** = ``office_land_m2`` ÷ 用地面积, or, for a
  parcel without it, the office and living buildings' share of the floor area
  (the 2008 分摊 rule).
- **绿地率** = ``green_m2`` ÷ 用地面积.

Footprints are intersected with the parcels (a footprint over a boundary is
split by area).  Without a footprint on a parcel its figures come from the
parcel's attributes (``floor_area_m2``, ``building_base_m2``, ``yard_m2``) when
given, else it is not judged.  Each check passes or fails against the threshold
of the table (:mod:`landuse.analysis.indicator_tables`) with the threshold's source;
control indicators are judged for finished projects, 标准地 targets once the
agreed 达产 date has passed, against the holder firm's figures of the
enterprise table (:mod:`landuse.analysis.efficiency`).
"""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from landuse.analysis.indicator_tables import INDICATORS, IndicatorTable, load_indicator_table
from landuse.core.crs import area_m2, check_same_crs
from landuse.core.dates import parse_dates
from landuse.core.errors import ConfigError, SchemaError
from landuse.core.labels import sum_by
from landuse.core.numbers import parse_amounts, parse_quantities, parse_shares
from landuse.core.options import IndicatorOptions
from landuse.core.overlay import polygonal, query_pairs, union_by_group
from landuse.core.units import m2_to_ha, m2_to_mu

__all__ = [
    "BUILDING_KINDS",
    "FIRM_TARGETS",
    "INDICATOR_COLUMNS",
    "TARGETS",
    "IndicatorOptions",
    "building_coverage",
    "check_indicators",
    "floor_area",
    "green_ratio",
    "indicator_summary",
    "investment_intensity",
    "office_share",
    "plot_ratio",
    "resolve_rules",
]

#: Values of a building's ``kind`` → 建筑物 (building), 构筑物 (structure), 露天堆场 (yard).
BUILDING_KINDS: dict[str, str] = {
    "建筑物": "building",
    "建筑": "building",
    "房屋": "building",
    "构筑物": "structure",
    "露天堆场": "yard",
    "堆场": "yard",
    "露天操作场地": "yard",
}

#: 标准地 target field → (actual column, Chinese name); every target is a minimum.
TARGETS: dict[str, tuple[str, str]] = {
    "target_investment_wan_per_mu": ("investment_intensity_wan_per_mu", "投资强度"),
    "target_plot_ratio": ("plot_ratio", "容积率"),
    "target_tax_per_mu_wan": ("tax_per_mu_wan", "亩均税收"),
    "target_va_per_tce_wan": ("va_per_tce_wan", "单位能耗增加值"),
    "target_revenue_per_mu_wan": ("revenue_per_mu_wan", "亩均营业收入"),
    "target_va_per_emission_wan": ("va_per_emission_wan", "单位排放增加值"),
    "target_rd_share": ("rd_share", "研发经费占比"),
}

#: Targets whose actual figure is the holder firm's, from the enterprise table.
FIRM_TARGETS: tuple[str, ...] = (
    "target_tax_per_mu_wan",
    "target_va_per_tce_wan",
    "target_revenue_per_mu_wan",
    "target_va_per_emission_wan",
    "target_rd_share",
)

# Actual figure column and threshold column of each control indicator.
_VALUE = {
    "plot_ratio": "plot_ratio",
    "building_coverage": "building_coverage",
    "investment_intensity": "investment_intensity_wan_per_ha",
    "office_share": "office_share",
    "green_ratio": "green_ratio",
}
_LIMIT = {
    name: ("investment_intensity_min_wan_per_ha" if name == "investment_intensity" else None)
    or f"{name}_{spec.bound}"
    for name, spec in INDICATORS.items()
}
# Shares are shown in per cent; other figures as numbers.
_PERCENT = {"building_coverage", "office_share", "green_ratio", "target_rd_share"}


def _failure(
    label: str,
    value: pd.Series,
    sign: str,
    limit: pd.Series,
    failed: pd.Series,
    *,
    percent: bool = False,
) -> pd.Series:
    """The failure text (容积率 0.5999 < 0.6) where ``failed``, else empty.

    Only failing rows are formatted.  Figures keep 4 decimals (2 of a per cent)
    without trailing zeros: enough that a figure just past its threshold never
    prints as the threshold itself.
    """

    def shown(v: float) -> str:
        text = f"{v * 100:,.2f}" if percent else f"{v:,.4f}"
        return text.rstrip("0").rstrip(".") + ("%" if percent else "")

    out = pd.Series("", index=value.index, dtype=object)
    if failed.any():
        out[failed] = label + " " + value[failed].map(shown) + sign + limit[failed].map(shown)
    return out


# A comparison tolerance that only absorbs floating-point noise (30.000000000001 %).
_RTOL = 1e-9
_AREA_UNITS = {"平方米": 1.0, "m2": 1.0, "㎡": 1.0, "m²": 1.0, "公顷": 10000.0, "亩": 10000 / 15}
_PER_MU = {"万元/亩": 1.0}

#: Columns of the result, in order (present ones only); each column once.
INDICATOR_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            "parcel_id",
            "parcel_name",
            "park",
            "enterprise_id",
            "enterprise_name",
            "industry_code",
            "region_class",
            "construction_status",
            "area_m2",
            "area_mu",
            "result",
            "findings",
            "floor_area_m2",
            "tall_floor_m2",
            "building_base_m2",
            "structure_base_m2",
            "yard_base_m2",
            "coverage_base_m2",
            "plot_ratio",
            "plot_ratio_min",
            "plot_ratio_source",
            "plot_ratio_ok",
            "building_coverage",
            "building_coverage_min",
            "building_coverage_source",
            "building_coverage_ok",
            "investment_wan",
            "land_price_wan",
            "land_price_rule",
            "investment_basis_wan",
            "investment_intensity_wan_per_ha",
            "investment_intensity_wan_per_mu",
            "investment_intensity_min_wan_per_ha",
            "investment_intensity_source",
            "investment_intensity_ok",
            "office_land_m2",
            "office_share",
            "office_share_max",
            "office_share_source",
            "office_share_ok",
            "green_m2",
            "green_ratio",
            "green_ratio_max",
            "green_ratio_source",
            "green_ratio_ok",
            "production_date",
            "targets_due",
            *(
                col
                for target, (actual, _) in TARGETS.items()
                for col in (target, actual, f"{target}_ok")
            ),
            "calculation",
        ]
    )
)


# ------------------------------------------------------------------ inputs


def _column(df: pd.DataFrame, name: str) -> pd.Series:
    return df[name] if name in df.columns else pd.Series(None, index=df.index, dtype=object)


def _areas(parcels: gpd.GeoDataFrame) -> pd.Series:
    """用地面积 (m²): the ``area_m2`` column when present, else measured."""
    if "area_m2" in parcels.columns:
        return parcels["area_m2"].astype(float)
    return area_m2(parcels)


def _industry_codes(parcels: pd.DataFrame) -> pd.Series:
    """Parcels' industry codes as digits ("C13" → "13", 13.0 → "13"), NA when empty.

    Raises
    ------
    SchemaError
        A code that is not 2–4 digits after an optional section letter.
    """
    text = _column(parcels, "industry_code").astype("string").str.strip()
    text = text.str.replace(r"^[A-Za-z]", "", regex=True).str.replace(r"\.0+$", "", regex=True)
    text = text.mask(text == "")
    bad = text.notna() & ~text.str.fullmatch(r"\d{2,4}").fillna(False).astype(bool)
    if bad.any():
        shown = ", ".join(
            f"{pid}: {code!r}"
            for pid, code in zip(
                _column(parcels, "parcel_id")[bad].head(20), text[bad].head(20), strict=True
            )
        )
        raise SchemaError(
            f"Layer 'parcels': industry_code (行业代码) is not a 国民经济行业分类 code of 2–4 "
            f"digits for {int(bad.sum())} parcel(s) ({shown}); write codes such as 13 or C1311."
        )
    return text


def _regions(parcels: pd.DataFrame, table: IndicatorTable, option: str | None) -> pd.Series:
    """Each parcel's 地区分类: its ``region_class`` field, else ``[indicators] region_class``.

    Raises
    ------
    SchemaError
        A parcel names a class none of the tables gives values for.
    """
    own = _column(parcels, "region_class").astype("string").str.strip()
    own = own.mask(own == "")
    known = {region for name in INDICATORS for region in table.regions(name)}
    bad = own.notna() & ~own.isin(known)
    if bad.any():
        shown = ", ".join(
            f"{pid}: {value!r}"
            for pid, value in zip(
                _column(parcels, "parcel_id")[bad].head(20), own[bad].head(20), strict=True
            )
        )
        classes = ", ".join(f'"{r}"' for r in sorted(known)) or "none"
        raise SchemaError(
            f"Layer 'parcels': region_class (地区分类) names no class of the indicator tables "
            f"for {int(bad.sum())} parcel(s) ({shown}); the tables' classes: {classes}."
        )
    return own.fillna(option) if option is not None else own


def _which(buildings: pd.DataFrame, bad: pd.Series) -> str:
    """Name the flagged footprints: their ``building_id`` when the layer has one, else rows."""
    ids = (
        buildings["building_id"].astype(str)
        if "building_id" in buildings.columns
        else pd.Series(np.arange(len(buildings)), index=buildings.index).map("row {}".format)
    )
    shown = ", ".join(ids[bad.to_numpy()].head(20))
    return f"{int(bad.sum())} feature(s): {shown}" + (" ..." if bad.sum() > 20 else "")


def _footprints(
    buildings: gpd.GeoDataFrame, *, double_height_m: float, office_uses: tuple[str, ...]
) -> pd.DataFrame:
    """Per footprint: kind, the floor-area factor and the flags the calculation notes report.

    ``factor`` × footprint area = 计容建筑面积: floors, twice when the storey
    height exceeds ``double_height_m``; 0 for structures and yards; NaN for a
    building without floors.
    """
    src = "buildings"
    raw_kind = _column(buildings, "kind").astype("string").str.strip()
    raw_kind = raw_kind.mask(raw_kind == "")
    kind = raw_kind.map(BUILDING_KINDS).astype(object)
    bad = raw_kind.notna() & kind.isna()
    if bad.any():
        values = ", ".join(sorted(set(raw_kind[bad].head(50))))
        raise SchemaError(
            f"Layer 'buildings': kind (建筑类型) has value(s) {values} on "
            f"{_which(buildings, bad)}; write {' / '.join(BUILDING_KINDS)}, or leave it "
            "empty for 建筑物."
        )
    kind = kind.where(raw_kind.notna(), "building")
    floors = parse_quantities(
        _column(buildings, "floors"), column="floors", source=src, units={"层": 1.0}
    )
    height = parse_quantities(
        _column(buildings, "height_m"), column="height_m", source=src, units={"米": 1.0, "m": 1.0}
    )
    is_building = kind == "building"
    for name, measured in (("floors", floors), ("height_m", height)):
        bad = is_building & (measured <= 0)
        if bad.any():
            raise SchemaError(
                f"Layer 'buildings': {name} must be above 0 for a 建筑物 "
                f"({_which(buildings, bad)}); correct it, or leave it empty when unknown."
            )
    storey = height / floors
    tall = is_building & (storey > double_height_m)
    factor = floors.where(is_building, 0.0) * np.where(tall, 2.0, 1.0)
    use = _column(buildings, "use").astype("string").str.strip()
    return pd.DataFrame(
        {
            "kind": kind.to_numpy(),
            "factor": factor.to_numpy(),
            "tall": tall.to_numpy(),
            "no_height": (is_building & height.isna()).to_numpy(),
            "no_floors": (is_building & floors.isna()).to_numpy(),
            "office": (is_building & use.isin(office_uses).fillna(False)).to_numpy(),
        }
    )


def _measure(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    *,
    double_height_m: float,
    office_uses: tuple[str, ...],
) -> pd.DataFrame:
    """Per parcel (aligned to ``parcels``): the footprint sums of the buildings layer."""
    n = len(parcels)
    out = pd.DataFrame(
        {
            "pieces": np.zeros(n, dtype=int),
            "floor_area_m2": np.zeros(n),
            "tall_floor_m2": np.zeros(n),
            "building_base_m2": np.zeros(n),
            "structure_base_m2": np.zeros(n),
            "yard_base_m2": np.zeros(n),
            "footprint_m2": np.zeros(n),
            "office_floor_m2": np.zeros(n),
            "tall": np.zeros(n, dtype=int),
            "no_height": np.zeros(n, dtype=int),
            "no_floors": np.zeros(n, dtype=int),
        },
        index=parcels.index,
    )
    if buildings is None or buildings.empty:
        return out
    check_same_crs({"parcels": parcels, "buildings": buildings})
    feet = _footprints(buildings, double_height_m=double_height_m, office_uses=office_uses)
    p_geoms = np.asarray(parcels.geometry.array, dtype=object)
    b_geoms = np.asarray(buildings.geometry.array, dtype=object)
    p_idx, b_idx = query_pairs(b_geoms, p_geoms)
    pieces = polygonal(shapely.intersection(p_geoms[p_idx], b_geoms[b_idx]))
    area = shapely.area(pieces)
    keep = area > 0
    p_idx, b_idx, pieces, area = p_idx[keep], b_idx[keep], pieces[keep], area[keep]
    f = feet.iloc[b_idx].reset_index(drop=True)
    kind = f["kind"].to_numpy()
    floor = area * f["factor"].to_numpy()
    # Storeys counted twice: the part of the floor area added by the rule.
    extra = np.where(f["tall"], floor / 2, 0.0)
    sums = {
        "pieces": np.ones(len(area)),
        "floor_area_m2": floor,
        "tall_floor_m2": extra,
        "building_base_m2": np.where(kind == "building", area, 0.0),
        "structure_base_m2": np.where(kind == "structure", area, 0.0),
        "yard_base_m2": np.where(kind == "yard", area, 0.0),
        "office_floor_m2": np.where(f["office"], floor, 0.0),
        "tall": f["tall"].to_numpy(float),
        "no_height": f["no_height"].to_numpy(float),
        "no_floors": f["no_floors"].to_numpy(float),
    }
    for name, values in sums.items():
        # bincount keeps NaN: a building without floors makes its parcel's floor area NaN.
        column = np.bincount(p_idx, weights=values, minlength=n)
        out[name] = column.astype(int) if out[name].dtype == int else column
    labels, unions = union_by_group(pieces, p_idx)
    union = np.zeros(n)
    union[labels] = shapely.area(unions)
    out["footprint_m2"] = union
    return out


# ------------------------------------------------------------------ measures


def _actuals(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None,
    *,
    double_height_m: float = 8.0,
    office_uses: tuple[str, ...] = IndicatorOptions.office_uses,
    land_price_included: bool | None = None,
    recorded_with_land_price: bool = False,
) -> pd.DataFrame:
    """Every actual figure per parcel and the ``calculation`` saying how it was obtained."""
    src = "parcels"
    area = _areas(parcels)
    m = _measure(parcels, buildings, double_height_m=double_height_m, office_uses=office_uses)
    drawn = m["pieces"] > 0

    def attr(name: str) -> pd.Series:
        return parse_quantities(_column(parcels, name), column=name, source=src, units=_AREA_UNITS)

    yard_attr = attr("yard_m2")
    base_attr = attr("building_base_m2")
    out = pd.DataFrame(index=parcels.index)
    out["area_m2"] = area
    out["floor_area_m2"] = m["floor_area_m2"].where(drawn, attr("floor_area_m2"))
    out["tall_floor_m2"] = m["tall_floor_m2"].where(drawn)
    out["building_base_m2"] = m["building_base_m2"].where(drawn, base_attr)
    out["structure_base_m2"] = m["structure_base_m2"].where(drawn)
    # Drawn yards win; a parcel with none drawn takes its yard_m2 attribute.
    yard = m["yard_base_m2"].where(m["yard_base_m2"] > 0, yard_attr)
    out["yard_base_m2"] = yard.where(yard.notna() | ~drawn, 0.0)
    undrawn_yard = yard_attr.fillna(0.0).where(m["yard_base_m2"] == 0, 0.0)
    out["coverage_base_m2"] = (m["footprint_m2"] + undrawn_yard).where(
        drawn, base_attr + yard_attr.fillna(0.0)
    )
    out["plot_ratio"] = out["floor_area_m2"] / area
    out["building_coverage"] = out["coverage_base_m2"] / area

    investment = parse_amounts(
        _column(parcels, "investment_wan"), column="investment_wan", source=src
    )
    price = parse_amounts(_column(parcels, "land_price_wan"), column="land_price_wan", source=src)
    out["investment_wan"] = investment
    out["land_price_wan"] = price
    no_price = pd.Series(False, index=parcels.index)
    if land_price_included is None:
        basis_wan = pd.Series(np.nan, index=parcels.index)
        out["land_price_rule"] = ""
    else:
        # Add the price when the rule counts it and the record lacks it; take it out
        # in the opposite case; otherwise the record is already what the rule counts.
        sign = (
            (1.0 if land_price_included else -1.0)
            if land_price_included != recorded_with_land_price
            else 0.0
        )
        basis_wan = investment + sign * price if sign else investment
        out["land_price_rule"] = np.where(
            investment.notna(), "含地价" if land_price_included else "不含地价", ""
        )
        no_price = investment.notna() & basis_wan.isna()
    out["investment_basis_wan"] = basis_wan
    out["investment_intensity_wan_per_ha"] = basis_wan / m2_to_ha(area)
    out["investment_intensity_wan_per_mu"] = basis_wan / m2_to_mu(area)

    office_land = attr("office_land_m2")
    out["office_land_m2"] = office_land
    by_floor = m["office_floor_m2"] / m["floor_area_m2"].where(m["floor_area_m2"] > 0)
    use_known = drawn & (buildings is not None and "use" in buildings.columns)
    out["office_share"] = (office_land / area).where(office_land.notna(), by_floor.where(use_known))
    green = attr("green_m2")
    out["green_m2"] = green
    out["green_ratio"] = green / area

    notes = pd.Series("", index=parcels.index, dtype=object)
    n_drawn = m["pieces"].astype(str)
    notes = notes.where(~drawn, "建筑物图层 " + n_drawn + " 个图斑")
    tall = m["tall"] > 0
    notes = notes.where(
        ~tall,
        notes
        + "，其中 "
        + m["tall"].astype(str)
        + f" 栋层高超过 {double_height_m:g} 米、面积加倍计入容积率",
    )
    no_height = m["no_height"] > 0
    notes = notes.where(
        ~no_height, notes + "，" + m["no_height"].astype(str) + " 栋缺少高度、按一倍计"
    )
    no_floors = m["no_floors"] > 0
    notes = notes.where(
        ~no_floors, notes + "，" + m["no_floors"].astype(str) + " 栋缺少层数、容积率无法计算"
    )
    from_attr = ~drawn & out["floor_area_m2"].notna()
    notes = notes.where(~from_attr, "容积率按地块属性计容建筑面积")
    floor_share = office_land.isna() & out["office_share"].notna()
    notes = notes.where(~floor_share, notes + "；行政办公占比按办公及生活服务建筑面积占比分摊")
    rule = out["land_price_rule"] != ""
    notes = notes.where(~rule, notes + "；投资强度" + out["land_price_rule"])
    notes = notes.where(~no_price, notes + "，缺少出让价款无法计算")
    out["calculation"] = notes.str.lstrip("；")
    return out


def floor_area(buildings: gpd.GeoDataFrame, *, double_height_m: float = 8.0) -> pd.Series:
    """计容建筑面积 of each footprint: footprint × floors, twice for storeys over the limit.

    Parameters
    ----------
    buildings : GeoDataFrame
        Footprints with ``floors``, ``height_m`` and optionally ``kind``.
    double_height_m : float
        Storeys higher than this (height ÷ floors) count twice (8 m in 2008).

    Returns
    -------
    Series
        ``floor_area_m2`` aligned to ``buildings``; 0 for 构筑物 and 露天堆场,
        NaN for a building without floors.

    Examples
    --------
    >>> b = gpd.GeoDataFrame({"floors": [1, 1], "height_m": [9.0, 8.0]},
    ...                      geometry=[shapely.box(0, 0, 10, 10)] * 2, crs=4545)
    >>> floor_area(b).tolist()  # 9 m > 8 m counts twice, exactly 8 m once
    [200.0, 100.0]
    """
    feet = _footprints(buildings, double_height_m=double_height_m, office_uses=())
    area = np.asarray(shapely.area(np.asarray(buildings.geometry.array, dtype=object)))
    return pd.Series(area * feet["factor"].to_numpy(), index=buildings.index, name="floor_area_m2")


def plot_ratio(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    double_height_m: float = 8.0,
) -> pd.Series:
    """容积率 of each parcel: 计容建筑面积 ÷ 用地面积.

    From the footprints on the parcel, else from its ``floor_area_m2``; NaN
    when neither exists.  See :func:`floor_area` for the storey-height rule.
    """
    figures = _actuals(parcels, buildings, double_height_m=double_height_m)
    return figures["plot_ratio"].rename("plot_ratio")


def building_coverage(
    parcels: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None = None
) -> pd.Series:
    """建筑系数 of each parcel: (建筑物 + 构筑物 + 露天堆场) 基底面积 ÷ 用地面积.

    Footprints on a parcel are unioned (an overlap counts once); a parcel with
    no drawn yard adds its ``yard_m2``; a parcel with no footprint uses its
    ``building_base_m2`` (+ ``yard_m2``).
    """
    return _actuals(parcels, buildings)["building_coverage"].rename("building_coverage")


def investment_intensity(
    parcels: gpd.GeoDataFrame,
    *,
    land_price_included: bool = True,
    recorded_with_land_price: bool = False,
    per: str = "ha",
) -> pd.Series:
    """投资强度 of each parcel: 固定资产投资 ÷ 用地面积.

    Parameters
    ----------
    parcels : GeoDataFrame
        ``investment_wan`` (万元) and, where the rule needs it, ``land_price_wan``.
    land_price_included : bool
        The rule in force counts the land price (2008: yes, "包括厂房、设备和地价款").
    recorded_with_land_price : bool
        ``investment_wan`` already contains the land price.
    per : {"ha", "mu"}
        万元/公顷 or 万元/亩.

    Returns
    -------
    Series
        NaN where the investment, or a land price the rule needs, is missing.
    """
    if per not in ("ha", "mu"):
        raise ValueError(f"per must be 'ha' or 'mu', not {per!r}")
    figures = _actuals(
        parcels,
        None,
        land_price_included=land_price_included,
        recorded_with_land_price=recorded_with_land_price,
    )
    return figures[f"investment_intensity_wan_per_{per}"].rename(
        f"investment_intensity_wan_per_{per}"
    )


def office_share(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    office_uses: tuple[str, ...] = IndicatorOptions.office_uses,
) -> pd.Series:
    """行政办公及生活服务设施用地所占比重: ``office_land_m2`` ÷ 用地面积.

    A parcel without ``office_land_m2`` takes the share of its floor area in
    buildings whose ``use`` is one of ``office_uses`` (2008: "可以采用行政办公和
    生活服务设施建筑面积占总建筑面积的比重计算得出的分摊土地面积代替").
    """
    return _actuals(parcels, buildings, office_uses=office_uses)["office_share"].rename(
        "office_share"
    )


def green_ratio(parcels: gpd.GeoDataFrame) -> pd.Series:
    """绿地率 of each parcel: ``green_m2`` ÷ 用地面积."""
    return _actuals(parcels, None)["green_ratio"].rename("green_ratio")


# ------------------------------------------------------------------ checks


def _compare(value: pd.Series, limit: pd.Series, bound: str) -> pd.Series:
    """Pass/fail as a nullable boolean: NA where either side is missing."""
    v, t = value.to_numpy(float), limit.to_numpy(float)
    close = np.isclose(v, t, rtol=_RTOL, atol=0.0)
    ok = (v >= t) | close if bound == "min" else (v <= t) | close
    known = ~np.isnan(v) & ~np.isnan(t)
    result = pd.Series(ok, index=value.index, dtype="boolean")
    return result.where(known, pd.NA)


def _scope(parcels: pd.DataFrame, opts: IndicatorOptions) -> pd.Series:
    """Supplied industrial parcels (by whichever of the two fields the layer has)."""
    scope = pd.Series(True, index=parcels.index)
    if "supply_status" in parcels.columns:
        scope &= parcels["supply_status"].isin(opts.supplied_status)
    if "land_use" in parcels.columns:
        scope &= parcels["land_use"].isin(opts.land_uses)
    return scope


def _firm_figures(parcels: pd.DataFrame, firms: pd.DataFrame | None) -> pd.DataFrame:
    """The holder firm's figures per parcel (NaN without a firm or a figure)."""
    columns = [actual for target, (actual, _) in TARGETS.items() if target in FIRM_TARGETS]
    if firms is None or "enterprise_id" not in parcels.columns:
        return pd.DataFrame(np.nan, index=parcels.index, columns=columns)
    table = firms.drop_duplicates("enterprise_id").set_index("enterprise_id")
    holder = parcels["enterprise_id"].astype("string").str.strip()
    return pd.DataFrame(
        {col: holder.map(table[col]).astype(float) if col in table else np.nan for col in columns},
        index=parcels.index,
    )


def _targets(parcels: pd.DataFrame) -> dict[str, pd.Series]:
    """The 标准地 target fields the parcels carry, parsed."""
    out = {}
    for target in TARGETS:
        if target not in parcels.columns:
            continue
        if target == "target_rd_share":
            out[target] = parse_shares(parcels[target], column=target, source="parcels")
        else:
            out[target] = parse_quantities(
                parcels[target], column=target, source="parcels", units=_PER_MU
            )
    return out


def resolve_rules(
    table: IndicatorTable, options: IndicatorOptions, parcels: pd.DataFrame
) -> tuple[float, bool | None]:
    """The storey-height limit and land-price rule in force, after checking the setup.

    Returns
    -------
    double_height_m : float
        Storeys higher than this count twice in 容积率.
    land_price_included : bool or None
        Whether 投资强度 counts the land price (None: no rule and no investment field).

    Raises
    ------
    ConfigError
        A rule neither the tables nor the options give; a region class or an
        industry-code edition that does not fit the tables.
    """
    titles = "、".join(table.titles)
    height = (
        options.double_height_m
        if options.double_height_m is not None
        else table.double_height.value
    )
    if height is None:
        raise ConfigError(
            f"{titles} states no storey-height rule for 容积率; set [indicators] "
            "double_height_m (e.g. double_height_m = 8 for the 2008 rule)."
        )
    included = {"include": True, "exclude": False}.get(options.land_price, table.land_price.value)
    if included is None and "investment_wan" in parcels.columns:
        raise ConfigError(
            f"{titles} does not say whether 投资强度 counts the land price; set [indicators] "
            'land_price = "include" or "exclude" as your rules define it.'
        )
    table.check_region(options.region_class, per_parcel="region_class" in parcels.columns)
    if _column(parcels, "industry_code").notna().any():
        table.check_codes(options.industry_codes)
    return float(height), None if included is None else bool(included)


def _join(parts: list[pd.Series], sep: str = "；") -> pd.Series:
    """Join text pieces column by column, skipping empty ones."""
    out = pd.Series("", index=parts[0].index, dtype=object) if parts else pd.Series(dtype=object)
    for part in parts:
        filled = part != ""
        out = out.where(~filled, out.where(out == "", out + sep) + part)
    return out


def _check_controls(
    out: pd.DataFrame,
    codes: pd.Series,
    completed: pd.Series,
    table: IndicatorTable,
    region_class: pd.Series,
) -> tuple[list[pd.Series], list[pd.Series]]:
    """Add threshold, source and ``_ok`` columns of each control indicator to ``out``.

    Returns the failure texts and the not-judged texts, one Series per indicator.
    """
    fails, open_ = [], []
    for name, spec in INDICATORS.items():
        limit = table.lookup(name, codes, region_class)
        value = out[_VALUE[name]]
        out[_LIMIT[name]] = limit["value"]
        out[f"{name}_source"] = limit["source"]
        ok = _compare(value, limit["value"], spec.bound)
        ok[~completed] = pd.NA
        out[f"{name}_ok"] = ok
        failed = ok.fillna(True).eq(False)
        sign = " < " if spec.bound == "min" else " > "
        fails.append(
            _failure(spec.label, value, sign, limit["value"], failed, percent=name in _PERCENT)
        )
        # No threshold: the parcel lacks what the lookup needs (缺少行业代码 / 缺少地区分类),
        # or the tables have no value for it.
        lacking = limit["source"].str.startswith("缺少")
        why = np.where(
            limit["value"].isna(),
            np.where(lacking, limit["source"].str.split("，").str[0], "无指标值"),
            "缺少数据",
        )
        text = np.where(completed & ok.isna(), spec.label + "（" + why + "）", "")
        open_.append(pd.Series(text, index=out.index))
    return fails, open_


def _check_targets(
    out: pd.DataFrame,
    targets: dict[str, pd.Series],
    firm: pd.DataFrame,
    day: pd.Timestamp | None,
) -> tuple[list[pd.Series], list[pd.Series], pd.Series]:
    """Add the 标准地 columns to ``out``: dates, targets, actual figures, ``_ok``.

    Returns the failure texts, the not-judged texts and a note per parcel on
    targets not yet due or without an agreed date.
    """
    production = parse_dates(
        _column(out, "production_date"), column="production_date", source="parcels"
    )
    if targets and day is None and production.notna().any():
        raise ConfigError(
            "标准地 targets need the day to judge 达产 dates for: --as-of 2025-12-31 or "
            "[indicators] as_of (or an enterprise table, whose latest year is used)."
        )
    due = (production < day) if day is not None else pd.Series(False, index=out.index)
    out["production_date"] = production
    out["targets_due"] = due.astype(bool)
    fails, open_ = [], []
    has_target = pd.Series(False, index=out.index)
    for target, series in targets.items():
        actual_col, label = TARGETS[target]
        if target in FIRM_TARGETS:
            out[actual_col] = firm[actual_col]
        actual = out[actual_col]
        out[target] = series
        ok = _compare(actual, series, "min")
        ok[~out["targets_due"]] = pd.NA
        out[f"{target}_ok"] = ok
        failed = ok.fillna(True).eq(False)
        fails.append(
            _failure(
                f"标准地{label}", actual, " < 约定 ", series, failed, percent=target in _PERCENT
            )
        )
        missing = out["targets_due"] & series.notna() & actual.isna()
        text = np.where(missing, "标准地" + label + "（缺少实际数据）", "")
        open_.append(pd.Series(text, index=out.index))
        has_target |= series.notna()
    pending = np.select(
        [has_target & production.isna(), has_target & ~out["targets_due"]],
        ["标准地缺少约定达产日期", "标准地未到约定达产日期"],
        "",
    )
    return fails, open_, pd.Series(pending, index=out.index)


def check_indicators(
    parcels: gpd.GeoDataFrame,
    buildings: gpd.GeoDataFrame | None = None,
    *,
    table: IndicatorTable | None = None,
    options: IndicatorOptions | None = None,
    firms: pd.DataFrame | None = None,
    year: int | None = None,
    as_of: dt.date | str | None = None,
) -> gpd.GeoDataFrame:
    """Check the control indicators and the 标准地 targets of supplied industrial parcels.

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels with ``parcel_id`` and what is known of ``industry_code``,
        ``investment_wan``, ``land_price_wan``, ``floor_area_m2``,
        ``building_base_m2``, ``yard_m2``, ``office_land_m2``, ``green_m2``,
        ``construction_status``, ``enterprise_id``, ``production_date`` and the
        ``target_*`` fields (:data:`TARGETS`); ``area_m2`` is measured when absent.
    buildings : GeoDataFrame, optional
        Footprints with ``floors``, ``height_m``, ``kind`` and ``use``, in the
        parcels' CRS.
    table : IndicatorTable, optional
        Default: the national table of ``options.edition``.
    options : IndicatorOptions, optional
        Scope, region class, code edition, land-price rule, storey height.
    firms : DataFrame, optional
        One year's per-firm figures (``enterprise_id``, ``tax_per_mu_wan``,
        ``va_per_tce_wan`` …: :attr:`landuse.analysis.efficiency.EfficiencyResult.enterprises`).
    year : int, optional
        The year of ``firms``; the default ``as_of`` is its 31 December.
    as_of : date or str, optional
        The day 达产 dates are judged for; a target is due once its date has
        passed (the day after it).

    Returns
    -------
    GeoDataFrame
        The supplied industrial parcels (:data:`INDICATOR_COLUMNS`): the figures,
        per check the threshold, its source and ``<check>_ok`` (nullable bool:
        NA when not judged), ``result`` (符合 / 不符合 / 未核验), ``findings`` (the
        failures with figures and thresholds, or why nothing was judged) and
        ``calculation``.

    Raises
    ------
    SchemaError
        No buildings layer and none of the indicator fields; unreadable values.
    ConfigError
        The options and tables do not fit (region class, code edition, rules).
    """
    opts = options or IndicatorOptions()
    table = table or load_indicator_table(opts.edition)
    usable = (
        "industry_code",
        "investment_wan",
        "floor_area_m2",
        "building_base_m2",
        "office_land_m2",
        "green_m2",
        *TARGETS,
    )
    if (buildings is None or buildings.empty) and not any(c in parcels.columns for c in usable):
        raise SchemaError(
            "Nothing to check (没有可核验的指标数据): no buildings layer and the parcels have none "
            f"of {', '.join(usable[:6])} or a target_* field; add [layers.buildings] or map the "
            "fields in [layers.parcels.fields]."
        )
    height, included = resolve_rules(table, opts, parcels)
    p = parcels.loc[_scope(parcels, opts)].copy()
    codes = _industry_codes(p)
    figures = _actuals(
        p,
        buildings,
        double_height_m=height,
        office_uses=opts.office_uses,
        land_price_included=included,
        recorded_with_land_price=opts.investment_includes_land_price,
    )
    out = p.drop(columns=[c for c in figures.columns if c in p.columns]).join(figures)
    out["industry_code"] = codes
    completed = (
        p["construction_status"].isin(opts.completed_status)
        if "construction_status" in p.columns
        else pd.Series(True, index=p.index)
    )
    regions = _regions(p, table, opts.region_class)
    if "region_class" in p.columns:
        out["region_class"] = regions
    fails, open_ = _check_controls(out, codes, completed, table, regions)
    given = as_of if as_of is not None else opts.as_of
    day: pd.Timestamp | None = None
    if given is not None:
        day = pd.Timestamp(given)
    elif year is not None:
        day = pd.Timestamp(f"{year}-12-31")
    targets = _targets(p)
    target_fails, target_open, pending = _check_targets(out, targets, _firm_figures(p, firms), day)
    checks = [f"{name}_ok" for name in INDICATORS] + [f"{t}_ok" for t in targets]
    judged = out[checks].notna().any(axis=1)
    failed_any = out[checks].eq(False).any(axis=1)
    out["result"] = np.select([failed_any, judged], ["不符合", "符合"], "未核验")
    failures, unjudged = _join(fails + target_fails, "；"), _join(open_ + target_open, "、")
    head = pd.Series(
        np.where(failed_any, "不符合：" + failures, np.where(judged, "符合", "")), index=p.index
    )
    out["findings"] = _join(
        [
            head,
            pd.Series(np.where(~completed, "未竣工，控制指标暂不核验", ""), index=p.index),
            pd.Series(np.where(unjudged != "", "未判定：" + unjudged, ""), index=p.index),
            pending,
        ]
    )
    columns = [c for c in INDICATOR_COLUMNS if c in out.columns]
    return gpd.GeoDataFrame(out[columns], geometry=out.geometry, crs=parcels.crs)


def indicator_summary(checked: pd.DataFrame) -> pd.DataFrame:
    """Control indicators per park: parcels checked, meeting, failing, not judged.

    Parameters
    ----------
    checked : DataFrame
        The result of :func:`check_indicators`.

    Returns
    -------
    DataFrame
        ``park``, ``parcels``, ``pass_parcels`` (符合), ``fail_parcels`` (不符合),
        ``unjudged_parcels`` (未核验), ``fail_mu``, then ``<check>_fail`` for each
        indicator or 标准地 target the check judged (a parcel failing several
        counts under each); the 合计 row last.
    """
    result = checked["result"]
    fail = result.eq("不符合")
    frame = pd.DataFrame(
        {
            "park": checked["park"] if "park" in checked.columns else "全部",
            "parcels": 1,
            "pass_parcels": result.eq("符合").astype(int),
            "fail_parcels": fail.astype(int),
            "unjudged_parcels": result.eq("未核验").astype(int),
            "fail_mu": checked["area_mu"].where(fail, 0.0),
        },
        index=checked.index,
    )
    for column in (c for c in checked.columns if c.endswith("_ok")):
        failed = checked[column].astype("boolean").eq(False).fillna(False)
        frame[f"{column.removesuffix('_ok')}_fail"] = failed.astype(int)
    return sum_by(frame, "park")
