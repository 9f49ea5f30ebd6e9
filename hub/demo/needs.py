"""What a demo child needs: category, wording, and for divisible needs a quantity and unit.

The wording is what a village child director would write in the register. Templates carry an
age range so that a toddler is not offered maths tutoring nor a teenager infant formula.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from hub.vocabulary import NeedCategory, NeedUnit, Urgency

C = NeedCategory


@dataclass(frozen=True)
class Template:
    category: NeedCategory
    text: str  # {n}: the quantity as a Chinese numeral; {q}: as digits; {city}: parents' city
    unit: NeedUnit | None = None
    low: int = 0
    high: int = 0
    step: int = 1
    min_age: int = 0
    max_age: int = 17


Y, N, H = NeedUnit.YUAN, NeedUnit.ITEMS, NeedUnit.HOURS

TEMPLATES: tuple[Template, ...] = (
    Template(C.EDUCATION, "高中学费资助{q}元", Y, 1000, 3500, 100, 15),
    Template(C.EDUCATION, "每周两次数学辅导，共{q}小时", H, 16, 48, 4, 8, 15),
    Template(C.EDUCATION, "英语学习辅导，共{q}小时", H, 10, 40, 2, 10),
    Template(C.EDUCATION, "课外读物{n}本", N, 5, 20, 5, 5),
    Template(C.EDUCATION, "学习用品一套（书包、文具、字典）", min_age=6, max_age=14),
    Template(C.EDUCATION, "阅读能力落后，需一对一识字帮扶", min_age=6, max_age=10),
    Template(C.EDUCATION, "尚未入园，需协助入读乡镇幼儿园", min_age=3, max_age=5),
    Template(C.EDUCATION, "升学志愿填报指导", min_age=14),
    Template(C.MATERIAL, "冬季棉衣{n}件", N, 1, 3),
    Template(C.MATERIAL, "棉被{n}床", N, 1, 2),
    Template(C.MATERIAL, "保暖内衣{n}套", N, 2, 4),
    Template(C.MATERIAL, "运动鞋{n}双", N, 1, 2, 1, 3),
    Template(C.MATERIAL, "校服{n}套", N, 1, 2, 1, 6),
    Template(C.MATERIAL, "婴幼儿奶粉{n}罐", N, 2, 8, 1, 0, 2),
    Template(C.MATERIAL, "书桌和台灯各一", min_age=6),
    Template(C.MATERIAL, "雨衣雨靴一套", min_age=5),
    Template(C.FINANCIAL, "学期生活费补助{q}元", Y, 500, 2000, 100, 6),
    Template(C.FINANCIAL, "寄宿生活补助{q}元", Y, 600, 1500, 100, 10),
    Template(C.FINANCIAL, "冬季取暖费补助{q}元", Y, 200, 600, 50),
    Template(C.FINANCIAL, "营养餐费用补助{q}元", Y, 300, 900, 50, 3),
    Template(C.FINANCIAL, "祖父母患病，家庭临时困难救助{q}元", Y, 1000, 5000, 500),
    Template(C.MEDICAL, "视力下降，需验光配镜", min_age=6),
    Template(C.MEDICAL, "龋齿治疗", min_age=4, max_age=14),
    Template(C.MEDICAL, "哮喘随访与用药"),
    Template(C.MEDICAL, "营养不良，需定期体检与营养指导"),
    Template(C.MEDICAL, "疫苗补种", max_age=6),
    Template(C.MEDICAL, "听力筛查与复查", max_age=6),
    Template(C.MEDICAL, "先天性心脏病术后复查"),
    Template(C.MEDICAL, "手术费用自付部分{q}元", Y, 2000, 20000, 1000),
    Template(C.PSYCHOLOGICAL, "心理疏导，每两周一次", min_age=6),
    Template(C.PSYCHOLOGICAL, "情绪低落、少言寡语，需心理评估", min_age=6),
    Template(C.PSYCHOLOGICAL, "厌学情绪，需心理老师定期谈话", min_age=8),
    Template(C.PSYCHOLOGICAL, "思念父母、夜间哭闹，需陪伴与安抚", min_age=3, max_age=10),
    Template(C.PSYCHOLOGICAL, "沉迷手机游戏，需行为引导", min_age=9),
    Template(C.PSYCHOLOGICAL, "与同学冲突频繁，需社工介入", min_age=7, max_age=15),
    Template(C.SAFETY, "独自在家时间长，需落实临时照护人"),
    Template(C.SAFETY, "上学途经河塘，需防溺水安全教育和接送", min_age=5, max_age=14),
    Template(C.SAFETY, "住房老旧漏雨，需安全排查与修缮"),
    Template(C.SAFETY, "祖父母年迈多病，需监护能力评估"),
    Template(C.SAFETY, "防性侵安全教育", min_age=6),
    Template(C.SAFETY, "家中用电、用火安全隐患排查"),
    Template(C.FAMILY_CONTACT, "每周一次与父母视频通话"),
    Template(C.FAMILY_CONTACT, "暑假赴{city}与父母团聚的往返路费{q}元", Y, 600, 1800, 100, 4),
    Template(C.FAMILY_CONTACT, "协助父母每月与班主任电话沟通", min_age=6),
    Template(C.FAMILY_CONTACT, "春节前协助联系父母返乡团聚"),
    Template(C.FAMILY_CONTACT, "为祖父母配备智能手机并教会视频通话"),
    Template(C.AFTER_SCHOOL_CARE, "每周两次课后辅导，共{q}小时", H, 16, 48, 4, 6, 14),
    Template(C.AFTER_SCHOOL_CARE, "周末托管看护，共{q}小时", H, 16, 64, 8, 3, 12),
    Template(C.AFTER_SCHOOL_CARE, "寒假托管与作业辅导，共{q}小时", H, 40, 120, 10, 6, 14),
    Template(C.AFTER_SCHOOL_CARE, "放学后到留守儿童之家写作业", min_age=6, max_age=14),
    Template(C.LEGAL, "户口登记遗漏，需协助补办户籍"),
    Template(C.LEGAL, "协助申请事实无人抚养儿童基本生活补贴"),
    Template(C.LEGAL, "父母拒付抚养费，需法律援助"),
    Template(C.LEGAL, "监护人变更，需法律咨询"),
    Template(C.LEGAL, "遭受校园欺凌，需法律援助与维权", min_age=8),
)

_CATEGORY_WEIGHTS = {
    C.EDUCATION: 16,
    C.MATERIAL: 20,
    C.FINANCIAL: 14,
    C.MEDICAL: 9,
    C.PSYCHOLOGICAL: 12,
    C.SAFETY: 9,
    C.FAMILY_CONTACT: 9,
    C.AFTER_SCHOOL_CARE: 12,
    C.LEGAL: 3,
}
_URGENCY = (Urgency.CRITICAL, Urgency.HIGH, Urgency.MEDIUM, Urgency.LOW)
_URGENCY_WEIGHTS = (2, 18, 48, 32)
# Harm to health or safety is more often pressing.
_URGENT_WEIGHTS = (8, 34, 40, 18)
# Mean about three needs per child, a few with none and a few with six.
NEEDS_PER_CHILD_WEIGHTS = (6, 14, 20, 24, 18, 11, 7)

CANCEL_REASONS = (
    "儿童已随父母迁往务工地就学",
    "家庭已自行解决",
    "与另一条需求重复登记",
    "经核实不再需要",
    "儿童已转学至县城，由当地跟进",
)

_DIGITS = "零一二三四五六七八九"


@dataclass(frozen=True)
class DrawnNeed:
    category: NeedCategory
    urgency: Urgency
    description: str
    quantity: Decimal | None
    unit: NeedUnit | None


def draw_needs(rng: random.Random, age: int, work_city: str | None) -> list[DrawnNeed]:
    """Between none and six needs of different categories that fit a child of ``age``."""
    fitting = [t for t in TEMPLATES if t.min_age <= age <= t.max_age]
    categories = sorted({t.category for t in fitting}, key=list(NeedCategory).index)
    wanted = rng.choices(range(len(NEEDS_PER_CHILD_WEIGHTS)), NEEDS_PER_CHILD_WEIGHTS)[0]
    chosen: list[NeedCategory] = []
    while len(chosen) < min(wanted, len(categories)):
        left = [c for c in categories if c not in chosen]
        chosen.append(rng.choices(left, [_CATEGORY_WEIGHTS[c] for c in left])[0])
    return [
        _fill(rng, rng.choice([t for t in fitting if t.category is c]), work_city) for c in chosen
    ]


def _fill(rng: random.Random, template: Template, work_city: str | None) -> DrawnNeed:
    quantity = rng.randrange(template.low, template.high + 1, template.step) if template.unit else 0
    description = template.text.format(
        n=chinese_numeral(quantity), q=quantity, city=_short_city(work_city)
    )
    pressing = template.category in (C.SAFETY, C.MEDICAL)
    urgency = rng.choices(_URGENCY, _URGENT_WEIGHTS if pressing else _URGENCY_WEIGHTS)[0]
    return DrawnNeed(
        template.category,
        urgency,
        description,
        Decimal(quantity) if template.unit else None,
        template.unit,
    )


def chinese_numeral(number: int) -> str:
    """Small counts as written in Chinese: 两件, 十五本, 二十本; larger ones stay in digits."""
    if not 0 <= number < 100:
        return str(number)
    if number == 2:
        return "两"
    if number < 10:
        return _DIGITS[number]
    tens, ones = divmod(number, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def _short_city(location: str | None) -> str:
    if not location:
        return "父母务工地"
    return location.split("省")[-1]
