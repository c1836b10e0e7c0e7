"""Analyses: functions on GeoDataFrames, one module per planning concept."""
