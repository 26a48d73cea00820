"""Who is calling: recorded with sessions and audit events."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Client:
    user_agent: str = ""
    ip: str = ""
