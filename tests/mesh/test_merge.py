"""The three-way merge behind restore, drift, adoption and managedFields: pure."""

from __future__ import annotations

import copy

from chaoslitmus.mesh import appmesh_v1beta2, istio
from chaoslitmus.mesh.managed_fields import FIELD_MANAGER, last_writer
from chaoslitmus.mesh.merge import (
    UNKNOWN,
    SavedRoute,
    find_route,
    key_of,
    plan_restore,
    saved_routes,
    staleness,
    update_saved,
)
from chaoslitmus.mesh.snapshot import Snapshot

from .samples import RATINGS_POLICY_V1BETA2, appmesh_v1beta2_router, istio_service

APPMESH = appmesh_v1beta2.ADAPTER
ISTIO = istio.ADAPTERS["v1"]
OURS = {
    "maxRetries": 3,
    "perRetryTimeout": {"unit": "ms", "value": 2000},
    "httpRetryEvents": ["server-error"],
}


def with_ours(routes: list, indexes: tuple[int, ...] = (0, 1)) -> list:
    """The routes after our set: OURS on the given routes."""
    new = copy.deepcopy(routes)
    for index in indexes:
        new[index] = APPMESH.set_raw(new[index], OURS)
    return new


def appmesh_case() -> tuple[list, list, list[SavedRoute]]:
    routes = appmesh_v1beta2_router()["spec"]["routes"]
    ours = with_ours(routes)
    return routes, ours, saved_routes(APPMESH, routes, ours)


def test_the_record_knows_every_route_and_the_blocks_it_changed() -> None:
    _, _, saved = appmesh_case()
    assert [s.key.name for s in saved] == [
        "ratings-route",
        "ratings-admin",
        "ratings-grpc",
        "ratings-tcp",
    ]
    assert [s.changed for s in saved] == [True, True, False, False]
    assert saved[0].original is None and saved[0].ours == OURS
    assert saved[1].original == RATINGS_POLICY_V1BETA2


def test_nobody_else_changed_anything_gives_back_the_original_exactly() -> None:
    routes, ours, saved = appmesh_case()
    plan = plan_restore(APPMESH, saved, ours)
    assert plan.routes == routes
    assert [r["status"] for r in plan.report] == ["restored", "restored"]
    assert not plan.drift and plan.conflicts == []


def test_others_edits_outside_the_retry_blocks_are_kept_and_reported() -> None:
    routes, ours, saved = appmesh_case()
    theirs = copy.deepcopy(ours)
    theirs[0]["httpRoute"]["action"]["weightedTargets"][0]["weight"] = 7
    canary = copy.deepcopy(routes[0])
    canary["name"] = "canary"
    theirs.insert(1, canary)

    plan = plan_restore(APPMESH, saved, theirs)

    assert plan.conflicts == []
    assert plan.routes[0]["httpRoute"]["action"]["weightedTargets"][0]["weight"] == 7
    assert "retryPolicy" not in plan.routes[0]["httpRoute"]
    assert plan.routes[1] == canary  # the added route, untouched
    assert plan.routes[2] == routes[1]  # admin: its original policy back
    assert plan.drift.to_dict() == {
        "added": ["canary"],
        "removed": [],
        "changed": ["ratings-route"],
    }
    assert "'canary' added" in plan.drift.summary()


def test_retry_settings_changed_by_someone_else_is_a_conflict_unless_forced() -> None:
    routes, ours, saved = appmesh_case()
    theirs = copy.deepcopy(ours)
    theirs[0]["httpRoute"]["retryPolicy"]["maxRetries"] = 9

    plan = plan_restore(APPMESH, saved, theirs)
    [conflict] = plan.conflicts
    assert conflict["name"] == "ratings-route"
    assert conflict["now"]["maxRetries"] == 9 and conflict["ours"] == OURS
    assert plan.report[0]["status"] == "conflict"
    assert plan.routes[0] == theirs[0]

    forced = plan_restore(APPMESH, saved, theirs, force=True)
    assert forced.routes == routes
    assert forced.report[0]["status"] == "forced"


def test_a_retry_block_someone_already_put_back_is_left_alone() -> None:
    routes, ours, saved = appmesh_case()
    theirs = copy.deepcopy(ours)
    theirs[1] = copy.deepcopy(routes[1])
    plan = plan_restore(APPMESH, saved, theirs)
    assert plan.conflicts == []
    assert plan.report[1]["status"] == "already-original"
    assert plan.routes == routes


def test_a_deleted_route_has_nothing_to_restore() -> None:
    routes, ours, saved = appmesh_case()
    theirs = [r for r in ours if r["name"] != "ratings-admin"]
    plan = plan_restore(APPMESH, saved, theirs)
    assert [(r["name"], r["status"]) for r in plan.report] == [
        ("ratings-route", "restored"),
        ("ratings-admin", "deleted"),
    ]
    assert plan.drift.removed == ["ratings-admin"]
    assert plan.routes == [r for r in routes if r["name"] != "ratings-admin"]


def test_format_1_restores_the_original_blocks_whatever_is_there() -> None:
    routes, ours, _ = appmesh_case()
    legacy = Snapshot("spec.routes", 1, legacy_routes=tuple(routes)).saved(APPMESH)
    assert [s.changed for s in legacy] == [True, True, True, False]
    assert all(s.ours is UNKNOWN for s in legacy[:3])
    theirs = copy.deepcopy(ours)
    theirs[0]["httpRoute"]["retryPolicy"]["maxRetries"] = 9  # cannot be told apart
    plan = plan_restore(APPMESH, legacy, theirs)
    assert plan.conflicts == [] and plan.routes == routes


# -- unnamed Istio routes ---------------------------------------------------------


def test_unnamed_routes_are_found_by_index_then_by_match_fingerprint() -> None:
    routes = istio_service()["spec"]["http"]
    key = key_of(ISTIO, routes[1], 1)
    assert key.name is None and key.match and key.label == "http[1]"
    assert find_route(key, routes) == 1
    moved = [{"name": "first", "match": [{"uri": {"exact": "/x"}}]}, *routes]
    assert find_route(key, moved) == 2
    other = copy.deepcopy(routes)
    other[1]["match"] = [{"uri": {"prefix": "/other"}}]
    assert find_route(key, other) is None


def test_istio_restore_with_a_route_inserted_before_an_unnamed_one() -> None:
    routes = istio_service()["spec"]["http"]
    ours = copy.deepcopy(routes)
    for index in (0, 1):
        ours[index] = ISTIO.set_raw(ours[index], {"attempts": 3, "retryOn": "5xx"})
    saved = saved_routes(ISTIO, routes, ours)
    inserted = {"name": "mirror", "route": [{"destination": {"host": "m"}}]}
    theirs = [ours[0], inserted, ours[1]]
    plan = plan_restore(ISTIO, saved, theirs)
    assert plan.routes == [routes[0], inserted, routes[1]]
    assert plan.drift.added == ["mirror"]


# -- adoption ---------------------------------------------------------------------


def test_a_snapshot_whose_writes_are_still_there_is_adoptable() -> None:
    _, ours, saved = appmesh_case()
    assert not staleness(APPMESH, saved, ours).stale


def test_a_snapshot_whose_writes_were_changed_is_stale() -> None:
    _, ours, saved = appmesh_case()
    theirs = copy.deepcopy(ours)
    theirs[1]["http2Route"]["retryPolicy"]["maxRetries"] = 0
    result = staleness(APPMESH, saved, theirs)
    assert result.stale
    assert [c["name"] for c in result.changed] == ["ratings-admin"]


def test_a_deleted_route_does_not_block_adoption() -> None:
    _, ours, saved = appmesh_case()
    result = staleness(APPMESH, saved, ours[1:])
    assert not result.stale and result.deleted == ["ratings-route"]


def test_format_1_cannot_be_adopted() -> None:
    routes, _, saved = appmesh_case()
    legacy = [SavedRoute(s.key, s.digest, True, s.original, UNKNOWN) for s in saved[:1]]
    assert staleness(APPMESH, legacy, routes).unknown_ours


def test_adopting_keeps_the_first_original_and_moves_ours_on() -> None:
    routes, ours, saved = appmesh_case()
    second = copy.deepcopy(ours)
    newer = {**OURS, "maxRetries": 5}
    second[0] = APPMESH.set_raw(second[0], newer)
    second[2] = APPMESH.set_raw(second[2], newer)  # grpc: first change now
    updated = update_saved(APPMESH, saved, ours, second)
    by_name = {s.key.name: s for s in updated}
    assert by_name["ratings-route"].original is None
    assert by_name["ratings-route"].ours == newer
    assert by_name["ratings-admin"].ours == OURS
    assert by_name["ratings-grpc"].changed and by_name["ratings-grpc"].original is None
    assert plan_restore(APPMESH, updated, second).routes == routes


# -- who wrote the routes (managedFields) ---------------------------------------------


def managed(manager: str, time: str, fields: dict, operation: str = "Update") -> dict:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": fields,
    }


def test_the_latest_other_writer_of_the_routes_is_named() -> None:
    routes = {"f:spec": {"f:routes": {}}}
    obj = {
        "metadata": {
            "managedFields": [
                managed("kubectl-create", "2026-12-01T10:00:00Z", {"f:spec": {}}),
                managed("kubectl-patch", "2026-12-01T10:05:00Z", routes),
                managed(FIELD_MANAGER, "2026-12-01T10:06:00Z", routes),
                managed("argocd", "2026-12-01T10:01:00Z", routes),
                managed("kubectl-label", "2026-12-01T10:09:00Z", {"f:metadata": {}}),
            ]
        }
    }
    assert last_writer(obj, ("spec", "routes")) == {
        "manager": "kubectl-patch",
        "operation": "Update",
        "time": "2026-12-01T10:05:00Z",
    }
    assert last_writer(obj, ("spec", "http")) is None
    assert last_writer({"metadata": {}}, ("spec", "routes")) is None
    assert last_writer({"metadata": {"managedFields": "junk"}}, ("spec",)) is None
