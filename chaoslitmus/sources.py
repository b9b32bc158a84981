"""Reading YAML manifests from a file or a URL, safely.

Documents are parsed with ``yaml.safe_load_all`` (no Python object tags), and
URLs must be https unless the caller says otherwise (redirects included), so
a manifest cannot be swapped on the wire.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests
import yaml
from chaoslib.exceptions import ActivityFailed

FETCH_TIMEOUT_S = 15
MAX_MANIFEST_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


def _check_scheme(url: str, allow_insecure: bool, asked: str) -> None:
    scheme = urlparse(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_insecure):
        return
    via = "" if url == asked else f" (redirected from {asked})"
    if scheme == "http":
        raise ActivityFailed(
            f"refusing to fetch {url}{via} over plain http: use https, "
            "or pass allow_insecure=true"
        )
    raise ActivityFailed(f"refusing to fetch {url}{via}: only https URLs are read")


def _fetch(url: str, allow_insecure: bool) -> str:
    """GET ``url``, following redirects only to URLs we would fetch ourselves.

    requests would follow an https -> http redirect silently, handing the
    manifest to anyone on the path; each hop is checked instead. The body is
    read in chunks and cut at 5 MiB, so a huge answer cannot fill memory.
    """
    current = url
    with requests.Session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            _check_scheme(current, allow_insecure, url)
            try:
                response = session.get(
                    current, timeout=FETCH_TIMEOUT_S, allow_redirects=False, stream=True
                )
            except requests.RequestException as exc:
                raise ActivityFailed(
                    f"cannot fetch {current}: {type(exc).__name__}"
                ) from None
            with response:
                if response.is_redirect:
                    current = urljoin(current, response.headers.get("Location", ""))
                    continue
                if response.status_code != 200:
                    raise ActivityFailed(
                        f"fetching {current} answered HTTP {response.status_code}; "
                        "check the URL"
                    )
                return _bounded_text(response, current)
    raise ActivityFailed(f"{url} redirects more than {MAX_REDIRECTS} times")


def _bounded_text(response: requests.Response, url: str) -> str:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_MANIFEST_BYTES:
                raise ActivityFailed(f"{url} is larger than 5 MiB: not a manifest")
            chunks.append(chunk)
    except requests.RequestException as exc:
        raise ActivityFailed(f"cannot fetch {url}: {type(exc).__name__}") from None
    data = b"".join(chunks)
    try:  # YAML is UTF-8, whatever charset a web server guesses for text/*
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActivityFailed(f"{url} is not text (UTF-8 expected)") from None


def read_text(path_or_url: str, allow_insecure: bool = False) -> str:
    """The text at a local path or an https URL (http with ``allow_insecure``)."""
    if not isinstance(path_or_url, str) or not path_or_url.strip():
        raise ActivityFailed(f"expected a file path or URL, got {path_or_url!r}")
    scheme = urlparse(path_or_url).scheme.lower()
    if scheme in ("http", "https"):
        return _fetch(path_or_url, allow_insecure)
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
