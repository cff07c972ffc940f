"""Kinds of town-level units."""

from gongjian.choices import LabeledChoice


class TownKind(LabeledChoice):
    """A street (街道) or a town (镇)."""

    street = ("street", "街道")
    town = ("town", "镇")
