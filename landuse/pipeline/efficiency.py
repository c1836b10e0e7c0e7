"""The per-mu evaluation (亩均效益) as a step: ranking, park table, headline lines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import geopandas as gpd
import pandas as pd

from landuse.analysis.efficiency import EfficiencyResult, describe_scheme, evaluate
from landuse.core.crs import with_areas
from landuse.core.errors import ConfigError
from landuse.core.labels import labelled
from landuse.io import ProjectData, write_layers, write_table
from landuse.outputs.sections import efficiency_section
from landuse.outputs.sheets import Sheet
from landuse.pipeline.result import StepResult
from landuse.pipeline.step import Results, Step, pick


def efficiency_project(
    data: ProjectData, *, year: int | None = None, scheme: str | None = None
) -> EfficiencyResult:
    """Run :func:`evaluate` with the project's parcels, enterprise table and options.

    ``scheme`` (``landuse tax --scheme``) replaces ``[efficiency] scheme``; the
    rules the project file sets still apply over it.
    """
    options = data.project.options.efficiency
    if scheme is not None:
        options = replace(options, scheme=scheme)
    parcels = with_areas(data.layer("parcels"), data.crs)
    if "parks" in data.layers and "parent_park" in data.layer("parks").columns:
        parent = data.layer("parks").set_index("park")["parent_park"]
        parcels["parent_park"] = parcels["park"].map(parent)
    if "enterprises" not in data.tables:
        raise ConfigError("The per-mu evaluation needs [layers.enterprises] (CSV or Excel).")
    return evaluate(
        parcels,
        data.tables["enterprises"],
        year=year if year is not None else options.year,
        options=options,
    )


_FIRM_COLUMNS = [
    "enterprise_id",
    "enterprise_name",
    "group",
    "size_group",
    "rank_group",
    "industry",
    "years_in_production",
    "land_mu",
    "land_rule",
    "tax_wan",
    "revenue_wan",
    "value_added_wan",
    "tax_per_mu_wan",
    "tax_per_ha_wan",
    "revenue_per_mu_wan",
    "revenue_per_ha_wan",
    "va_per_mu_wan",
    "va_per_ha_wan",
    "va_per_tce_wan",
    "va_per_emission_wan",
    "labour_productivity_wan",
    "rd_share",
    "tax_per_tce_wan",
    "tax_per_kwh_yuan",
    "score_bonus",
    "score_penalty",
    "score",
    "score_rank",
    "group_size",
    "grade",
    "policy",
    "reason",
]


#: Shown only when some firm has a value (the table or the scheme may not use them).
_OPTIONAL_FIRM_COLUMNS = ("industry", "years_in_production", "score_bonus", "score_penalty")


def _firm_table(result: EfficiencyResult) -> pd.DataFrame:
    """The ranking table: firms by rank group and rank, unranked ones last."""
    firms = result.enterprises.sort_values(["rank_group", "score_rank"], na_position="last")
    unused = [
        c
        for c in _OPTIONAL_FIRM_COLUMNS
        if c in firms and not (firms[c].notna() & (firms[c] != 0)).any()
    ]
    return firms[[c for c in _FIRM_COLUMNS if c in firms and c not in unused]]


def run_efficiency(
    data: ProjectData, out_dir: Path, *, year: int | None = None, scheme: str | None = None
) -> StepResult:
    """Per-mu evaluation: parcels layer with metrics and class, firm ranking, park table."""
    res = StepResult(out_dir)
    r = efficiency_project(data, year=year, scheme=scheme)
    res.results["efficiency"] = r
    res.files.append(
        write_layers({"efficiency": r.parcels}, out_dir / "efficiency.gpkg", only=True)
    )
    res.files.append(write_table(labelled(_firm_table(r)), out_dir / "enterprise_ranking.csv"))
    res.files.append(write_table(labelled(r.parks), out_dir / "park_tax_per_mu.csv"))
    res.files.append(write_table(labelled(r.links), out_dir / "land_allocation.csv"))
    res.files.append(write_table(labelled(r.benchmarks), out_dir / "efficiency_benchmarks.csv"))
    counts = r.enterprises["grade"].value_counts()
    county = r.parks[r.parks["level"] == "县区"].iloc[0]
    this = county[f"tax_per_mu_wan_{r.year}"]
    line = (
        f"{r.year}年 全县（区）工业地均税收 {this:.2f} 万元/亩"
        f"（{county[f'tax_per_ha_wan_{r.year}']:,.1f} 万元/公顷）"
    )
    if "yoy" in county and pd.notna(county["yoy"]):
        before = county[f"tax_per_mu_wan_{r.year - 1}"]
        line += f"，同比 {county['yoy']:+.1%}（{r.year - 1}年 {before:.2f} 万元/亩）"
    res.lines.append(
        line
        + "；企业分类 "
        + "、".join(f"{g}类 {int(counts.get(g, 0))} 家" for g in "ABCD")
        + f"，T类（{r.scheme.policies['T']}）{int(counts.get('T', 0))} 家"
        + f"，未参评 {int(counts.get('未参评', 0))} 家"
    )
    rules = dict(describe_scheme(r.scheme))
    res.lines.append(
        f"亩均评价方案：{rules['亩均效益评价方案']}；基准值 {rules['评价基准值']}；"
        f"单项得分上限 {rules['单项得分上限']}"
    )
    res.lines += [f"注：{note}" for note in r.notes]
    for row in r.parks[r.parks["level"] == "子园区"].itertuples():
        value = getattr(row, f"tax_per_mu_wan_{r.year}")
        yoy = getattr(row, "yoy", float("nan"))
        res.lines.append(
            f"  {row.group}：地均税收 {value:.2f} 万元/亩"
            + (f"，同比 {yoy:+.1%}" if pd.notna(yoy) else "")
        )
    return res


#: Firms per rank group in the meeting workbook; all of them are in 附表.xlsx.
TOP_FIRMS = 20

_MEETING_COLUMNS = [
    "rank_group",
    "score_rank",
    "enterprise_name",
    "land_mu",
    "tax_wan",
    "tax_per_mu_wan",
    "score",
    "grade",
    "policy",
]


def _sheets(data: ProjectData, results: Results) -> tuple[list[Sheet], list[Sheet]]:
    e = results.get("efficiency")
    if e is None:
        return [], []
    firms = _firm_table(e)
    top = firms[e.enterprises.loc[firms.index, "scored"]]
    top = top.groupby("rank_group", sort=False).head(TOP_FIRMS)
    meeting = [
        Sheet(
            "亩均效益排名",
            pick(top, _MEETING_COLUMNS),
            f"各排名组前 {TOP_FIRMS} 名；全部 {len(firms)} 家企业的评价见"
            "《附表.xlsx》「亩均效益评价」。",
        ),
        Sheet("亩均评价基准值", e.benchmarks),
        Sheet("园区汇总", e.parks),
    ]
    return meeting, [Sheet("亩均效益评价", firms)]


def _cover(data: ProjectData, results: Results) -> list[tuple[str, str]]:
    efficiency = results.get("efficiency")
    options = data.project.options.efficiency
    return describe_scheme(efficiency.scheme if efficiency is not None else options.resolved())


def _map_layers(data: ProjectData, results: Results, layers: dict[str, gpd.GeoDataFrame]) -> None:
    efficiency = results.get("efficiency")
    if efficiency is not None:
        per_mu = efficiency.parcels.set_index("parcel_id")
        parcels = layers["parcels"].copy()
        for col in ("tax_per_mu_wan", "grade"):
            parcels[col] = parcels["parcel_id"].map(per_mu[col])
        layers["parcels"] = parcels
        layers["efficiency"] = efficiency.parcels


STEP = Step(
    "tax",
    "亩均效益 per-mu efficiency",
    run_efficiency,
    needs=lambda project: {"parcels", "parks", "enterprises"},  # parks: parent parks
    in_report=lambda data: "enterprises" in data.tables,
    sheets=_sheets,
    cover=_cover,
    map_layers=_map_layers,
    briefing=efficiency_section,
)
