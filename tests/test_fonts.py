"""The Chinese chart font: system font first, packaged Noto Sans SC otherwise, no tofu.

The machine-level cases run in a subprocess whose matplotlib starts from a stale
font cache without any Chinese font (MPLCONFIGDIR holds a fontlist JSON written
from a FontManager with the Chinese fonts removed) and whose fontconfig sees no
system font at all (FONTCONFIG_FILE is a config without font directories): the
state of a fresh machine, or of one where the font came after matplotlib's cache.
Each subprocess first proves that state before relying on it.
"""

from __future__ import annotations

import copy
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from matplotlib import font_manager
from matplotlib.ft2font import FT2Font

from landuse.core.errors import FontError, LanduseError
from landuse.outputs import fonts
from landuse.outputs.fonts import (
    CJK_FONTS,
    FontFile,
    cjk_font,
    cjk_font_file,
    cjk_style,
    web_font_file,
)
from landuse.outputs.report import ChartMarks, ranking_chart

# Run first in each subprocess, after the source of _has_chinese.
HELPERS = textwrap.dedent(
    """
    import numpy as np
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    def raster(path, face_index, ch):
        font = FT2Font(str(path), face_index=face_index)
        font.set_size(32, 72)
        font.set_text(ch)
        font.draw_glyphs_to_bitmap()
        return np.asarray(font.get_image()).copy()

    # The hidden state, proved: matplotlib's own font list has no Chinese font ...
    assert [e.name for e in font_manager.fontManager.ttflist if _has_chinese(e)] == []
    """
)

# A fontconfig configuration with the given font directories (none: no system fonts).
FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<fontconfig>{dirs}<cachedir>{cache}</cachedir></fontconfig>
"""


def _has_chinese(entry):
    """Whether a listed font draws 闲 and 置 as two glyphs (Last Resort draws one box for both)."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(entry.fname)
    except (OSError, RuntimeError):
        return False
    for index in range(font.num_charmaps):  # Last Resort maps Unicode in its first only
        font.set_charmap(index)
        xian, zhi = (font.get_char_index(ord(ch)) for ch in "闲置")
        if xian and zhi and xian != zhi:
            return True
    return False


@pytest.fixture(scope="module")
def stale_cache(tmp_path_factory) -> Path:
    """An MPLCONFIGDIR whose font cache lists this machine's fonts minus every Chinese one."""
    folder = tmp_path_factory.mktemp("mplconfig")
    stale = copy.copy(font_manager.fontManager)
    stale.ttflist = [e for e in font_manager.fontManager.ttflist if not _has_chinese(e)]
    font_manager.json_dump(stale, folder / f"fontlist-v{font_manager.FontManager.__version__}.json")
    return folder


def _run_hidden(script: str, tmp_path: Path, stale_cache: Path, font_dirs=()) -> None:
    """Run ``script`` with the stale cache and a fontconfig that sees only ``font_dirs``."""
    conf = tmp_path / "fonts.conf"
    dirs = "".join(f"<dir>{d}</dir>" for d in font_dirs)
    conf.write_text(FONTS_CONF.format(dirs=dirs, cache=tmp_path / "fc-cache"), encoding="utf-8")
    env = {**os.environ, "MPLCONFIGDIR": str(stale_cache), "FONTCONFIG_FILE": str(conf)}
    env.pop("MPL_IGNORE_SYSTEM_FONTS", None)
    proc = subprocess.run(
        [sys.executable, "-c", inspect.getsource(_has_chinese) + HELPERS + textwrap.dedent(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_demo_charts_draw_chinese_without_any_system_font(tmp_path, stale_cache):
    out = tmp_path / "demo"
    _run_hidden(
        f"""
        import shutil, subprocess
        from pathlib import Path
        from matplotlib.font_manager import FontProperties
        from pylopdf_fonts_zh_cn import sans_path
        from landuse.outputs.fonts import cjk_font, cjk_font_file, cjk_style
        from landuse.pipeline import run_demo

        # ... and fontconfig lists no font at all.
        if shutil.which("fc-list"):
            assert subprocess.run(["fc-list"], capture_output=True).stdout.strip() == b""

        run_demo(Path({str(out)!r}))
        charts = sorted(p.name for p in Path({str(out)!r}, "charts").glob("*.png"))
        assert charts == ["亩均税收排名.png", "分类分布.png", "处置趋势.png", "总览图.png"], charts

        # The packaged font was chosen, and it is what the charts' text resolves to.
        assert cjk_font() == "Noto Sans SC"
        font = cjk_font_file()
        assert font.path.resolve() == sans_path().resolve(), font
        with cjk_style():
            used = font_manager.findfont(FontProperties(family=["sans-serif"]))
        assert Path(used).resolve() == sans_path().resolve(), used

        # Two different characters draw differently, and neither is the missing-glyph box
        # (U+E000, private use, has no glyph: FreeType draws glyph 0, the box).
        xian, zhi, box = (raster(font.path, font.face_index, ch) for ch in "闲置\\ue000")
        assert not np.array_equal(xian, zhi)
        assert not np.array_equal(xian, box) and not np.array_equal(zhi, box)
        assert xian.sum() > 0 and zhi.sum() > 0
        """,
        tmp_path,
        stale_cache,
    )


def test_system_font_hidden_by_a_stale_cache_is_preferred(tmp_path, stale_cache):
    # A Chinese "system" font matplotlib's cache does not know, in a directory only
    # fontconfig sees: the packaged Noto Sans SC renamed to WenQuanYi Zen Hei and cut
    # down to the characters drawn here.
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from pylopdf_fonts_zh_cn import sans_path

    system = tmp_path / "system-fonts"
    system.mkdir()
    font = TTFont(sans_path())
    options = subset.Options()
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="闲置土地0123456789.-")
    subsetter.subset(font)
    for record in font["name"].names:
        if record.nameID in (1, 4, 16):
            record.string = "WenQuanYi Zen Hei"
    font.save(system / "fake-wqy.otf")
    assert "WenQuanYi Zen Hei" in CJK_FONTS
    assert CJK_FONTS.index("WenQuanYi Zen Hei") < CJK_FONTS.index("Noto Sans SC")

    _run_hidden(
        f"""
        from pathlib import Path
        from matplotlib.figure import Figure
        from pylopdf_fonts_zh_cn import sans_path
        from landuse.outputs.fonts import cjk_font, cjk_font_file, cjk_style, glyphs_required

        assert cjk_font() == "WenQuanYi Zen Hei"
        assert cjk_font_file().path == Path({str(system / "fake-wqy.otf")!r})
        listed = {{Path(e.fname).resolve() for e in font_manager.fontManager.ttflist}}
        assert sans_path().resolve() not in listed  # the packaged font was not needed
        with cjk_style():
            fig = Figure()
            fig.text(0.5, 0.5, "闲置土地")
            with glyphs_required(fig, "t.png"):
                fig.savefig("t.png")
        """,
        tmp_path,
        stale_cache,
        font_dirs=[system],
    )


def test_character_no_font_has_is_an_error_not_a_box(tmp_path):
    # 𪚥 (U+2A6A5, CJK Extension B) is in neither Noto CJK nor DejaVu Sans.
    rare = "\U0002a6a5"
    chosen = cjk_font_file()
    dejavu = font_manager.findfont("DejaVu Sans", fallback_to_default=False)
    assert ord(rare) not in FT2Font(str(chosen.path), face_index=chosen.face_index).get_charmap()
    assert ord(rare) not in FT2Font(dejavu).get_charmap()
    firms = pd.DataFrame(
        {
            "scored": [True, True],
            "tax_per_mu_wan": [30.0, 12.0],
            "grade": ["A", "C"],
            "enterprise_name": [f"{rare}记五金厂", "兴宾糖业"],
        }
    )
    target = tmp_path / "亩均税收排名.png"
    with pytest.raises(FontError, match=r"「𪚥记五金厂」.*U\+2A6A5") as caught:
        ranking_chart(firms, target, year=2025, marks=ChartMarks("企业表"))
    assert isinstance(caught.value, LanduseError)
    assert str(target) in str(caught.value) and "\n" not in str(caught.value)
    assert not target.exists()
    # The same chart without the rare character is drawn.
    firms["enterprise_name"] = ["五金厂", "兴宾糖业"]
    assert ranking_chart(firms, target, year=2025, marks=ChartMarks("企业表")).stat().st_size > 0


def test_cjk_style_leaves_global_settings_alone():
    before = list(matplotlib.rcParams["font.sans-serif"])
    with cjk_style() as name:
        assert matplotlib.rcParams["font.sans-serif"][0] == name == cjk_font()
        assert name in CJK_FONTS
    assert matplotlib.rcParams["font.sans-serif"] == before


def test_font_file_is_the_regular_face_with_chinese_glyphs():
    font = cjk_font_file()
    face = FT2Font(str(font.path), face_index=font.face_index)
    assert face.family_name == cjk_font()
    assert all(face.get_char_index(ord(ch)) != 0 for ch in "闲置土地处置趋势亩均税收")
    assert face.style_name in ("Regular", "Book", "Normal")


def test_web_font_is_an_open_font_license_font(monkeypatch):
    # The font chosen for charts, when it is under the SIL OFL (here: Noto Sans SC).
    chosen = web_font_file()
    assert chosen == cjk_font_file()
    with TTFont(chosen.path, fontNumber=chosen.face_index, lazy=True) as font:
        assert "SIL Open Font License" in font["name"].getDebugName(13)
    # A system font under another licence (DejaVu Sans stands for Microsoft YaHei) is
    # never embedded in a page: the packaged Noto Sans SC is.
    dejavu = FontFile(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf", 0)
    monkeypatch.setattr(fonts, "cjk_font_file", lambda: dejavu)
    web = web_font_file()
    assert web != dejavu and web.path.name == "NotoSansSC-Regular.otf"
