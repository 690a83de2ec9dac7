"""Timeout guard: stop work while there is still time to clean up.

The margin is min(TIMEOUT_MARGIN_MS, initial remaining time // 5), so short
test timeouts still leave most of the budget for work.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import TimeoutGuard


def effective_margin_ms(configured_ms: int, initial_remaining_ms: int) -> int:
    """Pure margin rule."""
    return max(0, min(configured_ms, initial_remaining_ms // 5))


@dataclass(frozen=True)
class Deadline:
    """Wraps the runtime's remaining-time callable; ``None`` (Celery) never expires."""

    remaining_ms: Callable[[], int] | None
    margin_ms: int

    @classmethod
    def start(cls, remaining_ms: Callable[[], int] | None, configured_margin_ms: int) -> Deadline:
        if remaining_ms is None:
            return cls(None, 0)
        return cls(remaining_ms, effective_margin_ms(configured_margin_ms, int(remaining_ms())))

    def left_ms(self) -> int | None:
        """Milliseconds before the runtime kills us, or None without a deadline."""
        return None if self.remaining_ms is None else int(self.remaining_ms())

    def expired(self) -> bool:
        left = self.left_ms()
        return left is not None and left < self.margin_ms

    def check(self, stage: str) -> None:
        """Raise TimeoutGuard (message starts with 'timed out') once inside the margin."""
        left = self.left_ms()
        if left is not None and left < self.margin_ms:
            raise TimeoutGuard(f"timed out during {stage}: {left} ms left, margin {self.margin_ms} ms")
