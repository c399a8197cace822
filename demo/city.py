"""The demo city: its departments, town-streets, places, what people call about, approval items and
monitoring points. Data only; `demo.generate` draws a year from it."""

from __future__ import annotations

from pathlib import Path

import yaml

# code, name; the codes of services/appeals/catalogue.demo.yaml and services/approvals/items.demo.yaml
DEPARTMENTS = {
    "ZJJ": "住房和城乡建设局", "SWJ": "水务局", "HBJ": "生态环境局", "GAJ": "公安局", "SCJGJ": "市场监督管理局",
    "RSJ": "人力资源和社会保障局", "JYJ": "教育局", "WJW": "卫生健康委员会", "ZWFW": "政务服务中心",
    "JW": "纪委监委", "ZFB": "市政府办公室", "CGJ": "城市管理局", "WCJD": "文昌街道", "DCJD": "东城街道",
    "FGJ": "发展和改革局",
}
DISCIPLINE_OFFICE = "JW"

# town-streets and a few places in each (repeats of a place make the hot-issue brief's groups)
TOWN_STREETS = {
    "WCJD": ("文昌街道", ["文昌路", "学府路", "文昌花园", "府前街", "新华里小区"]),
    "DCJD": ("东城街道", ["东城大道", "滨江路", "东湖新村", "建设北路", "东城农贸市场"]),
    "NHJD": ("南湖街道", ["南湖路", "湖滨花园", "南湖公园", "解放南路", "南湖小学"]),
    "BSZ": ("白沙镇", ["白沙村", "镇中心街", "白沙工业园", "沙河桥", "白沙卫生院"]),
    "QLZ": ("青林镇", ["青林村", "林场路", "青林中学", "青林农贸市场", "茶园路"]),
}

# the same problem at the same place, called about again and again in the last weeks (the hot-issue brief's
# groups): (category, town-street, place)
HOTSPOTS = [("environment", "DCJD", "东城农贸市场"), ("water", "NHJD", "湖滨花园"), ("road", "WCJD", "文昌路"),
            ("sanitation", "BSZ", "白沙村"), ("housing", "WCJD", "新华里小区")]

# appeal category -> (the catalogue's department, what people say); keep in step with catalogue.demo.yaml
CATEGORIES = {
    "road": ("ZJJ", ["路灯不亮，晚上出行不安全", "路面坑洼积水", "井盖缺失，存在安全隐患", "人行道破损"]),
    "water": ("SWJ", ["小区停水三天无人通知", "自来水发黄有异味", "水管爆裂漏水", "水压太低用不上水"]),
    "heating": ("ZJJ", ["暖气不热，室温只有十几度", "供暖管道漏水"]),
    "environment": ("HBJ", ["夜间工地施工噪声扰民", "饭店油烟直排", "河道有排污口排放黑水", "工厂异味刺鼻"]),
    "traffic": ("GAJ", ["路口信号灯配时不合理", "小区门口乱停车堵路", "学校门口上下学拥堵"]),
    "market": ("SCJGJ", ["超市销售过期食品", "商家拒不退款", "农贸市场缺斤短两", "预付卡商家跑路"]),
    "labour": ("RSJ", ["工地拖欠农民工工资", "公司不交社保", "劳动合同到期不续签也不补偿"]),
    "housing": ("ZJJ", ["物业不作为，电梯长期故障", "楼顶漏水物业推诿", "维修基金使用不透明"]),
    "education": ("JYJ", ["校外培训机构违规收费", "学位分配不公平", "学校食堂卫生差"]),
    "health": ("WJW", ["医院挂号难", "社区卫生服务中心缺药", "医生态度差"]),
    "approval": ("ZWFW", ["办事窗口排队太久", "同一材料反复要求提交", "网上办事系统打不开"]),
    "sanitation": ("CGJ", ["垃圾清运不及时", "公厕脏乱无人管理", "道路清扫不到位", "占道经营脏乱"]),
    "energy": ("FGJ", ["燃气价格调整未公示", "小区频繁停电", "充电桩建设滞后"]),
    "other": ("ZFB", ["建议增加公交线路", "希望开通政务热线夜间服务", "咨询惠企政策"]),
}
# sanitation in these town-streets is the town-street's own job (town-street rules of the catalogue)
TOWN_STREET_RULES = {("sanitation", "WCJD"): "WCJD", ("sanitation", "DCJD"): "DCJD"}
# where a misassigned case goes after the department returns it
RIGHT_DEPARTMENT = {
    "road": "CGJ", "water": "ZJJ", "heating": "FGJ", "environment": "CGJ", "traffic": "CGJ", "market": "RSJ",
    "labour": "ZFB", "housing": "ZFB", "education": "ZFB", "health": "ZFB", "approval": "ZFB",
    "sanitation": "ZJJ", "energy": "ZJJ", "other": "ZWFW",
}
EFFICIENCY_COMPLAINTS = [
    "办事窗口工作人员推诿扯皮，多次跑腿仍未办成", "审批科室吃拿卡要，暗示需要“打点”",
    "工作时间窗口无人，电话无人接听", "承诺时限已过仍未办结，也不说明原因", "工作人员态度恶劣，拒绝一次性告知",
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "艳", "杰", "涛", "明", "超", "霞", "平", "刚"]

# approval items the demo applies for (codes of services/approvals/items.demo.yaml) with their materials
ITEMS = {
    "SCJ-001": ("SCJGJ", ["M1", "M2", "M3"]),
    "SCJ-002": ("SCJGJ", ["M1", "M2"]),
    "ZJJ-001": ("ZJJ", ["M1", "M2", "M3"]),
    "HBJ-001": ("HBJ", ["M1", "M2"]),
    "FGJ-001": ("FGJ", ["M1"]),
    "SWJ-001": ("SWJ", ["M1", "M2"]),
    "GAJ-001": ("GAJ", ["M1", "M2", "M3"]),
    "RSJ-001": ("RSJ", ["M1", "M2"]),
    "JYJ-001": ("JYJ", ["M1", "M2", "M3"]),
    "WJW-001": ("WJW", ["M1", "M2"]),
    "ZWFW-001": ("ZWFW", ["M1"]),
    "CGJ-001": ("CGJ", ["M1", "M2"]),
    "WCJD-001": ("WCJD", ["M1", "M2"]),
    "DCJD-001": ("DCJD", ["M1", "M2"]),
}
# how often each item is applied for (food licences and sole traders are the bulk of a city's counter)
ITEM_WEIGHTS = {"SCJ-001": 14, "SCJ-002": 16, "ZJJ-001": 6, "HBJ-001": 5, "FGJ-001": 3, "SWJ-001": 4, "GAJ-001": 4,
                "RSJ-001": 4, "JYJ-001": 3, "WJW-001": 5, "ZWFW-001": 8, "CGJ-001": 6, "WCJD-001": 3,
                "DCJD-001": 3}
ENTERPRISE_WORDS = ["华新", "恒通", "瑞丰", "金源", "宏达", "鑫盛", "绿洲", "远航", "东方", "博雅", "嘉禾", "天成",
                    "锦程", "润泽", "卓越", "和美", "兴业", "正泰", "万象", "青禾"]
ENTERPRISE_KINDS = ["科技有限公司", "食品有限公司", "建设工程有限公司", "餐饮管理有限公司", "贸易有限公司",
                    "医疗器械有限公司", "教育咨询有限公司", "物流有限公司"]
VILLAGES = ["白沙村", "沙河村", "青林村", "茶园村", "湖东村", "新桥村", "石门村", "柳塘村", "枫林村", "南岗村"]
SPECIAL_PROCEDURES = ["expert_review", "testing", "inspection", "hearing", "appraisal"]

# undercover visits: what the visitors found
VISIT_FINDINGS = [
    "窗口工作人员上班时间玩手机", "办事指南未及时更新", "咨询电话无人接听", "一次性告知单缺失",
    "窗口人员离岗未挂去向牌", "办事群众排队超过40分钟无人疏导", "要求提供法规未规定的证明材料",
    "公示的承诺时限与实际不符", "自助终端故障未及时报修",
]
EVALUATION_CRITERIA = ("efficiency", "attitude", "transparency", "integrity")


# the windows (窗口) of the demo city: services/approvals/windows.demo.yaml, the register `make run` seeds; the demo
# registers them too (PUT, idempotent) so that it also runs against a deployment that did not seed them
WINDOWS_FILE = Path(__file__).resolve().parent.parent / "services" / "approvals" / "windows.demo.yaml"


def windows() -> list[dict]:
    with open(WINDOWS_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


# 好差评 at the window: how the applicants rate (a diligent department's counter is rated better)
REVIEW_LEVELS = ("very_satisfied", "satisfied", "basically_satisfied", "unsatisfied", "very_unsatisfied")
REVIEW_ASPECTS = ("attitude", "efficiency", "materials", "guidance")
