"""Request bodies of the HTTP queue API read by FastAPI (DESIGN §4.2). The message
bodies (``POST /v1/messages`` and ``/batch``) are msgspec structs in ``api/accept.py``,
decoded without FastAPI on the hot path."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["OptOutIn"]


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="api", max_length=64)
