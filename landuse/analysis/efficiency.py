"""Per-mu efficiency (亩均效益评价, "亩均论英雄"): metrics, classes A/B/C/D/T, park figures.

Land of an enterprise = land it holds by certificate + land it occupies in
shared parcels (standard factories, 标准厂房).  A shared parcel is allocated
by floor-area share when every tenant's leased floor area and the parcel's
plot ratio are known (tenant land = parcel area × leased floor / (parcel area
× plot ratio); the holder keeps the rest), otherwise equally among everyone on
it.  The rule used is stated per link, and allocated land always sums to the
parcel area.

Scores follow a scheme (:class:`landuse.core.options.EfficiencyScheme`; presets in
``layers/efficiency_schemes.toml``, default ``zhejiang``):

- each firm's score = Σ weight × min(indicator ÷ benchmark, item_cap)
  + bonus points − penalty points, with the weights of its size group
  (规上/规下);
- the benchmark is the aggregate average (total ÷ total) of the firms ranked
  together this year or the year before, times a multiple, or a published
  value;
- a missing figure scores 0 for its item, or the group's mean item score for
  the indicators the scheme names (emissions in Zhejiang); the reason says so;
- below-size firms are covered from a land area or a leased floor area, and
  after some years in production; firms the scheme exempts (utilities, new
  firms, firms under construction, a reason in the table) are class T,
  listed with the reason and not ranked;
- classes come from rank shares (A top 25 %, B to 70 %, C to 95 %, D the rest
  by default), within 规上 and 规下 separately or county-wide.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from landuse.core.dates import parse_dates
from landuse.core.errors import ConfigError, SchemaError
from landuse.core.labels import label
from landuse.core.numbers import parse_amounts, parse_flags, parse_quantities
from landuse.core.options import EfficiencyOptions, EfficiencyScheme
from landuse.core.tables import describe_rows, sheet_of, source_of
from landuse.core.units import M2_PER_HA, M2_PER_MU, m2_to_mu

__all__ = [
    "EfficiencyOptions",
    "EfficiencyResult",
    "EfficiencyScheme",
    "allocate_land",
    "benchmarks",
    "classify",
    "describe_scheme",
    "enterprise_metrics",
    "evaluate",
    "parcel_metrics",
    "park_summary",
]

#: indicator → (numerator, denominator, factor); benchmarks are sum over sum × factor.
#: The keys are :data:`landuse.core.options.EFFICIENCY_INDICATORS`.
_RATIOS: dict[str, tuple[str, str, float]] = {
    "tax_per_mu_wan": ("tax_wan", "land_mu", 1.0),
    "revenue_per_mu_wan": ("revenue_wan", "land_mu", 1.0),
    "va_per_mu_wan": ("value_added_wan", "land_mu", 1.0),
    "va_per_tce_wan": ("value_added_wan", "energy_tce", 1.0),
    "va_per_emission_wan": ("value_added_wan", "emission_t", 1.0),
    "labour_productivity_wan": ("value_added_wan", "employees", 1.0),
    "rd_share": ("rd_wan", "revenue_wan", 1.0),
    "tax_per_tce_wan": ("tax_wan", "energy_tce", 1.0),
    # 万元 per kWh × 10⁴ = 元/千瓦时 (= 万元/万千瓦时), the unit published benchmarks use.
    "tax_per_kwh_yuan": ("tax_wan", "electricity_kwh", 1e4),
}
_NAMES_ZH = {
    "tax_per_mu_wan": "亩均税收",
    "revenue_per_mu_wan": "亩均营业收入",
    "va_per_mu_wan": "亩均增加值",
    "va_per_tce_wan": "单位能耗增加值",
    "va_per_emission_wan": "单位排放增加值",
    "labour_productivity_wan": "全员劳动生产率",
    "rd_share": "研发经费占比",
    "tax_per_tce_wan": "单位能耗税收",
    "tax_per_kwh_yuan": "单位电耗税收",
}
#: 万元/公顷 figures (national development-zone evaluations) from the 万元/亩 ones.
_PER_HA = {
    "tax_per_ha_wan": "tax_per_mu_wan",
    "revenue_per_ha_wan": "revenue_per_mu_wan",
    "va_per_ha_wan": "va_per_mu_wan",
}
_MU_PER_HA = M2_PER_HA / M2_PER_MU
_SIZE_GROUPS = (("规上", "above"), ("规下", "below"))
_COUNTY = "全县（区）"
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
#: Optional text columns of the enterprise table (class T rules).
_TEXT = ("industry", "exempt_reason")


def _scheme(options: EfficiencyOptions | EfficiencyScheme | None) -> EfficiencyScheme:
    if isinstance(options, EfficiencyScheme):
        return options
    return (options or EfficiencyOptions()).resolved()


def _text_column(enterprises: pd.DataFrame, col: str, index: pd.Index) -> pd.Series:
    """A text column stripped, empty cells as NA (all NA when the table lacks it)."""
    if col not in enterprises.columns:
        return pd.Series(pd.NA, index=index, dtype="string")
    text = enterprises[col].astype("string").str.strip()
    return text.mask(text.isin(["", "—", "-", "无", "/"]))


def _production_year(raw: pd.Series, *, source: str) -> pd.Series:
    """Year production started, from a year ("2021", "2021年") or a date in any bureau form."""
    text = raw.astype("string").str.strip().str.replace(r"年$", "", regex=True)
    year_only = text.str.fullmatch(r"(?:19|20)\d{2}(?:\.0)?").fillna(False).astype(bool)
    years = pd.to_numeric(text.where(year_only), errors="coerce")
    dates = parse_dates(raw.where(~year_only), column="production_start", source=source)
    return years.fillna(dates.dt.year).astype("Float64")


def _enterprise_table(enterprises: pd.DataFrame, flags: tuple[str, ...] = ()) -> pd.DataFrame:
    """Parse the numbers of the enterprise table; every bad cell is reported.

    ``flags`` are the yes/no columns a scheme's bonus and penalty items read.
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
    lacking = [c for c in flags if c not in enterprises.columns]
    if lacking:
        raise ConfigError(
            f"{source}: the scheme's bonus/penalty items read column(s) {', '.join(lacking)}, "
            "which the enterprise table lacks (企业表缺少加分/减分项列); add the column, map it in "
            "[layers.enterprises.fields], or remove the item from [efficiency] bonus / penalty."
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
    for col in ("above_size", "under_construction", *flags):
        df[col] = parse_flags(
            enterprises.get(col, pd.Series(None, index=df.index)), column=col, source=source
        )
    df["production_year"] = (
        _production_year(enterprises["production_start"], source=source)
        if "production_start" in enterprises.columns
        else pd.Series(np.nan, index=df.index, dtype="Float64")
    )
    for col in _TEXT:
        df[col] = _text_column(enterprises, col, df.index)
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
    """Per enterprise and year: land (亩), the indicators, and 万元/公顷 figures."""
    land = links.groupby("enterprise_id")["land_mu"].sum()
    rules = links.groupby("enterprise_id")["land_rule"].agg(lambda r: "；".join(sorted(set(r))))
    df = enterprises.copy()
    df["land_mu"] = df["enterprise_id"].map(land).fillna(0.0)
    # reindex keeps the text dtype when no firm holds land (map would give floats).
    rule = rules.astype("string").reindex(df["enterprise_id"]).fillna("无用地")
    df["land_rule"] = rule.to_numpy()
    for name, (num, den, factor) in _RATIOS.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            df[name] = (df[num] / df[den] * factor).where(df[den] > 0)
    for name, per_mu in _PER_HA.items():
        df[name] = df[per_mu] * _MU_PER_HA
    return df


def _industry_exempt(industry: pd.Series, entries: tuple[str, ...]) -> pd.Series:
    """Industries a scheme lists as class T: a code entry matches the start, a word any part."""
    hit = pd.Series(False, index=industry.index)
    text = industry.fillna("")
    for entry in entries:
        hit |= (
            text.str.startswith(entry) if entry.isdigit() else text.str.contains(entry, regex=False)
        )
    return hit


def _status(df: pd.DataFrame, scheme: EfficiencyScheme) -> tuple[pd.Series, pd.Series]:
    """Per firm: "scored", "T" or "未参评", and the reason of the last two.

    Order: no land, coverage (below-size area/floor, years), the scheme's
    exemptions (class T), then no tax figure.
    """
    below = ~df["above_size"].astype(bool)
    years = (df["year"] - df["production_year"]).astype("float64")
    floor = df["leased_floor_m2"].fillna(0.0)
    small = (
        below
        & (df["land_mu"] < scheme.min_land_mu_below)
        & (floor < scheme.min_leased_floor_m2_below)
    )
    young = below & (years < scheme.min_years_below)
    utility = _industry_exempt(df["industry"], scheme.t_industries)
    new = years < scheme.t_new_firm_years
    building = df["under_construction"].astype(bool) & scheme.t_under_construction
    exempt = df["exempt_reason"].notna()
    t_name = f"T类（{scheme.policies['T']}）："
    floor_text = (
        f"、租赁建筑面积不足 {scheme.min_leased_floor_m2_below:,.0f} 平方米"
        if math.isfinite(scheme.min_leased_floor_m2_below)
        else ""
    )
    started = df["production_year"].astype("float64").map("{:.0f}".format)
    cases = [
        (df["land_mu"] <= 0, "未参评", "无用地，不参评"),
        (
            small,
            "未参评",
            f"规下企业用地不足 {scheme.min_land_mu_below:g} 亩{floor_text}，不参评",
        ),
        (
            young,
            "未参评",
            "规下企业 " + started + f" 年投产，不满 {scheme.min_years_below:g} 年，不参评",
        ),
        (utility, "T", t_name + "行业“" + df["industry"].fillna("") + "”属方案不定等级的行业"),
        (new, "T", t_name + started + f"年投产，投产不满 {scheme.t_new_firm_years:g} 年"),
        (building, "T", t_name + "在建企业"),
        (exempt, "T", t_name + df["exempt_reason"].fillna("")),
        (df["tax_wan"].isna(), "未参评", "缺少税收数据，不参评"),
    ]
    conditions = [c.fillna(False).to_numpy(dtype=bool) for c, _, _ in cases]
    state = np.select(conditions, [s for _, s, _ in cases], "scored")
    reasons = [np.broadcast_to(np.asarray(r, dtype=object), len(df)) for _, _, r in cases]
    return (
        pd.Series(state, index=df.index),
        pd.Series(np.select(conditions, reasons, ""), index=df.index),
    )


def benchmarks(
    metrics: pd.DataFrame,
    options: EfficiencyOptions | EfficiencyScheme | None = None,
    *,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The benchmark of every weighted indicator, per size group, and where it comes from.

    Parameters
    ----------
    metrics : DataFrame
        One year's firms from :func:`enterprise_metrics`.
    options : EfficiencyOptions or EfficiencyScheme, optional
        The scheme (default: the ``zhejiang`` preset).
    previous : DataFrame, optional
        The year before's firms, for ``benchmark = "previous_year_average"``.

    Returns
    -------
    DataFrame
        ``size_group`` (规上/规下), ``indicator``, ``indicator_zh``, ``weight``,
        ``benchmark`` (in the indicator's unit), ``basis`` (how it was set) and
        ``firms`` (how many firms the average is over; NA for published values).
        An average over no firm with the figure is NaN (every firm then scores
        that item as missing).

    Raises
    ------
    SchemaError
        The scheme compares with last year and ``previous`` is missing.
    """
    scheme = _scheme(options)
    weights = {"规上": scheme.above_weights, "规下": scheme.below_weights}
    rows: list[tuple[str, str, float, float, str, object]] = []
    if scheme.benchmark == "fixed":
        published = {"规上": scheme.above_benchmarks, "规下": scheme.below_benchmarks}
        for size, _ in _SIZE_GROUPS:
            for ind, weight in weights[size].items():
                rows.append((size, ind, weight, published[size][ind], "方案公布值", pd.NA))
    else:
        year = int(metrics["year"].iloc[0]) if len(metrics) else 0
        source = metrics
        if scheme.benchmark == "previous_year_average":
            if previous is None:
                raise SchemaError(
                    f"Scheme {scheme.name} divides by the average of the year before "
                    f"(上年平均值), but the enterprise table has no {year - 1} figures; add them, "
                    'or set [efficiency] benchmark = "group_average".'
                )
            source = previous
        state, _ = _status(source, scheme)
        pool_all = source[state == "scored"]
        pool_year = int(source["year"].iloc[0]) if len(source) else year
        times = f" × {scheme.benchmark_multiple:g}" if scheme.benchmark_multiple != 1 else ""
        for size, _ in _SIZE_GROUPS:
            county = scheme.ranking == "county"
            pool = pool_all if county else pool_all[pool_all["above_size"] == (size == "规上")]
            who = "全县（区）参评" if county else f"{size}参评"
            for ind, weight in weights[size].items():
                num, den, factor = _RATIOS[ind]
                ok = pool[num].notna() & (pool[den] > 0)
                total = pool.loc[ok, den].sum()
                average = pool.loc[ok, num].sum() / total * factor if total > 0 else math.nan
                rows.append(
                    (
                        size,
                        ind,
                        weight,
                        average * scheme.benchmark_multiple,
                        f"{pool_year}年{who}企业平均值（总量÷总量）{times}",
                        int(ok.sum()),
                    )
                )
    out = pd.DataFrame(
        rows, columns=["size_group", "indicator", "weight", "benchmark", "basis", "firms"]
    )
    out.insert(2, "indicator_zh", out["indicator"].map(_NAMES_ZH))
    out["firms"] = out["firms"].astype("Int64")
    return out


def _rank(score: pd.Series, tax_per_mu: pd.Series) -> pd.Series:
    """Rank 1 = best score; equal scores (e.g. every item at its cap) by 亩均税收, then shared."""
    key = pd.DataFrame({"score": score, "tax": tax_per_mu.fillna(-np.inf)})
    order = key.sort_values(["score", "tax"], ascending=False)
    first = ~order.duplicated()
    position = pd.Series(np.arange(1, len(order) + 1, dtype=float), index=order.index)
    return position.where(first).ffill().reindex(score.index)


def classify(
    metrics: pd.DataFrame,
    options: EfficiencyOptions | EfficiencyScheme | None = None,
    *,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Score and class one year's enterprises, with the reason for each class.

    Parameters
    ----------
    metrics : DataFrame
        One year's firms from :func:`enterprise_metrics`.
    options : EfficiencyOptions or EfficiencyScheme, optional
        The scheme (default: the ``zhejiang`` preset).
    previous : DataFrame, optional
        The year before's firms (needed by ``previous_year_average`` schemes).

    Returns
    -------
    DataFrame
        ``metrics`` plus ``scored`` (bool), ``size_group`` (规上/规下),
        ``rank_group`` (规上/规下 or 全县（区）), ``years_in_production``,
        ``score``, ``score_<indicator>`` per item, ``score_bonus``,
        ``score_penalty``, ``score_rank``, ``group_size``, ``grade`` (A/B/C/D,
        T or 未参评), ``policy`` and ``reason``.
    """
    scheme = _scheme(options)
    bench = benchmarks(metrics, scheme, previous=previous).set_index(["size_group", "indicator"])[
        "benchmark"
    ]
    df = metrics.copy()
    df["size_group"] = np.where(df["above_size"], "规上", "规下")
    df["rank_group"] = _COUNTY if scheme.ranking == "county" else df["size_group"]
    df["years_in_production"] = (df["year"] - df["production_year"]).astype("Float64")
    state, reason = _status(df, scheme)
    df["scored"] = state == "scored"
    df["grade"] = np.where(state == "T", "T", "未参评")
    df["reason"] = reason
    for col in ("score", "score_bonus", "score_penalty", "score_rank", "group_size"):
        df[col] = np.nan
    scored = df[df["scored"]]
    total = pd.Series(0.0, index=scored.index)
    items = pd.Series("", index=scored.index)
    notes = pd.Series("", index=scored.index)
    cap = scheme.item_cap
    for size, key in _SIZE_GROUPS:
        g = scored[scored["size_group"] == size]
        if g.empty:  # text of an empty float column would stay float
            continue
        for name, weight in getattr(scheme, f"{key}_weights").items():
            ratio = (g[name] / bench[(size, name)]).astype("float64")  # Excel reads give Arrow
            capped = ratio > cap
            item = weight * ratio.clip(upper=cap)
            missing = item.isna()
            average = name in scheme.average_if_missing and item.notna().any()
            item = item.fillna(item.mean() if average else 0.0)
            df.loc[g.index, f"score_{name}"] = item
            total[g.index] += item
            items[g.index] += (
                _NAMES_ZH[name]
                + item.map("{:.1f}".format)
                + f"/{weight:g}"
                + np.where(capped, "（封顶）", "")
                + "，"
            )
            what = "按同组平均得分计" if average else "该项0分"
            notes[missing[missing].index] += f"；缺少{_NAMES_ZH[name]}数据，{what}"
    for kind, sign, points_of in (("bonus", "+", scheme.bonus), ("penalty", "−", scheme.penalty)):
        points = pd.Series(0.0, index=scored.index)
        for col, pts in points_of.items():
            hit = scored[col].astype(bool)
            points += hit * pts
            items[hit[hit].index] += (
                f"{'加分' if kind == 'bonus' else '减分'} {label(col)} {sign}{pts:g}，"
            )
        df.loc[scored.index, f"score_{kind}"] = points
        total += points if kind == "bonus" else -points
    a, b, c = scheme.class_shares
    shares = f"A 前 {a:.0%}、B 前 {b:.0%}、C 前 {c:.0%}"
    for group, g in scored.groupby("rank_group"):
        rank = _rank(total[g.index], g["tax_per_mu_wan"])
        n = len(g)
        limits = [math.ceil(s * n) for s in scheme.class_shares]
        grade = np.select(
            [rank <= limits[0], rank <= limits[1], rank <= limits[2]], ["A", "B", "C"], "D"
        )
        df.loc[g.index, "score_rank"] = rank
        df.loc[g.index, "group_size"] = n
        df.loc[g.index, "grade"] = grade
        df.loc[g.index, "reason"] = (
            "综合得分 "
            + total[g.index].map("{:.1f}".format)
            + "（"
            + items[g.index].str.rstrip("，")
            + f"）；{group}企业第 "
            + rank.astype(int).astype(str)
            + f"/{n} 名，"
            + pd.Series(grade, index=g.index)
            + f" 类（{shares}）"
            + notes[g.index]
        )
    df.loc[scored.index, "score"] = total
    df["policy"] = df["grade"].map(scheme.policies).fillna("")
    return df


def parcel_metrics(
    parcels: gpd.GeoDataFrame, links: pd.DataFrame, classified: pd.DataFrame
) -> gpd.GeoDataFrame:
    """Per parcel: tax and value added allocated by land share, per-mu and per-ha figures, class.

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
    out["tax_per_ha_wan"] = out["tax_per_mu_wan"] * _MU_PER_HA
    out["va_per_ha_wan"] = out["va_per_mu_wan"] * _MU_PER_HA
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
        ``land_mu_<y>``, ``tax_per_mu_wan_<y>``, ``tax_per_ha_wan_<y>`` (万元/公顷);
        ``yoy`` = relative change of
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
    long["tax_per_ha_wan"] = long["tax_per_mu_wan"] * _MU_PER_HA
    wide = long.pivot_table(
        index=["level", "group"],
        columns="year",
        values=["tax_wan", "land_mu", "tax_per_mu_wan", "tax_per_ha_wan"],
        aggfunc="sum",
    )
    years = sorted(metrics_by_year)
    wide.columns = ["_".join(map(str, pair)) for pair in wide.columns]  # (name, year)
    shown = ("tax_wan", "land_mu", "tax_per_mu_wan", "tax_per_ha_wan")
    wide = wide[[f"{n}_{y}" for y in years for n in shown]]
    if len(years) >= 2:
        last, prev = years[-1], years[-2]
        wide["yoy"] = wide[f"tax_per_mu_wan_{last}"] / wide[f"tax_per_mu_wan_{prev}"] - 1
    order = {name: i for i, name in enumerate(level_names.values())}
    table = wide.reset_index()
    table["_order"] = table["level"].map(order)
    return table.sort_values(["_order", "group"]).drop(columns="_order").reset_index(drop=True)


@dataclass
class EfficiencyResult:
    """Outputs of :func:`evaluate`.

    ``benchmarks`` is the table of :func:`benchmarks`; ``notes`` are lines
    about rules the table could not be judged on (e.g. no industry column).
    """

    enterprises: pd.DataFrame
    parcels: gpd.GeoDataFrame
    links: pd.DataFrame
    parks: pd.DataFrame
    year: int
    scheme: EfficiencyScheme
    benchmarks: pd.DataFrame
    notes: list[str] = field(default_factory=list)


def _unjudged(
    enterprises: pd.DataFrame, table: pd.DataFrame, scheme: EfficiencyScheme
) -> list[str]:
    """Lines naming the scheme's rules the enterprise table has no column (or cells) for."""
    rules = {
        "industry": bool(scheme.t_industries),
        "production_start": scheme.t_new_firm_years > 0 or scheme.min_years_below > 0,
        "under_construction": scheme.t_under_construction,
    }
    absent = [c for c, active in rules.items() if active and c not in enterprises.columns]
    notes = []
    if absent:
        notes.append(
            "企业表无 "
            + "、".join(f"{label(c)}（{c}）" for c in absent)
            + " 列，这些 T类/参评范围 规则未判定 (rules not judged: column missing)"
        )
    if rules["production_start"] and "production_start" not in absent:
        unknown = int(table["production_year"].isna().sum())
        if unknown:
            notes.append(f"{unknown} 家企业缺少投产日期，按已投产满年限处理")
    return notes


def evaluate(
    parcels: gpd.GeoDataFrame,
    enterprises: pd.DataFrame,
    *,
    year: int | None = None,
    options: EfficiencyOptions | EfficiencyScheme | None = None,
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
        The year evaluated; the year before is used for year-on-year change
        (and for the benchmarks of ``previous_year_average`` schemes).
    options : EfficiencyOptions or EfficiencyScheme, optional
        The scheme (default: the ``zhejiang`` preset).
    """
    scheme = _scheme(options)
    table = _enterprise_table(enterprises, (*scheme.bonus, *scheme.penalty))
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
    previous = metrics_by_year.get(chosen - 1)
    classified = classify(metrics_by_year[chosen], scheme, previous=previous)
    shown = [y for y in years if y in (chosen - 1, chosen)]
    return EfficiencyResult(
        enterprises=classified,
        parcels=parcel_metrics(parcels, links_by_year[chosen], classified),
        links=links_by_year[chosen],
        parks=park_summary(
            parcels, {y: metrics_by_year[y] for y in shown}, {y: links_by_year[y] for y in shown}
        ),
        year=chosen,
        scheme=scheme,
        benchmarks=benchmarks(metrics_by_year[chosen], scheme, previous=previous),
        notes=_unjudged(enterprises, table[table["year"] == chosen], scheme),
    )


def describe_scheme(scheme: EfficiencyScheme) -> list[tuple[str, str]]:
    """The scheme in words, one (item, text) row per rule, for the workbook cover.

    Examples
    --------
    >>> from landuse.core.options import efficiency_schemes
    >>> dict(describe_scheme(efficiency_schemes()["zhejiang"]))["单项得分上限"]
    '指标值 ÷ 基准值 超过 2 按 2 计（单项最高为权重的 2 倍）'
    """

    def listed(weights: Mapping[str, float]) -> str:
        return "、".join(f"{_NAMES_ZH[k]} {v:g}" for k, v in weights.items())

    county = scheme.ranking == "county"
    pool = "全县（区）参评企业" if county else "同规模（规上/规下）参评企业"
    times = f" × {scheme.benchmark_multiple:g}" if scheme.benchmark_multiple != 1 else ""
    basis = {
        "group_average": f"当年{pool}平均值（总量÷总量）{times}",
        "previous_year_average": f"上年{pool}平均值（总量÷总量）{times}",
        "fixed": f"方案公布值：规上 {listed(scheme.above_benchmarks)}；"
        f"规下 {listed(scheme.below_benchmarks)}",
    }[scheme.benchmark]
    cap = scheme.item_cap
    a, b, c = scheme.class_shares
    p = scheme.policies
    cover = [f"规下企业用地 ≥ {scheme.min_land_mu_below:g} 亩"]
    if math.isfinite(scheme.min_leased_floor_m2_below):
        cover.append(f"或租赁建筑面积 ≥ {scheme.min_leased_floor_m2_below:,.0f} 平方米")
    if scheme.min_years_below > 0:
        cover.append(f"，且投产满 {scheme.min_years_below:g} 年")
    exempt = []
    if scheme.t_industries:
        exempt.append("行业 " + "、".join(scheme.t_industries))
    if scheme.t_new_firm_years > 0:
        exempt.append(f"投产不满 {scheme.t_new_firm_years:g} 年")
    if scheme.t_under_construction:
        exempt.append("在建企业")
    exempt.append("企业表填写不定等级原因的企业")
    points = [f"加分 {label(k)} +{v:g}" for k, v in scheme.bonus.items()]
    points += [f"减分 {label(k)} −{v:g}" for k, v in scheme.penalty.items()]
    averaged = "、".join(_NAMES_ZH[k] for k in scheme.average_if_missing)
    changed = f"；按 landuse.toml [efficiency] 调整：{', '.join(scheme.overridden)}"
    return [
        (
            "亩均效益评价方案",
            f"{scheme.title}（{scheme.name}）" + (changed if scheme.overridden else ""),
        ),
        ("评价依据", scheme.source),
        (
            "评价权重",
            f"规上 {listed(scheme.above_weights)}；规下 {listed(scheme.below_weights)}",
        ),
        ("评价基准值", basis),
        (
            "单项得分上限",
            f"指标值 ÷ 基准值 超过 {cap:g} 按 {cap:g} 计（单项最高为权重的 {cap:g} 倍）"
            if math.isfinite(cap)
            else "不封顶（方案未设上限）",
        ),
        (
            "分类与排名",
            ("全县（区）统一排名" if county else "规上、规下分别排名")
            + "，同分按亩均税收排序"
            + f"；A 前 {a:.0%}（{p['A']}）、B 前 {b:.0%}（{p['B']}）、"
            f"C 前 {c:.0%}（{p['C']}）、D 其余（{p['D']}）",
        ),
        ("参评范围", "规上企业全部；" + "".join(cover)),
        (f"T类（{p['T']}，不排名）", "；".join(exempt)),
        ("加分/减分", "；".join(points) or "无"),
        (
            "缺项处理",
            f"缺少{averaged}数据按同组平均得分计，其余缺项该项 0 分"
            if averaged
            else "缺项该项 0 分",
        ),
    ]
