"""CustomResourceDefinitions: load the real CRD files, validate and prune objects.

The lab must reject what a real cluster rejects, so custom objects are
checked against the CRD's own openAPIV3Schema (with the Kubernetes
structural-schema extensions translated for `jsonschema`) and unknown
fields are pruned the way the apiserver prunes them for v1 CRDs.
"""

from __future__ import annotations

import copy
import json
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import ValidationError

from .resources import (
    UNPRUNED_VERSIONS_ANNOTATION,
    ResourceType,
    unpruned_versions,
)

__all__ = [
    "CRD_DIR",
    "crd_to_v1",
    "crd_status",
    "default_crd_files",
    "load_crd_files",
    "merge_crds",
    "prune",
    "read_crd_documents",
    "validate",
    "validate_crd",
]

CRD_DIR = Path(__file__).resolve().parent / "crds"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# -- loading ------------------------------------------------------------------
def default_crd_files(
    litmus: str = "3.x",
    appmesh: Sequence[str] = ("v1beta1", "v1beta2"),
    istio: bool = True,
    crd_dir: Path = CRD_DIR,
) -> list[Path]:
    """The CRD files the lab serves: Litmus 3.x (or 1.x), App Mesh, Istio."""
    if litmus not in ("1.x", "3.x"):
        raise ValueError(f"litmus must be '1.x' or '3.x', not {litmus!r}")
    files = [
        crd_dir / f"{kind}-crd-{litmus}.yaml"
        for kind in ("chaosengine", "chaosexperiment", "chaosresult")
    ]
    if "v1beta1" in appmesh:
        files.append(crd_dir / "appmesh-v1beta1-virtualservice-crd.yaml")
    if "v1beta2" in appmesh:
        files += [
            crd_dir / f"appmesh-v1beta2-{kind}-crd.yaml"
            for kind in ("virtualservice", "virtualrouter", "virtualnode")
        ]
    if istio:
        files.append(crd_dir / "istio-virtualservice-crd.yaml")
    return files


_PARSED: dict[tuple[str, int, int], list[dict[str, Any]]] = {}


def read_crd_documents(path: Path | str) -> list[dict[str, Any]]:
    """Every CustomResourceDefinition document in a (multi-document) YAML file.

    Parsing the big CRDs takes most of a store's start-up, and tests start
    many stores: parsed files are cached (by path, mtime, size) and copied.
    """
    resolved = Path(path).resolve()
    stat = resolved.stat()
    key = (str(resolved), stat.st_mtime_ns, stat.st_size)
    if key not in _PARSED:
        with open(resolved, encoding="utf-8") as handle:
            docs = list(yaml.load_all(handle, Loader=_Loader))
        _PARSED[key] = [
            doc
            for doc in docs
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"
        ]
    return _clone(_PARSED[key])


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def load_crd_files(paths: Iterable[Path | str]) -> list[dict[str, Any]]:
    """apiextensions.k8s.io/v1 CRD objects from files, same-name CRDs merged."""
    crds = [crd_to_v1(doc) for path in paths for doc in read_crd_documents(path)]
    return merge_crds(crds)


def crd_to_v1(doc: dict[str, Any]) -> dict[str, Any]:
    """Convert a v1beta1 CRD to the v1 shape the apiserver would store."""
    crd = _clone(doc)
    if crd.get("apiVersion") == "apiextensions.k8s.io/v1":
        crd.setdefault("spec", {}).setdefault("preserveUnknownFields", False)
        return _fill_names(crd)
    spec = crd.setdefault("spec", {})
    versions = spec.get("versions") or [
        {"name": spec.get("version"), "served": True, "storage": True}
    ]
    shared_schema = (spec.pop("validation", None) or {}).get("openAPIV3Schema")
    shared_sub = spec.pop("subresources", None)
    shared_columns = spec.pop("additionalPrinterColumns", None)
    converted = []
    for version in versions:
        version = dict(version)
        schema = (version.pop("schema", None) or {}).get("openAPIV3Schema")
        schema = schema or shared_schema
        if schema is not None:
            version["schema"] = {"openAPIV3Schema": copy.deepcopy(schema)}
        sub = version.get("subresources", shared_sub)
        if sub:
            version["subresources"] = copy.deepcopy(sub)
        else:
            version.pop("subresources", None)
        columns = version.get("additionalPrinterColumns", shared_columns)
        if columns:
            version["additionalPrinterColumns"] = [
                _v1_column(column) for column in columns
            ]
        version.setdefault("served", True)
        version.setdefault("storage", False)
        converted.append(version)
    spec.pop("version", None)
    spec["versions"] = converted
    spec.setdefault("preserveUnknownFields", True)
    spec.setdefault("scope", "Namespaced")
    crd["apiVersion"] = "apiextensions.k8s.io/v1"
    return _fill_names(crd)


def _v1_column(column: dict[str, Any]) -> dict[str, Any]:
    column = dict(column)
    if "JSONPath" in column:
        column["jsonPath"] = column.pop("JSONPath")
    return column


def _fill_names(crd: dict[str, Any]) -> dict[str, Any]:
    names = crd.get("spec", {}).get("names")
    if isinstance(names, dict) and names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
    return crd


def merge_crds(crds: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge CRDs sharing a name (App Mesh v1beta1 + v1beta2 virtualservices)."""
    merged: dict[str, dict[str, Any]] = {}
    for crd in crds:
        name = crd["metadata"]["name"]
        if name not in merged:
            merged[name] = crd
            continue
        merged[name] = _merge_pair(merged[name], crd)
    return list(merged.values())


def _merge_pair(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    # The structural (pruning) CRD is the base; the legacy one adds versions.
    base, extra = first, second
    if first["spec"].get("preserveUnknownFields") and not second["spec"].get(
        "preserveUnknownFields"
    ):
        base, extra = second, first
    base = copy.deepcopy(base)
    for key in ("group", "scope"):
        if base["spec"].get(key) != extra["spec"].get(key):
            raise ValueError(
                f"CRD {base['metadata']['name']}: {key} differs between files"
            )
    if base["spec"]["names"]["kind"] != extra["spec"]["names"]["kind"]:
        raise ValueError(f"CRD {base['metadata']['name']}: kind differs between files")
    known = {v["name"] for v in base["spec"]["versions"]}
    unpruned = unpruned_versions(base)
    for version in extra["spec"]["versions"]:
        if version["name"] in known:
            continue
        version = copy.deepcopy(version)
        version["storage"] = False
        base["spec"]["versions"].append(version)
        if extra["spec"].get("preserveUnknownFields"):
            unpruned.add(version["name"])
    if unpruned:
        annotations = base["metadata"].setdefault("annotations", {})
        annotations[UNPRUNED_VERSIONS_ANNOTATION] = ",".join(sorted(unpruned))
    return base


# -- CRD objects ----------------------------------------------------------------
_DNS_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def validate_crd(crd: dict[str, Any]) -> list[dict[str, str]]:
    """The checks the apiserver makes before it serves a new CRD."""
    causes: list[dict[str, str]] = []
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [_required("spec")]
    group = spec.get("group")
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    if not group:
        causes.append(_required("spec.group"))
    elif not _DNS_SUBDOMAIN.match(group) or "." not in group:
        causes.append(
            _invalid("spec.group", group, "should be a domain with at least one dot")
        )
    for key in ("plural", "kind"):
        if not names.get(key):
            causes.append(_required(f"spec.names.{key}"))
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "message": f"Unsupported value: {json.dumps(spec.get('scope'))}: "
                'supported values: "Cluster", "Namespaced"',
                "field": "spec.scope",
            }
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        causes.append(_required("spec.versions"))
    else:
        storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
        if len(storage) != 1:
            causes.append(
                _invalid(
                    "spec.versions",
                    "array",
                    "must have exactly one version marked as storage version",
                )
            )
        for index, version in enumerate(versions):
            if not isinstance(version, dict) or not version.get("name"):
                causes.append(_required(f"spec.versions[{index}].name"))
    name = crd.get("metadata", {}).get("name")
    if names.get("plural") and group and name != f"{names['plural']}.{group}":
        causes.append(
            _invalid(
                "metadata.name",
                name,
                'must be spec.names.plural+"."+spec.group',
            )
        )
    return causes


def crd_status(crd: dict[str, Any]) -> dict[str, Any]:
    """The status an apiserver reports for a CRD it accepted and serves."""
    spec = crd["spec"]
    names = dict(spec["names"])
    storage = [v["name"] for v in spec["versions"] if v.get("storage")]
    previous = (crd.get("status") or {}).get("storedVersions") or []
    stored = list(dict.fromkeys([*previous, *storage]))
    now = crd.get("metadata", {}).get("creationTimestamp")
    return {
        "acceptedNames": names,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": now,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": now,
            },
        ],
        "storedVersions": stored,
    }


# -- schema translation ---------------------------------------------------------
_DROP_KEYS = frozenset(
    {"description", "example", "externalDocs", "default", "format", "title"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_ONE = frozenset({"items", "additionalProperties", "not"})


def to_jsonschema(node: Any) -> Any:
    """Translate a Kubernetes structural schema node for Draft 7 jsonschema."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS or key == "nullable":
            continue
        if key == "x-kubernetes-validations":
            out[key] = value
        elif key.startswith("x-kubernetes-"):
            continue
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: to_jsonschema(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_jsonschema(sub) for sub in value]
        elif key in _SCHEMA_ONE:
            out[key] = to_jsonschema(value)
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out["type"] = ["integer", "string"]
    if node.get("x-kubernetes-embedded-resource"):
        required = list(out.get("required") or [])
        out["required"] = required + [
            k for k in ("apiVersion", "kind") if k not in required
        ]
    if node.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        elif isinstance(kind, list) and "null" not in kind:
            out["type"] = [*kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


# Common-expression-language rules the lab understands; others are skipped
# (a real apiserver would evaluate them, so skipping can only accept more).
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS_S = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


def parse_go_duration_s(text: str) -> float | None:
    """Seconds in a Go duration string ("1.5s", "2m30s"), or None if invalid."""
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(body):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _DURATION_UNITS_S[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body:
        return None
    return sign * total


def _duration_at_least(minimum_s: float) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, str):
            return True
        seconds = parse_go_duration_s(value)
        return seconds is not None and seconds >= minimum_s

    return check


_CEL_RULES: dict[str, Callable[[Any], bool]] = {
    "duration(self) >= duration('1ms')": _duration_at_least(1e-3),
}


def _cel_validations(
    validator: Any, rules: Any, instance: Any, schema: dict[str, Any]
) -> Iterable[ValidationError]:
    for rule in rules or ():
        check = _CEL_RULES.get(str(rule.get("rule", "")).strip())
        if check is not None and not check(instance):
            error = ValidationError(
                rule.get("message") or f"failed rule: {rule['rule']}"
            )
            error.validator = "x-kubernetes-validations"  # type: ignore[assignment]
            yield error


_KubeValidator = validators.extend(
    Draft7Validator, {"x-kubernetes-validations": _cel_validations}
)
_VALIDATORS: OrderedDict[int, tuple[dict[str, Any], Any]] = OrderedDict()
_VALIDATOR_CACHE_SIZE = 128


def _validator_for(schema: dict[str, Any]) -> Any:
    """A compiled validator per schema object, kept in a small LRU cache."""
    cached = _VALIDATORS.get(id(schema))
    if cached is not None and cached[0] is schema:
        _VALIDATORS.move_to_end(id(schema))
        return cached[1]
    compiled = _KubeValidator(to_jsonschema(schema))
    _VALIDATORS[id(schema)] = (schema, compiled)
    while len(_VALIDATORS) > _VALIDATOR_CACHE_SIZE:
        _VALIDATORS.popitem(last=False)
    return compiled


# -- validation -----------------------------------------------------------------
_TYPE_NAMES = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    dict: "object",
    list: "array",
    type(None): "null",
}


def _field_path(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return '"object"'
    if isinstance(value, list):
        return '"array"'
    return json.dumps(value)


def _required(field: str) -> dict[str, str]:
    return {"reason": "FieldValueRequired", "message": "Required value", "field": field}


def _invalid(field: str, value: Any, detail: str) -> dict[str, str]:
    return {
        "reason": "FieldValueInvalid",
        "message": f"Invalid value: {_shown(value)}: {detail}",
        "field": field,
    }


def _causes_for(error: ValidationError) -> list[dict[str, str]]:
    field = _field_path(error.absolute_path)
    where = field or "body"
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "required":
        missing = [name for name in expected if name not in value]
        return [_required(f"{field}.{name}" if field else name) for name in missing]
    if kind == "enum":
        supported = ", ".join(json.dumps(item) for item in expected)
        return [
            {
                "reason": "FieldValueNotSupported",
                "message": f"Unsupported value: {json.dumps(value)}: "
                f"supported values: {supported}",
                "field": field,
            }
        ]
    if kind == "type":
        wanted = expected if isinstance(expected, str) else " or ".join(expected)
        got = _TYPE_NAMES.get(type(value), "unknown")
        return [
            {
                "reason": "FieldValueTypeInvalid",
                "message": f'Invalid value: "{got}": {where} in body must be of type '
                f"{wanted}: {_shown(value)}",
                "field": field,
            }
        ]
    if kind == "maxItems":
        return [
            {
                "reason": "FieldValueTooMany",
                "message": f"Too many: {len(value)}: "
                f"must have at most {expected} items",
                "field": field,
            }
        ]
    if kind == "maxLength":
        return [
            {
                "reason": "FieldValueTooLong",
                "message": f"Too long: may not be more than {expected} bytes",
                "field": field,
            }
        ]
    details = {
        "pattern": f"{where} in body should match '{expected}'",
        "minimum": f"{where} in body should be greater than or equal to {expected}",
        "maximum": f"{where} in body should be less than or equal to {expected}",
        "exclusiveMinimum": f"{where} in body should be greater than {expected}",
        "exclusiveMaximum": f"{where} in body should be less than {expected}",
        "minLength": f"{where} in body should be at least {expected} chars long",
        "minItems": f"{where} in body should have at least {expected} items",
        "uniqueItems": f"{where} in body shouldn't contain duplicates",
        "oneOf": f"{where} in body must validate one and only one schema (oneOf)",
        "anyOf": f"{where} in body must validate at least one schema (anyOf)",
        "not": f"{where} in body must not validate the schema (not)",
        "x-kubernetes-validations": error.message,
    }
    return [_invalid(field, value, details.get(str(kind), error.message))]


def validate(rtype: ResourceType, obj: dict[str, Any]) -> list[dict[str, str]]:
    """Kubernetes-style causes for everything wrong with obj (empty: valid)."""
    if rtype.schema is None:
        return []
    validator = _validator_for(rtype.schema)
    causes: list[dict[str, str]] = []
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.path)))
    for error in errors:
        for cause in _causes_for(error):
            if cause not in causes:
                causes.append(cause)
    return causes


# -- pruning and defaulting ---------------------------------------------------------
_OBJECT_ROOT_KEYS = ("apiVersion", "kind", "metadata")


def prune(rtype: ResourceType, obj: dict[str, Any]) -> list[str]:
    """Drop unknown fields in place like a v1 CRD's apiserver; list what went."""
    if not rtype.prune or rtype.schema is None:
        return []
    dropped: list[str] = []
    _prune_node(obj, rtype.schema, "", dropped, keep_object_meta=True)
    return dropped


def _prune_node(
    value: Any,
    schema: dict[str, Any],
    path: str,
    dropped: list[str],
    keep_object_meta: bool = False,
) -> None:
    if isinstance(value, list):
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                _prune_node(item, items, f"{path}[{index}]", dropped)
        return
    if not isinstance(value, dict):
        return
    props = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    keep_meta = keep_object_meta or bool(schema.get("x-kubernetes-embedded-resource"))
    for key in list(value):
        child = f"{path}.{key}" if path else key
        if key in props:
            sub = props[key]
            if value[key] is None and not sub.get("nullable"):
                del value[key]
                continue
            if not (keep_meta and key == "metadata"):
                _prune_node(value[key], sub, child, dropped)
        elif isinstance(extra, dict):
            _prune_node(value[key], extra, child, dropped)
        elif extra is True or preserve or (keep_meta and key in _OBJECT_ROOT_KEYS):
            continue
        else:
            del value[key]
            dropped.append(child)
    for key, sub in props.items():
        if key not in value and isinstance(sub, dict) and "default" in sub:
            value[key] = copy.deepcopy(sub["default"])
