"""Analysis options: the ``[section]`` tables of ``landuse.toml``, typed and checked once.

Every table of a project file is a frozen dataclass here; its field names are
the keys a user may write, its type hints say what each value must be and its
docstring documents it.  :func:`parse_options` turns a TOML table into one of
these objects where the file is read, so an unknown key (``noise_area = 500``,
``as_off``) or a value of the wrong kind is a :class:`ConfigError` naming the
table, the key and the valid choices, never a silent default.

Adding an analysis means one options class here and one field in
:class:`Options` (the registry of tables).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import functools
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal, TypeVar

import pandas as pd

from landuse.core.dates import parse_dates
from landuse.core.errors import ConfigError, LanduseError

__all__ = [
    "EFFICIENCY_INDICATORS",
    "GRADES",
    "SCHEME_RULES",
    "BuildableOptions",
    "CheckOptions",
    "EfficiencyOptions",
    "EfficiencyScheme",
    "IdleOptions",
    "IndicatorOptions",
    "LandclassOptions",
    "Options",
    "OutputOptions",
    "ProjectOptions",
    "RatesOptions",
    "efficiency_schemes",
    "parse_day",
    "parse_options",
    "suggest",
]

#: Indicators the per-mu evaluation can weight (see :mod:`landuse.analysis.efficiency`).
EFFICIENCY_INDICATORS: tuple[str, ...] = (
    "tax_per_mu_wan",
    "revenue_per_mu_wan",
    "va_per_mu_wan",
    "va_per_tce_wan",
    "va_per_emission_wan",
    "labour_productivity_wan",
    "rd_share",
    "tax_per_tce_wan",
    "tax_per_kwh_yuan",
)
#: Classes of the per-mu evaluation: A-D by rank, T listed but not graded (不定等级).
GRADES: tuple[str, ...] = ("A", "B", "C", "D", "T")
#: The scheme presets, in the package's ``layers`` folder.
SCHEMES_FILE = "efficiency_schemes.toml"


def suggest(word: str, choices: typing.Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for a near miss among ``choices``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}' (是否应为 {close[0]})?" if close else ""


def parse_day(value: object, *, what: str) -> dt.date:
    """One calendar day written as bureaus write it (2025-12-31, 2025年12月31日, 2025/12/31).

    Raises
    ------
    ConfigError
        Naming ``what`` (e.g. ``--as-of`` or ``[idle] as_of``) and the accepted forms.
    """
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        day = parse_dates([str(value)], column=what).iloc[0]
    except LanduseError:
        day = pd.NaT
    if pd.isna(day):
        raise ConfigError(
            f"{what}: '{value}' is not a date (不是日期); write it as 2025-12-31 or 2025年12月31日."
        )
    return typing.cast(dt.date, day.date())


@dataclass(frozen=True)
class ProjectOptions:
    """``[project]``: what the project is and which coordinate system it analyses in.

    Attributes
    ----------
    name : str or None
        Title on maps, workbooks and reports (default: the project folder's name).
    analysis_crs : str or None
        CRS of every area, e.g. ``"EPSG:4545"`` (default: the CGCS2000 3-degree
        Gauss-Kruger zone nearest the parcels).
    database : str or None
        ``postgresql://user@host/db`` of the shared database holding the
        layers that name a ``table`` (default: ``$LANDUSE_DATABASE_URL``). Keep
        the password out of the project file (``~/.pgpass`` or the variable).
    datum_transform : str or None
        How layers in Xian 1980 or Beijing 1954 reach CGCS2000: a PROJ pipeline
        with the local 7 parameters (``"+proj=pipeline ... +step +proj=helmert ..."``)
        or a grid file (``"+proj=hgridshift +grids=..."``), as published by the
        provincial surveying authority.  Without it such layers are refused.
    mapping_unit : str or None
        制图单位 printed on every thematic map, e.g. ``"兴宾区自然资源局"``
        (unset: the maps say it is not set, and the pack prints how to set it).
    data_date : date or None
        数据截至日期 on maps, charts and page headers (default: ``[idle] as_of``,
        else the last day of ``[rates] period``).
    paper : {"A3", "A4"}
        Paper of the thematic maps (专题图), landscape (default A3).
    area : {"plane", "ellipsoid"}
        Areas of the red-line tables (地类面积汇总表 and the control lines under
        it): ``"plane"`` on the Gauss-Kruger plane of ``analysis_crs``, or
        ``"ellipsoid"``, the 椭球面积 on the CGCS2000 ellipsoid that the 三调 reports
        (see :func:`landuse.core.crs.area_ellipsoid_m2`).  Default plane.
    threads : int or None
        CPU threads of the conflict check and the buildable-land finder
        (default: every core; ``--threads`` overrides it).  Results are the
        same for any number; fewer leave cores to other work.
    """

    name: str | None = None
    analysis_crs: str | None = None
    database: str | None = None
    datum_transform: str | None = None
    mapping_unit: str | None = None
    data_date: dt.date | None = None
    paper: Literal["A3", "A4"] = "A3"
    area: Literal["plane", "ellipsoid"] = "plane"
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.threads is not None and self.threads < 1:
            raise ConfigError(
                f"[project] threads must be at least 1, not {self.threads} "
                "(remove it to use every core)."
            )


@dataclass(frozen=True)
class OutputOptions:
    """``[output]``: where result layers go besides the output folder.

    Attributes
    ----------
    database : str or None
        ``postgresql://user@host/db`` (``?schema=…``, default schema
        ``landuse``): every result layer is also written there as a table, all
        in one transaction (``--out postgresql://…`` writes only there).
    """

    database: str | None = None


@dataclass(frozen=True)
class CheckOptions:
    """``[check]``: the 三区三线 conflict check.

    Attributes
    ----------
    noise_area_m2, noise_share, noise_width_m : float
        A piece is boundary noise, not a conflict, when it is smaller than
        ``noise_area_m2`` **and** than ``noise_share`` of its parcel, or thinner
        than ``noise_width_m`` everywhere (defaults 50 m², 0.5 %, 0.5 m).
    extra_constraints : mapping of str to str
        Further constraint layers (a ``[layers.<name>]`` each) → Chinese label,
        e.g. ``{ flood = "行洪区" }``.
    """

    noise_area_m2: float = 50.0
    noise_share: float = 0.005
    noise_width_m: float = 0.5
    extra_constraints: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BuildableOptions:
    """``[buildable]``: parameters of the buildable-land finder.

    Attributes
    ----------
    min_area_mu : float
        Smallest piece kept, in 亩 (default 10 亩 ≈ 6 667 m²).
    min_width_m : float
        Narrower strips are removed (default 20 m: no factory fits).
    road_setback_m : float
        Added to half the road width on each side (default 0).
    default_road_width_m : float
        Road width when the roads layer has no ``width_m`` (default 20 m).
    occupied_status : tuple of str
        ``supply_status`` values that make a parcel occupied (default 已供);
        without that field every parcel counts as occupied.
    max_slope_deg : float
        Slope limit applied when a DEM is given (default 15°).
    buffers : mapping of str to float
        Layers (a ``[layers.<name>]`` each) kept clear by this many metres,
        e.g. ``{ pipelines = 30 }``.
    udb_zones : tuple of str
        When the UDB layer carries planning zones (GHFQMC / GHFQDM), only the
        features whose zone name or code is listed count (default 城镇集中建设区).
    """

    min_area_mu: float = 10.0
    min_width_m: float = 20.0
    road_setback_m: float = 0.0
    default_road_width_m: float = 20.0
    occupied_status: tuple[str, ...] = ("已供",)
    max_slope_deg: float = 15.0
    buffers: Mapping[str, float] = field(default_factory=dict)
    udb_zones: tuple[str, ...] = ("城镇集中建设区", "集中建设区")


@dataclass(frozen=True)
class IdleOptions:
    """``[idle]``: idle-land rules, raster evidence and the disposal ledger.

    The legal values (one third, 25 %, 20 %) are defaults, not constants, so a
    province's stricter rule can be expressed.

    Attributes
    ----------
    as_of : date or None
        Day the idle rules are judged for (``--as-of`` overrides).
    ledger : str or None
        The bureau's append-only ledger: a GeoPackage relative to landuse.toml,
        or ``postgresql://user@host/db?table=schema.name`` for a shared one.
    ledger_import : str or None
        A CSV/Excel of ledger rows imported into a fresh ledger by ``report``
        (the sample uses it; a bureau keeps ``ledger`` instead).
    developed_threshold : float
        Developed share under which started land can be idle (default 1/3).
    invested_threshold : float
        Invested share under which started land can be idle (default 25 %).
    fee_rate : float
        Idle-land fee as a share of the land price (default 20 %).
    supplied_status : tuple of str
        ``supply_status`` values of supplied land (default 已供).
    evidence_classes : tuple of int
        Land-cover classes that show construction (default 4 built-up, 5 site).
    suspect_below : float
        Evidence share under which a parcel recorded as started is suspect (5 %).
    min_raster_coverage : float
        Share of a parcel the raster must cover to judge the evidence (90 %).
    investigation_days : int
        Days from finding suspected idle land (发现疑似闲置) to the investigation
        notice (调查通知), Order No. 53 Art. 5 (default 30).
    payment_days : int
        Days from service of the decision (决定书送达) to pay the idle-land fee or
        hand back the land, Art. 17 (default 30).
    holiday_rollover : bool
        A deadline whose last day is a statutory rest day ends on the next working
        day (Civil Code Art. 203; default true).
    recover_suspended : bool
        Recover without compensation land whose development was suspended for two
        full years (default true).  Art. 14 speaks only of 未动工开发满两年, so this
        is an interpretation; false gives such land the fee and a note instead.
    """

    as_of: dt.date | None = None
    ledger: str | None = None
    ledger_import: str | None = None
    developed_threshold: float = 1 / 3
    invested_threshold: float = 0.25
    fee_rate: float = 0.20
    supplied_status: tuple[str, ...] = ("已供",)
    evidence_classes: tuple[int, ...] = (4, 5)
    suspect_below: float = 0.05
    min_raster_coverage: float = 0.9
    investigation_days: int = 30
    payment_days: int = 30
    holiday_rollover: bool = True
    recover_suspended: bool = True


@dataclass(frozen=True)
class RatesOptions:
    """``[rates]``: disposal rates.

    Attributes
    ----------
    period : tuple of two dates or None
        First and last day of the period (``--from``/``--to`` override).
    by : {"park", "county"}
        Rows per park, or the county total only.
    approved_from, approved_to : date or None
        Count only land approved (``approval_date``) in this window, e.g. the
        stock approved 2009-01-01 … 2018-12-31 (``--approved-from``/``--approved-to``).
    cumulative : bool
        Count from the window's first day (``approved_from``) to the period's
        end instead of over the period (``--cumulative``).
    supply_years : int
        Approval years in 近五年平均供地率 (default 5).
    supply_rate_floor : float
        The floor that rate is held to (national rule: 60 %).
    """

    period: tuple[dt.date, dt.date] | None = None
    by: Literal["park", "county"] = "park"
    approved_from: dt.date | None = None
    approved_to: dt.date | None = None
    cumulative: bool = False
    supply_years: int = 5
    supply_rate_floor: float = 0.6


@dataclass(frozen=True)
class EfficiencyScheme:
    """One 亩均效益 evaluation scheme with every rule set: a preset plus the project's changes.

    The presets are the tables of ``layers/efficiency_schemes.toml``
    (:func:`efficiency_schemes`); :meth:`EfficiencyOptions.resolved` applies
    ``[efficiency]`` over one of them.

    Attributes
    ----------
    name, title, source : str
        Preset name, its title and the published text it follows (with its address).
    above_weights, below_weights : mapping of str to float
        Indicator → weight for above-size (规上) and below-size (规下) firms;
        indicators among :data:`EFFICIENCY_INDICATORS`.
    benchmark : {"group_average", "previous_year_average", "fixed"}
        What each indicator is divided by: the aggregate average (total ÷ total)
        of the firms ranked together this year, the same of the year before, or
        the published values in ``above_benchmarks`` / ``below_benchmarks``.
    benchmark_multiple : float
        The averages are multiplied by this (淮安 2024: about 2).
    above_benchmarks, below_benchmarks : mapping of str to float
        Published benchmark per indicator, in the indicator's unit (used when
        ``benchmark = "fixed"``; then every weighted indicator needs one).
    item_cap : float
        An indicator's ratio to its benchmark counts up to this, so one item
        scores at most ``item_cap`` × its weight; ``inf``: no cap.
    average_if_missing : tuple of str
        Indicators whose missing figure scores the mean item score of the firms
        of the same size group that have it; other missing figures score 0.
    class_shares : tuple of three floats
        Cumulative rank shares closing A, B and C (D is the rest).
    ranking : {"by_size", "county"}
        Rank (and average) above- and below-size firms separately, or all together.
    min_land_mu_below, min_leased_floor_m2_below : float
        A below-size firm is covered when it has at least this much land (亩)
        **or** leases at least this much floor (m²); ``inf`` turns a route off.
    min_years_below : float
        A below-size firm is covered once in production this many years.
    t_industries : tuple of str
        Industries listed as class T (不定等级), not graded: a code (``"44"``)
        matches the start of the firm's industry code, a word (``"燃气"``) any
        part of its industry text.
    t_new_firm_years : float
        Firms in production fewer years than this are class T (0: none).
    t_under_construction : bool
        Firms flagged under construction (在建) are class T.
    bonus, penalty : mapping of str to float
        Enterprise-table column (yes/no) → points added (加分) or taken off
        (减分), e.g. ``{ high_tech = 5 }``, ``{ safety_accident = 10 }``.
    policies : mapping of str to str
        Name of each class A, B, C, D and T (优先发展 …).
    overridden : tuple of str
        The rules changed in ``[efficiency]`` (shown on the workbook cover).
    """

    name: str
    title: str
    source: str
    above_weights: Mapping[str, float]
    below_weights: Mapping[str, float]
    benchmark: Literal["group_average", "previous_year_average", "fixed"]
    benchmark_multiple: float
    above_benchmarks: Mapping[str, float]
    below_benchmarks: Mapping[str, float]
    item_cap: float
    average_if_missing: tuple[str, ...]
    class_shares: tuple[float, float, float]
    ranking: Literal["by_size", "county"]
    min_land_mu_below: float
    min_leased_floor_m2_below: float
    min_years_below: float
    t_industries: tuple[str, ...]
    t_new_firm_years: float
    t_under_construction: bool
    bonus: Mapping[str, float]
    penalty: Mapping[str, float]
    policies: Mapping[str, str]
    overridden: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"[efficiency] (scheme {self.name})"
        known = set(EFFICIENCY_INDICATORS)
        for key in (
            "above_weights",
            "below_weights",
            "average_if_missing",
            "above_benchmarks",
            "below_benchmarks",
        ):
            unknown = set(getattr(self, key)) - known
            if unknown:
                first = sorted(unknown)[0]
                raise ConfigError(
                    f"{where} {key}: unknown indicator(s) {', '.join(sorted(unknown))}"
                    f"{suggest(first, known)} (valid: {', '.join(EFFICIENCY_INDICATORS)})."
                )
        for key in ("above_weights", "below_weights"):
            if not getattr(self, key):
                raise ConfigError(f"{where} {key} is empty; weight at least one indicator.")
        for size in ("above", "below"):
            given = getattr(self, f"{size}_benchmarks")
            if any(v <= 0 for v in given.values()):
                raise ConfigError(f"{where} {size}_benchmarks must be positive numbers.")
            lacking = [k for k in getattr(self, f"{size}_weights") if k not in given]
            if self.benchmark == "fixed" and lacking:
                raise ConfigError(
                    f'{where} benchmark = "fixed" needs {size}_benchmarks for '
                    f"{', '.join(lacking)}; add the published values, e.g. "
                    f"{size}_benchmarks = {{ {lacking[0]} = 24.097 }}."
                )
        a, b, c = self.class_shares
        if not 0 < a < b < c <= 1:
            raise ConfigError(
                f"{where} class_shares must rise within (0, 1], e.g. [0.25, 0.70, 0.95]."
            )
        positive = ("benchmark_multiple", "item_cap")
        for key in positive:
            if not getattr(self, key) > 0:
                raise ConfigError(f"{where} {key} must be above 0 (inf for no limit).")
        for key in (
            "min_land_mu_below",
            "min_leased_floor_m2_below",
            "min_years_below",
            "t_new_firm_years",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"{where} {key} must not be negative.")
        for key in ("bonus", "penalty"):
            if any(v < 0 for v in getattr(self, key).values()):
                raise ConfigError(
                    f"{where} {key}: points are positive (penalty points are taken off)."
                )
        missing = [g for g in GRADES if g not in self.policies]
        if missing:
            raise ConfigError(f"{where} policies lacks {', '.join(missing)}; name every class.")


#: The rules of a scheme: what ``[efficiency]`` may change over a preset.
SCHEME_RULES: tuple[str, ...] = tuple(
    f.name
    for f in dataclasses.fields(EfficiencyScheme)
    if f.name not in ("name", "title", "source", "overridden")
)


@functools.cache
def efficiency_schemes() -> dict[str, EfficiencyScheme]:
    """The shipped scheme presets, by name (``layers/efficiency_schemes.toml``)."""
    text = (resources.files("landuse.layers") / SCHEMES_FILE).read_text(encoding="utf-8")
    return {
        name: parse_options(
            EfficiencyScheme, {**table, "name": name}, section=name, source=SCHEMES_FILE
        )
        for name, table in tomllib.loads(text).items()
    }


@dataclass(frozen=True)
class EfficiencyOptions:
    """``[efficiency]``: the 亩均效益 scheme used, and any of its rules changed.

    Attributes
    ----------
    scheme : str
        A preset of ``layers/efficiency_schemes.toml`` (``landuse tax --scheme``
        overrides): ``zhejiang`` (default), ``huangyan_2022``, ``huaian_2024``.
    year : int or None
        Year evaluated (``--year`` overrides; default the latest in the table).
    above_weights, below_weights, benchmark, benchmark_multiple, above_benchmarks, \
below_benchmarks, item_cap, average_if_missing, class_shares, ranking, \
min_land_mu_below, min_leased_floor_m2_below, min_years_below, t_industries, \
t_new_firm_years, t_under_construction, bonus, penalty, policies : optional
        Any rule of :class:`EfficiencyScheme` (same name, type and meaning);
        a rule not set here is the preset's.
    """

    scheme: str = "zhejiang"
    year: int | None = None
    above_weights: Mapping[str, float] | None = None
    below_weights: Mapping[str, float] | None = None
    benchmark: Literal["group_average", "previous_year_average", "fixed"] | None = None
    benchmark_multiple: float | None = None
    above_benchmarks: Mapping[str, float] | None = None
    below_benchmarks: Mapping[str, float] | None = None
    item_cap: float | None = None
    average_if_missing: tuple[str, ...] | None = None
    class_shares: tuple[float, float, float] | None = None
    ranking: Literal["by_size", "county"] | None = None
    min_land_mu_below: float | None = None
    min_leased_floor_m2_below: float | None = None
    min_years_below: float | None = None
    t_industries: tuple[str, ...] | None = None
    t_new_firm_years: float | None = None
    t_under_construction: bool | None = None
    bonus: Mapping[str, float] | None = None
    penalty: Mapping[str, float] | None = None
    policies: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        self.resolved()  # an unknown scheme or a bad rule stops where the options are read

    def resolved(self) -> EfficiencyScheme:
        """The preset ``scheme`` with the rules set here applied over it.

        Raises
        ------
        ConfigError
            An unknown scheme (with the valid ones and a near match) or a rule
            that does not hold (e.g. fixed benchmarks without values).
        """
        presets = efficiency_schemes()
        if self.scheme not in presets:
            raise ConfigError(
                f"[efficiency] scheme / --scheme: unknown scheme '{self.scheme}'"
                f"{suggest(self.scheme, presets)} (valid: {', '.join(presets)})."
            )
        changes = {k: getattr(self, k) for k in SCHEME_RULES if getattr(self, k) is not None}
        return dataclasses.replace(presets[self.scheme], overridden=tuple(changes), **changes)


@dataclass(frozen=True)
class IndicatorOptions:
    """``[indicators]``: 工业项目建设用地控制指标 and 标准地 targets.

    Attributes
    ----------
    edition : {2008, 2023}
        The national table (``layers/indicators_national_<edition>.toml``;
        default 2008, 国土资发〔2008〕24号).
    tables : tuple of str
        Province or local tables in the same schema, relative to landuse.toml;
        their values win over the national ones, later tables over earlier.
    region_class : str or None
        The project's 地区分类 as the tables' 投资强度 rows name it.
    industry_codes : {"GB/T 4754-2002", "GB/T 4754-2011", "GB/T 4754-2017"} or None
        Edition of 国民经济行业分类 the parcels' ``industry_code`` follows; the
        codes from 29 on mean different industries in 2002 and 2017.
    land_price : {"table", "include", "exclude"}
        Whether 投资强度 counts the land price: as the table rules (2008:
        included), or as forced here.
    investment_includes_land_price : bool
        The parcels' ``investment_wan`` already contains the land price
        (default False: the land price ``land_price_wan`` is separate).
    double_height_m : float or None
        Storeys higher than this count twice in 容积率 (default: the table's,
        8 m in 2008).
    office_uses : tuple of str
        Building ``use`` values counted as 行政办公及生活服务设施 when a parcel has
        no ``office_land_m2`` (the floor-share rule).
    supplied_status : tuple of str
        ``supply_status`` values of supplied land (default 已供).
    land_uses : tuple of str
        ``land_use`` values the indicators apply to (default 工业用地).
    completed_status : tuple of str
        ``construction_status`` values of finished projects (default 已竣工);
        other parcels get no control-indicator verdict.
    year : int or None
        Enterprise-table year of the 标准地 actual figures (``--year``; default
        the latest).
    as_of : date or None
        Day the agreed 达产 dates are judged against (``--as-of``; default
        31 December of the year).
    """

    edition: Literal[2008, 2023] = 2008
    tables: tuple[str, ...] = ()
    region_class: str | None = None
    industry_codes: Literal["GB/T 4754-2002", "GB/T 4754-2011", "GB/T 4754-2017"] | None = None
    land_price: Literal["table", "include", "exclude"] = "table"
    investment_includes_land_price: bool = False
    double_height_m: float | None = None
    office_uses: tuple[str, ...] = ("办公", "行政办公", "宿舍", "食堂", "生活服务")
    supplied_status: tuple[str, ...] = ("已供",)
    land_uses: tuple[str, ...] = ("工业用地",)
    completed_status: tuple[str, ...] = ("已竣工",)
    year: int | None = None
    as_of: dt.date | None = None

    def __post_init__(self) -> None:
        if self.double_height_m is not None and not self.double_height_m > 0:
            raise ConfigError(
                f"[indicators] double_height_m must be a height in metres above 0, "
                f"not {self.double_height_m!r} (e.g. double_height_m = 8)."
            )


@dataclass(frozen=True)
class LandclassOptions:
    """``[landclass]``: which classification the land survey's 地类编码 follow.

    The two systems reuse codes for different land (``0601`` is 工业用地 in
    GB/T 21010-2017 and 农村道路 in the 2023 用地用海分类; 工业用地 is ``1001``
    there), so a project says which one its DLTB layer uses.

    Attributes
    ----------
    system : {"gbt21010", "ydyh2023"}
        ``"gbt21010"``: GB/T 21010-2017 土地利用现状分类 with the working codes
        of the 第三次全国国土调查 (05H1, 0508, 08H1 …), as 三调 and its annual
        updates deliver DLTB (default); ``"ydyh2023"``: 国土空间调查、规划、用途管制
        用地用海分类指南 (2023).
    """

    system: Literal["gbt21010", "ydyh2023"] = "gbt21010"


@dataclass(frozen=True)
class Options:
    """Every options table of a project file (the registry of ``[section]`` names)."""

    project: ProjectOptions = field(default_factory=ProjectOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    check: CheckOptions = field(default_factory=CheckOptions)
    buildable: BuildableOptions = field(default_factory=BuildableOptions)
    idle: IdleOptions = field(default_factory=IdleOptions)
    rates: RatesOptions = field(default_factory=RatesOptions)
    efficiency: EfficiencyOptions = field(default_factory=EfficiencyOptions)
    indicators: IndicatorOptions = field(default_factory=IndicatorOptions)
    landclass: LandclassOptions = field(default_factory=LandclassOptions)

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any], *, source: str = "landuse.toml") -> Options:
        """Parse every options table; an unknown table is an error listing the valid ones."""
        hints = typing.get_type_hints(cls)
        unknown = sorted(set(tables) - set(hints))
        if unknown:
            valid = [*hints, "layers", "rasters"]
            raise ConfigError(
                f"{source}: unknown table [{unknown[0]}]{suggest(unknown[0], valid)} "
                f"(valid tables: {', '.join(f'[{v}]' for v in valid)})."
            )
        return cls(
            **{
                name: parse_options(hints[name], tables[name], section=name, source=source)
                for name in tables
            }
        )


_T = TypeVar("_T")


def _kind(hint: Any) -> str:
    """Words for a type hint in an error message."""
    words = {float: "a number", int: "a whole number", str: "text", bool: "true or false"}
    words[dt.date] = "a date (2025-12-31)"
    if hint in words:
        return words[hint]
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_kind(a) for a in typing.get_args(hint) if a is not type(None))
    if origin is tuple:
        return "a list"
    return "a table { key = value }"


def _convert(value: Any, hint: Any, where: str) -> Any:
    """``value`` as type ``hint``, or a ConfigError saying what ``where`` must be."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    bad = ConfigError(f"{where} must be {_kind(hint)}, not {value!r}.")
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _convert(value, inner[0], where)
    if origin is Literal:
        if value not in args:
            near = suggest(str(value), map(str, args))
            raise ConfigError(f"{where} must be {_kind(hint)}, not {value!r}{near}.")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise bad
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{where} must hold {len(args)} values, not {len(value)}.")
        return tuple(
            _convert(v, a, f"{where}[{i}]")
            for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if origin is Mapping:
        if not isinstance(value, dict):
            raise bad
        return {str(k): _convert(v, args[1], f"{where}.{k}") for k, v in value.items()}
    if hint is dt.date:
        return parse_day(value, what=where)
    if hint is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if hint in (int, float):
        # TOML has real numbers; a quoted "500" is a typo worth stopping on too.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if hint is int and value != int(value):
            raise bad
        return hint(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad
        return value
    raise TypeError(f"unsupported option type {hint!r}")  # a programming error, not a user one


def parse_options(cls: type[_T], raw: Any, *, section: str, source: str = "landuse.toml") -> _T:
    """Build an options object from a TOML table, checking every key and value.

    Parameters
    ----------
    cls : dataclass type
        One of the options classes of this module.
    raw : mapping
        The table as read from TOML (or passed by a caller).
    section : str
        Table name, for messages.
    source : str
        File name, for messages.

    Raises
    ------
    ConfigError
        Not a table, an unknown key (with the valid ones and a near match), or
        a value of the wrong kind.
    """
    if isinstance(raw, cls):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{source}: [{section}] must be a table of options, not {raw!r}.")
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ConfigError(
            f"{source}: [{section}] has unknown option '{unknown[0]}'{suggest(unknown[0], fields)}"
            f" (valid options: {', '.join(fields)})."
        )
    values = {
        key: _convert(value, hints[key], f"{source}: [{section}] {key}")
        for key, value in raw.items()
    }
    return cls(**values)
