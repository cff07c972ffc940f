"""What the public portal keeps besides the complaints: a few complaints' photos (tiny
PNG images) and the portal submissions the rate limit counts. Drawn without the random
source, so the rest of the demo city does not change with them."""

from __future__ import annotations

import hashlib
import struct
import zlib

from gongjian.demo.common import Demo
from gongjian.portal.choices import PhotoType

PHOTO_EVERY = 25
"""One complaint in this many carries a photo."""
SUBMITTED_FROM = ("192.0.2.10", "192.0.2.11", "198.51.100.7")
"""Documentation addresses (RFC 5737) the demo's portal submissions came from."""


def tiny_png(red: int, green: int, blue: int) -> bytes:
    """A 1×1 PNG image of one colour."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(bytes([0, red, green, blue]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def build(demo: Demo) -> None:
    """Photos of every ``PHOTO_EVERY``-th complaint, and the portal submissions of the
    first complaints."""
    complaints = demo.rows["complaints"]
    for n, complaint in enumerate(complaints[::PHOTO_EVERY]):
        photo = tiny_png(40 + n % 200, 40, 30)
        demo.add(
            "complaint_photos",
            complaint_id=complaint["id"],
            content_type=PhotoType.png.value,
            size_bytes=len(photo),
            sha256=hashlib.sha256(photo).hexdigest(),
            data=photo,
            received_at=complaint["received_at"],
        )
    for address, complaint in zip(SUBMITTED_FROM, complaints, strict=False):
        demo.add(
            "complaint_submissions",
            client_address=address,
            submitted_at=complaint["received_at"],
        )
