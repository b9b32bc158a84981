"""Request bodies as the lab API server reads them: size-capped, and YAML
whose aliases cannot blow a small body up into a huge object.

kube-apiserver refuses a body over its limit (3 MiB by default) with 413
RequestEntityTooLarge, and its YAML decoder refuses excessive aliasing; the
lab does the same (docs/lab-api-behaviour.md). YAML goes through the
extension's own bounded loader (chaoslitmus._yaml), which measures what
aliases would expand to before building anything, so a 1 KB "billion laughs"
is refused at once instead of being expanded to 10^9 strings.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from chaoslitmus._yaml import safe_load

from .errors import ApiError, bad_request

__all__ = [
    "MAX_BODY_BYTES",
    "decode_body",
    "too_large",
]

# kube-apiserver's default request body limit (genericapiserver config).
MAX_BODY_BYTES = 3 * 1024 * 1024


def too_large(limit: int = MAX_BODY_BYTES) -> ApiError:
    """The Status a real apiserver answers for a body over its limit."""
    return ApiError(
        413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}"
    )


def decode_body(raw: bytes, content_type: str) -> Any:
    """JSON, or YAML when the content type says so; ApiError 400 otherwise."""
    if not raw:
        raise bad_request("the request body is empty")
    try:
        if "yaml" in content_type:
            return safe_load(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise bad_request(f"the request body is not valid: {exc}") from None
