"""Kinds of the public portal: photo types, a complaint's status as a citizen sees it,
and the display modes."""

from gongjian.choices import LabeledChoice


class PhotoType(LabeledChoice):
    """The photos a complaint may carry, told apart by their content (file signature)."""

    jpeg = ("image/jpeg", "JPEG 图片")
    png = ("image/png", "PNG 图片")


class ReceiptStatus(LabeledChoice):
    """Where a complaint stands, as its receipt lookup shows it."""

    received = ("received", "已受理")
    closed = ("closed", "已办结")


class DisplayMode(LabeledChoice):
    """The portal's built-in display modes, each switched on by a cookie."""

    elder = ("elder", "长者模式")
    a11y = ("a11y", "无障碍模式")
