"""Shipped sample layers and layer styles (data, not code)."""
