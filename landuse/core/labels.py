"""Chinese (and English) labels for canonical column names, with units.

Tables written for people (CSV, Excel, map popups) use these labels; layers
written for GIS keep the canonical identifiers.
"""

from __future__ import annotations

import re
from typing import Literal

import pandas as pd

__all__ = ["LABELS", "TOTAL", "VALUE_LABELS", "label", "labelled", "sum_by"]

Lang = Literal["zh", "en"]

#: canonical column → (Chinese label, English label)
LABELS: dict[str, tuple[str, str]] = {
    "parcel_id": ("地块编号", "Parcel ID"),
    "parcel_name": ("地块名称", "Parcel name"),
    "park": ("园区", "Park"),
    "land_use": ("土地用途", "Land use"),
    "enterprise_id": ("统一社会信用代码", "Credit code"),
    "enterprise_name": ("企业名称", "Enterprise"),
    "supply_status": ("供地状态", "Supply status"),
    "parcels": ("地块数", "Parcels"),
    "area_m2": ("面积（平方米）", "Area (m²)"),
    "area_mu": ("面积（亩）", "Area (mu)"),
    "area_ha": ("面积（公顷）", "Area (ha)"),
    "supplied_mu": ("已供面积（亩）", "Supplied (mu)"),
    "unsupplied_mu": ("未供面积（亩）", "Unsupplied (mu)"),
    "certificate_no": ("不动产权证号", "Certificate"),
    "udb_inside_m2": ("开发边界内面积（平方米）", "Inside UDB (m²)"),
    "udb_inside_mu": ("开发边界内面积（亩）", "Inside UDB (mu)"),
    "udb_outside_m2": ("开发边界外面积（平方米）", "Outside UDB (m²)"),
    "udb_outside_mu": ("开发边界外面积（亩）", "Outside UDB (mu)"),
    "udb_outside_share": ("开发边界外占比", "Outside UDB (share)"),
    "farmland_m2": ("占用永久基本农田（平方米）", "On farmland (m²)"),
    "farmland_mu": ("占用永久基本农田（亩）", "On farmland (mu)"),
    "farmland_share": ("占用永久基本农田占比", "On farmland (share)"),
    "eco_redline_m2": ("占用生态保护红线（平方米）", "On eco red line (m²)"),
    "eco_redline_mu": ("占用生态保护红线（亩）", "On eco red line (mu)"),
    "eco_redline_share": ("占用生态保护红线占比", "On eco red line (share)"),
    "noise_m2": ("边界误差面积（平方米）", "Boundary noise (m²)"),
    "status": ("检查结论", "Status"),
    "constraint": ("管控要素", "Constraint"),
    "constraint_label": ("冲突类型", "Conflict"),
    "constraint_ids": ("管控图斑编号", "Constraint feature IDs"),
    "kind": ("类别", "Kind"),
    "share": ("占地块比例", "Share of parcel"),
    "candidate_id": ("候选地块编号", "Candidate ID"),
    "rank": ("面积排序", "Rank"),
    "candidates": ("地块数", "Candidates"),
    "largest_mu": ("最大地块面积（亩）", "Largest (mu)"),
    "land_price_wan": ("出让价款（万元）", "Land price (10k yuan)"),
    "agreed_start_date": ("约定动工日期", "Agreed start"),
    "actual_start_date": ("实际动工日期", "Actual start"),
    "suspended_since": ("停工日期", "Suspended since"),
    "idle_type": ("闲置情形", "Idle type"),
    "idle_since": ("认定闲置起始日", "Idle since"),
    "idle_days": ("闲置天数", "Idle days"),
    "idle_years": ("闲置满年数", "Full idle years"),
    "gov_caused": ("政府原因", "Government-caused"),
    "idle_fee_wan": ("土地闲置费（万元）", "Idle-land fee (10k yuan)"),
    "recover_without_compensation": ("应无偿收回", "Recover without compensation"),
    "consequence": ("处置依据与方式", "Consequence"),
    "new_agreed_start_date": ("新约定动工日期", "New agreed start"),
    "clock_start": ("闲置起算日", "Clock start"),
    "clock_basis": ("起算依据", "Clock counted from"),
    "start_evidence": ("动工依据", "Start evidence"),
    "start_unverified": ("动工依据不足", "Start not evidenced"),
    "start_check": ("动工核查", "Start check"),
    "invested_wan": ("已投资额（不含土地价款，万元）", "Invested excl. land (10k yuan)"),
    "total_investment_wan": ("总投资额（不含土地价款，万元）", "Total investment excl. land"),
    "invested_incl_land_wan": ("已投资额（含土地价款，万元）", "Invested incl. land (10k yuan)"),
    "total_investment_incl_land_wan": (
        "总投资额（含土地价款，万元）",
        "Total investment incl. land",
    ),
    "investment_share": ("投资比例（不含土地价款）", "Invested share excl. land"),
    "investment_rule": ("投资比例计算方式", "Invested share rule"),
    "found_date": ("发现疑似闲置日期", "Found"),
    "notice_date": ("调查通知日期", "Investigation notice"),
    "determination_date": ("认定书日期", "Determination"),
    "determination_no": ("认定书文号", "Determination no."),
    "published_date": ("公示日期", "Published"),
    "hearing_date": ("听证告知日期", "Hearing notice"),
    "decision_date": ("决定书日期", "Decision"),
    "decision_no": ("决定书文号", "Decision no."),
    "decision_method": ("决定处置方式", "Decided method"),
    "served_date": ("送达日期", "Served"),
    "paid_date": ("缴费日期", "Fee paid"),
    "paid_wan": ("已缴闲置费（万元）", "Fee paid (10k yuan)"),
    "returned_date": ("交回土地日期", "Land handed back"),
    "deregistered_date": ("注销登记日期", "Registration cancelled"),
    "completed_date": ("处置完成日期", "Disposal completed"),
    "last_step": ("已办环节", "Last step"),
    "next_step": ("下一环节", "Next step"),
    "deadline": ("办理期限", "Deadline"),
    "days_to_deadline": ("距期限天数（负数为逾期）", "Days to deadline"),
    "overdue": ("逾期", "Overdue"),
    "deadline_basis": ("期限依据", "Deadline basis"),
    "late_steps": ("逾期办理", "Steps done late"),
    "issues": ("程序问题", "Procedure issues"),
    "doc_no": ("文号", "Document no."),
    "approval_date": ("批准日期", "Approved"),
    "approval_batch": ("批次", "Approval batch"),
    "approval_year": ("批准年度", "Approval year"),
    "approved_mu": ("批准面积（亩）", "Approved (mu)"),
    "supply_rate": ("供地率", "Supply rate"),
    "unsupplied_end_mu": ("期末批而未供（亩）", "Approved-unsupplied at end (mu)"),
    "batch_status": ("批次处置情况", "Batch status"),
    "evidence_share": ("影像建设覆盖率", "Built/construction cover"),
    "suspect_idle": ("疑似闲置需实地核查", "Suspected idle (check on site)"),
    "group": ("统计单元", "Group"),
    "stock_start_mu": ("期初闲置存量（亩）", "Idle stock at start (mu)"),
    "identified_mu": ("期内新认定闲置（亩）", "Newly identified (mu)"),
    "disposed_mu": ("期内处置闲置（亩）", "Disposed (mu)"),
    "stock_end_mu": ("期末闲置存量（亩）", "Idle stock at end (mu)"),
    "disposal_rate": ("闲置土地处置率", "Idle-land disposal rate"),
    "net_reduction_rate": ("闲置土地净减少率", "Net reduction rate"),
    "unsupplied_stock_mu": ("期初批而未供存量（亩）", "Approved-unsupplied stock (mu)"),
    "unsupplied_supplied_mu": ("期内供应批而未供（亩）", "Approved-unsupplied supplied (mu)"),
    "unsupplied_rate": ("批而未供处置率", "Approved-unsupplied disposal rate"),
    "revitalised_mu": ("盘活存量土地（亩）", "Revitalised (mu)"),
    "entry_id": ("记录编号", "Entry"),
    "event": ("事项", "Event"),
    "method": ("处置方式", "Method"),
    "event_date": ("日期", "Date"),
    "amount_wan": ("金额（万元）", "Amount (10k yuan)"),
    "note": ("备注", "Note"),
    "corrects": ("更正编号", "Corrects"),
    "batch": ("导入批次", "Batch"),
    "recorded_at": ("录入时间", "Recorded at"),
    "row_hash": ("行哈希（校验链）", "Row hash (chain)"),
    "land_mu": ("用地面积（亩）", "Land (mu)"),
    "land_rule": ("用地核算方式", "Land allocation rule"),
    "tax_wan": ("实缴税收（万元）", "Tax paid (10k yuan)"),
    "revenue_wan": ("营业收入（万元）", "Revenue (10k yuan)"),
    "value_added_wan": ("增加值（万元）", "Value added (10k yuan)"),
    "tax_per_mu_wan": ("亩均税收（万元/亩）", "Tax per mu (10k yuan/mu)"),
    "revenue_per_mu_wan": ("亩均营业收入（万元/亩）", "Revenue per mu"),
    "va_per_mu_wan": ("亩均增加值（万元/亩）", "Value added per mu"),
    "va_per_tce_wan": ("单位能耗增加值（万元/吨标煤）", "VA per tce"),
    "va_per_emission_wan": ("单位排放增加值（万元/吨）", "VA per t emission"),
    "labour_productivity_wan": ("全员劳动生产率（万元/人）", "VA per employee"),
    "rd_share": ("研发经费占营业收入比重", "R&D share"),
    "tax_per_tce_wan": ("单位能耗税收（万元/吨标煤）", "Tax per tce"),
    "tax_per_kwh_yuan": ("单位电耗税收（元/千瓦时）", "Tax per kWh (yuan)"),
    "tax_per_ha_wan": ("地均税收（万元/公顷）", "Tax per ha (10k yuan)"),
    "revenue_per_ha_wan": ("地均营业收入（万元/公顷）", "Revenue per ha"),
    "va_per_ha_wan": ("地均增加值（万元/公顷）", "Value added per ha"),
    "rank_group": ("排名范围", "Ranked within"),
    "years_in_production": ("投产年数", "Years in production"),
    "production_start": ("投产日期", "Production start"),
    "industry": ("行业", "Industry"),
    "high_tech": ("高新技术企业", "High-tech firm"),
    "safety_accident": ("安全生产事故", "Safety accident"),
    "under_construction": ("在建", "Under construction"),
    "exempt_reason": ("不定等级原因", "Exemption reason"),
    "score_bonus": ("加分", "Bonus points"),
    "score_penalty": ("减分", "Penalty points"),
    "indicator": ("指标代码", "Indicator"),
    "indicator_zh": ("评价指标", "Indicator name"),
    "weight": ("权重", "Weight"),
    "benchmark": ("基准值（指标单位）", "Benchmark (indicator unit)"),
    "basis": ("基准值来源", "Benchmark basis"),
    "firms": ("企业数", "Firms"),
    "score": ("综合得分", "Score"),
    "grade": ("分类", "Class"),
    "policy": ("政策导向", "Policy"),
    "reason": ("评价说明", "Reason"),
    "level": ("层级", "Level"),
    "yoy": ("地均税收同比", "YoY change"),
    "main_enterprise": ("主要企业", "Main enterprise"),
    "enterprises_on_parcel": ("地块企业数", "Enterprises on parcel"),
    "size_group": ("企业规模", "Size group"),
    "conflict_parcels": ("冲突地块数", "Parcels in conflict"),
    "udb_outside_parcels": ("超出开发边界地块数", "Parcels outside UDB"),
    "farmland_parcels": ("占用永久基本农田地块数", "Parcels on farmland"),
    "eco_redline_parcels": ("占用生态保护红线地块数", "Parcels on eco red line"),
    "idle_parcels": ("闲置土地宗数", "Idle parcels"),
    "recover_parcels": ("应无偿收回宗数", "To recover (parcels)"),
    "recover_mu": ("应无偿收回面积（亩）", "To recover (mu)"),
    "gov_caused_parcels": ("政府原因宗数", "Government-caused (parcels)"),
    "suspect_parcels": ("疑似闲置宗数", "Suspected idle (parcels)"),
    "score_rank": ("排名", "Rank"),
    "dlbm": ("地类编码", "Land class code"),
    "dlmc": ("地类名称", "Land class"),
    "level1_code": ("一级类编码", "Level-1 code"),
    "level1_name": ("一级类", "Level-1 class"),
    "category": ("三大类", "Land category"),
    "level1": ("一级类", "Level-1 class"),
    "level2": ("二级类", "Level-2 class"),
    "area_basis": ("面积口径", "Area basis"),
    "area_plane_m2": ("平面面积（平方米）", "Plane area (m²)"),
    "area_ellipsoid_m2": ("椭球面积（平方米）", "Ellipsoidal area (m²)"),
    "ellipsoid_minus_plane_m2": ("椭球面积减平面面积（平方米）", "Ellipsoidal − plane (m²)"),
    "point_count": ("界址点数", "Boundary points"),
    "stated_area": ("文件所写地块面积", "Stated area"),
    "stated_area_unit": ("所写面积单位（推定）", "Stated area unit (assumed)"),
    "stated_area_m2": ("所写面积（平方米）", "Stated area (m²)"),
    "stated_area_diff_m2": ("所写减计算面积（平方米）", "Stated − measured (m²)"),
    "stated_area_ok": ("面积核对", "Stated area check"),
    "zone": ("规划分区", "Planning zone"),
    "patch_no": ("图斑编号", "Patch no."),
    "deduction_ratio": ("扣除系数", "Deduction ratio (KCXS)"),
    "deduction_code": ("扣除地类编码", "Deduction class"),
    "class_area_m2": ("地类面积（平方米）", "Class area (m²)"),
    "deduction_area_m2": ("扣除田坎面积（平方米）", "Deducted 田坎 (m²)"),
    "layer": ("图层", "Layer"),
    "feature_id": ("要素编号", "Feature"),
    "action": ("处理", "Action"),
    "detail": ("说明", "Detail"),
    # 工业项目建设用地控制指标 and 标准地 (landuse.analysis.indicators)
    "industry_code": ("行业代码", "Industry code"),
    "region_class": ("地区分类", "Region class"),
    "construction_status": ("建设状态", "Construction status"),
    "result": ("核验结论", "Result"),
    "findings": ("核验说明", "Findings"),
    "floor_area_m2": ("计容建筑面积（平方米）", "Counted floor area (m²)"),
    "tall_floor_m2": ("层高超限加倍计入面积（平方米）", "Floor area added for tall storeys (m²)"),
    "building_base_m2": ("建筑物基底面积（平方米）", "Building footprint (m²)"),
    "structure_base_m2": ("构筑物基底面积（平方米）", "Structure footprint (m²)"),
    "yard_base_m2": ("露天堆场面积（平方米）", "Open yard (m²)"),
    "coverage_base_m2": ("建筑系数计入面积（平方米）", "Footprint counted in coverage (m²)"),
    "plot_ratio": ("容积率", "Plot ratio"),
    "plot_ratio_min": ("容积率下限", "Plot ratio minimum"),
    "plot_ratio_source": ("容积率指标依据", "Plot ratio source"),
    "plot_ratio_ok": ("容积率达标", "Plot ratio met"),
    "building_coverage": ("建筑系数", "Building coverage"),
    "building_coverage_min": ("建筑系数下限", "Coverage minimum"),
    "building_coverage_source": ("建筑系数指标依据", "Coverage source"),
    "building_coverage_ok": ("建筑系数达标", "Coverage met"),
    "investment_wan": ("固定资产投资（万元）", "Fixed-asset investment (10k yuan)"),
    "land_price_rule": ("投资强度地价口径", "Land price in investment"),
    "investment_basis_wan": ("计入投资强度的投资（万元）", "Investment counted (10k yuan)"),
    "investment_intensity_wan_per_ha": (
        "投资强度（万元/公顷）",
        "Investment intensity (10k yuan/ha)",
    ),
    "investment_intensity_wan_per_mu": (
        "投资强度（万元/亩）",
        "Investment intensity (10k yuan/mu)",
    ),
    "investment_intensity_min_wan_per_ha": (
        "投资强度下限（万元/公顷）",
        "Investment intensity minimum (10k yuan/ha)",
    ),
    "investment_intensity_source": ("投资强度指标依据", "Investment intensity source"),
    "investment_intensity_ok": ("投资强度达标", "Investment intensity met"),
    "office_land_m2": ("行政办公及生活服务设施用地面积（平方米）", "Office and living land (m²)"),
    "office_share": ("行政办公及生活服务设施用地所占比重", "Office and living share"),
    "office_share_max": ("行政办公及生活服务设施用地比重上限", "Office share maximum"),
    "office_share_source": ("行政办公比重指标依据", "Office share source"),
    "office_share_ok": ("行政办公比重达标", "Office share met"),
    "green_m2": ("绿地面积（平方米）", "Green area (m²)"),
    "green_ratio": ("绿地率", "Green ratio"),
    "green_ratio_max": ("绿地率上限", "Green ratio maximum"),
    "green_ratio_source": ("绿地率指标依据", "Green ratio source"),
    "green_ratio_ok": ("绿地率达标", "Green ratio met"),
    "production_date": ("约定达产日期", "Agreed full-production date"),
    "targets_due": ("已过约定达产日期", "Past the full-production date"),
    "target_investment_wan_per_mu": ("约定投资强度（万元/亩）", "Agreed investment (10k yuan/mu)"),
    "target_investment_wan_per_mu_ok": ("投资强度达到约定", "Agreed investment met"),
    "target_plot_ratio": ("约定容积率", "Agreed plot ratio"),
    "target_plot_ratio_ok": ("容积率达到约定", "Agreed plot ratio met"),
    "target_tax_per_mu_wan": ("约定亩均税收（万元/亩）", "Agreed tax per mu"),
    "target_tax_per_mu_wan_ok": ("亩均税收达到约定", "Agreed tax per mu met"),
    "target_va_per_tce_wan": ("约定单位能耗增加值（万元/吨标煤）", "Agreed VA per tce"),
    "target_va_per_tce_wan_ok": ("单位能耗增加值达到约定", "Agreed VA per tce met"),
    "target_revenue_per_mu_wan": ("约定亩均营业收入（万元/亩）", "Agreed revenue per mu"),
    "target_revenue_per_mu_wan_ok": ("亩均营业收入达到约定", "Agreed revenue per mu met"),
    "target_va_per_emission_wan": ("约定单位排放增加值（万元/吨）", "Agreed VA per t emission"),
    "target_va_per_emission_wan_ok": ("单位排放增加值达到约定", "Agreed VA per emission met"),
    "target_rd_share": ("约定研发经费占比", "Agreed R&D share"),
    "target_rd_share_ok": ("研发经费占比达到约定", "Agreed R&D share met"),
    "calculation": ("计算说明", "Calculation"),
    "pass_parcels": ("符合地块数", "Parcels meeting all"),
    "fail_parcels": ("不符合地块数", "Parcels failing"),
    "unjudged_parcels": ("未核验地块数", "Parcels not judged"),
    "fail_mu": ("不符合面积（亩）", "Failing area (mu)"),
    "plot_ratio_fail": ("容积率不达标", "Plot ratio failed"),
    "building_coverage_fail": ("建筑系数不达标", "Coverage failed"),
    "investment_intensity_fail": ("投资强度不达标", "Investment intensity failed"),
    "office_share_fail": ("行政办公比重超标", "Office share exceeded"),
    "green_ratio_fail": ("绿地率超标", "Green ratio exceeded"),
    "target_investment_wan_per_mu_fail": ("投资强度未达约定", "Agreed investment missed"),
    "target_plot_ratio_fail": ("容积率未达约定", "Agreed plot ratio missed"),
    "target_tax_per_mu_wan_fail": ("亩均税收未达约定", "Agreed tax per mu missed"),
    "target_va_per_tce_wan_fail": ("单位能耗增加值未达约定", "Agreed VA per tce missed"),
    "target_revenue_per_mu_wan_fail": ("亩均营业收入未达约定", "Agreed revenue per mu missed"),
    "target_va_per_emission_wan_fail": ("单位排放增加值未达约定", "Agreed VA per emission missed"),
    "target_rd_share_fail": ("研发经费占比未达约定", "Agreed R&D share missed"),
}


def label(column: str, lang: Lang = "zh") -> str:
    """Label of one column (the column name itself when none is defined).

    A year suffix is kept: ``tax_per_mu_wan_2024`` → ``2024年亩均税收（万元/亩）``.
    """
    base, _, year = column.rpartition("_")
    if year.isdigit() and len(year) == 4 and base in LABELS:
        text = LABELS[base][0 if lang == "zh" else 1]
        return f"{year}年{text}" if lang == "zh" else f"{text} {year}"
    pair = LABELS.get(column)
    return column if pair is None else pair[0 if lang == "zh" else 1]


#: Code values shown to people, per column: value → (Chinese, English).
VALUE_LABELS: dict[str, dict[object, tuple[str, str]]] = {
    "kind": {"conflict": ("冲突", "conflict"), "noise": ("边界误差", "boundary noise")},
    "action": {"repaired": ("已修复", "repaired"), "dropped": ("已剔除", "dropped")},
    "gov_caused": {True: ("是", "yes"), False: ("否", "no")},
    "recover_without_compensation": {True: ("是", "yes"), False: ("否", "no")},
    "suspect_idle": {True: ("是", "yes"), False: ("否", "no")},
    "start_unverified": {True: ("是", "yes"), False: ("否", "no")},
    "overdue": {True: ("是", "yes"), False: ("否", "no")},
    "area_basis": {"plane": ("平面面积", "plane"), "ellipsoid": ("椭球面积", "ellipsoid")},
    "stated_area_ok": {True: ("相符", "agrees"), False: ("不符", "differs")},
    # Pass/fail of each indicator check; an empty cell is "not judged".
    **{
        f"{check}_ok": {True: ("是", "yes"), False: ("否", "no")}
        for check in (
            "plot_ratio",
            "building_coverage",
            "investment_intensity",
            "office_share",
            "green_ratio",
            "target_investment_wan_per_mu",
            "target_plot_ratio",
            "target_tax_per_mu_wan",
            "target_va_per_tce_wan",
            "target_revenue_per_mu_wan",
            "target_va_per_emission_wan",
            "target_rd_share",
        )
    },
    "targets_due": {True: ("是", "yes"), False: ("否", "no")},
}

# Decimals by unit suffix: areas to 0.01 m² / 0.0001 亩 keep sums traceable.
_DECIMALS = {
    "_m2": 2,
    "_mu": 4,
    "_ha": 4,
    "_share": 4,
    "_rate": 4,
    "_wan": 4,
    "_yuan": 4,
    "score": 2,
    "yoy": 4,
    "_ratio": 4,
    "_coverage": 4,
    "_min": 4,
    "_max": 4,
}


def labelled(df: pd.DataFrame, lang: Lang = "zh") -> pd.DataFrame:
    """Copy of ``df`` for people: labelled columns, code values translated, rounded.

    Geometry columns are dropped; numbers are rounded by the unit their column
    name carries (``_m2``, ``_mu``, ``_ha``, ``_share``).
    """
    out = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"]))
    pick = 0 if lang == "zh" else 1
    for col, values in VALUE_LABELS.items():
        if col in out.columns:
            out[col] = out[col].map(lambda v, m=values: m[v][pick] if v in m else v)
    for col in out.columns:
        base = re.sub(r"_\d{4}$", "", str(col))  # tax_wan_2024 rounds like tax_wan
        suffix = next((s for s in _DECIMALS if base.endswith(s)), None)
        if suffix and pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(_DECIMALS[suffix])
    return out.rename(columns={c: label(c, lang) for c in out.columns})


#: Label of the total row of a summary table; it is always the last row.
TOTAL = "合计"


def sum_by(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Sum every other column per value of ``key`` (sorted), with the 合计 row last.

    Rows without a ``key`` value are summed under 未注明 instead of being dropped,
    so the groups always add up to the total.

    Examples
    --------
    >>> sum_by(pd.DataFrame({"park": ["B", "A", "B"], "n": [1, 2, 3]}), "park")
      park  n
    0    A  2
    1    B  4
    2   合计  6
    """
    keyed = frame.assign(**{key: frame[key].fillna("未注明").astype(str)})
    groups = keyed.groupby(key, sort=True).sum(numeric_only=True)
    groups.loc[TOTAL] = groups.sum()
    return groups.astype(frame.drop(columns=key).dtypes.to_dict()).reset_index()
