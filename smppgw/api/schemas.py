"""Request and response bodies of the HTTP queue API (DESIGN §4.2).

Validation here is about shape (types, lengths, ranges, unknown fields are errors);
whether a message can be sent (address kinds, routes, text that fits) is the gateway's
``SubmitError``, answered 422 with its reason.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, HttpUrl, model_validator

__all__ = ["Accepted", "BatchIn", "MessageIn", "OptOutIn"]

Encoding = Literal["auto", "gsm7", "ucs2", "latin1"]
MAX_TEXT = 255 * 153 * 2  # a generous bound above 255 parts; the gateway says the exact limit
MAX_BATCH = 1000


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(min_length=1, max_length=21, description="Destination, E.164 (+ optional)")
    from_: str = Field(
        alias="from", min_length=1, max_length=21, description="Sender: E.164, short code or alphanumeric"
    )
    text: str | None = Field(default=None, max_length=MAX_TEXT)
    hex: str | None = Field(
        default=None,
        max_length=280,
        pattern="^[0-9a-fA-F]*$",
        description="Binary body (data_coding 4), one part",
    )
    encoding: Encoding = "auto"
    dlr: bool = True
    callback_url: HttpUrl | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=128)
    validity: float | None = Field(default=None, gt=0, le=7 * 86400, description="Seconds")
    priority: int = Field(default=0, ge=0, le=3)
    tags: list[str] = Field(default_factory=list, max_length=16)
    send_at: AwareDatetime | None = Field(
        default=None, description="ISO 8601 with an offset: queue the message then (scheduled until)"
    )

    @model_validator(mode="after")
    def _one_body(self) -> MessageIn:
        if (self.text is None) == (self.hex is None):
            raise ValueError("exactly one of text and hex is needed")
        if self.hex is not None and self.encoding != "auto":
            raise ValueError("encoding applies to text only; hex is sent as 8-bit data")
        return self

    def submit_kwargs(self) -> dict[str, Any]:
        """The keywords of ``Gateway.submit``."""
        return {
            "source": self.from_,
            "destination": self.to,
            "text": self.text if self.text is not None else (self.hex or ""),
            "encoding": self.encoding if self.hex is None else "binary",
            "dlr": self.dlr,
            "validity": self.validity,
            "priority": self.priority,
            "tags": tuple(self.tags),
            "idempotency_key": self.idempotency_key,
            "callback_url": str(self.callback_url) if self.callback_url else None,
        }


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_BATCH)


class Accepted(BaseModel):
    id: str
    status: str
    segments: int


class OptOutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="api", max_length=64)
