"""Per-mu efficiency (亩均效益评价, "亩均论英雄"): metrics, A/B/C/D classes, park figures.

Land of an enterprise = land it holds by certificate + land it occupies in
shared parcels (standard factories, 标准厂房).  A shared parcel is allocated
by floor-area share when every tenant's leased floor area and the parcel's
plot ratio are known (tenant land = parcel area × leased floor / (parcel area
× plot ratio); the holder keeps the rest), otherwise equally among everyone on
it.  The rule used is stated per link, and allocated land always sums to the
parcel area.

Scores follow a Zhejiang county scheme (DOMAIN.md), configurable:

- above-size firms (规上): 30·亩均税收 + 20·亩均增加值 + 20·单位能耗增加值
  + 10·单位排放增加值 + 10·全员劳动生产率 + 10·研发经费占比, each indicator
  divided by its benchmark;
- below-size firms: 50·亩均税收 + 50·单位电耗税收.

Benchmarks are the group's aggregate averages (sum over sum, e.g. total tax ÷
total land of the scored firms).  A missing emission figure gets the
average score for that item (the ratio 1); other missing figures score 0 for
their item, and the reason says so.  Below-size firms are scored when their
land is at least 3 亩.  Classes come from rank shares: A top 25 %, B to 70 %,
C to 95 %, D the rest (ranked within above-size and below-size separately).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from landuse.errors import SchemaError
from landuse.numbers import parse_amounts, parse_flags, parse_quantities
from landuse.options import EfficiencyOptions
from landuse.tables import describe_rows, sheet_of, source_of
from landuse.units import m2_to_mu

__all__ = [
    "EfficiencyOptions",
    "EfficiencyResult",
    "allocate_land",
    "classify",
    "enterprise_metrics",
    "evaluate",
    "parcel_metrics",
    "park_summary",
]

#: indicator → (numerator, denominator) totals; benchmarks are sum over sum.
#: The keys are :data:`landuse.options.EFFICIENCY_INDICATORS`.
_RATIOS: dict[str, tuple[str, str]] = {
    "tax_per_mu_wan": ("tax_wan", "land_mu"),
    "revenue_per_mu_wan": ("revenue_wan", "land_mu"),
    "va_per_mu_wan": ("value_added_wan", "land_mu"),
    "va_per_tce_wan": ("value_added_wan", "energy_tce"),
    "va_per_emission_wan": ("value_added_wan", "emission_t"),
    "labour_productivity_wan": ("value_added_wan", "employees"),
    "rd_share": ("rd_wan", "revenue_wan"),
    "tax_per_kwh_wan": ("tax_wan", "electricity_kwh"),
}
_NAMES_ZH = {
    "tax_per_mu_wan": "亩均税收",
    "va_per_mu_wan": "亩均增加值",
    "va_per_tce_wan": "单位能耗增加值",
    "va_per_emission_wan": "单位排放增加值",
    "labour_productivity_wan": "全员劳动生产率",
    "rd_share": "研发经费占比",
    "tax_per_kwh_wan": "单位电耗税收",
}
CLASS_POLICY = {"A": "优先发展", "B": "鼓励提升", "C": "帮扶转型", "D": "整治淘汰"}
_NUMERIC = {
    "tax_wan": None,
    "revenue_wan": None,
    "value_added_wan": None,
    "rd_wan": None,
    "energy_tce": {"吨标准煤": 1.0, "吨标煤": 1.0, "tce": 1.0},
    "electricity_kwh": {"千瓦时": 1.0, "kWh": 1.0, "度": 1.0, "万千瓦时": 1e4, "万度": 1e4},
    "emission_t": {"吨": 1.0, "t": 1.0},
    "employees": {"人": 1.0},
    "leased_floor_m2": {"平方米": 1.0, "m2": 1.0, "㎡": 1.0},
}


def _enterprise_table(enterprises: pd.DataFrame) -> pd.DataFrame:
    """Parse the numbers of the enterprise table; every bad cell is reported.

    Errors name the file, the sheet and the rows as Excel shows them (the
    index of a table from :func:`landuse.io.read_table`).
    """
    source = source_of(enterprises, "enterprises")
    sheet = sheet_of(enterprises)
    missing = [c for c in ("enterprise_id", "year") if c not in enterprises.columns]
    if missing:
        raise SchemaError(
            f"{source}: enterprise table lacks {', '.join(missing)}; map it in landuse.toml."
        )
    df = pd.DataFrame(
        {
            "enterprise_id": enterprises["enterprise_id"].astype("string").str.strip(),
            "year": parse_quantities(
                enterprises["year"], column="year", source=source, units={"年": 1}
            ),
        }
    )
    for col, name in (
        ("enterprise_id", "enterprise_id (统一社会信用代码)"),
        ("year", "year (年度)"),
    ):
        empty = (df[col].isna() | (df[col] == "")).to_numpy()
        if empty.any():
            rows = describe_rows(df.index[empty], sheet=sheet)
            raise SchemaError(f"{source}: empty {name} in {rows}; fill it in.")
    df["year"] = df["year"].astype(int)
    if "enterprise_name" in enterprises.columns:
        df["enterprise_name"] = enterprises["enterprise_name"]
    for col, units in _NUMERIC.items():
        raw = enterprises[col] if col in enterprises.columns else pd.Series(None, index=df.index)
        df[col] = (
            parse_amounts(raw, column=col, source=source)
            if units is None
            else parse_quantities(raw, column=col, source=source, units=units)
        )
    df["above_size"] = parse_flags(
        enterprises.get("above_size", pd.Series(None, index=df.index)),
        column="above_size",
        source=source,
    )
    df["leased_parcel_id"] = (
        enterprises["leased_parcel_id"].astype("string").str.strip().mask(lambda s: s == "")
        if "leased_parcel_id" in enterprises.columns
        else pd.Series(pd.NA, index=df.index, dtype="string")
    )
    dup = df.duplicated(["enterprise_id", "year"], keep=False)
    if dup.any():
        twice = df[dup]
        firm_year = twice["enterprise_id"] + " " + twice["year"].astype(str)
        firms = pd.Series(twice.index, index=twice.index).groupby(firm_year).agg(list)
        listed = "; ".join(
            f"{firm}: {describe_rows(rows)}" for firm, rows in firms.head(20).items()
        )
        listed += " ..." if len(firms) > 20 else ""
        where = f"sheet {sheet}, " if sheet else ""
        raise SchemaError(
            f"{source}: several rows for the same firm and year ({where}{listed}); "
            "keep one row per firm and year."
        )
    return df


def allocate_land(parcels: gpd.GeoDataFrame, enterprises: pd.DataFrame) -> pd.DataFrame:
    """Links enterprise → parcel with the land (亩) allocated and the rule used.

    Parameters
    ----------
    parcels : GeoDataFrame
        ``parcel_id``, ``area_mu`` and, where known, ``enterprise_id`` (holder)
        and ``plot_ratio``.
    enterprises : DataFrame
        Parsed enterprise rows (one year); tenants carry ``leased_parcel_id``
        and ``leased_floor_m2``.

    Returns
    -------
    DataFrame
        ``enterprise_id``, ``parcel_id``, ``land_mu``, ``land_rule``; for every
        parcel with someone on it the ``land_mu`` sum to its area.
    """
    p = pd.DataFrame(parcels.drop(columns=parcels.geometry.name))
    holders = pd.DataFrame(
        {
            "enterprise_id": p.get("enterprise_id", pd.Series(pd.NA, index=p.index))
            .astype("string")
            .str.strip(),
            "parcel_id": p["parcel_id"].astype(str),
            "floor_m2": np.nan,
            "role": "holder",
        }
    ).dropna(subset=["enterprise_id"])
    holders = holders[holders["enterprise_id"] != ""]
    tenants = enterprises.dropna(subset=["leased_parcel_id"])
    tenants = pd.DataFrame(
        {
            "enterprise_id": tenants["enterprise_id"],
            "parcel_id": tenants["leased_parcel_id"].astype(str),
            "floor_m2": tenants["leased_floor_m2"],
            "role": "tenant",
        }
    )
    unknown = ~tenants["parcel_id"].isin(p["parcel_id"].astype(str))
    if unknown.any():
        ids = ", ".join(tenants.loc[unknown, "parcel_id"].head(20))
        raise SchemaError(f"Enterprise table: leased parcel id(s) not in the parcels: {ids}.")
    links = pd.concat([holders, tenants], ignore_index=True).drop_duplicates(
        ["enterprise_id", "parcel_id"]
    )
    info = p.assign(parcel_id=p["parcel_id"].astype(str)).set_index("parcel_id")
    area = links["parcel_id"].map(info["area_mu"]).astype(float)
    ratio = (
        pd.to_numeric(links["parcel_id"].map(info["plot_ratio"]), errors="coerce")
        if "plot_ratio" in info.columns
        else pd.Series(np.nan, index=links.index)
    )
    is_tenant = links["role"] == "tenant"
    # Floor-share rule only where every tenant of the parcel has a floor area.
    tenant_floor_known = (~is_tenant | links["floor_m2"].notna()).groupby(links["parcel_id"])
    has_tenant = is_tenant.groupby(links["parcel_id"]).transform("any")
    by_floor = has_tenant & tenant_floor_known.transform("all") & (ratio > 0)
    share = links["floor_m2"] / (area / m2_to_mu(1.0) * ratio)  # floor ÷ total floor
    tenant_share = (
        share.where(is_tenant & by_floor, 0.0).groupby(links["parcel_id"]).transform("sum")
    )
    # Leased floor areas are rounded in registers: within 0.1 % of the whole building
    # counts as fully leased (the holder keeps nothing), up to 0.1 % over is rescaled.
    over = tenant_share > 1.001
    if over.any():
        ids = ", ".join(links.loc[over, "parcel_id"].unique()[:20])
        raise SchemaError(
            f"Leased floor area exceeds the building floor area (area × plot ratio) on "
            f"parcel(s) {ids}; check 租赁建筑面积 and 容积率."
        )
    scale = tenant_share.where(tenant_share > 0.999, 1.0)
    share, tenant_share = share / scale, tenant_share / scale
    n_on_parcel = links.groupby("parcel_id")["enterprise_id"].transform("size")
    n_holders = (~is_tenant).groupby(links["parcel_id"]).transform("sum")
    land = np.select(
        [by_floor & is_tenant, by_floor & ~is_tenant, ~by_floor],
        [area * share, area * (1 - tenant_share) / n_holders.clip(lower=1), area / n_on_parcel],
    )
    rule = np.select(
        [~has_tenant & (n_on_parcel == 1), by_floor, ~by_floor],
        ["自有用地", "按租赁建筑面积占比分摊", "平均分摊"],
        "",
    )
    # A floor-share parcel with no holder: the unleased rest stays with nobody.
    return pd.DataFrame(
        {
            "enterprise_id": links["enterprise_id"].astype(str).to_numpy(),
            "parcel_id": links["parcel_id"].to_numpy(),
            "land_mu": land,
            "land_rule": rule,
        }
    )


def enterprise_metrics(enterprises: pd.DataFrame, links: pd.DataFrame) -> pd.DataFrame:
    """Per enterprise and year: land (亩) and the per-mu and intensity indicators."""
    land = links.groupby("enterprise_id")["land_mu"].sum()
    rules = links.groupby("enterprise_id")["land_rule"].agg(lambda r: "；".join(sorted(set(r))))
    df = enterprises.copy()
    df["land_mu"] = df["enterprise_id"].map(land).fillna(0.0)
    # reindex keeps the text dtype when no firm holds land (map would give floats).
    rule = rules.astype("string").reindex(df["enterprise_id"]).fillna("无用地")
    df["land_rule"] = rule.to_numpy()
    for name, (num, den) in _RATIOS.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            df[name] = (df[num] / df[den]).where(df[den] > 0)
    return df


def _benchmarks(group: pd.DataFrame, indicators: list[str]) -> dict[str, float]:
    out = {}
    for name in indicators:
        num, den = _RATIOS[name]
        ok = group[num].notna() & group[den].notna() & (group[den] > 0)
        total = group.loc[ok, den].sum()
        out[name] = group.loc[ok, num].sum() / total if total > 0 else math.nan
    return out


def classify(metrics: pd.DataFrame, options: EfficiencyOptions | None = None) -> pd.DataFrame:
    """Score and class one year's enterprises, with the reason for each class.

    Returns
    -------
    DataFrame
        ``metrics`` plus ``scored`` (bool), ``size_group`` (规上/规下), ``score``,
        ``score_<indicator>`` per item, ``score_rank``, ``group_size``, ``grade``
        (A/B/C/D or 未参评), ``policy`` and ``reason``.
    """
    opts = options or EfficiencyOptions()
    df = metrics.copy()
    df["size_group"] = np.where(df["above_size"], "规上", "规下")
    no_tax = df["tax_wan"].isna()
    no_land = df["land_mu"] <= 0
    small = ~df["above_size"] & (df["land_mu"] < opts.min_land_mu_below)
    df["scored"] = ~(no_tax | no_land | small)
    df["score"] = np.nan
    df["score_rank"] = np.nan
    df["group_size"] = np.nan
    df["grade"] = "未参评"
    df["reason"] = np.select(
        [no_land, no_tax, small],
        [
            "无用地，不参评",
            "缺少税收数据，不参评",
            f"规下企业用地不足 {opts.min_land_mu_below:g} 亩，不参评",
        ],
        "",
    )
    cuts = opts.class_shares
    for group, weights in (("规上", opts.above_weights), ("规下", opts.below_weights)):
        sel = df["scored"] & (df["size_group"] == group)
        if not sel.any():
            continue
        g = df.loc[sel]
        bench = _benchmarks(g, list(weights))
        total = pd.Series(0.0, index=g.index)
        notes = pd.Series("", index=g.index)
        for name, weight in weights.items():
            ratio = g[name] / bench[name]
            if opts.item_cap is not None:
                ratio = ratio.clip(upper=opts.item_cap)
            missing = ratio.isna()
            fill = 1.0 if name in opts.average_if_missing else 0.0
            item = weight * ratio.fillna(fill)
            df.loc[g.index, f"score_{name}"] = item
            total += item
            if missing.any():
                what = "按平均分计" if fill else "该项0分"
                notes[missing] += f"；缺少{_NAMES_ZH[name]}数据，{what}"
        rank = total.rank(ascending=False, method="min")
        n = len(g)
        limits = [math.ceil(c * n) for c in cuts]
        grade = np.select(
            [rank <= limits[0], rank <= limits[1], rank <= limits[2]], ["A", "B", "C"], "D"
        )
        df.loc[g.index, "score"] = total
        df.loc[g.index, "score_rank"] = rank
        df.loc[g.index, "group_size"] = n
        df.loc[g.index, "grade"] = grade
        items = pd.Series("", index=g.index)
        for name, weight in weights.items():
            items += (
                _NAMES_ZH[name]
                + df.loc[g.index, f"score_{name}"].map("{:.1f}".format)
                + (f"/{weight:g}，")
            )
        df.loc[g.index, "reason"] = (
            "综合得分 "
            + total.map("{:.1f}".format)
            + "（"
            + items.str.rstrip("，")
            + "）；"
            + group
            + "企业第 "
            + rank.astype(int).astype(str)
            + "/"
            + str(n)
            + " 名，"
            + pd.Series(grade, index=g.index)
            + " 类（A 前 "
            + f"{cuts[0]:.0%}、B 前 {cuts[1]:.0%}"
            + f"、C 前 {cuts[2]:.0%}）"
            + notes
        )
    df["policy"] = df["grade"].map(CLASS_POLICY).fillna("")
    return df


def parcel_metrics(
    parcels: gpd.GeoDataFrame, links: pd.DataFrame, classified: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Per parcel: tax and value added allocated by land share, per-mu figures, main class.

    A firm's totals are split over its parcels in proportion to the land it has
    on each, so parcel totals add up to firm totals (conserved).
    """
    firm = classified.set_index("enterprise_id")
    wanted = ["land_mu", "tax_wan", "value_added_wan", "revenue_wan", "grade"]
    if "enterprise_name" in firm.columns:
        wanted.append("enterprise_name")
    link = links.join(
        firm[wanted].rename(columns={"land_mu": "firm_land_mu"}), on="enterprise_id", how="left"
    )
    if "enterprise_name" not in link.columns:
        link["enterprise_name"] = link["enterprise_id"]
    share = (link["land_mu"] / link["firm_land_mu"]).where(link["firm_land_mu"] > 0, 0.0)
    for col in ("tax_wan", "value_added_wan", "revenue_wan"):
        link[col] = link[col] * share
    totals = link.groupby("parcel_id")[["tax_wan", "value_added_wan", "revenue_wan"]].sum(
        min_count=1
    )
    main = (
        link.sort_values("land_mu", ascending=False)
        .drop_duplicates("parcel_id")
        .set_index("parcel_id")
    )
    out = parcels.copy()
    key = out["parcel_id"].astype(str)
    for col in ("tax_wan", "value_added_wan", "revenue_wan"):
        out[col] = key.map(totals[col])
    out["tax_per_mu_wan"] = out["tax_wan"] / out["area_mu"]
    out["va_per_mu_wan"] = out["value_added_wan"] / out["area_mu"]
    out["enterprises_on_parcel"] = key.map(link.groupby("parcel_id").size()).fillna(0).astype(int)
    out["grade"] = key.map(main["grade"]).fillna("")
    out["main_enterprise"] = key.map(main["enterprise_name"]).fillna("")
    return out


def park_summary(
    parcels: gpd.GeoDataFrame,
    metrics_by_year: Mapping[int, pd.DataFrame],
    links_by_year: Mapping[int, pd.DataFrame],
    *,
    levels: tuple[str, ...] = ("park", "parent_park"),
) -> pd.DataFrame:
    """Total tax, land and 地均税收 by sub-park, park and county, with year-on-year change.

    Firms without a tax figure are left out of both tax and land (they are
    listed as 未参评 by :func:`classify`), so the ratio is not diluted.

    Returns
    -------
    DataFrame
        ``level`` (子园区/园区/县区), ``group`` and per year ``tax_wan_<y>``,
        ``land_mu_<y>``, ``tax_per_mu_wan_<y>``; ``yoy`` = relative change of
        the last year's 地均税收 over the year before.
    """
    where = pd.DataFrame(parcels.drop(columns=parcels.geometry.name))
    where["parcel_id"] = where["parcel_id"].astype(str)
    where["county"] = "全县（区）"
    level_names = {"park": "子园区", "parent_park": "园区", "county": "县区"}
    columns = [lvl for lvl in (*levels, "county") if lvl in where.columns]
    records = []
    for year, metrics in metrics_by_year.items():
        taxed = metrics.dropna(subset=["tax_wan"]).set_index("enterprise_id")
        link = links_by_year[year]
        link = link[link["enterprise_id"].isin(taxed.index)].copy()
        firm_land = link.groupby("enterprise_id")["land_mu"].transform("sum")
        share = (link["land_mu"] / firm_land).where(firm_land > 0, 0.0)
        link["tax_wan"] = link["enterprise_id"].map(taxed["tax_wan"]) * share
        link = link.merge(where[["parcel_id", *columns]], on="parcel_id", how="left")
        for level in columns:
            g = link.groupby(level)[["tax_wan", "land_mu"]].sum().rename_axis("group")
            records.append(g.reset_index().assign(level=level_names[level], year=year))
    if not records:
        return pd.DataFrame(columns=["level", "group"])
    long = pd.concat(records, ignore_index=True)
    long["tax_per_mu_wan"] = long["tax_wan"] / long["land_mu"]
    wide = long.pivot_table(
        index=["level", "group"],
        columns="year",
        values=["tax_wan", "land_mu", "tax_per_mu_wan"],
        aggfunc="sum",
    )
    years = sorted(metrics_by_year)
    wide.columns = ["_".join(map(str, pair)) for pair in wide.columns]  # (name, year)
    wide = wide[[f"{n}_{y}" for y in years for n in ("tax_wan", "land_mu", "tax_per_mu_wan")]]
    if len(years) >= 2:
        last, prev = years[-1], years[-2]
        wide["yoy"] = wide[f"tax_per_mu_wan_{last}"] / wide[f"tax_per_mu_wan_{prev}"] - 1
    order = {name: i for i, name in enumerate(level_names.values())}
    table = wide.reset_index()
    table["_order"] = table["level"].map(order)
    return table.sort_values(["_order", "group"]).drop(columns="_order").reset_index(drop=True)


@dataclass
class EfficiencyResult:
    """Outputs of :func:`evaluate`."""

    enterprises: pd.DataFrame
    parcels: gpd.GeoDataFrame
    links: pd.DataFrame
    parks: pd.DataFrame
    year: int


def evaluate(
    parcels: gpd.GeoDataFrame,
    enterprises: pd.DataFrame,
    *,
    year: int | None = None,
    options: EfficiencyOptions | None = None,
) -> EfficiencyResult:
    """Run the whole per-mu evaluation for one year (default: the latest).

    Parameters
    ----------
    parcels : GeoDataFrame
        Parcels with ``parcel_id``, ``area_mu``, ``enterprise_id`` (holder),
        ``plot_ratio``, ``park`` (and ``parent_park`` when known).
    enterprises : DataFrame
        The enterprise table (one row per firm per year), numbers as bureaus
        write them.
    year : int, optional
        The year evaluated; the year before is used for year-on-year change.
    options : EfficiencyOptions, optional
        The scoring scheme.
    """
    table = _enterprise_table(enterprises)
    years = sorted(int(y) for y in table["year"].unique())
    chosen = int(year if year is not None else years[-1])
    if chosen not in years:
        raise SchemaError(
            f"No enterprise data for {chosen} (企业表中没有 {chosen} 年的数据); years present: "
            f"{', '.join(map(str, years))}. Choose one with --year or [efficiency] year."
        )
    metrics_by_year = {}
    links_by_year = {}
    for y in years:
        rows = table[table["year"] == y].reset_index(drop=True)
        links_by_year[y] = allocate_land(parcels, rows)
        metrics_by_year[y] = enterprise_metrics(rows, links_by_year[y])
    if links_by_year[chosen].empty:
        field = "enterprise_id" if "enterprise_id" in parcels.columns else None
        raise SchemaError(
            f"No firm of {chosen} holds or leases a parcel (没有企业与地块对应): "
            + (
                "the parcels' enterprise_id (统一社会信用代码) matches no code of the enterprise "
                "table; check both columns."
                if field
                else "the parcels have no enterprise_id field (统一社会信用代码); map it in "
                '[layers.parcels.fields] (e.g. enterprise_id = "TYSHXYDM").'
            )
        )
    classified = classify(metrics_by_year[chosen], options)
    shown = [y for y in years if y in (chosen - 1, chosen)]
    return EfficiencyResult(
        enterprises=classified,
        parcels=parcel_metrics(parcels, links_by_year[chosen], classified),
        links=links_by_year[chosen],
        parks=park_summary(
            parcels, {y: metrics_by_year[y] for y in shown}, {y: links_by_year[y] for y in shown}
        ),
        year=chosen,
    )
