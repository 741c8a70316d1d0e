"""Host-name patterns nobody may register."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from .meta import Base, UTCDateTime, utcnow


class BlacklistedHost(Base):
    __tablename__ = "blacklisted_hosts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A regular expression searched (not anchored) in new host names.
    name_re: Mapped[str] = mapped_column(String(255), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_update: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
