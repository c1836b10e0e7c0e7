"""The sections of the meeting report, one per analysis, with their headline figures.

The section builders (:data:`SectionBuilder`: :func:`parcel_section`,
:func:`conflict_section` …, one per analysis, each named by its pipeline step)
turn the analyses' results into numbered sections (一、二、三 …), each with its
headline figures, a small table by park, the charts and maps that go with it,
the formulas and the source.  Every headline figure names the sheet, row and
column of 会议材料.xlsx it comes from, so a figure read out in a meeting can be
found in the workbook (the tests check that it is the same number there).

Only pandas and the analyses' summaries are needed here: a step names its
builder without loading python-docx (:mod:`landuse.outputs.briefing` writes
the document).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pandas as pd

from landuse.analysis.buildable import buildable_summary
from landuse.analysis.conflicts import conflict_summary
from landuse.analysis.idle import idle_summary
from landuse.analysis.indicators import INDICATORS, TARGETS, indicator_summary
from landuse.analysis.landclass import BASIS_LABELS
from landuse.analysis.rates import FORMULAS
from landuse.core.labels import TOTAL, label
from landuse.core.options import Options
from landuse.outputs.sheets import FOUR_DECIMALS

__all__ = [
    "MEETING_BOOK",
    "NUMERALS",
    "Headline",
    "Section",
    "SectionBuilder",
    "buildable_section",
    "conflict_section",
    "efficiency_section",
    "idle_section",
    "indicators_section",
    "parcel_section",
    "redline_section",
]

MEETING_BOOK = "会议材料.xlsx"
NUMERALS = "一二三四五六七八九十"


@dataclass(frozen=True)
class Headline:
    """One headline figure and where the meeting workbook holds it.

    Attributes
    ----------
    name : str
        What it is (冲突地块, 闲置土地处置率 …).
    value : float
        The figure.
    unit : str
        个, 宗, 块, 亩, 公顷, 万元, 万元/亩 or % (``value`` is then a share).
    sheet, row, column : str
        Sheet of 会议材料.xlsx, the row's first cell (合计, 县区) and the
        canonical column whose labelled header holds the figure.
    """

    name: str
    value: float
    unit: str
    sheet: str
    row: str
    column: str

    def shown(self) -> str:
        """The figure as printed: counts whole, areas and money to 0.01, shares in %."""
        if self.unit == "%":
            return f"{self.value * 100:+.2f}" if self.column == "yoy" else f"{self.value:.2%}"[:-1]
        if self.unit in ("个", "宗", "块", "家"):
            return f"{self.value:,.0f}"
        if self.unit == "公顷":  # red-line tables state hectares to 4 decimals
            return f"{self.value:,.4f}"
        return f"{self.value:,.2f}"

    def source(self) -> str:
        """Where the figure is: 《会议材料.xlsx》「处置率」合计行「闲置土地处置率」."""
        return f"《{MEETING_BOOK}》「{self.sheet}」{self.row}行「{label(self.column)}」"


@dataclass(frozen=True)
class Section:
    """One numbered section of the report.

    Attributes
    ----------
    title : str
        Without its number (三区三线冲突检查).
    text : str
        The paragraph stating the findings.
    headlines : tuple of Headline
        The figures stated.
    table : DataFrame or None
        A small table by park (canonical columns), shown as 表 n.
    table_title : str
        Its caption.
    images : tuple of (caption, path)
        Charts and maps shown as 图 n.
    formulas : tuple of str
        How the figures are computed (口径与公式).
    source : str
        Where the figures come from.
    formats : mapping of str to str
        Number formats of ``table``'s columns (by canonical name) where they
        differ from the workbook's defaults, as :attr:`Sheet.formats`.
    """

    title: str
    text: str
    headlines: tuple[Headline, ...]
    table: pd.DataFrame | None = None
    table_title: str = ""
    images: tuple[tuple[str, Path], ...] = ()
    formulas: tuple[str, ...] = ()
    source: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)


def _total(table: pd.DataFrame, key: str = "park", row: str = TOTAL) -> pd.Series:
    return cast(pd.Series, table.set_index(key).loc[row])


def _images(images: Mapping[str, Path], *names: str) -> tuple[tuple[str, Path], ...]:
    return tuple((name, images[name]) for name in names if name in images)


#: Each section builder takes the analyses' results
#: (:attr:`landuse.pipeline.StepResult.results` of the report run), the chart
#: and thematic-map PNGs by name (总览图, 三区三线冲突图, 处置趋势 …) and the
#: project's options, and returns its sections (none when its analysis did not run).
SectionBuilder = Callable[[Mapping[str, Any], Mapping[str, Path], Options], list[Section]]


def parcel_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 基本情况: the parcels by park (the load step)."""
    if "parcel_summary" not in results:
        return []
    table = results["parcel_summary"]
    t = _total(table)
    sheet = "地块汇总"
    headlines = [
        Headline("地块数", t["parcels"], "个", sheet, TOTAL, "parcels"),
        Headline("地块面积", t["area_mu"], "亩", sheet, TOTAL, "area_mu"),
    ]
    text = f"纳入分析的工业地块共 {t['parcels']:,.0f} 个，面积 {t['area_mu']:,.2f} 亩"
    if "supplied_mu" in table.columns:
        text += f"，其中已供 {t['supplied_mu']:,.2f} 亩、未供 {t['unsupplied_mu']:,.2f} 亩。"
        headlines += [
            Headline("已供面积", t["supplied_mu"], "亩", sheet, TOTAL, "supplied_mu"),
            Headline("未供面积", t["unsupplied_mu"], "亩", sheet, TOTAL, "unsupplied_mu"),
        ]
    else:
        text += "（地块图层无供地状态字段，未分已供、未供）。"
    return [
        Section(
            "基本情况",
            text,
            tuple(headlines),
            table,
            "各园区地块面积",
            _images(images, "总览图"),
            ("面积按分析坐标系（高斯-克吕格投影）计算，1 亩 = 10000/15 平方米",),
            f"《{MEETING_BOOK}》「{sheet}」",
        )
    ]


def conflict_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 三区三线冲突检查: the conflict check."""
    if "conflicts" not in results:
        return []
    result = results["conflicts"]
    table = conflict_summary(result)
    t = _total(table)
    tol = result.tolerance
    sheet = "冲突汇总"
    parts = [
        (name, key)
        for name, key in (
            ("超出城镇开发边界", "udb_outside"),
            ("占用永久基本农田", "farmland"),
            ("占用生态保护红线", "eco_redline"),
        )
        if f"{key}_parcels" in table.columns
    ]
    heads = [Headline("冲突地块", t["conflict_parcels"], "个", sheet, TOTAL, "conflict_parcels")]
    for name, key in parts:
        heads += [
            Headline(f"{name}地块", t[f"{key}_parcels"], "个", sheet, TOTAL, f"{key}_parcels"),
            Headline(f"{name}面积", t[f"{key}_mu"], "亩", sheet, TOTAL, f"{key}_mu"),
        ]
    return [
        Section(
            "三区三线冲突检查",
            f"共检查地块 {t['parcels']:,.0f} 个，其中 {t['conflict_parcels']:,.0f} 个与三区三线"
            "存在冲突："
            + "，".join(
                f"{name} {t[f'{key}_parcels']:,.0f} 个、{t[f'{key}_mu']:,.2f} 亩"
                for name, key in parts
            )
            + "（一个地块可有多类冲突）。冲突地块须在用地审批、供地前逐一核实处置。",
            tuple(heads),
            table,
            "各园区三区三线冲突",
            _images(images, "三区三线冲突图"),
            (
                "冲突面积 = 地块位于城镇开发边界外、或与永久基本农田、生态保护红线相交的面积",
                f"边界误差（面积 < {tol.area_m2:g} 平方米且占地块 < {tol.share:.1%}，"
                f"或宽度 < {tol.width_m:g} 米）不计为冲突，单列于《附表.xlsx》",
            ),
            f"《{MEETING_BOOK}》「{sheet}」「三区三线冲突」",
        )
    ]


def buildable_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 可建设用地: buildable land."""
    if "buildable" not in results:
        return []
    table = buildable_summary(results["buildable"])
    t = _total(table)
    opts = options.buildable
    sheet = "可建设用地汇总"
    return [
        Section(
            "可建设用地",
            f"园区内可建设用地 {t['candidates']:,.0f} 块，合计 {t['area_mu']:,.2f} 亩，"
            f"最大一块 {t['largest_mu']:,.2f} 亩。",
            (
                Headline("可建设用地块数", t["candidates"], "块", sheet, TOTAL, "candidates"),
                Headline("可建设用地面积", t["area_mu"], "亩", sheet, TOTAL, "area_mu"),
            ),
            table,
            "各园区可建设用地",
            _images(images, "可建设用地分布图"),
            (
                "可建设用地 = 园区 ∩ 城镇开发边界 − 永久基本农田 − 生态保护红线 − 已供地块 "
                "− 道路及退让",
                f"单块 ≥ {opts.min_area_mu:g} 亩、宽度 ≥ {opts.min_width_m:g} 米；"
                f"有数字高程模型时坡度 ≤ {opts.max_slope_deg:g}°",
            ),
            f"《{MEETING_BOOK}》「{sheet}」；全部地块见《附表.xlsx》「可建设用地」",
        )
    ]


def idle_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 闲置土地与处置: idle land, with the disposal rates when they ran."""
    if "idle" not in results:
        return []
    table = idle_summary(results["idle"])
    t = _total(table)
    idle_opts = options.idle
    sheet = "闲置土地汇总"
    heads = [
        Headline("闲置土地", t["idle_parcels"], "宗", sheet, TOTAL, "idle_parcels"),
        Headline("闲置土地面积", t["area_mu"], "亩", sheet, TOTAL, "area_mu"),
        Headline("应无偿收回", t["recover_parcels"], "宗", sheet, TOTAL, "recover_parcels"),
        Headline("应征缴土地闲置费", t["idle_fee_wan"], "万元", sheet, TOTAL, "idle_fee_wan"),
    ]
    text = (
        f"截至 {results.get('as_of', '判定日')}，认定闲置土地 {t['idle_parcels']:,.0f} 宗、"
        f"{t['area_mu']:,.2f} 亩；其中满两年应无偿收回 {t['recover_parcels']:,.0f} 宗，"
        f"应征缴土地闲置费 {t['idle_fee_wan']:,.2f} 万元；政府原因 "
        f"{t['gov_caused_parcels']:,.0f} 宗；登记在建但影像无建设迹象、需实地核查 "
        f"{t['suspect_parcels']:,.0f} 宗。"
    )
    formulas = [
        "闲置土地：超过约定动工日期满一年未动工，或已动工但开发面积不足 "
        f"{idle_opts.developed_threshold:.1%}、投资不足 {idle_opts.invested_threshold:.0%} "
        "且中止开发满一年",
        f"土地闲置费 = 出让价款 × {idle_opts.fee_rate:.0%}；闲置满两年无偿收回",
    ]
    if "rates" in results:
        rates = _total(results["rates"], "group")
        sheet = "处置率"
        heads += [
            Headline("期内处置闲置土地", rates["disposed_mu"], "亩", sheet, TOTAL, "disposed_mu"),
            Headline("闲置土地处置率", rates["disposal_rate"], "%", sheet, TOTAL, "disposal_rate"),
            Headline(
                "闲置土地净减少率",
                rates["net_reduction_rate"],
                "%",
                sheet,
                TOTAL,
                "net_reduction_rate",
            ),
            Headline(
                "批而未供处置率", rates["unsupplied_rate"], "%", sheet, TOTAL, "unsupplied_rate"
            ),
            Headline("盘活存量土地", rates["revitalised_mu"], "亩", sheet, TOTAL, "revitalised_mu"),
        ]
        first, last = results["period"]
        text += (
            f"{first} 至 {last}，处置闲置土地 {rates['disposed_mu']:,.2f} 亩，处置率 "
            f"{rates['disposal_rate']:.2%}，净减少率 {rates['net_reduction_rate']:.2%}；"
            f"批而未供处置率 {rates['unsupplied_rate']:.2%}；盘活存量土地 "
            f"{rates['revitalised_mu']:,.2f} 亩。"
        )
        formulas += list(FORMULAS.values())
    return [
        Section(
            "闲置土地与处置",
            text,
            tuple(heads),
            table,
            "各园区闲置土地",
            _images(images, "闲置土地分布图", "处置趋势"),
            tuple(formulas),
            f"《{MEETING_BOOK}》「闲置土地汇总」「闲置土地」「处置率」「处置趋势」",
        )
    ]


def efficiency_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 亩均效益评价: the per-mu evaluation."""
    if "efficiency" not in results:
        return []
    e = results["efficiency"]
    parks = e.parks
    county = _total(parks, "level", "县区")
    column = f"tax_per_mu_wan_{e.year}"
    sheet = "园区汇总"
    heads = [Headline(f"{e.year}年工业地均税收", county[column], "万元/亩", sheet, "县区", column)]
    text = f"{e.year}年全县（区）工业地均税收 {county[column]:.2f} 万元/亩"
    if "yoy" in parks.columns and pd.notna(county["yoy"]):
        heads.append(Headline("地均税收同比", county["yoy"], "%", sheet, "县区", "yoy"))
        text += f"，同比 {county['yoy']:+.2%}"
    counts = e.enterprises["grade"].value_counts()
    text += (
        "；企业分类 "
        + "、".join(f"{g}类 {int(counts.get(g, 0))} 家" for g in "ABCD")
        + f"，未参评 {int(counts.get('未参评', 0))} 家。"
    )
    shown = [
        c for c in ("level", "group", f"tax_per_mu_wan_{e.year - 1}", column, "yoy") if c in parks
    ]
    eff = e.scheme
    return [
        Section(
            "亩均效益评价",
            text,
            tuple(heads),
            parks[shown],
            "各园区地均税收",
            _images(images, "亩均效益分类图", "亩均税收排名", "分类分布"),
            (
                "亩均税收 = 实缴税收 ÷ 用地面积；地均税收 = 园区企业实缴税收合计 ÷ 用地面积合计",
                f"综合得分按评价方案加权；分类：A 类前 {eff.class_shares[0]:.0%}、"
                f"B 类前 {eff.class_shares[1]:.0%}、"
                f"C 类前 {eff.class_shares[2]:.0%}，其余 D 类",
            ),
            f"《{MEETING_BOOK}》「{sheet}」「亩均效益排名」；全部企业见《附表.xlsx》",
        )
    ]


# ------------------------------------------------------------------------ Word


#: Rows of 地类面积汇总表 stated as headline figures, in the order of the text.
_REDLINE_ROWS = (
    "合计",
    "农用地",
    "建设用地",
    "未利用地",
    "占用永久基本农田",
    "城镇开发边界外",
    "占用生态保护红线",
)


def redline_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 项目红线用地预审: land classes and control lines of a red line."""
    redline = results.get("redline")
    if redline is None or redline.landclass is None:
        return []
    summary = redline.summary
    sheet = "地类面积汇总表"
    first = summary["category"].astype(str)
    ha = dict(zip(first, summary["area_ha"], strict=True))
    heads = tuple(
        Headline("红线总面积" if name == "合计" else name, ha[name], "公顷", sheet, name, "area_ha")
        for name in _REDLINE_ROWS
        if name in ha
    )
    # 耕地 is a second-level row (level1 "01 耕地") under 农用地.
    cropland = summary.loc[summary["level1"].astype(str).str.endswith(" 耕地"), "area_ha"]
    kinds = [f"{n} {ha[n]:,.4f} 公顷" for n in ("农用地", "建设用地", "未利用地") if n in ha]
    if len(cropland) and "农用地" in ha:
        kinds[0] += f"（其中耕地 {cropland.sum():,.4f} 公顷）"
    parts = "、".join(kinds)
    controls = "，".join(
        f"{n} {ha[n]:,.4f} 公顷"
        for n in ("占用永久基本农田", "城镇开发边界外", "占用生态保护红线")
        if n in ha
    )
    parcels = len(redline.parcels)
    text = (
        f"项目红线共 {parcels:,} 个地块，总面积 {ha['合计']:,.4f} 公顷"
        f"（{summary.loc[first == '合计', 'area_mu'].iloc[0]:,.4f} 亩），其中{parts}。"
    )
    if controls:
        text += f"与三区三线：{controls}。"
    table = summary.loc[first.ne(""), ["category", "area_ha", "area_mu"]]
    return [
        Section(
            "项目红线用地预审",
            text,
            heads,
            table.reset_index(drop=True),
            "项目红线地类与三区三线面积",
            _images(images, "用地预审图"),
            (
                f"面积口径：{BASIS_LABELS[redline.basis]}；地类按地类图斑，耕地扣除田坎",
                "分项面积保留四位小数，经平差与合计一致",
            ),
            f"《{MEETING_BOOK}》「{sheet}」；逐地块见《用地预审.xlsx》",
            FOUR_DECIMALS,
        )
    ]


#: Columns of the indicator summary counting parcels by verdict.
_VERDICTS = ("pass_parcels", "fail_parcels", "unjudged_parcels")


def indicators_section(
    results: Mapping[str, Any], images: Mapping[str, Path], options: Options
) -> list[Section]:
    """The section 工业用地控制指标: plot ratio, coverage, investment, 标准地 targets."""
    if "indicators" not in results:
        return []
    table = indicator_summary(results["indicators"])
    t = _total(table)
    sheet = "用地控制指标汇总"
    names = {name: label(f"{name}_fail") for name in INDICATORS} | {
        target: label(f"{target}_fail") for target in TARGETS
    }
    failed = "、".join(
        f"{names[name]} {t[f'{name}_fail']:,.0f} 宗"
        for name in names
        if f"{name}_fail" in table.columns and t[f"{name}_fail"] > 0
    )
    text = (
        f"核验已供工业地块 {t['parcels']:,.0f} 宗：符合 {t['pass_parcels']:,.0f} 宗，"
        f"不符合 {t['fail_parcels']:,.0f} 宗（{t['fail_mu']:,.2f} 亩），"
        f"未核验 {t['unjudged_parcels']:,.0f} 宗（未竣工或缺少数据）。"
    )
    if failed:
        text += f"不符合项：{failed}（一宗地可有多项不符合）。"
    return [
        Section(
            "工业用地控制指标",
            text,
            (
                Headline("核验地块", t["parcels"], "宗", sheet, TOTAL, "parcels"),
                Headline("符合", t["pass_parcels"], "宗", sheet, TOTAL, "pass_parcels"),
                Headline("不符合", t["fail_parcels"], "宗", sheet, TOTAL, "fail_parcels"),
                Headline("不符合面积", t["fail_mu"], "亩", sheet, TOTAL, "fail_mu"),
                Headline("未核验", t["unjudged_parcels"], "宗", sheet, TOTAL, "unjudged_parcels"),
            ),
            table[["park", "parcels", *_VERDICTS, "fail_mu"]],
            "各园区工业用地控制指标核验",
            (),
            (
                "容积率 = 总建筑面积 ÷ 用地面积（层高超过 8 米的按两层计）",
                "建筑系数 = （建筑物 + 构筑物 + 露天堆场）基底面积 ÷ 用地面积",
                "投资强度 = 固定资产总投资（含土地价款）÷ 用地面积",
                "指标值与依据（国土资发〔2008〕24号或省定、合同约定）见各地块所列来源",
            ),
            f"《{MEETING_BOOK}》「{sheet}」「用地控制指标」；全部地块见《附表.xlsx》",
        )
    ]
