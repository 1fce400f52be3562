"""The token-bucket limiter, on a hand-stepped clock."""

from __future__ import annotations

import pytest

from cloud.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_the_wait_then_refill() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(burst=3, per_s=0.5, clock=clock)
    assert [limiter.take("k") for _ in range(3)] == [None, None, None]
    assert limiter.take("k") == pytest.approx(2.0)
    assert limiter.peek("k") == pytest.approx(2.0)
    clock.now += 1.0
    assert limiter.take("k") == pytest.approx(1.0)
    clock.now += 1.0
    assert limiter.peek("k") is None
    assert limiter.take("k") is None
    assert limiter.take("k") == pytest.approx(2.0)


def test_keys_are_independent_and_reset_forgets() -> None:
    limiter = TokenBucketLimiter(burst=1, per_s=1.0, clock=Clock())
    assert limiter.take("a") is None
    assert limiter.take("a") is not None
    assert limiter.take("b") is None
    limiter.reset("a")
    assert limiter.take("a") is None


def test_refill_never_exceeds_the_burst() -> None:
    clock = Clock()
    limiter = TokenBucketLimiter(burst=2, per_s=1.0, clock=clock)
    limiter.take("k")
    clock.now += 3600
    assert [limiter.take("k") is None for _ in range(3)] == [True, True, False]


def test_peek_does_not_take_or_track() -> None:
    limiter = TokenBucketLimiter(burst=1, per_s=1.0, clock=Clock())
    assert limiter.peek("k") is None
    assert len(limiter) == 0
    assert limiter.take("k") is None


def test_memory_is_bounded_by_evicting_the_least_recent_key() -> None:
    limiter = TokenBucketLimiter(burst=1, per_s=0.001, clock=Clock(), max_keys=2)
    for key in ("a", "b", "c"):
        assert limiter.take(key) is None
    assert len(limiter) == 2
    assert limiter.take("a") is None  # evicted, so it starts full again
    assert limiter.take("c") is not None


@pytest.mark.parametrize(("burst", "per_s"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_nonsense_parameters_are_refused(burst: int, per_s: float) -> None:
    with pytest.raises(ValueError):
        TokenBucketLimiter(burst=burst, per_s=per_s)
