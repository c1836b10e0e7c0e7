"""Chinese (and English) labels for canonical column names, with units.

Tables written for people (CSV, Excel, map popups) use these labels; layers
written for GIS keep the canonical identifiers.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd

__all__ = ["LABELS", "label", "labelled"]

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
    "layer": ("图层", "Layer"),
    "feature_id": ("要素编号", "Feature"),
    "action": ("处理", "Action"),
    "detail": ("说明", "Detail"),
}


def label(column: str, lang: Lang = "zh") -> str:
    """Label of one column (the column name itself when none is defined)."""
    pair = LABELS.get(column)
    return column if pair is None else pair[0 if lang == "zh" else 1]


def labelled(df: pd.DataFrame, lang: Lang = "zh") -> pd.DataFrame:
    """Copy of ``df`` with its columns renamed to labels."""
    return df.rename(columns={c: label(c, lang) for c in df.columns})
