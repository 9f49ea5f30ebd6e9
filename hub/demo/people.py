"""Names, phone numbers, ID numbers and parents' work places for demo people.

Surnames are drawn with weights close to their real frequency; a few extra are more common in
Guizhou (Miao and Yi families). Characters with an ambiguous reading as a surname (曾, 单, 解 …)
are left out so that the stored pinyin is the one a person would type.
"""

from __future__ import annotations

import random
from datetime import date

from pypinyin import lazy_pinyin

from hub.domain.id_numbers import check_character
from hub.vocabulary import Sex

_SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 72),
    ("李", 71),
    ("张", 68),
    ("刘", 54),
    ("陈", 45),
    ("杨", 31),
    ("黄", 24),
    ("赵", 20),
    ("吴", 20),
    ("周", 19),
    ("徐", 15),
    ("孙", 15),
    ("马", 12),
    ("朱", 12),
    ("胡", 11),
    ("郭", 10),
    ("何", 10),
    ("林", 9),
    ("罗", 9),
    ("高", 9),
    ("郑", 8),
    ("梁", 8),
    ("谢", 8),
    ("宋", 7),
    ("唐", 7),
    ("许", 6),
    ("韩", 6),
    ("邓", 6),
    ("冯", 6),
    ("彭", 5),
    ("钟", 5),
    ("袁", 5),
    ("肖", 5),
    ("曹", 5),
    ("赖", 4),
    ("廖", 4),
    ("温", 3),
    ("邱", 3),
)
_GUIZHOU_SURNAMES: tuple[tuple[str, int], ...] = (
    ("龙", 12),
    ("熊", 6),
    ("安", 6),
    ("禄", 4),
    ("陇", 3),
    ("田", 5),
)

_BOY_CHARS = "子浩宇轩俊杰航家豪志强明博宏伟国建华鑫磊鹏飞阳睿泽晨辰文德海金龙成涛勇"
_GIRL_CHARS = "涵欣怡雨桐思佳琪诗婷晓燕雅琳嘉丽娟春秀英桂兰玉梅红芳敏静丹淑娜若萱可馨瑶"
_SHARED_CHARS = "一文子思雨晨嘉欣宇安"

_ELDER_MALE_GIVEN = ("德明", "国强", "建华", "长生", "永福", "金贵", "光荣", "福生", "有才", "开明")
_ELDER_FEMALE_GIVEN = ("秀英", "桂兰", "玉梅", "凤英", "金花", "春兰", "秀珍", "冬梅", "兰英")
_ADULT_MALE_GIVEN = ("志强", "建军", "海涛", "文斌", "小龙", "国平", "勇", "军", "斌", "华")
_ADULT_FEMALE_GIVEN = ("丽娟", "春燕", "小红", "海燕", "晓梅", "敏", "芳", "静", "丹", "艳")

# Where parents from these two provinces go to work: the Pearl and Yangtze river deltas first.
JIANGXI_WORK_CITIES: tuple[tuple[str, int], ...] = (
    ("广东省东莞市", 24),
    ("广东省深圳市", 22),
    ("广东省广州市", 14),
    ("广东省佛山市", 8),
    ("福建省厦门市", 9),
    ("福建省泉州市", 5),
    ("浙江省温州市", 6),
    ("浙江省宁波市", 5),
    ("上海市", 7),
    ("江西省南昌市", 6),
)
GUIZHOU_WORK_CITIES: tuple[tuple[str, int], ...] = (
    ("广东省东莞市", 18),
    ("广东省深圳市", 14),
    ("广东省广州市", 10),
    ("浙江省杭州市", 10),
    ("浙江省宁波市", 12),
    ("浙江省温州市", 9),
    ("福建省厦门市", 5),
    ("上海市", 5),
    ("云南省昆明市", 6),
    ("贵州省贵阳市", 9),
)


def weighted(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([item for item, _ in table], weights=[w for _, w in table])[0]


def surname(rng: random.Random, *, guizhou: bool) -> str:
    return weighted(rng, _SURNAMES + _GUIZHOU_SURNAMES if guizhou else _SURNAMES)


def child_given_name(rng: random.Random, sex: Sex) -> str:
    chars = _BOY_CHARS if sex is Sex.MALE else _GIRL_CHARS
    pool = chars + _SHARED_CHARS
    if rng.random() < 0.2:
        return rng.choice(chars)
    first, second = rng.choice(pool), rng.choice(chars)
    return first + second if first != second else first + rng.choice(_SHARED_CHARS)


def elder_given_name(rng: random.Random, *, male: bool) -> str:
    return rng.choice(_ELDER_MALE_GIVEN if male else _ELDER_FEMALE_GIVEN)


def adult_given_name(rng: random.Random, *, male: bool) -> str:
    return rng.choice(_ADULT_MALE_GIVEN if male else _ADULT_FEMALE_GIVEN)


def adult_name(rng: random.Random, *, guizhou: bool = False) -> str:
    return surname(rng, guizhou=guizhou) + adult_given_name(rng, male=rng.random() < 0.5)


def name_pinyin(name: str) -> str:
    """Toneless pinyin, syllables separated by spaces: what duplicate detection compares."""
    return " ".join(lazy_pinyin(name)).lower()


def mobile_number(rng: random.Random) -> str:
    prefix = rng.choice(("130", "133", "135", "136", "137", "138", "139", "150", "151", "152"))
    return prefix + f"{rng.randrange(10**8):08d}"


def id_number(county_code: str, birth_date: date, sequence: int) -> str:
    """A resident ID number that passes the GB 11643 check; the sequence's parity is the sex."""
    first17 = f"{county_code}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)


def id_sequence(rng: random.Random, sex: Sex) -> int:
    """Three digits whose last one is odd for a boy and even for a girl, as the standard says."""
    base = rng.randrange(0, 100) * 10
    digit = rng.choice((1, 3, 5, 7, 9) if sex is Sex.MALE else (0, 2, 4, 6, 8))
    return base + digit if base + digit > 0 else 2
