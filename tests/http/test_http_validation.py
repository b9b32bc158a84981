"""Bad arguments fail with one line and send nothing."""

from __future__ import annotations

import pytest
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.http.probes import http_latency_ms, http_status, measure_endpoint

BAD_MEASUREMENTS = [
    ({"url": "ftp://127.0.0.1/x"}, "http:// or https://"),
    ({"url": "127.0.0.1:8080/x"}, "http:// or https://"),
    ({"url": "http:///nohost"}, "no host"),
    ({"url": "http://127.0.0.1:99999/"}, "invalid port"),
    ({"url": ""}, "non-empty"),
    ({"url": None}, "non-empty"),
    ({"rate_per_s": 0}, "rate_per_s must be > 0"),
    ({"rate_per_s": -5}, "rate_per_s must be > 0"),
    ({"rate_per_s": float("nan")}, "finite"),
    ({"rate_per_s": True}, "must be a number"),
    ({"duration_s": 0}, "duration_s must be > 0"),
    ({"duration_s": "ten"}, "must be a number"),
    ({"rate_per_s": 1000, "duration_s": 101}, "more than 100000"),
    ({"timeout_s": 0}, "timeout_s must be > 0"),
    ({"method": "FETCH"}, "method must be one of"),
    ({"headers": ["a"]}, "headers must be a mapping"),
    ({"headers": {"X-A": "b\r\nX-Injected: 1"}}, "line break"),
    ({"headers": {"X-A": None}}, "must be a string"),
    ({"body": {"a": 1}}, "body must be a string"),
    ({"ok_statuses": []}, "non-empty list"),
    ({"ok_statuses": "200"}, "non-empty list"),
    ({"ok_statuses": [200, 700]}, "not a status code"),
    ({"max_in_flight": -1}, "max_in_flight must be >= 1"),
    ({"max_in_flight": "²"}, "whole number"),
    ({"rate_per_s": "1e400"}, "finite"),
    ({"max_in_flight": 2.5}, "whole number"),
    ({"verify_tls": "no"}, "true or false"),
]


@pytest.mark.parametrize(("override", "message"), BAD_MEASUREMENTS)
def test_bad_measurement_arguments_fail_before_any_request(
    fresh, override: dict, message: str
) -> None:
    arguments = {"url": fresh.url("/ok"), "duration_s": 0.2, "rate_per_s": 10}
    arguments.update(override)
    with pytest.raises(ActivityFailed) as failure:
        measure_endpoint(**arguments)
    text = str(failure.value)
    assert message in text
    assert text.startswith("measure_endpoint: ") and "\n" not in text
    assert fresh.hits == 0


def test_numeric_strings_from_configuration_are_accepted(fresh) -> None:
    result = measure_endpoint(fresh.url("/ok"), duration_s="0.2", rate_per_s="10")
    assert result["total"] == 2 and fresh.hits == 2


@pytest.mark.parametrize("probe", [http_status, http_latency_ms])
def test_single_request_probes_validate_too(fresh, probe) -> None:
    with pytest.raises(ActivityFailed, match=r"must start with http:// or https://"):
        probe("file:///etc/passwd")
    with pytest.raises(ActivityFailed, match="timeout_s must be > 0"):
        probe(fresh.url("/ok"), timeout_s=-1)
    assert fresh.hits == 0
