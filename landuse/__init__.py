"""landuse: land-use control analyses for Chinese natural-resources bureaus.

Check parcels against the three control lines (三区三线), find buildable and
idle land, rank firms by tax per mu (亩均税收) and take maps and tables to
meetings.  Analyses are functions on GeoDataFrames; ``landuse.cli`` is a thin
command-line layer on top.
"""

from __future__ import annotations

__version__ = "0.1.0"
