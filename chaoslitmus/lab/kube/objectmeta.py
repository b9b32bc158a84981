"""ObjectMeta rules every kind shares: names, labels and annotation keys.

The apiserver checks these for built-in and custom kinds alike, with the
messages below; bad metadata is a 422 before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .resources import NAMESPACE_KEY, ResourceType

__all__ = ["metadata_causes", "owner_ref"]

_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

_SUBDOMAIN_HELP = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
    "characters, '-' or '.', and must start and end with an alphanumeric character "
    "(e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_HELP = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
    "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
    "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_DNS1035_HELP = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character "
    "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def _name_causes(rtype: ResourceType, name: Any) -> list[dict[str, str]]:
    if not name:
        return [
            {
                "reason": "FieldValueRequired",
                "message": "Required value: name or generateName is required",
                "field": "metadata.name",
            }
        ]
    if rtype.key == NAMESPACE_KEY:
        pattern, limit, help_text = _DNS1123_LABEL, 63, _LABEL_HELP
    elif rtype.key == "v1/services":
        pattern, limit, help_text = _DNS1035_LABEL, 63, _DNS1035_HELP
    else:
        pattern, limit, help_text = _DNS1123_SUBDOMAIN, 253, _SUBDOMAIN_HELP
    if not isinstance(name, str) or len(name) > limit or not pattern.match(name):
        return [
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{name}": {help_text}',
                "field": "metadata.name",
            }
        ]
    return []


def _qualified_name_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return 0 < len(name) <= 63 and bool(_QUALIFIED_NAME.match(name))


def _key_cause(key: str, field: str) -> dict[str, str]:
    """The cause for a label or annotation key that is not a qualified name."""
    return {
        "reason": "FieldValueInvalid",
        "message": f'Invalid value: "{key}": name part must consist of '
        "alphanumeric characters, '-', '_' or '.', and must start and "
        "end with an alphanumeric character",
        "field": field,
    }


def metadata_causes(rtype: ResourceType, meta: dict[str, Any]) -> list[dict[str, str]]:
    """Causes for an invalid name, label or annotation key (empty: valid)."""
    causes = _name_causes(rtype, meta.get("name"))
    for key, value in (meta.get("labels") or {}).items():
        if not _qualified_name_ok(key):
            causes.append(_key_cause(key, "metadata.labels"))
        if len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{value}": a valid label must be an '
                    "empty string or consist of alphanumeric characters, '-', '_' or "
                    "'.', and must start and end with an alphanumeric character",
                    "field": "metadata.labels",
                }
            )
    for key in meta.get("annotations") or {}:
        if not _qualified_name_ok(key):
            causes.append(_key_cause(key, "metadata.annotations"))
    return causes


def owner_ref(owner: Mapping[str, Any]) -> dict[str, Any]:
    """A controller ownerReference to `owner` (which must have a uid)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
