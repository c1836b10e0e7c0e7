"""The disposal ledger (处置台账) of a project: opened, or built from its import file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from landuse.core.config import Project
from landuse.io import (
    LayerIntake,
    ProjectData,
    file_sha256,
    layer_intake,
    load_layer,
    table_report,
)
from landuse.ledger import Ledger, named_ledger, read_ledger_file


def project_ledger(data: ProjectData, out_dir: Path) -> Ledger | None:
    """The project's ledger ([idle] ledger), or a fresh one filled from ledger_import.

    None when the project names neither.
    """
    options = data.project.options.idle
    if options.ledger:
        return named_ledger(data.project)
    if not options.ledger_import:
        return None
    source = data.project.path(options.ledger_import)
    digest = file_sha256(source)
    path = out_dir / "idle_ledger.gpkg"
    ledger = Ledger(path)
    batches = ledger.entries()["batch"]
    if not batches.empty and not batches.str.contains(f" sha256:{digest} ", regex=False).all():
        # Left by an earlier run from other content: this copy is ours to rebuild.
        path.unlink()
        ledger = Ledger(path)
    if ledger.entries().empty:
        ledger.append(
            read_ledger_file(source),
            source=source.name,
            parcel_ids=data.layer("parcels")["parcel_id"],
            content_sha256=digest,
        )
    return ledger


def import_ledger(
    ledger: Ledger,
    file: Path,
    project: Project | None,
    *,
    sheet: str | None = None,
    on_row: Callable[[int], None] | None = None,
) -> tuple[int, LayerIntake, pd.DataFrame]:
    """Import a CSV/Excel of ledger rows, checking 地块编号 against the project's parcels.

    Parameters
    ----------
    ledger : Ledger
        The ledger to append to.
    file : Path
        The import file (see :func:`landuse.ledger.read_ledger_file`).
    project : Project or None
        Its parcels are the known ids; None imports unchecked (the batch says so).
    sheet : str, optional
        Excel sheet (default the first).
    on_row : callable, optional
        Progress callback with the number of rows written.

    Returns
    -------
    count : int
        Rows imported.
    intake : LayerIntake
        Rows read = imported + left out (合计, blank, units rows).
    left_out : DataFrame
        The rows left out, with the reason (report rows).
    """
    rows = read_ledger_file(file, sheet=sheet)
    left_out = table_report("ledger_import", rows)
    intake = layer_intake("ledger_import", rows, left_out)
    parcel_ids = None if project is None else load_layer(project, "parcels")[0]["parcel_id"]
    count = ledger.append(
        rows,
        source=file.name,
        parcel_ids=parcel_ids,
        content_sha256=file_sha256(file),
        on_row=on_row,
    )
    return count, intake, left_out
