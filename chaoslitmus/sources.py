"""Reading YAML manifests from a file or a URL, safely.

Documents are parsed with ``yaml.safe_load_all`` (no Python object tags), and
URLs must be https unless the caller says otherwise, so a manifest cannot be
swapped on the wire.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import requests
import yaml
from chaoslib.exceptions import ActivityFailed

FETCH_TIMEOUT_S = 15
MAX_MANIFEST_BYTES = 5 * 1024 * 1024


def read_text(path_or_url: str, allow_insecure: bool = False) -> str:
    """The text at a local path or an http(s) URL."""
    if not isinstance(path_or_url, str) or not path_or_url.strip():
        raise ActivityFailed(f"expected a file path or URL, got {path_or_url!r}")
    scheme = urlparse(path_or_url).scheme.lower()
    if scheme in ("http", "https"):
        if scheme == "http" and not allow_insecure:
            raise ActivityFailed(
                f"refusing to fetch {path_or_url} over plain http: use https, "
                "or pass allow_insecure=true"
            )
        try:
            response = requests.get(path_or_url, timeout=FETCH_TIMEOUT_S)
        except requests.RequestException as exc:
            raise ActivityFailed(
                f"cannot fetch {path_or_url}: {type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise ActivityFailed(
                f"fetching {path_or_url} answered HTTP {response.status_code}; "
                "check the URL"
            )
        if len(response.content) > MAX_MANIFEST_BYTES:
            raise ActivityFailed(f"{path_or_url} is larger than 5 MiB: not a manifest")
        return response.text
    if scheme not in ("", "file"):
        raise ActivityFailed(
            f"unsupported location {path_or_url!r}: give a file path or an https URL"
        )
    path = Path(urlparse(path_or_url).path if scheme == "file" else path_or_url)
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ActivityFailed(f"{path} is larger than 5 MiB: not a manifest")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ActivityFailed(f"manifest file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ActivityFailed(f"cannot read manifest file {path}: {exc}") from None


def load_documents(path_or_url: str, allow_insecure: bool = False) -> list[dict]:
    """Every non-empty YAML document at ``path_or_url``, each a mapping."""
    text = read_text(path_or_url, allow_insecure)
    try:
        documents = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ActivityFailed(
            f"{path_or_url} is not valid YAML{where}: "
            f"{getattr(exc, 'problem', None) or exc}"
        ) from None
    if not documents:
        raise ActivityFailed(f"{path_or_url} holds no YAML document")
    for index, document in enumerate(documents, start=1):
        if not isinstance(document, dict):
            raise ActivityFailed(
                f"{path_or_url}: document {index} is not a Kubernetes object "
                f"(got {type(document).__name__})"
            )
    return documents
