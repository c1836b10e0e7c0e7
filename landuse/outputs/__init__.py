"""Outputs: web maps, printed maps, workbooks and the Word report."""
