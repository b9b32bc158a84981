"""equivalent_policies: the same experiment on two meshes, the same callers' view?"""

from __future__ import annotations

import pytest

from chaoslitmus.mesh.policy import PolicyError
from chaoslitmus.mesh.probes import equivalent_policies

STORY = {
    "max_retries": 3,
    "per_retry_timeout_ms": 2000,
    "http_retry_events": ["server-error"],
}


def _fields(entries: list[dict]) -> list[str]:
    return [entry["field"] for entry in entries]


def test_a_policy_is_equivalent_to_itself_on_the_same_mesh() -> None:
    out = equivalent_policies({"mesh": "istio", **STORY}, {"mesh": "istio", **STORY})
    assert out["equivalent"] is True
    assert out["differences"] == out["cannot_be_equal"] == []


def test_app_mesh_to_linkerd_lists_what_no_setting_can_make_equal() -> None:
    out = equivalent_policies(
        {"mesh": "appmesh", **STORY}, {"mesh": "linkerd", **STORY}
    )
    assert out["equivalent"] is False
    assert _fields(out["differences"]) == ["status_codes"]
    assert _fields(out["cannot_be_equal"]) == [
        "retries_connect_failures",
        "last_try_has_per_try_timeout",
    ]
    # Whether App Mesh's explicit policies avoid the failed host is undocumented.
    assert out["not_documented"] == ["retry_avoids_failed_endpoint"]
    assert out["behaviour"]["b"]["retry_avoids_failed_endpoint"] is False


def test_istio_to_linkerd_retry_does_not_avoid_the_failed_endpoint() -> None:
    out = equivalent_policies({"mesh": "istio", **STORY}, {"mesh": "linkerd", **STORY})
    assert "retry_avoids_failed_endpoint" in _fields(out["cannot_be_equal"])


def test_a_different_count_is_a_difference_a_setting_removes() -> None:
    out = equivalent_policies(
        {"mesh": "istio", **STORY}, {"mesh": "istio", **STORY, "max_retries": 2}
    )
    assert _fields(out["differences"]) == ["retries"]
    assert out["cannot_be_equal"] == []


def test_gateway_api_backend_timeout_retries_are_implementation_specific() -> None:
    out = equivalent_policies(
        {"mesh": "appmesh", **STORY}, {"mesh": "gateway-api", **STORY}
    )
    assert out["differences"] == []
    assert "retries_per_try_timeouts" in out["not_documented"]
    assert out["equivalent"] is False


def test_a_policy_a_mesh_cannot_express_is_refused() -> None:
    with pytest.raises(PolicyError, match="Linkerd cannot select 'connection-error'"):
        equivalent_policies(
            {"mesh": "appmesh", **STORY},
            {"mesh": "linkerd", **STORY, "tcp_retry_events": ["connection-error"]},
        )


@pytest.mark.parametrize("side", [None, {"mesh": "consul"}, {"max_retries": 1}])
def test_bad_sides_are_refused(side: object) -> None:
    with pytest.raises(PolicyError):
        equivalent_policies(side, {"mesh": "istio", **STORY})
