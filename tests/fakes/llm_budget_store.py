"""An in-memory BudgetStore (mangaassist.chat.client_budget) with the DynamoDB adapter's counting rule."""

from __future__ import annotations

from mangaassist.chat.client_budget import BudgetStoreError


class InMemoryBudgetStore:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, int], int] = {}
        self.expires_at: dict[tuple[str, int], int] = {}
        self.writes = 0  # conditional writes attempted, refused ones included
        self.broken = False  # True: every write fails the way an unreachable table does

    def spend(self, client_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        self.writes += 1
        if self.broken:
            raise BudgetStoreError("RequestTimeout")
        key = (client_hash, window_start)
        if self.counts.get(key, 0) >= limit:
            return False
        self.counts[key] = self.counts.get(key, 0) + 1
        self.expires_at[key] = expires_at
        return True
