"""Indicator tables: the 工业项目建设用地控制指标 as shipped data, plus province tables.

A table is a TOML file (``layers/indicators_national_2008.toml`` is the model)::

    [about]
    title = "广西工业项目建设用地控制指标"
    document = "桂自然资发〔…〕…号"
    industry_codes = "GB/T 4754-2017"      # edition of the rows' industry codes

    [land_price]                            # does 投资强度 count the land price?
    included = true
    source = "…"

    [double_height]                         # storeys higher than this count twice
    height_m = 8.0

    [building_coverage]                     # one value for every industry …
    value = 0.30
    source = "…"
    verified = false                        # true only when checked in the document
    note = "…"

    [plot_ratio]                            # … or rows by industry (and region)
    source = "…"
    rows = [{ industry = "13", name = "农副食品加工业", value = 1.0 }]

    [investment_intensity]
    unit = "万元/亩"                         # converted to 万元/公顷
    rows = [{ industry = "13", region = "一类", value = … }]   # the document's values

Indicators and their bounds are fixed (:data:`INDICATORS`): 容积率 ≥, 建筑系数 ≥,
投资强度 ≥, 行政办公及生活服务设施用地所占比重 ≤, 绿地率 ≤.  A row inherits its
group's ``source``, ``verified`` and ``note`` unless it gives its own; a value
without ``verified = true`` is unverified and every result says so.  The shipped
national table, compiled without the official text, marks a value verified
where it agrees in at least two independent published copies (named in its note).

Several tables combine (:func:`load_indicator_table`): the national table first,
then province or local tables, later ones winning; within a table a row for a
longer industry code (``3311``) wins over a shorter one (``33``), a row for the
project's region class over one for every region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from landuse.core.config import layers_dir, read_toml
from landuse.core.errors import ConfigError
from landuse.core.options import parse_options, suggest

__all__ = [
    "EDITIONS",
    "INDICATORS",
    "IndicatorSpec",
    "IndicatorTable",
    "Rule",
    "Threshold",
    "load_indicator_table",
    "read_indicator_table",
]

#: National editions shipped as ``layers/indicators_national_<edition>.toml``.
EDITIONS: tuple[int, ...] = (2008, 2023)


@dataclass(frozen=True)
class IndicatorSpec:
    """One control indicator: its Chinese name, its bound and the units a table may use.

    Attributes
    ----------
    label : str
        Chinese name.
    bound : {"min", "max"}
        The value must be at least (min) or at most (max) the threshold.
    units : dict of str to float
        Unit a table may state → factor to the canonical unit (the first).
    """

    label: str
    bound: Literal["min", "max"]
    units: dict[str, float]


_SHARE_UNITS = {"比例": 1.0, "%": 0.01}

#: The control indicators a table may hold; canonical units: a ratio, shares 0–1, 万元/公顷.
INDICATORS: dict[str, IndicatorSpec] = {
    "plot_ratio": IndicatorSpec("容积率", "min", {"": 1.0}),
    "building_coverage": IndicatorSpec("建筑系数", "min", _SHARE_UNITS),
    "investment_intensity": IndicatorSpec(
        "投资强度", "min", {"万元/公顷": 1.0, "万元/亩": 15.0, "元/平方米": 1.0}
    ),
    "office_share": IndicatorSpec("行政办公及生活服务设施用地所占比重", "max", _SHARE_UNITS),
    "green_ratio": IndicatorSpec("绿地率", "max", _SHARE_UNITS),
}


@dataclass(frozen=True)
class Threshold:
    """One value of a table: an indicator's threshold for an industry and region.

    Attributes
    ----------
    indicator : str
        A key of :data:`INDICATORS`.
    value : float
        In the canonical unit.
    industry : str or None
        Industry code prefix (2–4 digits); None for every industry.
    region : str or None
        Region class (地区分类); None for every region.
    name : str or None
        Industry name as the table gives it.
    source, note : str
        Where the value comes from; anything to know about it.
    verified : bool
        Checked against the issuing document (for the shipped national table:
        found alike in two independent copies).
    table : str
        The table file it came from.
    codes : str or None
        Edition of 国民经济行业分类 of the table's industry codes.
    rank : int
        Position of its table (later tables win).
    """

    indicator: str
    value: float
    industry: str | None
    region: str | None
    name: str | None
    source: str
    verified: bool
    note: str
    table: str
    codes: str | None
    rank: int


@dataclass(frozen=True)
class Rule:
    """A rule of a table (land price in 投资强度, the storey-height rule) with its source."""

    value: bool | float | None = None
    source: str = ""
    verified: bool = False
    note: str = ""

    def cited(self) -> str:
        """The source, marked 未核实 unless verified."""
        return self.source + ("" if self.verified else "（未核实）")


@dataclass(frozen=True)
class IndicatorTable:
    """One or more tables combined: thresholds, rules and what the tables say is missing.

    Attributes
    ----------
    titles : tuple of str
        Title and document of each table, national first.
    thresholds : tuple of Threshold
        Every value of every table.
    notes : dict of str to str
        Indicator → the note of the last table that has a group for it (why a
        value may be missing).
    land_price : Rule
        ``value`` True when 投资强度 counts the land price, None when no table says.
    double_height : Rule
        ``value`` the storey height above which floor area counts twice, or None.
    """

    titles: tuple[str, ...]
    thresholds: tuple[Threshold, ...] = ()
    notes: dict[str, str] = field(default_factory=dict)
    land_price: Rule = field(default_factory=Rule)
    double_height: Rule = field(default_factory=Rule)

    def regions(self, indicator: str) -> list[str]:
        """Region classes the rows of ``indicator`` name, sorted."""
        found = {t.region for t in self.thresholds if t.indicator == indicator and t.region}
        return sorted(found)

    def by_industry(self, indicator: str | None = None) -> list[Threshold]:
        """Rows keyed by an industry code (of one indicator, or of all)."""
        return [
            t
            for t in self.thresholds
            if t.industry is not None and (indicator is None or t.indicator == indicator)
        ]

    def check_region(self, region_class: str | None, *, per_parcel: bool = False) -> None:
        """Raise when a table gives values by region and ``region_class`` does not pick one.

        Parameters
        ----------
        region_class : str or None
            ``[indicators] region_class``.
        per_parcel : bool
            The parcels carry their own ``region_class`` field, so an unset
            option is no error (a parcel without a class is not judged).

        Raises
        ------
        ConfigError
            Region-specific rows exist but neither ``[indicators] region_class``
            nor a parcel field gives a class, or the option names none of the
            tables' regions.
        """
        for indicator, spec in INDICATORS.items():
            regions = self.regions(indicator)
            if not regions or region_class in regions or (region_class is None and per_parcel):
                continue
            shown = ", ".join(f'"{r}"' for r in regions)
            what = (
                "is not set"
                if region_class is None
                else f'= "{region_class}" is none of the tables\' classes'
            )
            raise ConfigError(
                f"[indicators] region_class {what}: the tables give {spec.label} by 地区分类 "
                f"({shown}); set region_class to the project's class, e.g. "
                f"region_class = {shown.split(', ')[0]}, or give each parcel its class in a "
                "region_class (地区分类) field."
            )

    def check_codes(self, edition: str | None) -> None:
        """Raise when rows keyed by industry use another 国民经济行业分类 edition.

        Raises
        ------
        ConfigError
            ``[indicators] industry_codes`` is not set, or differs from a table's.
        """
        used = {(t.table, t.codes) for t in self.by_industry()}
        if not used:
            return
        if edition is None:
            tables = ", ".join(f"{name} ({codes})" for name, codes in sorted(used))
            raise ConfigError(
                "[indicators] industry_codes is not set: say which edition of 国民经济行业分类 "
                f"the parcels' 行业代码 follow; the tables use {tables} (codes from 29 on mean "
                "other industries in GB/T 4754-2002 and -2017), e.g. industry_codes = "
                '"GB/T 4754-2017".'
            )
        other = sorted(name for name, codes in used if codes != edition)
        if other:
            codes = next(c for n, c in used if n == other[0])
            raise ConfigError(
                f"{other[0]} keys its values by {codes} codes but [indicators] industry_codes "
                f'= "{edition}": recode the parcels\' 行业代码 to {codes} or use a table in '
                f"{edition} codes."
            )

    def lookup(
        self, indicator: str, industry: pd.Series, region_class: str | pd.Series | None = None
    ) -> pd.DataFrame:
        """The threshold of ``indicator`` for each parcel, with its source or why none.

        Parameters
        ----------
        indicator : str
            A key of :data:`INDICATORS`.
        industry : Series of str
            Normalised industry codes (digits, or NA), indexed like the parcels.
        region_class : str or Series of str, optional
            The project's region class, or each parcel's (NA: none), aligned to
            ``industry``.

        Returns
        -------
        DataFrame
            ``value`` (float, NaN when none), ``source`` (the source marked
            未核实 when unverified, or the reason there is no value) and
            ``verified`` (bool), aligned to ``industry``.
        """
        spec = INDICATORS[indicator]
        region = pd.Series(region_class, index=industry.index, dtype="string")
        rows = [t for t in self.thresholds if t.indicator == indicator]
        # Later tables win; within a table the more specific row wins (applied last).
        rows.sort(key=lambda t: (t.rank, t.region is not None, len(t.industry or "")))
        value = pd.Series(np.nan, index=industry.index)
        source = pd.Series("", index=industry.index, dtype=object)
        verified = pd.Series(False, index=industry.index)
        code = industry.astype("string")
        for t in rows:
            hit = (
                pd.Series(True, index=industry.index)
                if t.industry is None
                else code.str.startswith(t.industry).fillna(False).astype(bool)
            )
            if t.region is not None:
                hit &= region.eq(t.region).fillna(False).astype(bool)
            name = f"：{t.industry} {t.name or ''}".rstrip() if t.industry else ""
            value[hit] = t.value
            source[hit] = t.source + name + ("" if t.verified else "（未核实）")
            verified[hit] = t.verified
        missing = value.isna()
        if missing.any():
            if not rows:
                why = self.notes.get(indicator) or f"指标表中没有{spec.label}指标"
                source[missing] = why
            else:
                no_code = missing & code.isna()
                source[no_code] = "缺少行业代码，无法查得" + spec.label + "指标"
                regional = bool(self.regions(indicator))
                no_region = missing & ~no_code & region.isna() & regional
                source[no_region] = "缺少地区分类，无法查得" + spec.label + "指标"
                other = missing & ~no_code & ~no_region
                where = ("地区分类 " + region[other] + "、") if regional else ""
                source[other] = (
                    "指标表中没有" + where + "行业 " + code[other] + f" 的{spec.label}指标"
                ).astype(object)
        return pd.DataFrame({"value": value, "source": source, "verified": verified})


# ------------------------------------------------------------------ reading


@dataclass(frozen=True)
class _About:
    title: str = ""
    document: str = ""
    edition: str = ""
    industry_codes: Literal["GB/T 4754-2002", "GB/T 4754-2011", "GB/T 4754-2017"] | None = None
    note: str = ""


@dataclass(frozen=True)
class _LandPrice:
    included: bool | None = None
    source: str = ""
    verified: bool = False
    note: str = ""


@dataclass(frozen=True)
class _DoubleHeight:
    height_m: float | None = None
    source: str = ""
    verified: bool = False
    note: str = ""


@dataclass(frozen=True)
class _Group:
    value: float | None = None
    unit: str | None = None
    source: str = ""
    verified: bool = False
    note: str = ""


@dataclass(frozen=True)
class _Row:
    value: float
    industry: str | None = None
    region: str | None = None
    name: str | None = None
    source: str | None = None
    verified: bool | None = None
    note: str | None = None


_SECTIONS = ("about", "land_price", "double_height", *INDICATORS)


def _group(
    raw: Any, indicator: str, src: str, codes: str | None, rank: int
) -> tuple[list[Threshold], str]:
    """The thresholds of one indicator group and its note."""
    spec = INDICATORS[indicator]
    if not isinstance(raw, dict):
        raise ConfigError(f"{src}: [{indicator}] must be a table of options, not {raw!r}.")
    body = dict(raw)
    rows = body.pop("rows", [])
    group = parse_options(_Group, body, section=indicator, source=src)
    unit = group.unit or next(iter(spec.units))
    if unit not in spec.units:
        valid = ", ".join(f'"{u}"' for u in spec.units if u)
        raise ConfigError(
            f"{src}: [{indicator}] unit = {unit!r} is not a unit of {spec.label}; use {valid}."
        )
    factor = spec.units[unit]
    if not isinstance(rows, list):
        raise ConfigError(
            f"{src}: [{indicator}] rows must be a list of {{ industry = …, value = … }}."
        )
    parsed = [
        parse_options(_Row, row, section=f"{indicator}.rows[{i}]", source=src)
        for i, row in enumerate(rows)
    ]
    entries: list[tuple[_Row, str]] = []
    if group.value is not None:
        entries.append((_Row(group.value), ""))
    for i, r in enumerate(parsed):
        if r.industry is not None and not (r.industry.isdigit() and 2 <= len(r.industry) <= 4):
            raise ConfigError(
                f"{src}: [{indicator}.rows[{i}]] industry = {r.industry!r} is not an industry "
                'code of 2–4 digits (write it in quotes, e.g. industry = "13").'
            )
        entries.append((r, f".rows[{i}]"))
    if codes is None and any(r.industry is not None for r, _ in entries):
        raise ConfigError(
            f"{src}: [{indicator}] gives values by industry but [about] industry_codes does not "
            'say which 国民经济行业分类 edition, e.g. industry_codes = "GB/T 4754-2002".'
        )
    share = spec.units is _SHARE_UNITS
    out = []
    for r, where in entries:
        canonical = r.value * factor
        if not canonical > 0 or (share and canonical > 1):
            hint = ' (shares are written 0.30, or 30 with unit = "%")' if share else ""
            raise ConfigError(
                f"{src}: [{indicator}{where}] value = {r.value!r} is not a valid "
                f"{spec.label}{hint}."
            )
        source = r.source if r.source is not None else group.source
        if not source:
            raise ConfigError(
                f"{src}: [{indicator}{where}] has no source; every value needs one "
                '(source = "文件名称及文号"), with verified = false when unchecked.'
            )
        out.append(
            Threshold(
                indicator=indicator,
                value=canonical,
                industry=r.industry,
                region=r.region,
                name=r.name,
                source=source,
                verified=r.verified if r.verified is not None else group.verified,
                note=r.note if r.note is not None else group.note,
                table=Path(src).name,
                codes=codes,
                rank=rank,
            )
        )
    return out, group.note


def read_indicator_table(path: str | Path, *, rank: int = 0) -> IndicatorTable:
    """Read and check one indicator table file.

    Parameters
    ----------
    path : str or Path
        A TOML table (schema in the module docstring).
    rank : int
        Its position among combined tables (later wins).

    Raises
    ------
    ConfigError
        Missing file, not TOML, an unknown section or key, a value of the wrong
        kind or unit, an industry code that is not 2–4 digits, a value without
        a source; each names the file and the section.
    """
    p = Path(path)
    raw = read_toml(
        p,
        missing="indicator table not found (指标表不存在); check [indicators] tables in "
        "landuse.toml (paths are relative to it).",
        what="a valid TOML indicator table",
    )
    src = str(p)
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{src}: unknown section [{unknown[0]}]{suggest(unknown[0], _SECTIONS)} "
            f"(valid sections: {', '.join(_SECTIONS)})."
        )
    about = parse_options(_About, raw.get("about", {}), section="about", source=src)
    price = parse_options(_LandPrice, raw.get("land_price", {}), section="land_price", source=src)
    height = parse_options(
        _DoubleHeight, raw.get("double_height", {}), section="double_height", source=src
    )
    if height.height_m is not None and not height.height_m > 0:
        raise ConfigError(f"{src}: [double_height] height_m must be above 0 metres.")
    thresholds: list[Threshold] = []
    notes = {}
    for indicator in INDICATORS:
        if indicator in raw:
            rows, note = _group(raw[indicator], indicator, src, about.industry_codes, rank)
            thresholds += rows
            notes[indicator] = note
    title = about.title or p.stem
    return IndicatorTable(
        titles=(f"{title}（{about.document}）" if about.document else title,),
        thresholds=tuple(thresholds),
        notes=notes,
        land_price=Rule(price.included, price.source, price.verified, price.note),
        double_height=Rule(height.height_m, height.source, height.verified, height.note),
    )


def _combine(first: IndicatorTable, later: IndicatorTable) -> IndicatorTable:
    """``later`` over ``first``: its rules where it states them, all thresholds kept."""
    return IndicatorTable(
        titles=first.titles + later.titles,
        thresholds=first.thresholds + later.thresholds,
        notes={**first.notes, **later.notes},
        land_price=later.land_price if later.land_price.value is not None else first.land_price,
        double_height=(
            later.double_height if later.double_height.value is not None else first.double_height
        ),
    )


def load_indicator_table(edition: int = 2008, tables: Sequence[str | Path] = ()) -> IndicatorTable:
    """The national table of ``edition`` combined with province or local ``tables``.

    Parameters
    ----------
    edition : {2008, 2023}
        The shipped national table.
    tables : sequence of path
        Further tables in the same schema; later ones win.

    Examples
    --------
    >>> table = load_indicator_table(2008)
    >>> table.land_price.value, table.double_height.value
    (True, 8.0)
    """
    if edition not in EDITIONS:
        raise ConfigError(
            f"No national indicator table for {edition!r}; editions: "
            f"{', '.join(map(str, EDITIONS))}."
        )
    combined = read_indicator_table(layers_dir() / f"indicators_national_{edition}.toml")
    for rank, path in enumerate(tables, start=1):
        combined = _combine(combined, read_indicator_table(path, rank=rank))
    return combined
