"""The open-loop schedule is pure: due times depend on rate and duration only."""

from __future__ import annotations

import pytest

from chaoslitmus.http._schedule import (
    MAX_IN_FLIGHT_CAP,
    arrival_offsets,
    default_max_in_flight,
    due_until,
    request_count,
)


@pytest.mark.parametrize(
    ("rate", "duration", "count"),
    [(10, 10, 100), (10, 0.05, 1), (0.1, 30, 3), (3, 1.5, 5), (200, 10, 2000)],
)
def test_request_count_is_ceil_of_rate_times_duration(
    rate: float, duration: float, count: int
) -> None:
    assert request_count(rate, duration) == count


def test_offsets_are_evenly_spaced_from_zero() -> None:
    offsets = arrival_offsets(4, 1)
    assert offsets == [0.0, 0.25, 0.5, 0.75]
    assert arrival_offsets(200, 10)[-1] == pytest.approx(9.995)


def test_due_until_sends_everything_already_due_at_once() -> None:
    offsets = [0.0, 0.1, 0.2, 0.3, 0.4]
    assert due_until(offsets, 0, 0.0) == 1
    assert due_until(offsets, 1, 0.05) == 1  # nothing more due yet
    assert due_until(offsets, 1, 0.35) == 4  # woke up late: catch up
    assert due_until(offsets, 4, 99.0) == 5


def test_default_in_flight_covers_rate_times_timeout_and_is_capped() -> None:
    assert default_max_in_flight(10, 5) == 51
    assert default_max_in_flight(0.1, 1) == 2
    assert default_max_in_flight(10_000, 60) == MAX_IN_FLIGHT_CAP
