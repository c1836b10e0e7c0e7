"""Project files (``landuse.toml``) and the canonical layer schema.

A project file maps each logical layer to a file and maps the bureau's field
names to landuse's canonical ones::

    [project]
    name = "来宾市兴宾区"
    # analysis_crs = "EPSG:4545"   # default: the GK 3-degree zone of the data

    [layers.parcels]
    path = "data/工业地块.shp"      # relative to this file
    # layer = "parcels"            # for GeoPackage / FileGDB
    # crs = "EPSG:4524"            # when the file has no .prj
    # encoding = "GBK"             # when detection is not enough

    [layers.parcels.fields]
    parcel_id = "宗地号"            # canonical = field in the file

Fields not mapped explicitly are recognised from :data:`FIELD_ALIASES`
(common Chinese and pinyin-initial names).  The other tables (``[project]``,
``[check]``, ``[buildable]`` ...) are analysis options, typed and checked in
:mod:`landuse.core.options`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from landuse.core.errors import ConfigError
from landuse.core.options import Options, suggest

__all__ = [
    "FIELD_ALIASES",
    "GEOMETRY_KINDS",
    "ID_FIELDS",
    "LAYER_KINDS",
    "LAYER_LABELS",
    "NO_PROJECT",
    "REQUIRED_FIELDS",
    "LayerSpec",
    "Project",
    "find_project",
    "layers_dir",
    "load_project",
    "read_toml",
    "sample_project",
]

#: Canonical field → names bureaus use for it, per logical layer.
FIELD_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    # Earlier names win when a layer has several.  The national layers keep the
    # field codes of their database standards: 永久基本农田 YJJBNTTB / YJJBNTBHTB,
    # 城镇开发边界 CZKFBJ, 生态保护红线 STBHHX (国土空间规划"一张图" / 三区三线成果)
    # and the 第三次全国国土调查 地类图斑 DLTB.  stated_area_m2 (用地面积, 宗地面积)
    # is the area written in the attribute table, in m² as land registers keep it;
    # analyses measure their own area_m2 from the geometry.
    "parcels": {
        "parcel_id": (
            "DKBH",
            "地块编号",
            "地块编码",
            "ZDDM",
            "宗地代码",
            "ZDBH",
            "宗地编号",
            "ZDH",
            "宗地号",
        ),
        "parcel_name": ("DKMC", "地块名称", "ZDMC", "宗地名称", "XMMC", "项目名称"),
        "park": ("SSYQ", "所属园区", "YQMC", "园区名称"),
        "land_use": ("TDYT", "土地用途", "YDXZ", "用地性质", "DLMC", "地类名称"),
        "enterprise_id": ("TYSHXYDM", "统一社会信用代码", "QYDM", "企业代码", "USCC"),
        "enterprise_name": (
            "QYMC",
            "企业名称",
            "TDSYQR",
            "土地使用权人",
            "QLR",
            "权利人",
            "TDSYZ",
            "土地使用者",
            "YDDW",
            "用地单位",
        ),
        "stated_area_m2": ("YDMJ", "用地面积", "ZDMJ", "宗地面积", "DKMJ", "地块面积"),
        "certificate_no": ("BDCQZH", "不动产权证号", "TDZH", "土地证号"),
        "supply_status": ("GDZT", "供地状态"),
        "approval_date": ("PZRQ", "批准日期", "批复日期"),
        "supply_date": ("GDRQ", "供地日期", "HTQDRQ", "合同签订日期"),
        "agreed_start_date": ("YDDGRQ", "约定动工日期", "YDKGRQ", "约定开工日期"),
        # After a government-caused extension (Order No. 53 Art. 12) the clock restarts here.
        "new_agreed_start_date": (
            "XYDDGRQ",
            "新约定动工日期",
            "延期后约定动工日期",
            "变更后约定动工日期",
            "补充协议约定动工日期",
        ),
        "actual_start_date": ("SJDGRQ", "实际动工日期", "SJKGRQ", "实际开工日期"),
        # 基坑开挖完毕 / 基础桩打入完毕 / 地基施工完成三分之一 / 施工许可证 (Art. 30).
        "start_evidence": ("DGYJ", "动工依据", "动工证明", "动工开发依据"),
        "construction_status": ("JSZT", "建设状态"),
        "developed_share": ("KFBL", "已开发比例"),
        "invested_share": ("TZBL", "已投资比例"),
        "suspended_since": ("TGRQ", "停工日期"),
        "gov_caused": ("ZFYY", "政府原因"),
        "land_price_wan": ("CRJK", "出让价款", "TDJK", "土地价款"),
        # Investment as Art. 30 counts it excludes the land price and taxes paid to the
        # state.  Headers that do not say so (总投资, 已投资额) are taken to include the
        # land price, as bureau tables mostly do; the idle check subtracts land_price_wan.
        "invested_wan": ("已投资额（不含土地价款）", "已投资额(不含土地价款)", "已投资额不含地价"),
        "total_investment_wan": (
            "总投资额（不含土地价款）",
            "总投资额(不含土地价款)",
            "总投资不含地价",
            "总投资额不含地价",
        ),
        "invested_incl_land_wan": (
            "已投资额（含土地价款）",
            "已投资额(含土地价款)",
            "YTZE",
            "已投资额",
            "已投资",
            "累计完成投资",
        ),
        "total_investment_incl_land_wan": (
            "总投资额（含土地价款）",
            "总投资额(含土地价款)",
            "ZTZ",
            "总投资",
            "总投资额",
            "JHTZ",
            "计划总投资",
        ),
        # 农转用/征收 approval batch: 批而未供 is counted per batch.
        "approval_batch": ("PCMC", "批次名称", "PCH", "批次号", "PCBH", "批次编号"),
        "plot_ratio": ("RJL", "容积率"),
        "standard_factory": ("BZCF", "标准厂房", "是否标准厂房"),
        # 工业项目建设用地控制指标 and 标准地 targets (landuse.analysis.indicators); areas in m²,
        # money in 万元; industry_code is the 国民经济行业分类 code (2 or more digits).
        "industry_code": ("HYDM", "行业代码", "GMJJHYDM", "国民经济行业代码", "行业分类代码"),
        # The parcel's 地区分类 as the indicator tables name it (over [indicators] region_class).
        "region_class": ("地区分类",),
        "investment_wan": ("GDZCTZ", "固定资产投资", "固定资产投资额", "固定资产总投资"),
        "floor_area_m2": ("JRJZMJ", "计容建筑面积"),
        "building_base_m2": ("JZJDMJ", "建筑基底面积", "建筑物基底面积"),
        "yard_m2": ("DCMJ", "露天堆场面积", "堆场面积"),
        "office_land_m2": ("XZBGMJ", "行政办公及生活服务设施用地面积", "行政办公用地面积"),
        "green_m2": ("LDMJ", "绿地面积"),
        "production_date": ("YDDCRQ", "约定达产日期", "达产日期"),
        "target_investment_wan_per_mu": ("ZBTZQD", "约定投资强度", "投资强度指标"),
        "target_plot_ratio": ("ZBRJL", "约定容积率", "容积率指标"),
        "target_tax_per_mu_wan": ("ZBMJSS", "约定亩均税收", "亩均税收指标"),
        "target_va_per_tce_wan": ("ZBNHZJZ", "约定单位能耗增加值", "单位能耗增加值指标"),
        "target_revenue_per_mu_wan": ("ZBMJYYSR", "约定亩均营业收入", "亩均营业收入指标"),
        "target_va_per_emission_wan": ("ZBPFZJZ", "约定单位排放增加值", "单位排放增加值指标"),
        "target_rd_share": ("ZBYFZB", "约定研发经费占比", "研发经费占比指标"),
    },
    "udb": {
        "zone_id": ("BSM", "标识码", "KFBJBH", "编号"),
        # 城镇集中建设区 / 城镇弹性发展区 / 特别用途区 inside the boundary.
        "zone_code": ("GHFQDM", "规划分区代码"),
        "zone_type": ("GHFQMC", "规划分区名称"),
        "district_code": ("XZQDM", "行政区代码"),
    },
    "farmland": {
        "patch_id": (
            "YJJBNTTBBH",
            "永久基本农田图斑编号",
            "JBNTTBBH",
            "基本农田图斑编号",
            "TBBH",
            "图斑编号",
            "BSM",
            "标识码",
        ),
        "land_class_code": ("DLBM", "地类编码"),
        "land_class": ("DLMC", "地类名称"),
        "patch_area_m2": ("YJJBNTTBMJ", "TBMJ", "图斑面积"),
        "farmland_area_m2": ("YJJBNTMJ", "永久基本农田面积", "JBNTMJ", "基本农田面积"),
        "location_code": ("ZLDWDM", "座落单位代码", "坐落单位代码"),
        "district_code": ("XZQDM", "行政区代码"),
    },
    "eco_redline": {
        "patch_id": ("HXBH", "红线编号", "BSM", "标识码"),
        "patch_name": ("HXMC", "红线名称", "MC", "名称"),
        "district_code": ("XJXZQDM", "XJXZQHDM", "XZQDM", "行政区代码"),
    },
    "parks": {
        "park_id": ("YQBH", "园区编号", "BSM", "标识码"),
        "park": ("YQMC", "园区名称", "MC", "名称"),
        "parent_park": ("SJYQ", "上级园区", "所属园区"),
    },
    "district": {
        "district": ("XZQMC", "行政区名称", "name", "名称"),
        "district_code": ("XZQDM", "行政区代码"),
    },
    "roads": {
        "road_name": ("DLMC", "道路名称", "MC", "名称"),
        "width_m": ("LK", "路宽", "DLKD", "道路宽度"),
    },
    # 第三次全国国土调查 地类图斑; areas are ellipsoidal m² (椭球面积).  耕地 patches
    # include 田坎: deduction_area_m2 = patch_area_m2 × deduction_ratio and
    # class_area_m2 = patch_area_m2 − deduction_area_m2.
    "dltb": {
        "feature_id": ("BSM", "标识码"),
        "feature_code": ("YSDM", "要素代码"),
        "patch_no": ("TBBH", "图斑编号"),
        "land_class_code": ("DLBM", "地类编码"),
        "land_class": ("DLMC", "地类名称"),
        "ownership": ("QSXZ", "权属性质"),
        "owner_code": ("QSDWDM", "权属单位代码"),
        "owner_name": ("QSDWMC", "权属单位名称"),
        "location_code": ("ZLDWDM", "座落单位代码", "坐落单位代码"),
        "location_name": ("ZLDWMC", "座落单位名称", "坐落单位名称"),
        "patch_area_m2": ("TBMJ", "图斑面积"),
        "deduction_class_code": ("KCDLBM", "扣除地类编码"),
        "deduction_ratio": ("KCXS", "扣除系数", "扣除地类系数", "TKXS"),
        "deduction_area_m2": ("KCMJ", "扣除面积", "扣除地类面积", "TKMJ"),
        "class_area_m2": ("TBDLMJ", "图斑地类面积"),
        "farmland_type": ("GDLX", "耕地类型"),
        "slope_grade": ("GDPDJB", "耕地坡度级别", "GDPDJ", "耕地坡度级"),
    },
    # Building footprints for 容积率 and 建筑系数: kind is 建筑物, 构筑物 or 露天堆场
    # (default 建筑物), floors the storeys above ground, height_m the height.
    # 自然幢 (ZRZ) layers of 不动产登记 databases: ZRZH 自然幢号, JZWGD 建筑物高度,
    # DSCS 地上层数 (their ZCS 总层数 counts basements too, so it is no alias of
    # floors), JZWJBYT 建筑物基本用途.
    "buildings": {
        "building_id": ("JZWBH", "建筑物编号", "ZRZH", "自然幢号", "BSM", "标识码"),
        "building_name": ("JZWMC", "建筑物名称"),
        "kind": ("JZLX", "建筑类型", "建筑物类型"),
        "floors": ("CS", "层数", "JZCS", "建筑层数", "DSCS", "地上层数"),
        "height_m": ("GD", "高度", "JZGD", "建筑高度", "JZWGD", "建筑物高度"),
        "use": ("JZYT", "建筑用途", "使用用途", "JZWJBYT", "建筑物基本用途"),
    },
    "enterprises": {
        "enterprise_id": ("TYSHXYDM", "统一社会信用代码", "QYDM", "企业代码", "USCC"),
        "enterprise_name": ("QYMC", "企业名称"),
        "year": ("ND", "年度", "年份"),
        "tax_wan": ("SSZE", "实缴税金", "税收", "税收总额"),
        "revenue_wan": ("YYSR", "营业收入"),
        "value_added_wan": ("ZJZ", "增加值", "工业增加值"),
        "energy_tce": ("NH", "综合能耗", "能耗"),
        "electricity_kwh": ("YDL", "用电量"),
        "emission_t": ("PFL", "排放当量", "污染物排放当量"),
        "employees": ("CYRS", "从业人数", "年平均职工人数"),
        "rd_wan": ("YFJF", "研发经费", "RD"),
        "above_size": ("GS", "规上", "是否规上"),
        "leased_parcel_id": ("ZLDKBH", "租赁地块编号"),
        "leased_floor_m2": ("ZLJZMJ", "租赁建筑面积"),
        # Class T and coverage rules of the per-mu schemes (landuse.core.options.EfficiencyScheme).
        "production_start": ("TCRQ", "投产日期", "投产时间", "投产年份", "TCNF"),
        "industry": ("HYDM", "行业代码", "所属行业", "行业", "HYMC", "行业名称"),
        "under_construction": ("SFZJ", "是否在建", "在建"),
        "exempt_reason": ("BDDJYY", "不定等级原因", "T类原因"),
        # Usual bonus / penalty items (加分/减分); any other column can be named too.
        "high_tech": ("GXJSQY", "高新技术企业", "是否高新技术企业"),
        "safety_accident": ("AQSG", "安全生产事故", "发生安全生产事故"),
    },
}

# A proposed project's red line (用地红线): read from a 界址点坐标 TXT (which gives
# canonical names itself), SHP, KML, GeoJSON or DXF.  Its area fields are left
# alone: a red line's 地块面积 is often in 公顷.
FIELD_ALIASES["redline"] = {
    "parcel_id": FIELD_ALIASES["parcels"]["parcel_id"],
    "parcel_name": (*FIELD_ALIASES["parcels"]["parcel_name"], "Name", "名称"),
    "land_use": ("DKYT", "地块用途", "TDYT", "土地用途", "YDXZ", "用地性质"),
}
# 城镇开发边界 split into its planning zones (规划分区 GHFQDM / GHFQMC) when the
# project keeps them in their own layer.
FIELD_ALIASES["udb_zones"] = dict(FIELD_ALIASES["udb"])

#: Chinese name of each logical layer, for messages and tables.
LAYER_LABELS: dict[str, str] = {
    "parcels": "地块",
    "udb": "城镇开发边界",
    "udb_zones": "城镇开发边界规划分区",
    "redline": "项目红线",
    "dltb": "地类图斑",
    "farmland": "永久基本农田",
    "eco_redline": "生态保护红线",
    "parks": "园区",
    "district": "行政区",
    "roads": "道路",
    "buildings": "建筑物",
    "enterprises": "企业表",
    "ledger_import": "台账导入文件",
    "landcover": "土地覆盖栅格",
    "dem": "数字高程模型",
}

#: Fields without which a layer cannot be used at all.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "parcels": ("parcel_id",),
    "dltb": ("land_class_code",),
    "parks": ("park",),
    "enterprises": ("enterprise_id", "year"),
    "buildings": ("floors",),
}

#: Field that must be unique within a layer.
ID_FIELDS: dict[str, str] = {"parcels": "parcel_id"}

#: Logical layers a project may name.
LAYER_KINDS: tuple[str, ...] = tuple(FIELD_ALIASES)

#: Geometry each logical layer holds; ``None`` marks an attribute-only table.
#: Layers a project adds for its own constraints or buffers default to ``"any"``.
GEOMETRY_KINDS: dict[str, Literal["polygon", "line", "any"] | None] = {
    **dict.fromkeys(LAYER_KINDS, "polygon"),
    "roads": "line",
    "enterprises": None,
}


@dataclass(frozen=True)
class LayerSpec:
    """Where a logical layer lives and how to read it: a file (``path``) or a table.

    ``table`` is ``schema.name`` in the project's PostGIS database.
    """

    name: str
    path: Path | None
    layer: str | None = None
    crs: str | None = None
    encoding: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    table: str | None = None

    @property
    def where(self) -> str:
        """The file, or the table, for messages."""
        return str(self.path) if self.path is not None else f"table {self.table}"


@dataclass(frozen=True)
class Project:
    """A parsed ``landuse.toml``: layers, rasters and the typed options tables."""

    source: Path | None
    name: str
    layers: dict[str, LayerSpec]
    rasters: dict[str, Path] = field(default_factory=dict)
    options: Options = field(default_factory=Options)

    @property
    def analysis_crs(self) -> str | None:
        """``[project] analysis_crs``, when set."""
        return self.options.project.analysis_crs

    def layer(self, name: str) -> LayerSpec:
        """Return the spec of a logical layer or raise a ConfigError naming the file."""
        try:
            return self.layers[name]
        except KeyError:
            where = self.source or "the project"
            raise ConfigError(
                f"{where}: no [layers.{name}] table. Add one with the path of the "
                f"{name} layer (layers defined: {', '.join(self.layers) or 'none'})."
            ) from None

    def path(self, relative: str) -> Path:
        """A path written in the project file, resolved against its folder."""
        root = self.source.parent if self.source is not None else Path.cwd()
        return root / relative


_LAYER_KEYS = ("path", "table", "layer", "crs", "encoding", "fields")


def _resolve(src: Path, value: Any) -> Path:
    if not isinstance(value, str):
        raise ConfigError(f"{src}: paths must be strings, got {value!r}.")
    path = Path(value).expanduser()
    return path if path.is_absolute() else src.parent / path


def _parse_layer(src: Path, name: str, raw: Any) -> LayerSpec:
    if not isinstance(raw, dict) or ("path" in raw) == ("table" in raw):
        raise ConfigError(
            f"{src}: [layers.{name}] needs a 'path' (path = \"地块.shp\") or a database "
            "'table' (table = \"schema.name\"), one of them."
        )
    unknown = sorted(set(raw) - set(_LAYER_KEYS))
    if unknown:
        raise ConfigError(
            f"{src}: [layers.{name}] has unknown key '{unknown[0]}'"
            f"{suggest(unknown[0], _LAYER_KEYS)} (valid keys: {', '.join(_LAYER_KEYS)})."
        )
    fields = raw.get("fields", {})
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ConfigError(f"{src}: [layers.{name}.fields] must map canonical names to strings.")
    for key in ("layer", "crs", "encoding", "table"):
        if key in raw and not isinstance(raw[key], str):
            raise ConfigError(f"{src}: [layers.{name}] {key} must be text, not {raw[key]!r}.")
    return LayerSpec(
        name=name,
        path=_resolve(src, raw["path"]) if "path" in raw else None,
        table=raw.get("table"),
        layer=raw.get("layer"),
        crs=raw.get("crs"),
        encoding=raw.get("encoding"),
        fields=dict(fields),
    )


def read_toml(path: Path, *, missing: str, what: str) -> dict[str, Any]:
    """A TOML file as a dict; a missing or malformed file is a ConfigError naming it."""
    if not path.is_file():
        raise ConfigError(f"{path}: {missing}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not {what} ({exc}).") from exc


def load_project(path: str | Path) -> Project:
    """Read and check a project file.

    Parameters
    ----------
    path : str or Path
        A ``landuse.toml``; layer paths in it are relative to its folder.

    Returns
    -------
    Project

    Raises
    ------
    ConfigError
        The file is missing or not TOML; an unknown table, layer or option; a
        value of the wrong kind.  Each names the table and the valid choices.
    """
    src = Path(path).expanduser()
    data = read_toml(
        src,
        missing="project file not found (项目文件不存在). Make one with "
        "`landuse init 数据文件夹` or check the --project path.",
        what="valid TOML",
    )
    raw_layers = data.pop("layers", {})
    raw_rasters = data.pop("rasters", {})
    if not isinstance(raw_layers, dict) or not isinstance(raw_rasters, dict):
        raise ConfigError(f"{src}: [layers.<name>] and [rasters] must be tables.")
    options = Options.from_tables(data, source=str(src))
    # Project-specific layers are allowed where an analysis option names them.
    referenced = set(options.check.extra_constraints) | set(options.buildable.buffers)
    known = [*LAYER_KINDS, *sorted(referenced)]
    unknown = sorted(set(raw_layers) - set(known))
    if unknown:
        raise ConfigError(
            f"{src}: unknown layer [layers.{unknown[0]}]{suggest(unknown[0], known)}; known "
            f"layers: {', '.join(LAYER_KINDS)}, or name it in [check] extra_constraints or "
            "[buildable] buffers."
        )
    missing = sorted(referenced - set(raw_layers))
    if missing:
        raise ConfigError(
            f"{src}: [check] extra_constraints / [buildable] buffers name layer '{missing[0]}', "
            f"which has no [layers.{missing[0]}] table."
        )
    layers = {name: _parse_layer(src, name, raw) for name, raw in raw_layers.items()}
    rasters = {name: _resolve(src, p) for name, p in raw_rasters.items()}
    return Project(
        source=src,
        name=options.project.name or src.parent.name,
        layers=layers,
        rasters=rasters,
        options=options,
    )


def layers_dir() -> Path:
    """Folder of the shipped sample layers and styles (``layers/`` in the repo)."""
    return Path(str(resources.files("landuse.layers")))


#: The message of every command that would otherwise fall back on the sample.
NO_PROJECT = (
    "没有项目文件 No project: 用 --project landuse.toml 指定您自己的管控线与地块图层"
    "（数据文件夹可用 `landuse init 文件夹` 生成项目文件）；示例数据只在 `landuse demo` "
    "或加 --sample 时使用 (the synthetic sample is used only by `landuse demo` or with --sample)."
)


def find_project(path: str | Path | None = None, *, sample: bool = False) -> Project:
    """The project a command runs on: ``path``, else ``./landuse.toml``, else an error.

    The shipped sample is used only when asked for (``sample=True``), so a
    user's own parcels are never checked against synthetic control lines.

    Raises
    ------
    ConfigError
        No project given and no ``landuse.toml`` in the current folder
        (:data:`NO_PROJECT`), or both a project and the sample asked for.
    """
    if sample:
        if path is not None:
            raise ConfigError("--project and --sample exclude each other; give one of them.")
        return sample_project()
    if path is not None:
        return load_project(path)
    here = Path.cwd() / "landuse.toml"
    if here.is_file():
        return load_project(here)
    raise ConfigError(NO_PROJECT)


def sample_project() -> Project:
    """The project describing the shipped 兴宾区 sample (``layers/xingbin_sample.toml``)."""
    return load_project(layers_dir() / "xingbin_sample.toml")
