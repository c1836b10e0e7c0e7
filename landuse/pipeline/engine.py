"""Where the overlay analyses run: this process or a dask cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Engine:
    """Where the overlay analyses run: ``local`` (this process) or ``dask``.

    With ``dask``, ``scheduler`` is a running scheduler's address; without one a
    local cluster of ``workers`` processes is started.
    """

    kind: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    workers: int = 2
