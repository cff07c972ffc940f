"""The base of every state and kind: an identifier with its Chinese label and colour."""

from __future__ import annotations

from enum import StrEnum
from typing import Self

NEUTRAL = "#424242"


class LabeledChoice(StrEnum):
    """A ``StrEnum`` whose members carry ``label`` (zh-CN) and ``color``.

    Members are declared as ``name = ("identifier", "中文标签", "#colour")``; the
    identifier is what the database, files and the API hold.
    """

    label: str
    color: str

    def __new__(cls, value: str, label: str = "", color: str = NEUTRAL) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label or value
        member.color = color
        return member

    @classmethod
    def values(cls) -> list[str]:
        """Every identifier, in declaration order."""
        return [member.value for member in cls]

    @classmethod
    def parse(cls, text: str) -> Self:
        """The member whose identifier or Chinese label is ``text``."""
        for member in cls:
            if text in (member.value, member.label):
                return member
        raise ValueError(f"{text!r} 不是有效取值，可选：{'、'.join(cls.values())}")
