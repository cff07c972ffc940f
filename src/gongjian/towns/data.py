"""Zhongshan's 23 towns and streets as of 2023 (SPEC.md)."""

from __future__ import annotations

from typing import NamedTuple

from gongjian.towns.choices import TownKind


class TownSeed(NamedTuple):
    code: str
    name: str
    name_en: str
    kind: TownKind
    note: str | None = None


S, T = TownKind.street, TownKind.town

TOWNS: tuple[TownSeed, ...] = (
    TownSeed("442000001", "石岐", "Shiqi", S),
    TownSeed("442000002", "东区", "Dongqu", S),
    TownSeed("442000003", "火炬开发区", "Torch Development Zone", S, "原中山港街道"),
    TownSeed("442000004", "西区", "Xiqu", S),
    TownSeed("442000005", "南区", "Nanqu", S),
    TownSeed("442000006", "五桂山", "Wuguishan", S),
    TownSeed("442000102", "民众", "Minzhong", S, "2021年撤镇设街道"),
    TownSeed("442000113", "南朗", "Nanlang", S, "2021年撤镇设街道"),
    TownSeed("442000100", "小榄", "Xiaolan", T, "2021年与东升镇合并"),
    TownSeed("442000101", "黄圃", "Huangpu", T),
    TownSeed("442000111", "南头", "Nantou", T),
    TownSeed("442000103", "东凤", "Dongfeng", T),
    TownSeed("442000112", "阜沙", "Fusha", T),
    TownSeed("442000105", "古镇", "Guzhen", T),
    TownSeed("442000110", "横栏", "Henglan", T),
    TownSeed("442000109", "三角", "Sanjiao", T),
    TownSeed("442000108", "港口", "Gangkou", T),
    TownSeed("442000116", "大涌", "Dachong", T),
    TownSeed("442000106", "沙溪", "Shaxi", T),
    TownSeed("442000114", "三乡", "Sanxiang", T),
    TownSeed("442000115", "板芙", "Banfu", T),
    TownSeed("442000117", "神湾", "Shenwan", T),
    TownSeed("442000107", "坦洲", "Tanzhou", T),
)
