"""The pure pieces behind API retries: when, how long, and what a replay may do."""

from __future__ import annotations

import math
import random

import pytest

from chaoslitmus._mergepatch import apply_merge_patch, patch_landed
from chaoslitmus._redact import MASK, clean, redact, redact_url
from chaoslitmus._retry import (
    API_BACKOFF,
    REQUEST_ID,
    Backoff,
    Failure,
    decide,
    replay_safe,
    request_timeout,
    retry_after_s,
    stamp,
    stamped_by,
)

RV = {"metadata": {"resourceVersion": "42"}, "spec": {"x": 1}}


# -- back-off -------------------------------------------------------------------


def test_delays_are_full_jitter_under_a_growing_capped_ceiling():
    backoff = Backoff(attempts=10, base_s=0.2, cap_s=3.0)
    rng = random.Random(1)
    for retry in range(1, 10):
        ceiling = min(3.0, 0.2 * 2 ** (retry - 1))
        samples = [backoff.delay_s(retry, rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Spread over the range, not stuck at one end (200 seeded draws).
        assert max(samples) > 0.8 * ceiling and min(samples) < 0.2 * ceiling


def test_the_same_seed_gives_the_same_delays():
    first = [API_BACKOFF.delay_s(n, random.Random(5)) for n in range(1, 6)]
    again = [API_BACKOFF.delay_s(n, random.Random(5)) for n in range(1, 6)]
    assert first == again


# -- what is retried ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "body", "content_type", "safe"),
    [
        ("get", None, None, True),
        ("list", None, None, True),
        ("watch", None, None, True),
        ("discover", None, None, True),
        ("delete", None, None, True),
        (
            "patch",
            {"spec": {"engineState": "stop"}},
            "application/merge-patch+json",
            True,
        ),
        ("patch", RV, "application/json-patch+json", True),
        ("patch", [{"op": "add", "path": "/x/-", "value": 1}], None, False),
        ("patch", {"spec": {}}, "application/json-patch+json", False),
        ("update", RV, None, True),
        ("update", {"spec": {}}, None, False),
        ("create", {"metadata": {"name": "x"}}, None, False),
    ],
)
def test_replay_safe(verb, body, content_type, safe):
    assert replay_safe(verb, body, content_type) is safe


def decision(failure, safe=True, tries=1, elapsed=0.0, left=math.inf, backoff=None):
    return decide(
        backoff or API_BACKOFF, tries, failure, safe, elapsed, left, random.Random(3)
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 415, 422])
def test_answers_that_will_not_change_are_final(status):
    assert decision(Failure.answered(status)).why == "final"


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_overload_and_server_errors_are_retried_when_safe(status):
    assert decision(Failure.answered(status)).retry


def test_a_write_that_may_have_landed_is_not_replayed_unless_safe():
    assert decision(Failure.answered(500), safe=False).why == "unsafe"
    assert decision(Failure.no_answer(sent=True), safe=False).why == "unsafe"


def test_a_write_the_server_never_saw_is_retried_even_if_unsafe():
    assert decision(Failure.no_answer(sent=False), safe=False).retry
    assert decision(Failure.answered(429), safe=False).retry  # 429: not processed


def test_retries_stop_after_the_attempts():
    backoff = Backoff(attempts=3)
    assert decision(Failure.answered(503), tries=2, backoff=backoff).retry
    assert decision(Failure.answered(503), tries=3, backoff=backoff).why == "attempts"


def test_retries_stop_before_the_deadline_and_the_budget():
    assert decision(Failure.answered(503), left=0.01).why == "deadline"
    backoff = Backoff(budget_s=1.0)
    late = decision(Failure.answered(503), elapsed=0.99, backoff=backoff)
    assert late.why == "budget"


def test_retry_after_is_honoured_up_to_the_cap():
    assert decision(Failure.answered(429, retry_after=1.5)).delay_s == 1.5
    assert decision(Failure.answered(429, retry_after=600)).delay_s == API_BACKOFF.cap_s


def test_a_call_never_sleeps_past_its_deadline_or_budget():
    """Whatever fails and however long tries take, the retries stay in bounds."""
    rng = random.Random(11)
    backoff = Backoff(attempts=8, base_s=0.2, cap_s=3.0, budget_s=10.0)
    for _ in range(300):
        deadline = rng.uniform(0.5, 20.0)
        clock, tries = 0.0, 0
        while True:
            tries += 1
            clock += rng.uniform(0.0, 0.5)  # the try itself
            outcome = decide(
                backoff,
                tries,
                Failure.answered(503),
                True,
                clock,
                deadline - clock,
                rng,
            )
            if not outcome.retry:
                break
            clock += outcome.delay_s
            assert clock <= deadline and clock <= backoff.budget_s
        assert tries <= backoff.attempts


def test_request_timeouts_shrink_to_the_time_left():
    assert request_timeout(math.inf) == (10.0, 60.0)
    assert request_timeout(3.0) == (3.0, 3.0)
    assert request_timeout(-1.0)[1] > 0  # never 0: that would mean "no timeout"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("2", 2.0), ("0.5", 0.5), (None, None), ("", None), ("soon", None), ("-1", None)],
)
def test_retry_after_header(header, seconds):
    assert retry_after_s(header) == seconds


# -- creates that can be replayed ----------------------------------------------------


def test_stamp_adds_the_request_id_without_touching_the_original():
    body = {"metadata": {"name": "e", "annotations": {"team": "sre"}}, "spec": {}}
    stamped = stamp(body, "abc123")
    assert stamped["metadata"]["annotations"] == {"team": "sre", REQUEST_ID: "abc123"}
    assert body["metadata"]["annotations"] == {"team": "sre"}
    assert stamped_by(stamped, "abc123")
    assert not stamped_by(stamped, "other")
    assert not stamped_by(body, "abc123")
    assert not stamped_by(None, "abc123")
    assert not stamped_by(stamp(body, ""), "")


# -- did a lost patch land? ------------------------------------------------------------


def test_merge_patch_follows_rfc_7386():
    target = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    patch = {"a": {"b": None, "c": [3]}, "e": {"f": None, "g": 1}}
    assert apply_merge_patch(target, patch) == {
        "a": {"c": [3]},
        "d": "x",
        "e": {"g": 1},
    }
    assert target == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    assert apply_merge_patch({"a": 1}, [1]) == [1]


def test_patch_landed_compares_content_not_versions():
    before = {
        "metadata": {"resourceVersion": "1", "annotations": {"keep": "me"}},
        "spec": {"routes": [{"name": "r"}]},
    }
    patch = {
        "metadata": {"resourceVersion": "1", "annotations": {"snap": "[]"}},
        "spec": {"routes": [{"name": "r", "retry": 3}]},
    }
    landed = {
        "metadata": {
            "resourceVersion": "2",
            "annotations": {"keep": "me", "snap": "[]"},
        },
        "spec": {"routes": [{"name": "r", "retry": 3}]},
    }
    assert patch_landed(before, patch, landed)
    assert not patch_landed(before, patch, before)
    other = {**landed, "spec": {"routes": [{"name": "r", "retry": 2}]}}
    assert not patch_landed(before, patch, other)
    assert patch["metadata"]["resourceVersion"] == "1"  # the patch is not changed


# -- credentials out of messages ------------------------------------------------------


def test_known_secrets_and_credential_shapes_are_masked():
    token = "eyJhbGciOiJSUzI1NiJ9.payload.sig"
    text = (
        f"401 for {token}; Authorization: Bearer {token}; "
        'headers {"authorization": "Basic dXNlcjpwYXNzd29yZA=="}; '
        "token=abcd1234 password: hunter22 https://admin:pw@api.example:6443/x"
    )
    masked = redact(text, [token])
    for secret in (token, "dXNlcjpwYXNzd29yZA", "abcd1234", "hunter22", "admin:pw"):
        assert secret not in masked
    assert f"Bearer {MASK}" in masked
    assert f"https://{MASK}@api.example:6443/x" in masked


def test_ordinary_messages_are_left_alone():
    message = (
        "the Kubernetes API refused our credentials while trying to get "
        "chaosengines.litmuschaos.io 'x': refresh the token or check the kubeconfig "
        "user; Basic setup is done"
    )
    assert redact(message) == message


def test_clean_makes_one_line():
    assert clean("SSLError\ncertificate  verify\tfailed\n") == (
        "SSLError certificate verify failed"
    )


def test_redact_url():
    assert redact_url("https://u:p@h:1/x") == f"https://{MASK}@h:1/x"
    assert redact_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
