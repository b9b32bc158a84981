"""retry_headroom: Litmus' target count and what it leaves for retries."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.litmus.probes import retry_headroom
from chaoslitmus.litmus.targets import targeted_pods


@pytest.mark.parametrize(
    ("replicas", "perc", "expected"),
    [
        (2, None, 1),
        (2, 0, 1),
        (2, 50, 1),
        (3, 50, 1),
        (3, 100, 3),
        (5, 40, 2),
        (3, 250, 3),
        (1, 10, 1),
    ],
)
def test_targets_follow_litmus_rounding(
    replicas: int, perc: int, expected: int
) -> None:
    assert targeted_pods(replicas, perc) == expected


def test_every_replica_slowed_means_retries_cannot_help() -> None:
    story = retry_headroom(2, 50)
    assert story["retries_can_help"] is True and story["untouched"] == 1
    everyone = retry_headroom(3, 100)
    assert everyone == {
        "replicas": 3,
        "targeted": 3,
        "untouched": 0,
        "retries_can_help": False,
        "note": everyone["note"],
    }
    assert "no retry policy can hide" in everyone["note"]
    assert retry_headroom(3, target_pods=["a", "b"])["untouched"] == 1


@pytest.mark.parametrize("bad", [0, -1, True, "x", 2.5])
def test_bad_replicas_are_refused_in_one_line(bad: object) -> None:
    with pytest.raises(ActivityFailed, match="replicas") as refused:
        retry_headroom(bad)  # type: ignore[arg-type]
    assert "\n" not in str(refused.value)


def test_values_from_chaos_run_vars_are_accepted() -> None:
    assert retry_headroom("3", "100")["retries_can_help"] is False
    with pytest.raises(ActivityFailed, match="pods_affected_perc"):
        retry_headroom(3, 101)
