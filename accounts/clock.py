"""The application's clock, in ms: every token-state time comes from here (never Redis TIME), so
that instances agree as far as their clocks do and tests can move it."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
