"""The demo's region tree: two provinces with real codes down to county, generated below that.

Province, city and county codes and names are the official statistical ones. Township names are
real townships of each county, but their 9-digit codes only follow the scheme's pattern (towns
from 100, rural townships from 200) and are not taken from the official list; villages are
invented, numbered from 201 under their township as village committees are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hub.vocabulary import RegionLevel


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    level: RegionLevel
    parent_code: str | None


@dataclass(frozen=True)
class County:
    code: str
    name: str
    # Short ascii name for demo logins such as "officer.xingguo".
    slug: str
    # Real townships, the county seat first; codes follow from this order.
    townships: tuple[str, ...]

    @property
    def province_code(self) -> str:
        return self.code[:2]

    @property
    def city_code(self) -> str:
        return self.code[:4]


PROVINCES = {"36": "江西省", "52": "贵州省"}
CITIES = {"3607": "赣州市", "5205": "毕节市"}
CITY_SLUGS = {"3607": "ganzhou", "5205": "bijie"}

COUNTIES: tuple[County, ...] = (
    County(
        "360704",
        "赣县区",
        "ganxian",
        (
            "梅林镇",
            "王母渡镇",
            "沙地镇",
            "江口镇",
            "田村镇",
            "南塘镇",
            "韩坊镇",
            "阳埠乡",
            "大田乡",
        ),
    ),
    County(
        "360732",
        "兴国县",
        "xingguo",
        (
            "潋江镇",
            "江背镇",
            "古龙岗镇",
            "梅窖镇",
            "高兴镇",
            "良村镇",
            "樟木乡",
            "东村乡",
            "杰村乡",
        ),
    ),
    County(
        "360733",
        "会昌县",
        "huichang",
        ("文武坝镇", "筠门岭镇", "西江镇", "周田镇", "麻州镇", "庄口镇", "清溪乡", "右水乡"),
    ),
    County(
        "360735",
        "石城县",
        "shicheng",
        ("琴江镇", "小松镇", "屏山镇", "横江镇", "高田镇", "木兰乡", "丰山乡", "大由乡"),
    ),
    County(
        "520521",
        "大方县",
        "dafang",
        ("羊场镇", "猫场镇", "马场镇", "黄泥塘镇", "六龙镇", "达溪镇", "瓢井镇", "雨冲乡"),
    ),
    County(
        "520523",
        "金沙县",
        "jinsha",
        ("沙土镇", "禹谟镇", "安底镇", "清池镇", "平坝镇", "高坪镇", "马路彝族苗族乡"),
    ),
    County(
        "520526",
        "威宁彝族回族苗族自治县",
        "weining",
        ("草海镇", "金钟镇", "炉山镇", "龙场镇", "哲觉镇", "观风海镇", "牛棚镇", "迤那镇"),
    ),
    County(
        "520527",
        "赫章县",
        "hezhang",
        ("白果镇", "妈姑镇", "财神镇", "六曲河镇", "野马川镇", "水塘堡彝族苗族乡", "珠市彝族乡"),
    ),
)

_VILLAGE_FIRST = "石高上下新龙黄桥塘坑水松竹梅杨枫东西南北大小长白青金合和联光红田"
_VILLAGE_SECOND = "坪坝田岗口头背湾源溪岭山林丰兴营坡冲寨堡洞"


@dataclass(frozen=True)
class RegionTree:
    regions: tuple[Region, ...]
    counties: tuple[County, ...]
    townships: tuple[Region, ...]
    villages: tuple[Region, ...]
    names: dict[str, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", {region.code: region.name for region in self.regions})

    def county_of(self, code: str) -> County:
        return next(county for county in self.counties if code.startswith(county.code))

    def full_name(self, code: str) -> str:
        """Province down to ``code``'s own region, as an address begins."""
        return "".join(
            self.names[code[:length]] for length in (2, 4, 6, 9, 12) if length <= len(code)
        )


def build_regions(rng: random.Random) -> RegionTree:
    regions = [Region(code, name, RegionLevel.PROVINCE, None) for code, name in PROVINCES.items()]
    regions += [Region(code, name, RegionLevel.CITY, code[:2]) for code, name in CITIES.items()]
    townships: list[Region] = []
    villages: list[Region] = []
    for county in COUNTIES:
        regions.append(Region(county.code, county.name, RegionLevel.COUNTY, county.city_code))
        coded = _township_codes(county)
        # The seat always, so that every county has the town its school and office sit in.
        chosen = [coded[0], *rng.sample(coded[1:], rng.randint(2, 4))]
        for code, name in sorted(chosen):
            township = Region(code, name, RegionLevel.TOWNSHIP, county.code)
            townships.append(township)
            villages += _villages(rng, township)
    regions += townships + villages
    return RegionTree(tuple(regions), COUNTIES, tuple(townships), tuple(villages))


def _township_codes(county: County) -> list[tuple[str, str]]:
    towns = [name for name in county.townships if name.endswith("镇")]
    rural = [name for name in county.townships if not name.endswith("镇")]
    return [(f"{county.code}{100 + i}", name) for i, name in enumerate(towns)] + [
        (f"{county.code}{200 + i}", name) for i, name in enumerate(rural)
    ]


def _villages(rng: random.Random, township: Region) -> list[Region]:
    count = rng.randint(4, 8)
    names: list[str] = []
    while len(names) < count:
        name = rng.choice(_VILLAGE_FIRST) + rng.choice(_VILLAGE_SECOND) + "村"
        if name not in names:
            names.append(name)
    return [
        Region(f"{township.code}{201 + i}", name, RegionLevel.VILLAGE, township.code)
        for i, name in enumerate(names)
    ]
