"""`chaos discover` sees every public activity, documented and typed."""

import importlib

from chaoslitmus import ACTIVITY_MODULES, discover


def test_every_listed_activity_is_discovered_with_doc_and_types():
    discovery = discover(discover_system=False)
    found = {(a["mod"], a["name"]) for a in discovery["activities"]}
    for module_name, _ in ACTIVITY_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert (module_name, name) in found, f"{module_name}.{name} not discovered"
    for activity in discovery["activities"]:
        assert activity["doc"] and len(activity["doc"]) > 40, activity["name"]
        for arg in activity["arguments"]:
            assert arg.get("type") not in (None, "object"), (activity["name"], arg)


def test_core_activities_are_there():
    names = {a["name"] for a in discover(discover_system=False)["activities"]}
    assert {
        "run_experiment",
        "inject_network_latency",
        "create_engine_from_manifest",
        "wait_for_result",
        "stop_engine",
        "delete_engine",
        "chaos_result",
        "set_retry_policy",
        "restore_retry_policy",
        "get_retry_policy",
    } <= names


def test_chaos_init_can_skip_every_optional_number_and_boolean():
    # `chaos init` offers a null default as an empty answer, which an integer,
    # number or boolean prompt refuses and asks again, forever: those
    # arguments need real defaults.
    for activity in discover(discover_system=False)["activities"]:
        for arg in activity["arguments"]:
            if arg.get("type") in ("integer", "number", "boolean") and "default" in arg:
                assert arg["default"] is not None, (activity["name"], arg["name"])
