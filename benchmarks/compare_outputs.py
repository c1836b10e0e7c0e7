"""Compare two output folders of a landuse command: are they identical?

Run by hand (not a test), e.g. after ``bench_check.py --files`` with an older
checkout writing the same project's outputs into another folder::

    python benchmarks/compare_outputs.py before/out_check after/out_check

CSV files must be equal byte for byte.  GeoPackages are compared layer by
layer: the same layers, fields, field types and row count; every attribute
value equal (NaN equal to NaN); every geometry the same WKB bytes, i.e. the
same vertices in the same order.  Prints one line per file and exits 1 on
any difference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio


def compare_gpkg(a: Path, b: Path) -> list[str]:
    """Differences between two GeoPackages (empty when identical)."""
    layers_a = [name for name, _ in pyogrio.list_layers(a)]
    layers_b = [name for name, _ in pyogrio.list_layers(b)]
    if layers_a != layers_b:
        return [f"layers {layers_a} != {layers_b}"]
    problems = []
    for layer in layers_a:
        info_a, info_b = pyogrio.read_info(a, layer=layer), pyogrio.read_info(b, layer=layer)
        for key in ("fields", "dtypes", "features", "geometry_type", "crs"):
            if not np.array_equal(np.asarray(info_a[key]), np.asarray(info_b[key])):
                problems.append(f"{layer}: {key} {info_a[key]} != {info_b[key]}")
        if problems:
            continue
        ta = pyogrio.read_arrow(a, layer=layer)[1]
        tb = pyogrio.read_arrow(b, layer=layer)[1]
        for column in ta.column_names:
            ca, cb = ta.column(column), tb.column(column)
            if ca.type != cb.type:
                problems.append(f"{layer}.{column}: type {ca.type} != {cb.type}")
            elif str(ca.type) in ("binary", "large_binary"):  # geometry WKB
                if ca.to_pylist() != cb.to_pylist():
                    problems.append(f"{layer}.{column}: geometries differ")
            else:
                sa, sb = pd.Series(ca.to_pandas()), pd.Series(cb.to_pandas())
                if not sa.equals(sb):
                    first = int(np.flatnonzero(~((sa == sb) | (sa.isna() & sb.isna())))[0])
                    problems.append(
                        f"{layer}.{column}: row {first}: {sa.iloc[first]!r} != {sb.iloc[first]!r}"
                    )
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    args = ap.parse_args()
    names_a = {p.name for p in args.before.iterdir() if p.is_file()}
    names_b = {p.name for p in args.after.iterdir() if p.is_file()}
    differ = names_a != names_b
    if differ:
        print(f"only before: {sorted(names_a - names_b)}; only after: {sorted(names_b - names_a)}")
    for name in sorted(names_a & names_b):
        a, b = args.before / name, args.after / name
        if a.suffix == ".gpkg":
            problems = compare_gpkg(a, b)
        else:
            problems = [] if a.read_bytes() == b.read_bytes() else ["bytes differ"]
        print(f"{name}: {'identical' if not problems else '; '.join(problems)}")
        differ = differ or bool(problems)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
