"""Typed websocket payloads of the session streams."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter, field_validator


class PtyStdin(BaseModel):
    type: Literal["stdin"]
    chars: str

    @field_validator("chars")
    @classmethod
    def _base64(cls, value: str) -> str:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("chars must be base64") from None
        return value

    @property
    def data(self) -> bytes:
        return base64.b64decode(self.chars)


class PtyResize(BaseModel):
    type: Literal["resize"]
    rows: int = Field(ge=1, le=1000)
    cols: int = Field(ge=1, le=1000)


class PtyPing(BaseModel):
    type: Literal["ping"]


class PtyRestart(BaseModel):
    type: Literal["restart"]


PtyClientMessage = Annotated[
    PtyStdin | PtyResize | PtyPing | PtyRestart, Field(discriminator="type")
]
pty_client_message = TypeAdapter[PtyClientMessage](PtyClientMessage)


def pty_out(data: bytes) -> dict[str, str]:
    return {"type": "out", "data": base64.b64encode(data).decode("ascii")}
