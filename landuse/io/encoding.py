"""Text encodings of shapefiles: GBK without a .cpg, UTF-8 cut at the DBF field limit."""

from __future__ import annotations

import codecs
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd
import pyogrio
import pyogrio._io
import pyogrio.raw
import shapely
import shapely.errors

from landuse.core.errors import EncodingError
from landuse.io.paths import PathLike, _existing

# DBF rows sampled for encoding detection; enough to meet Chinese text in real layers.
_SNIFF_ROWS = 20000


@dataclass(frozen=True)
class TextEncoding:
    """How a layer's field names and attribute values are decoded.

    Attributes
    ----------
    encoding : str or None
        The encoding to hand to GDAL; None when GDAL knows it by itself (a
        ``.cpg``, the DBF language byte, a format that is always UTF-8) or when
        all text is plain ASCII.
    names : str
        How the field names were decoded, for people, e.g. ``"GB18030 (detected,
        no .cpg)"``, ``"UTF-8 (.cpg)"`` or ``"ASCII"``.
    values : str
        The same for the attribute values.
    """

    encoding: str | None
    names: str
    values: str


def _read_dbf_head(f: IO[bytes]) -> bytes:
    """The header and the first sampled records of a DBF, not the whole file."""
    head = f.read(32)
    if len(head) < 32:
        return head
    n_records, header_len, record_len = struct.unpack("<IHH", head[4:12])
    return head + f.read(header_len - 32 + min(n_records, _SNIFF_ROWS) * record_len)


def _dbf_bytes(p: Path, layer: str) -> tuple[bytes | None, bytes | None]:
    """Return (.dbf head bytes, .cpg bytes) of a shapefile, plain or zipped."""
    if p.suffix.lower() != ".zip":
        dbf, cpg = p.with_suffix(".dbf"), p.with_suffix(".cpg")
        if not dbf.exists():
            dbf = p.with_suffix(".DBF")
        head = None
        if dbf.exists():
            with dbf.open("rb") as f:
                head = _read_dbf_head(f)
        return head, cpg.read_bytes() if cpg.exists() else None
    with zipfile.ZipFile(p) as zf:
        members = {Path(n).name.lower(): n for n in zf.namelist()}
        dbf_name = members.get(f"{layer.lower()}.dbf")
        cpg_name = members.get(f"{layer.lower()}.cpg")
        head = None
        if dbf_name:
            with zf.open(dbf_name) as f:
                head = _read_dbf_head(f)
        return head, zf.read(cpg_name) if cpg_name else None


def _dbf_text(dbf: bytes) -> tuple[list[bytes], list[tuple[bytes, bool]]]:
    """The non-ASCII field names and character values in the first rows of a DBF.

    Each value comes with whether it fills its field: only such a value can have
    had its last character cut by the writer.
    """
    n_records, header_len, record_len = struct.unpack("<IHH", dbf[4:12])
    names: list[bytes] = []
    fields: list[tuple[int, int]] = []  # (offset in record, length) of C fields
    offset = 1  # byte 0 of a record is the deletion flag
    for pos in range(32, header_len - 1, 32):
        desc = dbf[pos : pos + 32]
        if not desc or desc[0] == 0x0D:
            break
        names.append(desc[:11].split(b"\x00", 1)[0])
        length = desc[16]
        if desc[11:12] == b"C":
            fields.append((offset, length))
        offset += length
    values: list[tuple[bytes, bool]] = []
    for row in range(min(n_records, _SNIFF_ROWS)):
        start = header_len + row * record_len
        record = dbf[start : start + record_len]
        for f_off, f_len in fields:
            value = record[f_off : f_off + f_len].rstrip(b" \x00")
            if not value.isascii():
                values.append((value, len(value) == f_len))
    return [n for n in names if not n.isascii()], values


def _is_utf8(value: bytes, *, cut: bool = True) -> bool:
    # A writer may cut a multi-byte character at the field width: accept an
    # incomplete tail where the text fills its field, reject anything else.
    try:
        codecs.getincrementaldecoder("utf-8")().decode(value, final=not cut)
    except UnicodeDecodeError:
        return False
    return True


def _guess_encoding(texts: list[bytes]) -> str:
    """The first of the other encodings met in China that decodes every text."""
    for encoding in ("BIG5", "cp1252"):
        try:
            for t in texts:
                t.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin1"  # decodes any bytes


def _sniff_dbf(p: Path, dbf: bytes) -> TextEncoding:
    """Decide one encoding for the field names and values of a DBF with no declaration."""
    names, values = _dbf_text(dbf)
    if not names and not values:
        return TextEncoding(None, "ASCII", "ASCII")
    # GDAL decodes names and values with one encoding, so both must agree.
    if all(_is_utf8(t) for t in names) and all(_is_utf8(v, cut=c) for v, c in values):
        enc = "UTF-8"
    else:
        texts = names + [v for v, _ in values]
        for t in texts:
            try:
                t.decode("gb18030")
            except UnicodeDecodeError:
                guess = _guess_encoding(texts)
                raise EncodingError(
                    f"{p}: text {t[:40]!r} is neither UTF-8 nor GBK (既非 UTF-8 也非 GBK). "
                    f"Pass its encoding: --encoding {guess} on the command line, or "
                    f'encoding = "{guess}" in [layers.<name>] of landuse.toml ({guess} decodes '
                    f"every value here; check the text with `landuse info {p.name} --encoding "
                    f"{guess}`), or add a .cpg file naming it."
                ) from None
        enc = "GB18030"
    detected = f"{enc} (detected, no .cpg)"
    return TextEncoding(enc, detected if names else "ASCII", detected if values else "ASCII")


def shapefile_text_encoding(path: PathLike, layer: str | None = None) -> TextEncoding:
    """How GDAL must decode a shapefile's field names and values, and why.

    GDAL honours a ``.cpg`` file and the DBF language byte (0x4D = CP936).  When
    a shapefile has neither, GDAL assumes ISO-8859-1 and Chinese field names
    and values come out as mojibake (``µØ¿é±àºÅ``); the bytes of both are then
    examined: a GBK file whose values are all ASCII but whose field names are
    Chinese is still recognised.

    Parameters
    ----------
    path : str or path-like
        A ``.shp`` file, or a ``.zip`` holding one.
    layer : str, optional
        The shapefile's name inside a zip holding several.

    Returns
    -------
    TextEncoding
        ``encoding`` is None when GDAL already knows or the text is plain
        ASCII, else ``"UTF-8"`` or ``"GB18030"`` (a superset of GBK).

    Raises
    ------
    EncodingError
        Non-ASCII text is neither UTF-8 nor GBK/GB18030.
    """
    p = _existing(path)
    dbf, cpg = _dbf_bytes(p, layer or p.stem)
    if dbf is None or len(dbf) < 32:
        return TextEncoding(None, "ASCII", "ASCII")
    if cpg is not None:
        declared = f"{cpg.decode('ascii', 'replace').strip()} (.cpg)"
        return TextEncoding(None, declared, declared)
    if dbf[29] != 0:
        declared = f"DBF language byte 0x{dbf[29]:02X}"
        return TextEncoding(None, declared, declared)
    return _sniff_dbf(p, dbf)


def detect_shapefile_encoding(path: PathLike, layer: str | None = None) -> str | None:
    """Find the encoding of a shapefile GDAL would otherwise misread.

    See :func:`shapefile_text_encoding`, which also says how the field names
    and the values were decoded.

    Parameters
    ----------
    path : str or path-like
        A ``.shp`` file, or a ``.zip`` holding one.
    layer : str, optional
        The shapefile's name inside a zip holding several.

    Returns
    -------
    str or None
        None when GDAL already knows (``.cpg``/language byte) or the field
        names and values are plain ASCII; ``"UTF-8"`` or ``"GB18030"`` otherwise.

    Raises
    ------
    EncodingError
        When non-ASCII text is neither UTF-8 nor GBK/GB18030.
    """
    return shapefile_text_encoding(path, layer).encoding


def _undecodable(src: str, name: str, enc: str | None, use_arrow: bool) -> np.ndarray:
    """FIDs whose geometry bytes no valid shape can be built from, read as the failed read."""
    if use_arrow:
        meta, table = pyogrio.raw.read_arrow(
            src, layer=name, encoding=enc, columns=[], return_fids=True
        )
        wkb = table[meta["geometry_name"] or "wkb_geometry"].to_numpy(zero_copy_only=False)
        fids = table[meta["fid_column"]].to_numpy()
    else:
        _, fids, wkb, _ = pyogrio.raw.read(
            src, layer=name, encoding=enc, columns=[], return_fids=True
        )
    built = shapely.from_wkb(wkb, on_invalid="ignore")
    return np.asarray(fids)[pd.notna(wkb) & shapely.is_missing(built)]


def _check_encoding_name(p: Path, encoding: str | None) -> None:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise EncodingError(
                f"{p}: unknown encoding '{encoding}'; use e.g. GBK, GB18030, BIG5 or UTF-8."
            ) from None


def _undecodable_text(p: Path, name: str, enc: str | None, exc: UnicodeError) -> EncodingError:
    return EncodingError(
        f"{p}: 图层 '{name}' 的文字不能按 {enc or 'UTF-8'} 解码 text is not {enc or 'UTF-8'} "
        f"({exc}). Pass its encoding with --encoding (e.g. --encoding GBK) or 'encoding' "
        "in landuse.toml. If the encoding is right, a shapefile field name was cut inside a "
        "character (names hold 10 bytes: 3 Chinese characters in UTF-8, 5 in GBK): rename "
        "it and export again."
    )
