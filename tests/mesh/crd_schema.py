"""Check generated retry blocks against the real CRD schema subtrees.

The lab's API emulator validates whole objects in the integration tests; this
is the quick, I/O-free check for the pure adapter tests.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRDS = Path(__file__).resolve().parents[2] / "chaoslitmus" / "lab" / "kube" / "crds"


@cache
def _crd(filename: str) -> dict:
    docs = [d for d in yaml.safe_load_all((CRDS / filename).read_text()) if d]
    return docs[0]


def _version_schema(filename: str, version: str) -> dict:
    crd = _crd(filename)
    if "versions" in crd["spec"] and any(
        "schema" in v for v in crd["spec"]["versions"]
    ):
        for entry in crd["spec"]["versions"]:
            if entry["name"] == version:
                return entry["schema"]["openAPIV3Schema"]
        raise KeyError(version)
    return crd["spec"]["validation"]["openAPIV3Schema"]


def route_item_schema(filename: str, version: str, routes_field: str) -> dict:
    spec = _version_schema(filename, version)["properties"]["spec"]
    return spec["properties"][routes_field]["items"]


def route_errors(filename: str, version: str, routes_field: str, route: Any) -> list:
    schema = route_item_schema(filename, version, routes_field)
    validator = jsonschema.Draft4Validator(schema)
    return [error.message for error in validator.iter_errors(route)]
