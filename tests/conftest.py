"""Shared fixtures: tiny hand-built layers with round answers.

A 100 m × 100 m square is 10 000 m² = 15 亩 = 1 ha.  Squares are placed in
CGCS2000 3-degree GK zone 36 with the zone prefix (EPSG:4524), as bureaus deliver
data: X = 36 000 000 + 500 000 + offset.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

GK36 = "EPSG:4524"
X0, Y0 = 36_520_000.0, 2_620_000.0  # about 108.2°E, 23.7°N


def square(x: float, y: float, size: float = 100.0) -> shapely.Polygon:
    """Axis-parallel square with lower-left corner at (X0 + x, Y0 + y)."""
    return shapely.box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size)


@pytest.fixture
def parcels_gdf() -> gpd.GeoDataFrame:
    """Three 100 m squares with Chinese names, bureau field names."""
    return gpd.GeoDataFrame(
        {
            "DKBH": ["A1", "A2", "A3"],
            "DKMC": ["河南工业园一号地块", "凤凰工业园二号地块", "迁江工业园三号地块"],
            "SSYQ": ["河南工业园", "凤凰工业园", "迁江工业园"],
        },
        geometry=[square(0, 0), square(200, 0), square(400, 0)],
        crs=GK36,
    )


@pytest.fixture(scope="session")
def sample_data():
    """The shipped sample project, loaded once (all layers in EPSG:4524)."""
    from landuse.core.config import sample_project
    from landuse.io import load_project_data

    return load_project_data(sample_project())


@pytest.fixture(scope="session")
def postgis_url():
    """URL of a throwaway PostGIS database on 127.0.0.1 (password included).

    Without PostgreSQL/PostGIS installed the tests fail in CI (CI=true) with the
    install line, and are skipped elsewhere.
    """
    import os

    from . import pg_server

    why = pg_server.missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with pg_server.cluster() as url:
        yield url
