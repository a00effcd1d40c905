"""The banner cache: one state-table read per few seconds per environment, last known banner on errors."""

from __future__ import annotations

from mangaassist.chat.banner import BannerBoard
from mangaassist.health import Banner, HealthStoreError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_reads_at_most_once_per_ttl() -> None:
    clock, reads = Clock(), []
    banner = Banner(True, "en", "ja", since=0)

    def read():
        reads.append(clock.now)
        return banner

    board = BannerBoard(read, ttl_s=5, clock=clock)
    assert board.current() is banner
    clock.now += 4.9
    assert board.current() is banner
    assert len(reads) == 1
    clock.now += 0.2
    board.current()
    assert len(reads) == 2


def test_keeps_the_last_banner_while_the_store_fails_and_retries_after_the_ttl() -> None:
    clock = Clock()
    answers: list = [Banner(True, "en", "ja", since=0), HealthStoreError("timeout"), None]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    board = BannerBoard(read, ttl_s=5, clock=clock)
    first = board.current()
    clock.now += 6
    assert board.current() is first, "a failed read keeps what we knew"
    assert board.current() is first
    clock.now += 6
    assert board.current() is None, "the banner was cleared"
    assert board.reads == 3
