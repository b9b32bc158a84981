"""The lab store without HTTP: Kubernetes semantics, patches, selectors, schemas."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from chaoslitmus.lab import ApiError, Store
from chaoslitmus.lab.kube import schemas
from chaoslitmus.lab.kube.patches import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from chaoslitmus.lab.kube.resources import ResourceRegistry, version_priority_key
from chaoslitmus.lab.kube.selectors import SelectorError, parse_label_selector

ENGINES = "litmuschaos.io/v1alpha1/chaosengines"
ROUTERS = "appmesh.k8s.aws/v1beta2/virtualrouters"
LEGACY_VS = "appmesh.k8s.aws/v1beta1/virtualservices"
ISTIO_VS = "networking.istio.io/v1/virtualservices"
NS = "bookinfo"


@pytest.fixture(scope="module")
def crds() -> list[dict[str, Any]]:
    return schemas.load_crd_files(schemas.default_crd_files())


@pytest.fixture
def store(crds: list[dict[str, Any]]) -> Store:
    store = Store(ResourceRegistry.with_crds(copy.deepcopy(crds)), seed=7)
    store.create("v1/namespaces", None, {"metadata": {"name": NS}})
    return store


def engine(name: str = "engine", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "litmuschaos.io/v1alpha1",
        "kind": "ChaosEngine",
        "metadata": {"name": name},
        "spec": {"engineState": "active", **spec},
    }


def pod(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "app", "image": "ratings:1"}]},
        "status": {"phase": "Running"},
    }


def router(retry_policy: dict[str, Any] | None = None) -> dict[str, Any]:
    route: dict[str, Any] = {
        "match": {"prefix": "/"},
        "action": {
            "weightedTargets": [{"virtualNodeRef": {"name": "v1"}, "weight": 1}]
        },
    }
    if retry_policy is not None:
        route["retryPolicy"] = retry_policy
    return {
        "apiVersion": "appmesh.k8s.aws/v1beta2",
        "kind": "VirtualRouter",
        "metadata": {"name": "ratings-router"},
        "spec": {
            "listeners": [{"portMapping": {"port": 9080, "protocol": "http"}}],
            "routes": [{"name": "ratings-route", "httpRoute": route}],
        },
    }


def api_error(call: Any, *args: Any, **kwargs: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args, **kwargs)
    return caught.value


# -- create / get / server-set fields ----
def test_create_sets_server_fields_and_namespace_from_the_call(store: Store) -> None:
    before = int(store.resource_version)
    created = store.create(ENGINES, NS, engine())
    meta = created["metadata"]
    assert meta["namespace"] == NS
    assert len(meta["uid"]) == 36
    assert int(meta["resourceVersion"]) == before + 1
    assert meta["generation"] == 1
    assert meta["creationTimestamp"].endswith("Z")
    assert created["apiVersion"] == "litmuschaos.io/v1alpha1"
    assert store.get(ENGINES, NS, "engine") == created


def test_get_returns_a_copy_that_cannot_change_the_store(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    copy_ = store.get(ENGINES, NS, "engine")
    copy_["spec"]["engineState"] = "stop"
    assert store.get(ENGINES, NS, "engine")["spec"]["engineState"] == "active"


def test_resource_type_objects_are_accepted_as_well_as_keys(store: Store) -> None:
    rtype = store.registry.resolve(ENGINES)
    store.create(rtype, NS, engine())
    assert store.get(rtype, NS, "engine")["metadata"]["name"] == "engine"


def test_generate_name_is_seeded_and_unique(crds: list[dict[str, Any]]) -> None:
    def names() -> list[str]:
        store = Store(ResourceRegistry.with_crds(crds), seed=3)
        body = {"metadata": {"generateName": "run-"}, "spec": {"engineState": "active"}}
        return [
            store.create(ENGINES, "default", body)["metadata"]["name"] for _ in "ab"
        ]

    first = names()
    assert first == names()
    assert len(set(first)) == 2 and all(n.startswith("run-") for n in first)


def test_create_errors_match_the_apiserver(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    exists = api_error(store.create, ENGINES, NS, engine())
    assert (exists.status, exists.reason) == (409, "AlreadyExists")
    assert exists.message == 'chaosengines.litmuschaos.io "engine" already exists'

    missing_ns = api_error(store.create, ENGINES, "nowhere", engine())
    assert (missing_ns.status, missing_ns.message) == (
        404,
        'namespaces "nowhere" not found',
    )
    other_ns = engine()
    other_ns["metadata"]["namespace"] = "default"
    assert api_error(store.create, ENGINES, NS, other_ns).status == 400

    with_rv = engine("x")
    with_rv["metadata"]["resourceVersion"] = "5"
    assert api_error(store.create, ENGINES, NS, with_rv).status == 500

    nameless = api_error(store.create, "v1/pods", NS, {"spec": {}})
    assert nameless.status == 422
    assert nameless.causes[0]["field"] == "metadata.name"

    bad_name = api_error(store.create, "v1/pods", NS, pod("Ratings_V1"))
    assert bad_name.causes[0]["reason"] == "FieldValueInvalid"
    assert "RFC 1123 subdomain" in bad_name.causes[0]["message"]

    bad_label = api_error(store.create, "v1/pods", NS, pod("p", {"app": "a b"}))
    assert bad_label.causes[0]["field"] == "metadata.labels"

    numeric_label = api_error(store.create, "v1/pods", NS, pod("p", {"n": 1}))  # type: ignore[dict-item]
    assert numeric_label.status == 400

    unknown = api_error(store.get, "example.com/v1/widgets", NS, "w")
    assert unknown.message == "the server could not find the requested resource"


def test_namespaced_status_of_builtins_is_kept_on_create(store: Store) -> None:
    created = store.create("v1/pods", NS, pod("ratings-v1-1"))
    assert created["status"] == {"phase": "Running"}


# -- updates ----
def test_resource_version_in_body_is_a_precondition(store: Store) -> None:
    created = store.create(ENGINES, NS, engine())
    stale = copy.deepcopy(created)
    store.patch(ENGINES, NS, "engine", {"spec": {"engineState": "stop"}})
    stale["spec"]["engineState"] = "active"
    error = api_error(store.replace, ENGINES, NS, "engine", stale)
    assert (error.status, error.reason) == (409, "Conflict")
    assert error.message.endswith(
        "the object has been modified; please apply your changes to the latest "
        "version and try again"
    )
    patch = {"metadata": {"resourceVersion": created["metadata"]["resourceVersion"]}}
    assert api_error(store.patch, ENGINES, NS, "engine", patch).status == 409
    assert store.get(ENGINES, NS, "engine")["spec"]["engineState"] == "stop"


def test_replace_without_resource_version_is_unconditional(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    body = engine(engineState="stop")
    replaced = store.replace(ENGINES, NS, "engine", body)
    assert replaced["spec"]["engineState"] == "stop"
    assert replaced["metadata"]["generation"] == 2


def test_server_fields_survive_a_replace(store: Store) -> None:
    created = store.create(ENGINES, NS, engine())
    body = engine(engineState="stop")
    body["metadata"].update(creationTimestamp="2000-01-01T00:00:00Z", generation=99)
    replaced = store.replace(ENGINES, NS, "engine", body)
    for key in ("uid", "creationTimestamp"):
        assert replaced["metadata"][key] == created["metadata"][key]
    assert replaced["metadata"]["generation"] == 2


def test_url_and_body_names_must_agree(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    assert (
        api_error(store.replace, ENGINES, NS, "engine", engine("other")).status == 400
    )


def test_generation_counts_spec_changes_only(store: Store) -> None:
    store.create("apps/v1/deployments", NS, {"metadata": {"name": "d"}, "spec": {}})
    key = "apps/v1/deployments"
    labelled = store.patch(key, NS, "d", {"metadata": {"labels": {"a": "b"}}})
    assert labelled["metadata"]["generation"] == 1
    status = store.patch(
        key, NS, "d", {"status": {"readyReplicas": 2}}, subresource="status"
    )
    assert status["metadata"]["generation"] == 1
    scaled = store.patch(key, NS, "d", {"spec": {"replicas": 3}})
    assert scaled["metadata"]["generation"] == 2


def test_custom_status_without_subresource_bumps_generation_like_k8s(
    store: Store,
) -> None:
    # Litmus 3.x CRDs have `subresources: {}`: status is part of the object.
    store.create(ENGINES, NS, engine())
    patched = store.patch(
        ENGINES, NS, "engine", {"status": {"engineStatus": "initialized"}}
    )
    assert patched["status"] == {"engineStatus": "initialized"}
    assert patched["metadata"]["generation"] == 2
    error = api_error(
        store.patch, ENGINES, NS, "engine", {"status": {}}, subresource="status"
    )
    assert error.status == 404


def test_status_subresource_separates_spec_and_status(store: Store) -> None:
    created = store.create(ROUTERS, NS, router())
    assert "status" not in created  # create cannot set status with a subresource
    main = store.patch(
        ROUTERS, NS, "ratings-router", {"status": {"observedGeneration": 5}}
    )
    assert "status" not in main
    assert main["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    on_status = store.patch(
        ROUTERS,
        NS,
        "ratings-router",
        {"status": {"observedGeneration": 1}, "spec": {"routes": []}},
        subresource="status",
    )
    assert on_status["status"] == {"observedGeneration": 1}
    assert on_status["spec"] == created["spec"]
    assert on_status["metadata"]["generation"] == 1


def test_builtin_status_changes_need_the_status_subresource(store: Store) -> None:
    store.create("v1/pods", NS, pod("p"))
    ignored = store.patch("v1/pods", NS, "p", {"status": {"phase": "Failed"}})
    assert ignored["status"]["phase"] == "Running"
    written = store.patch(
        "v1/pods", NS, "p", {"status": {"phase": "Failed"}}, subresource="status"
    )
    assert written["status"]["phase"] == "Failed"


def test_no_op_update_keeps_the_resource_version(store: Store) -> None:
    created = store.create(ENGINES, NS, engine())
    again = store.patch(ENGINES, NS, "engine", {"spec": {"engineState": "active"}})
    assert (
        again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    )


def test_strategic_merge_patch_is_refused_for_custom_resources(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    error = api_error(store.patch, ENGINES, NS, "engine", {"spec": {}}, "strategic")
    assert (error.status, error.reason) == (415, "UnsupportedMediaType")


def test_strategic_merge_patch_merges_containers_by_name(store: Store) -> None:
    store.create("v1/pods", NS, pod("p"))
    patch = {"spec": {"containers": [{"name": "sidecar", "image": "envoy"}]}}
    patched = store.patch("v1/pods", NS, "p", patch, "strategic")
    assert [c["name"] for c in patched["spec"]["containers"]] == ["app", "sidecar"]


def test_failed_json_patch_test_is_422_and_changes_nothing(store: Store) -> None:
    created = store.create(ENGINES, NS, engine())
    ops = [
        {"op": "replace", "path": "/spec/engineState", "value": "stop"},
        {"op": "test", "path": "/spec/engineState", "value": "active"},
    ]
    error = api_error(store.patch, ENGINES, NS, "engine", ops, "json")
    assert (error.status, error.reason) == (422, "Invalid")
    assert store.get(ENGINES, NS, "engine") == created


def test_malformed_patches_are_bad_requests(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    assert api_error(store.patch, ENGINES, NS, "engine", [1], "json").status == 400
    assert api_error(store.patch, ENGINES, NS, "engine", [], "merge").status == 400
    assert api_error(store.patch, ENGINES, NS, "engine", {}, "apply").status == 415


# -- schema validation and pruning ----
def test_invalid_custom_object_is_422_with_causes_and_unchanged(store: Store) -> None:
    created = store.create(ENGINES, NS, engine())
    error = api_error(
        store.patch, ENGINES, NS, "engine", {"spec": {"engineState": "bogus"}}
    )
    assert error.status == 422
    assert error.message.startswith('ChaosEngine.litmuschaos.io "engine" is invalid: ')
    assert error.causes == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "bogus": spec.engineState in body should '
            "match '^(active|stop)$'",
            "field": "spec.engineState",
        }
    ]
    assert store.get(ENGINES, NS, "engine") == created
    assert (
        api_error(store.create, ENGINES, NS, engine("e2", engineState="x")).status
        == 422
    )


def test_v1beta2_router_needs_per_retry_timeout(store: Store) -> None:
    policy = {"maxRetries": 3, "httpRetryEvents": ["server-error"]}
    error = api_error(store.create, ROUTERS, NS, router(policy))
    assert error.causes == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value",
            "field": "spec.routes[0].httpRoute.retryPolicy.perRetryTimeout",
        }
    ]


def test_v1beta2_prunes_unknown_fields_before_validating(store: Store) -> None:
    # A v1beta1-style key is dropped, so the required v1beta2 key is missing.
    policy = {"maxRetries": 3, "perRetryTimeoutMillis": 2000, "httpRetryEvents": []}
    error = api_error(store.create, ROUTERS, NS, router(policy))
    fields = {cause["field"] for cause in error.causes}
    assert "spec.routes[0].httpRoute.retryPolicy.perRetryTimeout" in fields

    good = {
        "maxRetries": 3,
        "perRetryTimeout": {"unit": "ms", "value": 2000},
        "httpRetryEvents": ["server-error"],
        "typo": True,
    }
    created = store.create(ROUTERS, NS, router(good))
    kept = created["spec"]["routes"][0]["httpRoute"]["retryPolicy"]
    assert "typo" not in kept and kept["maxRetries"] == 3


def test_strict_field_validation_refuses_unknown_fields(store: Store) -> None:
    body = router()
    body["spec"]["routes"][0]["typo"] = 1
    error = api_error(store.create, ROUTERS, NS, body, field_validation="Strict")
    assert error.status == 400
    assert 'unknown field "spec.routes[0].typo"' in error.message


def test_enum_errors_are_not_supported_causes(store: Store) -> None:
    policy = {
        "maxRetries": 1,
        "perRetryTimeout": {"unit": "minutes", "value": 2},
        "httpRetryEvents": ["server-error"],
    }
    cause = api_error(store.create, ROUTERS, NS, router(policy)).causes[0]
    assert cause["reason"] == "FieldValueNotSupported"
    assert (
        cause["message"] == 'Unsupported value: "minutes": supported values: "s", "ms"'
    )


def test_legacy_v1beta1_virtual_service_keeps_unknown_fields(store: Store) -> None:
    body = {
        "metadata": {"name": "ratings.bookinfo.svc.cluster.local"},
        "spec": {
            "meshName": "bookinfo",
            "virtualRouter": {"name": "ratings-router"},
            "routes": [
                {
                    "name": "ratings-route",
                    "http": {
                        "match": {"prefix": "/"},
                        "action": {
                            "weightedTargets": [
                                {"virtualNodeName": "ratings-v1", "weight": 1}
                            ]
                        },
                        "retryPolicy": {"perRetryTimeoutMillis": 2000, "maxRetries": 3},
                    },
                    "unlisted": "kept",
                }
            ],
        },
    }
    created = store.create(LEGACY_VS, NS, body)
    assert created["spec"]["routes"][0]["unlisted"] == "kept"
    # One storage for both versions, as a multi-version CRD has.
    same = store.get(
        "appmesh.k8s.aws/v1beta2/virtualservices", NS, body["metadata"]["name"]
    )
    assert same["apiVersion"] == "appmesh.k8s.aws/v1beta2"
    assert same["metadata"]["uid"] == created["metadata"]["uid"]


def test_istio_durations_follow_the_cel_rule(store: Store) -> None:
    def service(per_try: str) -> dict[str, Any]:
        return {
            "metadata": {"name": f"ratings-{len(per_try)}"},
            "spec": {
                "hosts": ["ratings"],
                "http": [
                    {
                        "name": "ratings-route",
                        "route": [{"destination": {"host": "ratings"}}],
                        "retries": {"attempts": 3, "perTryTimeout": per_try},
                    }
                ],
            },
        }

    assert store.create(ISTIO_VS, NS, service("2s"))["spec"]["http"][0]["retries"]
    error = api_error(store.create, ISTIO_VS, NS, service("2 seconds"))
    assert error.causes[0]["message"].endswith(
        "must be a valid duration greater than 1ms"
    )
    assert error.causes[0]["field"] == "spec.http[0].retries.perTryTimeout"


def test_schema_extensions_translate_to_jsonschema() -> None:
    node = {
        "type": "object",
        "properties": {
            "port": {
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            },
            "note": {"type": "string", "nullable": True, "enum": ["a"]},
            "inner": {"type": "object", "x-kubernetes-embedded-resource": True},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    out = schemas.to_jsonschema(node)
    props = out["properties"]
    assert props["port"]["type"] == ["integer", "string"]
    assert props["note"]["type"] == ["string", "null"] and None in props["note"]["enum"]
    assert props["inner"]["required"] == ["apiVersion", "kind"]
    assert "x-kubernetes-preserve-unknown-fields" not in props["free"]


def test_go_durations_parse() -> None:
    assert schemas.parse_go_duration_s("1m30s") == 90
    assert schemas.parse_go_duration_s("250ms") == 0.25
    assert schemas.parse_go_duration_s("0") == 0
    assert schemas.parse_go_duration_s("2 s") is None
    assert schemas.parse_go_duration_s("") is None


# -- CRDs ----
def test_loaded_crds_cover_every_served_version(crds: list[dict[str, Any]]) -> None:
    registry = ResourceRegistry.with_crds(crds)
    served = {t.key for t in registry if not t.is_builtin}
    assert {
        ENGINES,
        "litmuschaos.io/v1alpha1/chaosresults",
        "litmuschaos.io/v1alpha1/chaosexperiments",
        ROUTERS,
        "appmesh.k8s.aws/v1beta2/virtualnodes",
        "appmesh.k8s.aws/v1beta2/virtualservices",
        LEGACY_VS,
        "appmesh.k8s.aws/v1alpha1/virtualservices",
        ISTIO_VS,
        "networking.istio.io/v1beta1/virtualservices",
        "networking.istio.io/v1alpha3/virtualservices",
    } <= served
    groups = registry.group_versions()
    assert groups["appmesh.k8s.aws"][0] == "v1beta2"
    assert groups["networking.istio.io"][0] == "v1"
    assert not registry.resolve(ENGINES).has_status_subresource
    assert registry.resolve(ROUTERS).has_status_subresource


def test_litmus_1x_crds_are_selectable() -> None:
    files = schemas.default_crd_files(litmus="1.x", appmesh=(), istio=False)
    registry = ResourceRegistry.with_crds(schemas.load_crd_files(files))
    engines = registry.resolve(ENGINES)
    assert engines is not None and not engines.prune  # v1beta1: no pruning
    assert registry.resolve(ROUTERS) is None
    with pytest.raises(ValueError):
        schemas.default_crd_files(litmus="2.x")


def test_version_priority_follows_kubernetes() -> None:
    versions = ["v1alpha1", "v1", "foo", "v1beta1", "v2", "v1beta2"]
    assert sorted(versions, key=version_priority_key) == [
        "v2",
        "v1",
        "v1beta2",
        "v1beta1",
        "v1alpha1",
        "foo",
    ]


def test_deleting_a_crd_stops_serving_it_and_drops_its_objects(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    crd = store.get(
        "apiextensions.k8s.io/v1/customresourcedefinitions",
        None,
        "chaosengines.litmuschaos.io",
    )
    store.delete(
        "apiextensions.k8s.io/v1/customresourcedefinitions",
        None,
        "chaosengines.litmuschaos.io",
    )
    assert api_error(store.list, ENGINES).status == 404
    for key in ("uid", "resourceVersion", "creationTimestamp", "generation"):
        crd["metadata"].pop(key)
    crd.pop("status")
    store.create("apiextensions.k8s.io/v1/customresourcedefinitions", None, crd)
    assert store.list(ENGINES, NS)[0] == []


def test_a_bad_crd_is_refused(store: Store) -> None:
    crd = {
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "gadgets", "kind": "Gadget"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True}],
        },
    }
    error = api_error(
        store.create, "apiextensions.k8s.io/v1/customresourcedefinitions", None, crd
    )
    assert error.status == 422 and error.causes[0]["field"] == "metadata.name"
    assert store.registry.resolve("example.com/v1/gadgets") is None


# -- lists and selectors ----
def test_lists_filter_by_labels_and_fields(store: Store) -> None:
    store.create(
        "v1/pods", NS, pod("ratings-v1-a", {"app": "ratings", "version": "v1"})
    )
    store.create(
        "v1/pods", NS, pod("ratings-v2-b", {"app": "ratings", "version": "v2"})
    )
    store.create("v1/pods", NS, pod("reviews-v3-c", {"app": "reviews"}))
    store.create("v1/pods", "default", pod("other", {"app": "ratings"}))

    def names(**kw: Any) -> list[str]:
        items, _ = store.list("v1/pods", kw.pop("namespace", NS), **kw)
        return [i["metadata"]["name"] for i in items]

    assert names(label_selector="app=ratings") == ["ratings-v1-a", "ratings-v2-b"]
    assert names(label_selector="app==ratings,version!=v1") == ["ratings-v2-b"]
    assert names(label_selector="version in (v1, v2)") == [
        "ratings-v1-a",
        "ratings-v2-b",
    ]
    assert names(label_selector="version notin (v1)") == [
        "ratings-v2-b",
        "reviews-v3-c",
    ]
    assert names(label_selector="!version") == ["reviews-v3-c"]
    assert names(label_selector="version") == ["ratings-v1-a", "ratings-v2-b"]
    assert names(field_selector="metadata.name=reviews-v3-c") == ["reviews-v3-c"]
    assert names(field_selector="status.phase=Running,metadata.name!=ratings-v1-a") == [
        "ratings-v2-b",
        "reviews-v3-c",
    ]
    everywhere, rv = store.list("v1/pods", label_selector="app=ratings")
    assert [i["metadata"]["namespace"] for i in everywhere] == [NS, NS, "default"]
    assert rv == store.resource_version
    assert api_error(store.list, "v1/pods", NS, "app in (").status == 400
    assert (
        api_error(store.list, ENGINES, NS, None, "spec.engineState=active").status
        == 400
    )


def test_list_pages_continue_where_they_stopped(store: Store) -> None:
    for index in range(5):
        store.create("v1/configmaps", NS, {"metadata": {"name": f"cm-{index}"}})
    first, _, after = store.list_page("v1/configmaps", NS, limit=2)
    second, _, after2 = store.list_page(
        "v1/configmaps", NS, limit=2, continue_after=after
    )
    last, _, end = store.list_page("v1/configmaps", NS, limit=2, continue_after=after2)
    names = [i["metadata"]["name"] for i in first + second + last]
    assert names == [f"cm-{i}" for i in range(5)] and end is None


def test_label_selector_parser_rejects_garbage() -> None:
    for bad in ("a=b=c", "in (x)", "a in x", "=b", "a,,b", "a in ()"):
        with pytest.raises(SelectorError):
            parse_label_selector(bad)
    assert parse_label_selector("n>3").matches({"n": "4"})
    assert not parse_label_selector("n<3").matches({"n": "4"})


# -- deletion ----
def test_finalizers_keep_a_deleted_object_until_they_are_removed(store: Store) -> None:
    body = engine()
    body["metadata"]["finalizers"] = ["chaosengine.litmuschaos.io/finalizer"]
    store.create(ENGINES, NS, body)
    marked, pending = store.delete_ex(ENGINES, NS, "engine", 30)
    assert pending
    assert marked["metadata"]["deletionTimestamp"].endswith("Z")
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 30
    again, still = store.delete_ex(ENGINES, NS, "engine")
    assert still and again == store.get(ENGINES, NS, "engine")
    add = {"metadata": {"finalizers": ["a/b", "chaosengine.litmuschaos.io/finalizer"]}}
    assert api_error(store.patch, ENGINES, NS, "engine", add).status == 422
    store.patch(ENGINES, NS, "engine", {"metadata": {"finalizers": None}})
    assert api_error(store.get, ENGINES, NS, "engine").status == 404


def test_delete_preconditions(store: Store) -> None:
    store.create(ENGINES, NS, engine())
    error = api_error(
        store.delete, ENGINES, NS, "engine", preconditions={"uid": "nope"}
    )
    assert error.status == 409
    assert store.get(ENGINES, NS, "engine")


def test_deleting_an_owner_collects_its_dependents(store: Store) -> None:
    owner = store.create(
        "apps/v1/replicasets", NS, {"metadata": {"name": "rs"}, "spec": {}}
    )
    ref = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "name": "rs",
        "uid": owner["metadata"]["uid"],
    }
    dependent = pod("rs-pod")
    dependent["metadata"]["ownerReferences"] = [ref]
    store.create("v1/pods", NS, dependent)
    store.create("v1/pods", NS, pod("unrelated"))
    store.delete("apps/v1/replicasets", NS, "rs")
    assert [p["metadata"]["name"] for p in store.list("v1/pods", NS)[0]] == [
        "unrelated"
    ]


def test_orphan_propagation_keeps_dependents(store: Store) -> None:
    owner = store.create("batch/v1/jobs", NS, {"metadata": {"name": "job"}, "spec": {}})
    dependent = pod("job-pod")
    dependent["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "job",
            "uid": owner["metadata"]["uid"],
        }
    ]
    store.create("v1/pods", NS, dependent)
    store.delete("batch/v1/jobs", NS, "job", propagation_policy="Orphan")
    assert store.get("v1/pods", NS, "job-pod")


def test_deleting_a_namespace_deletes_its_content(store: Store) -> None:
    store.create("v1/pods", NS, pod("p"))
    store.create(ENGINES, NS, engine())
    held = engine("held")
    held["metadata"]["finalizers"] = ["x.io/hold"]
    store.create(ENGINES, NS, held)
    namespace, pending = store.delete_ex("v1/namespaces", None, NS)
    assert pending and namespace["status"]["phase"] == "Terminating"
    assert store.list("v1/pods", NS)[0] == []
    refused = api_error(store.create, "v1/pods", NS, pod("late"))
    assert (refused.status, refused.reason) == (403, "Forbidden")
    store.patch(ENGINES, NS, "held", {"metadata": {"finalizers": []}})
    assert api_error(store.get, "v1/namespaces", None, NS).status == 404


# -- watches ----
async def collect(
    store: Store, count: int, timeout_s: float = 5.0, **kwargs: Any
) -> list[tuple[str, str]]:
    """The first `count` events of a watch, as (type, name)."""
    events: list[tuple[str, str]] = []

    async def run() -> None:
        async for event_type, obj in store.watch(ENGINES, NS, **kwargs):
            events.append((event_type, obj["metadata"]["name"]))
            if len(events) >= count:
                return

    await asyncio.wait_for(run(), timeout_s)
    return events


async def start_collecting(store: Store, count: int, **kwargs: Any) -> asyncio.Task:
    """Start `collect` and return once its watch is registered."""
    open_before = store.watcher_count()
    task = asyncio.ensure_future(collect(store, count, **kwargs))
    while store.watcher_count() == open_before and not task.done():
        await asyncio.sleep(0)
    return task


def test_watch_without_resource_version_lists_then_streams(store: Store) -> None:
    async def scenario() -> list[tuple[str, str]]:
        store.create(ENGINES, NS, engine("a"))
        task = await start_collecting(store, 3)
        store.create(ENGINES, NS, engine("b"))
        store.delete(ENGINES, NS, "a")
        return await task

    assert asyncio.run(scenario()) == [("ADDED", "a"), ("ADDED", "b"), ("DELETED", "a")]


def test_watch_resumes_after_a_resource_version(store: Store) -> None:
    first = store.create(ENGINES, NS, engine("a"))
    store.patch(ENGINES, NS, "a", {"spec": {"engineState": "stop"}})
    store.create(ENGINES, NS, engine("b"))
    rv = first["metadata"]["resourceVersion"]
    events = asyncio.run(collect(store, 2, resource_version=rv))
    assert events == [("MODIFIED", "a"), ("ADDED", "b")]


def test_watch_from_a_too_old_version_is_410_expired(
    crds: list[dict[str, Any]],
) -> None:
    store = Store(ResourceRegistry.with_crds(crds), event_log_size=3)
    first = store.create(ENGINES, "default", engine("a"))
    for state in ("stop", "active", "stop", "active"):
        store.patch(ENGINES, "default", "a", {"spec": {"engineState": state}})

    async def watch_from(rv: str) -> None:
        async for _ in store.watch(ENGINES, "default", resource_version=rv):
            return

    with pytest.raises(ApiError) as caught:
        asyncio.run(watch_from(first["metadata"]["resourceVersion"]))
    assert (caught.value.status, caught.value.reason) == (410, "Expired")
    assert caught.value.message.startswith("too old resource version")


def test_watch_with_selector_sees_objects_enter_and_leave(store: Store) -> None:
    async def scenario() -> list[tuple[str, str]]:
        task = await start_collecting(store, 3, label_selector="team=sre")
        store.create(ENGINES, NS, engine("a"))
        store.patch(ENGINES, NS, "a", {"metadata": {"labels": {"team": "sre"}}})
        store.patch(ENGINES, NS, "a", {"spec": {"engineState": "stop"}})
        store.patch(ENGINES, NS, "a", {"metadata": {"labels": None}})
        return await task

    assert asyncio.run(scenario()) == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]


def test_close_watches_ends_open_watches(store: Store) -> None:
    async def scenario() -> list[tuple[str, str]]:
        task = await start_collecting(store, 10)
        store.create(ENGINES, NS, engine("a"))
        store.close_watches()
        return await task

    # `collect` returns because the watch ends, long before 10 events arrive.
    assert asyncio.run(scenario()) == [("ADDED", "a")]


# -- pure patch functions ----
def test_merge_patch_follows_rfc7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3]}
    assert apply_merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3]}
    assert target["c"] == {"d": "e", "f": "g"}


def test_json_patch_operations() -> None:
    doc = {"spec": {"routes": [{"name": "a"}, {"name": "b"}]}}
    ops = [
        {"op": "test", "path": "/spec/routes/0/name", "value": "a"},
        {"op": "add", "path": "/spec/routes/0/retry", "value": {"max": 3}},
        {"op": "copy", "from": "/spec/routes/0/retry", "path": "/spec/routes/1/retry"},
        {"op": "move", "from": "/spec/routes/1/name", "path": "/spec/moved"},
        {"op": "replace", "path": "/spec/moved", "value": "c"},
        {"op": "remove", "path": "/spec/routes/0/name"},
        {"op": "add", "path": "/spec/routes/-", "value": {"name": "d"}},
    ]
    assert apply_json_patch(doc, ops) == {
        "spec": {
            "routes": [{"retry": {"max": 3}}, {"retry": {"max": 3}}, {"name": "d"}],
            "moved": "c",
        }
    }
    with pytest.raises(PatchError):
        apply_json_patch(doc, [{"op": "remove", "path": "/spec/missing"}])
    with pytest.raises(PatchError):
        apply_json_patch(doc, [{"op": "replace", "path": "/spec/missing", "value": 1}])


def test_strategic_merge_patch_directives() -> None:
    target = {
        "metadata": {"finalizers": ["a"]},
        "spec": {
            "containers": [{"name": "x", "image": "1"}, {"name": "y", "image": "1"}]
        },
    }
    patch = {
        "metadata": {"finalizers": ["b"]},
        "spec": {
            "containers": [
                {"name": "x", "image": "2"},
                {"name": "y", "$patch": "delete"},
            ]
        },
    }
    assert apply_strategic_merge_patch(target, patch) == {
        "metadata": {"finalizers": ["a", "b"]},
        "spec": {"containers": [{"name": "x", "image": "2"}]},
    }
    dropped = apply_strategic_merge_patch(
        {"metadata": {"finalizers": ["a", "b"]}},
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
    )
    assert dropped == {"metadata": {"finalizers": ["b"]}}
