"""What the public portal stores besides the complaint itself: its photo and the
submissions the rate limit counts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from gongjian.db import Base, check_in, check_non_negative, utcnow
from gongjian.portal.choices import PhotoType


class ComplaintPhoto(Base):
    """The photo a citizen attached to a complaint: JPEG or PNG (checked by content), at
    most ``complaint_photo_max_kb``. Kept in the database, never served to the public;
    like the complainant's name and phone, it is for the city and the town concerned."""

    __tablename__ = "complaint_photos"
    __table_args__ = (check_in("content_type", PhotoType), *check_non_negative("size_bytes"))

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(
        ForeignKey("complaints.id", ondelete="CASCADE"), unique=True
    )
    content_type: Mapped[PhotoType] = mapped_column(
        String(20), comment="found from the content, not the name or the browser's claim"
    )
    size_bytes: Mapped[int] = mapped_column(comment="bytes")
    sha256: Mapped[str] = mapped_column(String(64), comment="of data, hex")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ComplaintSubmission(Base):
    """A complaint submitted on the portal from a client address, for the rate limit:
    ``complaint_rate_limit`` within ``complaint_rate_window_minutes``. Rows older than the
    window are deleted at the next submission, so addresses are kept no longer than the
    limit needs them."""

    __tablename__ = "complaint_submissions"
    __table_args__ = (
        Index("ix_complaint_submissions_address_at", "client_address", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_address: Mapped[str] = mapped_column(
        String(45), comment="the client's address (the proxy's X-Forwarded-For with trust_proxy)"
    )
    submitted_at: Mapped[dt.datetime]
