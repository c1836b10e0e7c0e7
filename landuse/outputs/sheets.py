"""What a workbook sheet holds, apart from how it is drawn.

Steps describe their sheets with :class:`Sheet` without loading openpyxl or
matplotlib; :func:`landuse.outputs.report.write_workbook` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

__all__ = ["FOUR_DECIMALS", "Sheet"]

#: Number formats of red-line (用地预审) tables: 公顷 and 亩 to four decimals, as in
#: the land-survey area reports.
FOUR_DECIMALS = {"area_ha": "#,##0.0000", "area_mu": "#,##0.0000"}


@dataclass(frozen=True)
class Sheet:
    """One workbook sheet: a name (≤ 31 characters) and a table with canonical columns.

    ``formats`` overrides the number format of columns (by canonical name),
    e.g. ``{"area_ha": "#,##0.0000"}`` for a table whose figures are 4 decimals.
    """

    name: str
    table: pd.DataFrame
    note: str = ""
    formats: Mapping[str, str] = field(default_factory=dict)
