"""From a bureau's delivery to a project file: recognise layers, map fields.

Surveyors and the planning department hand over a folder of shapefiles (GBK,
often without ``.cpg`` or ``.prj``), zip files, FileGDBs and GeoPackages.
:func:`scan_delivery` opens every layer in it and decides what each one is:

* by the layer names of the national databases (``YJJBNTTB``, ``CZKFBJ``,
  ``STBHHX``, ``DLTB`` ...),
* by Chinese file and layer names (永久基本农田.shp, 园区范围.shp, 地块.shp ...),
* by its fields (a layer with 宗地号 holds parcels),
* last, by the name of the folder or single-layer file it sits in.

Fields are mapped through :data:`landuse.core.config.FIELD_ALIASES`.  Whatever
cannot be decided (two layers for one role, a required field not found, no
coordinate system) is recorded as a :class:`Todo`, never guessed silently.
:func:`render_project` writes all of it as a commented ``landuse.toml`` and
:func:`init_project` does both steps and writes the file.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from landuse import io as lio
from landuse.core.config import FIELD_ALIASES, GEOMETRY_KINDS, ID_FIELDS, REQUIRED_FIELDS
from landuse.core.crs import infer_crs_from_bounds
from landuse.core.errors import ConfigError, LanduseError, LanduseWarning
from landuse.core.validate import standardize_fields

__all__ = [
    "METHOD_LABELS",
    "ROLE_LABELS",
    "Delivery",
    "DeliveryLayer",
    "Todo",
    "init_project",
    "render_project",
    "scan_delivery",
]

Method = Literal["code", "name", "fields", "folder"]

#: Roles a delivered layer can take (logical layers of landuse.toml), in Chinese.
ROLE_LABELS: dict[str, str] = {
    "parcels": "地块",
    "udb": "城镇开发边界",
    "farmland": "永久基本农田",
    "eco_redline": "生态保护红线",
    "parks": "园区范围",
    "district": "行政区",
    "roads": "道路",
    "dltb": "地类图斑（国土调查）",
    "buildings": "建筑物",
}

#: How a layer was recognised, strongest first.
METHOD_LABELS: dict[Method, str] = {
    "code": "国家标准图层名 national layer name",
    "name": "中文名称 Chinese name",
    "fields": "字段 fields",
    "folder": "所在文件夹/文件名 folder or file name",
}
_STRENGTH = {method: len(METHOD_LABELS) - i for i, method in enumerate(METHOD_LABELS)}

# Layer names of the national databases: 三区三线 (国土空间规划"一张图"),
# 第三次全国国土调查 and the 自然幢 (ZRZ) footprints of 不动产登记 databases (the
# 房屋 FW layer there holds one polygon per unit and storey, not footprints).
# Longer codes first so YJJBNTTB is not read as YJJBNT.
_NATIONAL_CODES: dict[str, str] = {
    "YJJBNTBHTB": "farmland",
    "YJJBNTTB": "farmland",
    "YJJBNT": "farmland",
    "CZKFBJ": "udb",
    "STBHHX": "eco_redline",
    "DLTB": "dltb",
    "XZQ": "district",
    "ZRZ": "buildings",
}
_CODE_RE = re.compile(
    r"(?<![A-Za-z])(" + "|".join(_NATIONAL_CODES) + r")(?![A-Za-z])", re.IGNORECASE
)

# Words of Chinese file and layer names.  The head of a Chinese noun phrase
# comes last, so the word that ends last wins: 工业园区地块 holds parcels,
# 城镇开发边界内永久基本农田 holds farmland.
_NAME_WORDS: dict[str, tuple[str, ...]] = {
    "parcels": ("地块", "宗地", "工业用地", "供地", "出让", "用地红线"),
    "udb": ("城镇开发边界", "开发边界"),
    "farmland": ("永久基本农田", "基本农田"),
    "eco_redline": ("生态保护红线", "生态红线"),
    "parks": ("园区", "开发区", "工业园", "产业园", "工业集中区"),
    "district": ("行政区", "行政界", "县界", "区界"),
    "roads": ("道路", "路网"),
    "dltb": ("地类图斑", "土地利用现状", "国土调查", "变更调查"),
    "buildings": ("建筑物", "构筑物", "房屋", "楼栋", "自然幢", "厂房"),
}

# Derived layers (analysis results, reserves, buffers) name a role without being it.
_NOT_SOURCE_WORDS = ("储备", "占用", "冲突", "缓冲", "分析", "检查")

# Fields that identify a layer whose name says nothing: any one set, all of
# its fields present.  Checked in this order (a parcels layer may also carry
# YQMC, the park it belongs to; a 自然幢 layer carries ZDDM, the parcel it
# stands on, so buildings come before parcels).
_FIELD_SIGNS: dict[str, tuple[tuple[str, ...], ...]] = {
    "buildings": (("ZZDMJ",), ("JZWGD",), ("幢占地面积",), ("建筑物高度",)),
    "dltb": (("DLBM", "TBDLMJ"), ("地类编码", "图斑地类面积")),
    "farmland": (("YJJBNTTBBH",), ("JBNTTBBH",), ("YJJBNTMJ",), ("永久基本农田图斑编号",)),
    "eco_redline": (("HXBH",), ("红线编号",)),
    "parcels": tuple((name,) for name in FIELD_ALIASES["parcels"]["parcel_id"]),
    "roads": (("LK",), ("路宽",), ("DLKD",), ("道路宽度",)),
    "parks": (("YQMC",), ("园区名称",)),
}

# Layers `landuse check` cannot run without.
_NEEDED = ("parcels", "udb")
# A stated area within this factor of the measured one is in m².
_M2_TOLERANCE = 1.1
_OTHER_FILES_LISTED = 50


@dataclass(frozen=True)
class Todo:
    """Something :func:`scan_delivery` could not decide; the user must.

    Attributes
    ----------
    role : str or None
        The logical layer it concerns.
    message : str
        What is undecided and how to settle it, in Chinese.
    layer : str or None
        The :attr:`DeliveryLayer.name` it concerns, if one.
    """

    role: str | None
    message: str
    layer: str | None = None


@dataclass
class DeliveryLayer:
    """One layer of a delivery and what it was recognised as.

    Attributes
    ----------
    name : str
        Where it is, relative to the delivery: ``"三区三线/CZKFBJ.shp"`` or
        ``"成果.gdb:DLTB"``.
    source : Path
        The file or folder to read (``path`` in landuse.toml).
    layer : str or None
        The layer inside a GeoPackage, FileGDB or zip (``layer`` in
        landuse.toml); None for a single-layer file.
    geometry_type : str or None
        As GDAL reports it; None for an attribute table.
    features : int
        Number of features.
    crs : str or None
        The CRS the file declares.
    crs_inferred : str or None
        ``"EPSG:4524"`` when the file declares none but its eastings carry a
        Gauss-Kruger zone prefix.
    text : TextEncoding
        How field names and values are decoded.
    fields : tuple of str
        Field names, decoded.
    role : str or None
        The logical layer it can be (see :data:`ROLE_LABELS`), None if none.
    method : str or None
        How the role was recognised (see :data:`METHOD_LABELS`).
    evidence : str
        Why, in Chinese: the word, code or fields that decided, or why no role.
    chosen : bool
        Whether it is the layer written for its role.
    field_map : dict
        Canonical field → field in the file.
    field_alternatives : dict
        Canonical field → other fields of the file that also fit it.
    """

    name: str
    source: Path
    layer: str | None
    geometry_type: str | None
    features: int
    crs: str | None
    crs_inferred: str | None
    text: lio.TextEncoding
    fields: tuple[str, ...]
    role: str | None = None
    method: Method | None = None
    evidence: str = ""
    chosen: bool = False
    field_map: dict[str, str] = field(default_factory=dict)
    field_alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Delivery:
    """What :func:`scan_delivery` found.

    Attributes
    ----------
    root : Path
        The folder, zip, FileGDB or GeoPackage scanned.
    name : str
        The project's name: the folder's, or the single file's without suffix.
    layers : list of DeliveryLayer
        Every layer, recognised or not, in file order.
    unreadable : list of (Path, str)
        Files that could not be opened, with the reason.
    others : list of Path
        Files that are not GIS layers (documents, rasters, tables).
    todos : list of Todo
        Everything left for the user to decide.
    """

    root: Path
    name: str
    layers: list[DeliveryLayer]
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    others: list[Path] = field(default_factory=list)
    todos: list[Todo] = field(default_factory=list)

    def chosen(self) -> dict[str, DeliveryLayer]:
        """Role → the layer chosen for it."""
        return {layer.role: layer for layer in self.layers if layer.chosen and layer.role}

    def candidates(self, role: str) -> list[DeliveryLayer]:
        """Every layer recognised as ``role``, strongest recognition first."""
        found = [layer for layer in self.layers if layer.role == role and layer.method]
        return sorted(found, key=lambda layer: -_STRENGTH[layer.method])  # type: ignore[index]


# --------------------------------------------------------------------- recognise


def _geometry_kind(geometry_type: str | None) -> str | None:
    kind = (geometry_type or "").lower()
    for word in ("polygon", "line", "point"):
        if word in kind:
            return word
    return None if geometry_type is None else "any"


def _word_role(name: str) -> tuple[str, str] | None:
    """(role, word) of the word in ``name`` that ends last (the head of the phrase)."""
    best: tuple[int, int, str, str] | None = None
    for role, words in _NAME_WORDS.items():
        for word in words:
            at = name.rfind(word)
            if at >= 0:
                key = (at + len(word), len(word), role, word)
                best = key if best is None or key[:2] > best[:2] else best
    return (best[2], best[3]) if best else None


def _field_role(fields: tuple[str, ...]) -> tuple[str, tuple[str, ...]] | None:
    present = {f.lower() for f in fields}
    for role, signs in _FIELD_SIGNS.items():
        for sign in signs:
            if all(f.lower() in present for f in sign):
                return role, sign
    return None


def _recognise(
    names: list[str], context: list[str], fields: tuple[str, ...]
) -> tuple[str | None, Method | None, str]:
    """Role, method and evidence from the layer's names, fields and surroundings."""
    for name in names:
        derived = [w for w in _NOT_SOURCE_WORDS if w in name]
        if derived:
            return None, None, f"名称“{name}”含“{derived[0]}”，像是分析结果或派生图层"
    for name in names:
        if m := _CODE_RE.search(name):
            return _NATIONAL_CODES[m.group(1).upper()], "code", f"图层名 {m.group(1)}"
    for name in names:
        if hit := _word_role(name):
            why = f"名称“{name}”" + (f"含“{hit[1]}”" if hit[1] != name else "")
            return hit[0], "name", why
    if hit_f := _field_role(fields):
        return hit_f[0], "fields", "字段 " + "、".join(hit_f[1])
    for name in context:
        if m := _CODE_RE.search(name):
            return _NATIONAL_CODES[m.group(1).upper()], "folder", f"位于“{name}”"
        if hit := _word_role(name):
            return hit[0], "folder", f"位于“{name}”（含“{hit[1]}”）"
    return None, None, "名称和字段都无法判断用途"


def _check_usable(layer: DeliveryLayer) -> None:
    """Drop a role the layer cannot fill: wrong geometry, no features, a table."""
    if layer.role is None:
        return
    wanted = GEOMETRY_KINDS[layer.role]
    kind = _geometry_kind(layer.geometry_type)
    label = ROLE_LABELS[layer.role]
    problem = None
    if kind is None:
        problem = f"像{label}，但它是属性表（无几何）"
    elif kind not in (wanted, "any"):
        problem = f"像{label}，但几何类型是 {layer.geometry_type}"
    elif layer.features == 0:
        problem = f"像{label}，但图层为空（0 个要素）"
    if problem:
        layer.evidence = f"{layer.evidence}；{problem}"
        layer.role, layer.method = None, None


# ---------------------------------------------------------------------- fields


def _field_label(role: str, canonical: str) -> str:
    """The Chinese name of a canonical field: its first Chinese alias."""
    aliases = FIELD_ALIASES.get(role, {}).get(canonical, ())
    return next((a for a in aliases if not a.isascii()), canonical)


def _map_fields(layer: DeliveryLayer) -> list[Todo]:
    """Fill the layer's field mapping through the alias table; return what is undecided."""
    assert layer.role is not None
    aliases = FIELD_ALIASES.get(layer.role, {})
    # The rule load_layer applies, so the written mapping is what it would do anyway.
    renamed = standardize_fields(
        pd.DataFrame(columns=list(layer.fields)), aliases, layer_name=layer.role
    ).columns
    found = {new: old for old, new in zip(layer.fields, renamed, strict=True) if new in aliases}
    layer.field_map = {c: found[c] for c in aliases if c in found}
    lower = {f.lower(): f for f in layer.fields}
    used = set(layer.field_map.values())
    for canonical in layer.field_map:
        others = tuple(
            lower[a.lower()]
            for a in aliases[canonical]
            if a.lower() in lower and lower[a.lower()] not in used
        )
        if others:
            layer.field_alternatives[canonical] = others
    todos = []
    # Which field identifies a feature decides the whole analysis: never guessed.
    id_field = ID_FIELDS.get(layer.role)
    for canonical in (*REQUIRED_FIELDS.get(layer.role, ()), *([id_field] if id_field else [])):
        label = _field_label(layer.role, canonical)
        if canonical not in layer.field_map:
            todos.append(
                Todo(
                    layer.role,
                    f"未找到必需字段 {canonical}（{label}）。请从图层字段中选出它，"
                    f'填写 {canonical} = "字段名"。',
                    layer.name,
                )
            )
        elif canonical in layer.field_alternatives:
            listed = "”“".join(layer.field_alternatives[canonical])
            todos.append(
                Todo(
                    layer.role,
                    f"{canonical}（{label}）有多个候选字段：已选“{layer.field_map[canonical]}”，"
                    f"另有“{listed}”。请确认后删除本行。",
                    layer.name,
                )
            )
    return list(dict.fromkeys(todos))


def _stated_area_todo(layer: DeliveryLayer) -> Todo | None:
    """A TODO when the stated-area field is plainly not in m² (公顷 or 亩)."""
    source = layer.field_map.get("stated_area_m2")
    if source is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LanduseWarning)
            gdf = lio.read_layer(
                layer.source, layer.layer, crs=layer.crs_inferred, encoding=layer.text.encoding
            )
    except LanduseError:
        return None  # `landuse check` reports why the layer cannot be read
    if gdf.crs is None or not gdf.crs.is_projected:
        return None
    stated = pd.to_numeric(gdf[source], errors="coerce").to_numpy(dtype=float)
    measured = gdf.geometry.area.to_numpy()
    ok = (stated > 0) & (measured > 0)
    if not ok.any():
        return None
    ratio = float(np.median(stated[ok] / measured[ok]))
    if 1 / _M2_TOLERANCE <= ratio <= _M2_TOLERANCE:
        return None
    units = {"公顷": 1e-4, "亩": 15 / 10_000}
    unit = next((u for u, f in units.items() if abs(ratio / f - 1) < _M2_TOLERANCE - 1), None)
    looks = f"像是以{unit}计" if unit else "与图形面积不符"
    return Todo(
        layer.role,
        f"字段“{source}”的数值约为图形面积的 {ratio:.4g} 倍，{looks}；stated_area_m2 "
        "应以平方米计。请核对单位，换算后再使用该字段。",
        layer.name,
    )


# -------------------------------------------------------------------------- scan


def _display_name(root: Path, source: Path, layer: str | None) -> str:
    rel = source.name if source == root else Path(os.path.relpath(source, root)).as_posix()
    return f"{rel}:{layer}" if layer else rel


def _read_layers(root: Path, source: Path) -> tuple[list[DeliveryLayer], list[str]]:
    """Every layer of one source file, and why any of them cannot be read."""
    try:
        listing = lio.list_layers(source)
    except LanduseError as exc:
        return [], [str(exc)]
    container = source.suffix.lower() in (".gpkg", ".gdb", ".zip")
    single = int(listing["geometry_type"].notna().sum()) == 1
    # The file a lone layer sits in says what it is; then the folders, innermost first.
    folders = Path(os.path.relpath(source.parent, root)).parts[::-1] if source != root else ()
    context = ([source.stem] if container and single else []) + list(folders)
    layers, problems = [], []
    for name in listing["name"]:
        try:
            info = lio.layer_info(source, name)
        except LanduseError as exc:
            problems.append(str(exc))
            continue
        crs_inferred = None
        if info["crs"] is None and info["bounds"] is not None:
            inferred = infer_crs_from_bounds(info["bounds"])
            crs_inferred = f"EPSG:{inferred.to_epsg()}" if inferred is not None else None
        layer = DeliveryLayer(
            name=_display_name(root, source, name if container else None),
            source=source,
            layer=name if container else None,
            geometry_type=info["geometry_type"],
            features=info["features"],
            crs=info["crs"],
            crs_inferred=crs_inferred,
            text=info["text"],
            fields=tuple(info["fields"]),
        )
        names = [name] if container else list(dict.fromkeys([name, source.stem]))
        layer.role, layer.method, layer.evidence = _recognise(names, context, layer.fields)
        _check_usable(layer)
        layers.append(layer)
    return layers, problems


def _choose(layers: list[DeliveryLayer]) -> list[Todo]:
    """Choose one layer per role; two equally strong candidates are left to the user."""
    todos = []
    for role, label in ROLE_LABELS.items():
        found = [layer for layer in layers if layer.role == role]
        if not found:
            if role in _NEEDED:
                todos.append(
                    Todo(
                        role,
                        f"未找到{label}图层（{role}），landuse check 需要它。请添加 "
                        f'[layers.{role}] 并填写 path = "文件路径"。',
                    )
                )
            continue
        best = max(_STRENGTH[layer.method] for layer in found)  # type: ignore[index]
        top = [layer for layer in found if _STRENGTH[layer.method] == best]  # type: ignore[index]
        if len(top) == 1:
            top[0].chosen = True
            continue
        todos.append(
            Todo(
                role,
                f"有 {len(top)} 个图层都像{label}（{role}）："
                + "、".join(layer.name for layer in top)
                + "。请保留其中一个（删去该段每行行首的一个“#”），删除其余各段。",
            )
        )
    return todos


def scan_delivery(path: str | os.PathLike[str]) -> Delivery:
    """Open every layer of a delivery and recognise what it is.

    Parameters
    ----------
    path : str or path-like
        A folder (searched recursively for shapefiles, GeoPackages, FileGDB
        folders, zip files, GeoJSON and KML), or one ``.zip``, ``.gdb``,
        ``.gpkg`` or ``.shp``.

    Returns
    -------
    Delivery
        Every layer with its role (or why none), the field mappings of the
        recognised layers, the files that could not be read and the TODOs.

    Raises
    ------
    LayerNotFoundError
        ``path`` does not exist.
    """
    root = Path(path).expanduser()
    sources, others = lio.find_layer_sources(root)
    name = root.stem if sources == [root] else root.name
    delivery = Delivery(root=root, name=name, layers=[], others=others)
    for source in sources:
        layers, problems = _read_layers(root, source)
        delivery.unreadable += [(source, problem) for problem in problems]
        delivery.layers += layers
    delivery.todos = _choose(delivery.layers)
    for layer in delivery.layers:
        if layer.role is None:
            continue
        delivery.todos += _map_fields(layer)
        if layer.crs is None and layer.crs_inferred is None:
            delivery.todos.append(
                Todo(
                    layer.role,
                    "文件没有坐标系（无 .prj），坐标也不带 3 度带带号，无法推断。请填写 crs，"
                    '例如 crs = "EPSG:4545"（CGCS2000 3 度带，中央经线 108°E，不带带号）。',
                    layer.name,
                )
            )
        if layer.role == "parcels" and (todo := _stated_area_todo(layer)):
            delivery.todos.append(todo)
    return delivery


# ------------------------------------------------------------------------ render


def _toml_str(value: str) -> str:
    # A TOML basic string; Python's escapes (\\, \", \n, \uXXXX) are TOML's too.
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped) + '"'


def _comment(text: str) -> str:
    return "# " + " ".join(str(text).split())


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(os.path.abspath(path), os.path.abspath(base))).as_posix()
    except ValueError:  # another drive (Windows): keep it absolute
        return Path(os.path.abspath(path)).as_posix()


def _layer_block(layer: DeliveryLayer, todos: list[Todo], base: Path) -> list[str]:
    """The [layers.<role>] table of one layer, with its comments."""
    role = layer.role
    assert role is not None and layer.method is not None
    lines = [
        _comment(f"{ROLE_LABELS[role]} {role}: {layer.name}（{layer.features} 个要素 features）"),
        _comment(f"识别依据 recognised by: {METHOD_LABELS[layer.method]} — {layer.evidence}"),
        f"[layers.{role}]",
        f"path = {_toml_str(_relative(layer.source, base))}",
    ]
    if layer.layer is not None:
        lines.append(f"layer = {_toml_str(layer.layer)}")
    if layer.crs_inferred:
        lines.append(
            f"crs = {_toml_str(layer.crs_inferred)}  "
            "# 文件无坐标系，按坐标的带号推断 inferred from the zone prefix"
        )
    if layer.text.encoding:
        lines.append(
            f"encoding = {_toml_str(layer.text.encoding)}  "
            f"# 字段名 names: {layer.text.names}; 属性值 values: {layer.text.values}"
        )
    lines += [_comment(f"TODO: {t.message}") for t in todos if t.layer == layer.name]
    missing = [c for c in REQUIRED_FIELDS.get(role, ()) if c not in layer.field_map]
    if layer.field_map or missing:
        lines.append(f"[layers.{role}.fields]")
    for canonical, source in layer.field_map.items():
        note = _field_label(role, canonical)
        if canonical in layer.field_alternatives:
            note += "；另有候选 also: " + ", ".join(layer.field_alternatives[canonical])
        lines.append(f"{canonical} = {_toml_str(source)}  # {note}")
    lines += [f'# {canonical} = ""  # TODO: 必需字段 required' for canonical in missing]
    unmapped = [f for f in layer.fields if f not in layer.field_map.values()]
    if unmapped:
        lines.append(_comment("未映射的字段 other fields: " + ", ".join(unmapped)))
    return lines


def render_project(delivery: Delivery, out: str | os.PathLike[str]) -> str:
    """The ``landuse.toml`` text for a scanned delivery.

    Every chosen layer and every field mapping is written explicitly; layers
    two of which fit one role are written commented out under a ``# TODO``;
    unrecognised layers, unreadable files and other files are listed as
    comments.  Only ``[project]`` and ``[layers.*]`` tables are written.

    Parameters
    ----------
    delivery : Delivery
        From :func:`scan_delivery`.
    out : str or path-like
        Where the file will be written; layer paths are relative to its folder.

    Returns
    -------
    str
        The file's text.
    """
    base = Path(out).expanduser().parent
    root = delivery.root
    lines = [
        _comment(f"项目文件 Project file written by `landuse init` from {root.name}"),
        "# 路径相对于本文件所在文件夹 Paths are relative to this file's folder.",
        "# 先处理每一个 TODO，再运行 landuse check。Settle every TODO before running check.",
        "",
        "[project]",
        f"name = {_toml_str(delivery.name)}",
        '# analysis_crs = "EPSG:4545"  # 默认为数据所在的 3 度带 default: the data\'s GK zone',
    ]
    role_todos = [t for t in delivery.todos if t.layer is None]
    for role, label in ROLE_LABELS.items():
        candidates = delivery.candidates(role)
        chosen = [layer for layer in candidates if layer.chosen]
        lines.append("")
        lines += [_comment(f"TODO: {t.message}") for t in role_todos if t.role == role]
        if chosen:
            lines += _layer_block(chosen[0], delivery.todos, base)
            weaker = [layer for layer in candidates if not layer.chosen]
            if weaker:
                lines.append(
                    _comment(
                        "另有较弱的候选（未采用）also considered: "
                        + "; ".join(f"{w.name}（{w.evidence}）" for w in weaker)
                    )
                )
        elif candidates:
            best = _STRENGTH[candidates[0].method]  # type: ignore[index]
            for layer in candidates:
                if _STRENGTH[layer.method] == best:  # type: ignore[index]
                    # Notes get a second "#": removing one "#" from every line of
                    # the block leaves its notes as comments and its tables as TOML.
                    block = _layer_block(layer, delivery.todos, base)
                    lines += [f"#{line}" if line.startswith("#") else f"# {line}" for line in block]
                    lines.append("")
        elif role not in _NEEDED:
            lines.append(f"# 未找到{label}图层 ({role} not found; optional).")
    unrecognised = [layer for layer in delivery.layers if layer.role is None]
    if unrecognised:
        lines += [
            "",
            "# ---- 未识别的图层 Layers not recognised (add a table if one is needed)",
        ]
        for layer in unrecognised:
            geometry = layer.geometry_type or "表格 table"
            lines.append(
                _comment(f"{layer.name}: {geometry}, {layer.features} 个要素 — {layer.evidence}")
            )
            if layer.fields:
                lines.append(_comment("    字段 fields: " + ", ".join(layer.fields)))
    if delivery.unreadable:
        lines += ["", "# ---- 无法读取的文件 Files that could not be read"]
        lines += [_comment(f"{_relative(p, base)}: {why}") for p, why in delivery.unreadable]
    if delivery.others:
        lines += ["", "# ---- 其他文件（未读取）Other files, not read"]
        shown = delivery.others[:_OTHER_FILES_LISTED]
        lines += [_comment(_relative(p, base)) for p in shown]
        if len(delivery.others) > len(shown):
            lines.append(f"# …及其他 {len(delivery.others) - len(shown)} 个文件 and more")
    return "\n".join(lines) + "\n"


def init_project(
    path: str | os.PathLike[str], out: str | os.PathLike[str], *, force: bool = False
) -> Delivery:
    """Scan a delivery and write its ``landuse.toml`` atomically.

    Parameters
    ----------
    path : str or path-like
        The delivery: a folder, ``.zip``, ``.gdb`` or ``.gpkg``.
    out : str or path-like
        The project file to write.
    force : bool, default False
        Overwrite ``out`` if it exists.

    Returns
    -------
    Delivery
        What was found, including the TODOs written into the file.

    Raises
    ------
    ConfigError
        ``out`` exists and ``force`` is not set.
    """
    target = Path(out).expanduser()
    exists = ConfigError(
        f"{target}: already exists. Add --force to overwrite it, or write another file with --out."
    )
    try:
        if not force:
            lio.refuse_existing(target)
        delivery = scan_delivery(path)
        delivery.others = [
            p for p in delivery.others if os.path.abspath(p) != os.path.abspath(target)
        ]
        lio.write_text(render_project(delivery, target), target, overwrite=force)
    except FileExistsError:
        raise exists from None
    return delivery
