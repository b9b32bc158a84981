"""The shared policy: every bad argument is refused with one clear line."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.mesh.policy import RetryPolicy, make_policy, policy_matches


def test_story_policy_is_accepted_as_given() -> None:
    policy = make_policy(3, 2000, ["server-error"])
    assert policy == RetryPolicy(3, 2000, ("server-error",))
    assert policy.to_dict() == {
        "max_retries": 3,
        "per_retry_timeout_ms": 2000,
        "http_retry_events": ["server-error"],
        "tcp_retry_events": [],
        "grpc_retry_events": [],
        "other_events": [],
    }


def test_strings_from_var_flags_and_duplicates_are_normalised() -> None:
    policy = make_policy(
        "3", 2000.0, "server-error, gateway-error,server-error", ["connection-error"]
    )
    assert policy.max_retries == 3
    assert policy.per_retry_timeout_ms == 2000
    assert policy.http_retry_events == ("server-error", "gateway-error")
    assert policy.tcp_retry_events == ("connection-error",)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((None, 2000, ["server-error"]), "max_retries is required"),
        ((-1, 2000, ["server-error"]), "max_retries must be >= 0"),
        ((True, 2000, ["server-error"]), "max_retries must be a whole number"),
        ((2.5, 2000, ["server-error"]), "max_retries must be a whole number"),
        ((3, 0, ["server-error"]), "per_retry_timeout_ms must be >= 1"),
        ((3, "2s", ["server-error"]), "per_retry_timeout_ms must be a whole number"),
        ((3, 2000, ["5xx"]), "'5xx' is Envoy's name: use 'server-error'"),
        ((3, 2000, ["server-error"], ["reset"]), "tcp_retry_events has 'reset'"),
        ((3, 2000, {"server-error": 1}), "must be a list of strings"),
        ((3, 2000, [], []), "give at least one of http_retry_events"),
        (
            (3, 2000, None, None, ["unavailable", "bogus"]),
            "grpc_retry_events has 'bogus'",
        ),
    ],
)
def test_bad_arguments_fail_with_one_line(args: tuple, fragment: str) -> None:
    with pytest.raises(ActivityFailed) as caught:
        make_policy(*args)
    message = str(caught.value)
    assert fragment in message
    assert message.startswith("invalid retry policy: ")
    assert "\n" not in message


def test_matching_compares_only_given_fields_and_events_as_sets() -> None:
    actual = RetryPolicy(
        3, 2000, ("gateway-error", "server-error"), ("connection-error",)
    )
    assert policy_matches(actual, max_retries=3)
    assert policy_matches(actual, http_retry_events=("server-error", "gateway-error"))
    assert policy_matches(
        actual, per_retry_timeout_ms=2000, tcp_retry_events=("connection-error",)
    )
    assert not policy_matches(actual, max_retries=2)
    assert not policy_matches(actual, http_retry_events=("server-error",))
    assert not policy_matches(actual, grpc_retry_events=("unavailable",))
    assert policy_matches(actual)
    assert not policy_matches(None)
