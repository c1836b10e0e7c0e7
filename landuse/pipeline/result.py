"""What a step returns: the files it wrote, its headline lines and its results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landuse.io import ProjectData


@dataclass
class StepResult:
    """What a step wrote and the headline lines it prints."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)
    database: str | None = None  # the (redacted) database written to instead of out_dir

    def extend(self, other: StepResult) -> None:
        """Append another step's files, lines and analysis results."""
        self.files += other.files
        self.lines += other.lines
        self.results.update(other.results)


def data_date(data: ProjectData, results: Mapping[str, Any]) -> str | None:
    """The day the data are as of: ``[project] data_date``, the idle-land day or the period end."""
    day = data.project.options.project.data_date
    if day is not None:
        return day.isoformat()
    if "as_of" in results:
        return str(results["as_of"])
    if "period" in results:
        return str(results["period"][1])
    return None
