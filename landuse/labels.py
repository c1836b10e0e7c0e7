"""Chinese (and English) labels for canonical column names, with units.

Tables written for people (CSV, Excel, map popups) use these labels; layers
written for GIS keep the canonical identifiers.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

__all__ = ["LABELS", "VALUE_LABELS", "label", "labelled"]

Lang = Literal["zh", "en"]

#: canonical column → (Chinese label, English label)
LABELS: dict[str, tuple[str, str]] = {
    "parcel_id": ("地块编号", "Parcel ID"),
    "parcel_name": ("地块名称", "Parcel name"),
    "park": ("园区", "Park"),
    "land_use": ("土地用途", "Land use"),
    "enterprise_id": ("统一社会信用代码", "Credit code"),
    "enterprise_name": ("企业名称", "Enterprise"),
    "supply_status": ("供地状态", "Supply status"),
    "parcels": ("地块数", "Parcels"),
    "area_m2": ("面积（平方米）", "Area (m²)"),
    "area_mu": ("面积（亩）", "Area (mu)"),
    "area_ha": ("面积（公顷）", "Area (ha)"),
    "supplied_mu": ("已供面积（亩）", "Supplied (mu)"),
    "unsupplied_mu": ("未供面积（亩）", "Unsupplied (mu)"),
    "certificate_no": ("不动产权证号", "Certificate"),
    "udb_inside_m2": ("开发边界内面积（平方米）", "Inside UDB (m²)"),
    "udb_inside_mu": ("开发边界内面积（亩）", "Inside UDB (mu)"),
    "udb_outside_m2": ("开发边界外面积（平方米）", "Outside UDB (m²)"),
    "udb_outside_mu": ("开发边界外面积（亩）", "Outside UDB (mu)"),
    "udb_outside_share": ("开发边界外占比", "Outside UDB (share)"),
    "farmland_m2": ("占用永久基本农田（平方米）", "On farmland (m²)"),
    "farmland_mu": ("占用永久基本农田（亩）", "On farmland (mu)"),
    "farmland_share": ("占用永久基本农田占比", "On farmland (share)"),
    "eco_redline_m2": ("占用生态保护红线（平方米）", "On eco red line (m²)"),
    "eco_redline_mu": ("占用生态保护红线（亩）", "On eco red line (mu)"),
    "eco_redline_share": ("占用生态保护红线占比", "On eco red line (share)"),
    "noise_m2": ("边界误差面积（平方米）", "Boundary noise (m²)"),
    "status": ("检查结论", "Status"),
    "constraint": ("管控要素", "Constraint"),
    "constraint_label": ("冲突类型", "Conflict"),
    "constraint_ids": ("管控图斑编号", "Constraint feature IDs"),
    "kind": ("类别", "Kind"),
    "share": ("占地块比例", "Share of parcel"),
    "candidate_id": ("候选地块编号", "Candidate ID"),
    "rank": ("面积排序", "Rank"),
    "candidates": ("地块数", "Candidates"),
    "largest_mu": ("最大地块面积（亩）", "Largest (mu)"),
    "layer": ("图层", "Layer"),
    "feature_id": ("要素编号", "Feature"),
    "action": ("处理", "Action"),
    "detail": ("说明", "Detail"),
}


def label(column: str, lang: Lang = "zh") -> str:
    """Label of one column (the column name itself when none is defined)."""
    pair = LABELS.get(column)
    return column if pair is None else pair[0 if lang == "zh" else 1]


#: Code values shown to people, per column: value → (Chinese, English).
VALUE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "kind": {"conflict": ("冲突", "conflict"), "noise": ("边界误差", "boundary noise")},
    "action": {"repaired": ("已修复", "repaired"), "dropped": ("已剔除", "dropped")},
}

# Decimals by unit suffix: areas to 0.01 m² / 0.0001 亩 keep sums traceable.
_DECIMALS = {"_m2": 2, "_mu": 4, "_ha": 4, "_share": 4}


def labelled(df: pd.DataFrame, lang: Lang = "zh") -> pd.DataFrame:
    """Copy of ``df`` for people: labelled columns, code values translated, rounded.

    Geometry columns are dropped; numbers are rounded by the unit their column
    name carries (``_m2``, ``_mu``, ``_ha``, ``_share``).
    """
    out = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    pick = 0 if lang == "zh" else 1
    for col, values in VALUE_LABELS.items():
        if col in out.columns:
            out[col] = out[col].map(lambda v, m=values: m[v][pick] if v in m else v)
    for col in out.columns:
        suffix = next((s for s in _DECIMALS if str(col).endswith(s)), None)
        if suffix and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(_DECIMALS[suffix])
    return out.rename(columns={c: label(c, lang) for c in out.columns})
