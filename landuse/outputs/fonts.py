"""The font for Chinese text in charts (and maps drawn with matplotlib).

The font is, in this order:

1. an installed Chinese system font from :data:`CJK_FONTS` that matplotlib
   already lists;
2. such a font installed after matplotlib built its font cache, which the
   stale cache hides: found through fontconfig (``fc-list``), or where there
   is no fontconfig (Windows, macOS, slim containers) at the usual file
   locations, and registered with matplotlib directly;
3. Noto Sans SC from the ``pylopdf-fonts-zh-cn`` wheel (SIL Open Font
   License), registered directly, so a machine without any Chinese font
   still draws Chinese charts.

Text that neither the chosen font nor DejaVu Sans (Latin fallback) can draw is
an error (:class:`~landuse.core.errors.FontError`), never a row of empty boxes:
:func:`glyphs_required` turns matplotlib's "Glyph … missing" warning, raised
while the text is really laid out, into that error.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import matplotlib
from fontTools.ttLib import TTFont, TTLibError
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.text import Text

from landuse.core.errors import FontError

__all__ = [
    "CJK_FONTS",
    "FontFile",
    "cjk_font",
    "cjk_font_file",
    "cjk_style",
    "glyphs_required",
    "web_font_file",
]

#: Chinese font families, most wanted first.  The last is the packaged font's.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Noto Sans SC",
)

#: Latin fallback after the Chinese font (matplotlib's own font, always there).
_LATIN_FALLBACK = "DejaVu Sans"

# Where those fonts live when there is no fontconfig to ask.
_KNOWN_FONT_FILES = (
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),  # Debian fonts-noto-cjk
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),  # Debian fonts-wqy-zenhei
    Path(os.environ.get("WINDIR", "C:/Windows"), "Fonts", "msyh.ttc"),  # Microsoft YaHei
    Path(os.environ.get("WINDIR", "C:/Windows"), "Fonts", "simhei.ttf"),
    Path("/System/Library/Fonts/PingFang.ttc"),
)

_REINSTALL = "pip install --force-reinstall pylopdf-fonts-zh-cn"
_MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font\(s\) (.+?)\.?$")


class FontFile(NamedTuple):
    """A font file and the face in it (font collections ``.ttc`` hold several)."""

    path: Path
    face_index: int


def cjk_font() -> str:
    """Family name of the font for Chinese text, registered with matplotlib.

    Returns
    -------
    str
        A name from :data:`CJK_FONTS`; usable as ``font.sans-serif`` or
        ``FontProperties(family=...)``.

    Raises
    ------
    FontError
        Not even the packaged font can be read (a broken install).

    Examples
    --------
    >>> cjk_font() in CJK_FONTS
    True
    """
    name = _listed_cjk_font()
    if name is None:
        system = _system_font_file()
        if system is not None:
            with contextlib.suppress(OSError, RuntimeError):  # unreadable: packaged font instead
                font_manager.fontManager.addfont(system)
            name = _listed_cjk_font()
    if name is None:
        packaged = _packaged_font_file()
        with contextlib.suppress(OSError, RuntimeError):  # damaged file: the FontError below
            font_manager.fontManager.addfont(packaged)
        name = _listed_cjk_font()
    if name is None:
        raise FontError(f"中文字体 Noto Sans SC 未能载入 / packaged font not loaded: {_REINSTALL}")
    return name


def cjk_font_file() -> FontFile:
    """The file (and face) matplotlib draws :func:`cjk_font` from, regular weight.

    Returns
    -------
    FontFile
        For embedding the font elsewhere (PDF maps) or reading its glyphs.
    """
    found = font_manager.fontManager.findfont(
        font_manager.FontProperties(family=cjk_font()), fallback_to_default=False
    )
    return FontFile(Path(found), int(getattr(found, "face_index", 0)))


def web_font_file() -> FontFile:
    """The Chinese font that may be embedded in a web page given to others.

    :func:`cjk_font_file` when its licence is the SIL Open Font License (Noto,
    Source Han Sans), else the packaged Noto Sans SC: system fonts such as
    Microsoft YaHei or SimHei are licensed for the PC they are installed on.

    Returns
    -------
    FontFile
        For a subset embedded with ``@font-face`` (the meeting map).
    """
    found = cjk_font_file()
    with contextlib.suppress(OSError, TTLibError):  # unreadable: the packaged font instead
        with TTFont(found.path, fontNumber=found.face_index, lazy=True) as font:
            if "SIL Open Font License" in (font["name"].getDebugName(13) or ""):
                return found
    return FontFile(_packaged_font_file(), 0)


@contextlib.contextmanager
def cjk_style() -> Iterator[str]:
    """Matplotlib settings for Chinese text inside the block; global settings are restored.

    Yields
    ------
    str
        The Chinese font's family name.
    """
    name = cjk_font()
    with matplotlib.rc_context(
        {
            "font.family": ["sans-serif"],
            "font.sans-serif": [name, _LATIN_FALLBACK],
            "axes.unicode_minus": False,
        }
    ):
        yield name


@contextlib.contextmanager
def glyphs_required(fig: Figure, where: str | Path) -> Iterator[None]:
    """Make a character with no glyph, while ``fig`` is drawn in the block, a FontError.

    matplotlib warns "Glyph … missing from font(s) …" when neither font of the
    fallback chain has a character, and draws an empty box; here that ends the
    drawing instead, with the text that holds the character.

    Parameters
    ----------
    fig : Figure
        The figure saved (drawn) inside the block.
    where : str or Path
        What is being written, for the message (the chart file).

    Raises
    ------
    FontError
        A character of the figure's text has no glyph.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "error", message=r"Glyph \d+ .*missing from font", category=UserWarning
        )
        try:
            yield
        except UserWarning as exc:
            match = _MISSING_GLYPH.search(str(exc))
            if match is None:
                raise
            char, fonts = chr(int(match[1])), match[2]
            texts = [t.get_text() for t in fig.findobj(Text) if char in t.get_text()]
            shown = f"「{texts[0]}」" if texts else ""
            raise FontError(
                f"{where}: 文字{shown}中的「{char}」(U+{ord(char):04X}) "
                f"在字体 {fonts} 中没有字形，画出来会是空框；"
                "请在输入数据中把它改为常用字或拼音后重试 / "
                f"no glyph for U+{ord(char):04X} in {fonts}: replace that character in the input"
            ) from None


def _listed_cjk_font() -> str | None:
    """The first of :data:`CJK_FONTS` that matplotlib lists, if any."""
    listed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in listed), None)


def _system_font_file() -> Path | None:
    """A Chinese system font file matplotlib may not list (installed after its cache)."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return next((path for path in _KNOWN_FONT_FILES if path.is_file()), None)
    try:
        out = subprocess.run(
            [fc_list, "--format=%{family}\t%{style}\t%{file}\n"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [os.fsdecode(line).split("\t") for line in out.splitlines() if line.count(b"\t") == 2]
    for name in CJK_FONTS:
        # Regular weight first; then by file name, so the choice is stable.
        candidates = sorted(
            (not {"Regular", "Book", "Normal"} & set(style.split(",")), file)
            for family, style, file in rows
            if name in family.split(",")
        )
        if candidates:
            return Path(candidates[0][1])
    return None


def _packaged_font_file() -> Path:
    """Noto Sans SC from the ``pylopdf-fonts-zh-cn`` wheel."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        path = None
    else:
        path = sans_path()
    if path is None or not path.is_file():
        raise FontError(
            f"缺少中文字体包 pylopdf-fonts-zh-cn / Chinese font package missing: {_REINSTALL}"
        )
    return path
