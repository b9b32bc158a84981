"""The shared argument checks: what every activity accepts and refuses.

Pure: no cluster. Each refusal is one ActivityFailed line naming the field.
"""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus import _args


def refused(check, value) -> str:
    with pytest.raises(ActivityFailed) as caught:
        check(value)
    message = str(caught.value)
    assert "\n" not in message
    return message


def whole_ms(value):
    return _args.whole(value, "latency_ms", 1, _args.MAX_MS)


def seconds(value):
    return _args.number(value, "timeout_s", 0, _args.MAX_SECONDS, above=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1000, 1000), ("1000", 1000), (1000.0, 1000), ("+7", 7), ("1e3", 1000)],
)
def test_whole_numbers_take_numbers_and_exact_numeric_strings(value, expected):
    assert whole_ms(value) == expected and isinstance(whole_ms(value), int)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("1.5", "latency_ms must be a whole number"),
        (1.5, "latency_ms must be a whole number"),
        (True, "latency_ms must be a whole number"),  # bool is not a number
        ("²", "latency_ms must be a whole number"),  # str.isdigit says yes
        ("١٠", "latency_ms must be a whole number"),  # Arabic-Indic digits
        (" 10", "latency_ms must be a whole number"),
        ("nan", "latency_ms must be a whole number"),
        (float("nan"), "latency_ms must be a finite whole number"),
        (float("inf"), "latency_ms must be a finite whole number"),
        ("inf", "latency_ms must be a whole number"),
        ("1e400", "latency_ms must be a finite whole number"),
        (10**400, "latency_ms must be >= 1 and <= 604800000"),
        (0, "latency_ms must be >= 1"),
        ([1000], "latency_ms must be a whole number"),
        (None, "latency_ms must be a whole number"),
    ],
)
def test_whole_numbers_refuse_everything_else(value, fragment):
    assert fragment in refused(whole_ms, value)


def test_huge_values_are_refused_with_the_range_not_an_overflow():
    # issue 17 item 6: timeout_s=10**400 used to raise OverflowError
    assert "timeout_s must be > 0 and <= 604800" in refused(seconds, 10**400)
    assert "too large to print" in refused(seconds, 10**5000)
    assert "timeout_s must be a finite number" in refused(seconds, float("inf"))
    assert seconds("30") == 30.0 and seconds(0.5) == 0.5


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), ("true", True), ("false", False)],
)
def test_booleans_take_booleans_and_the_exact_strings(value, expected):
    assert _args.boolean(value, "allow_insecure") is expected


@pytest.mark.parametrize("value", ["False", "no", "0", 0, 1, "", None, ["true"]])
def test_other_booleans_are_refused_not_truthy(value):
    assert "allow_insecure must be true or false" in refused(
        lambda v: _args.boolean(v, "allow_insecure"), value
    )


def test_strings_that_are_lists_are_refused_not_stringified():
    message = refused(lambda v: _args.text(v, "target_container"), ["a", "b"])
    assert message == "target_container must be a non-empty string, got ['a', 'b']"
    assert _args.optional_text("", "target_container") is None
    assert _args.text_list("a, b", "target_pods") == ["a", "b"]
    assert "target_pods must be a list of strings" in refused(
        lambda v: _args.text_list(v, "target_pods"), [1, 2]
    )


def test_choices_refuse_list_typed_values_with_one_line():
    message = refused(
        lambda v: _args.choice(v, "mesh", ("appmesh", "istio")), ["istio"]
    )
    assert message == "mesh must be one of appmesh, istio, got ['istio']"
