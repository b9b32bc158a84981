"""Reading YAML manifests from a file or a URL, safely.

Documents are parsed by :mod:`chaoslitmus._yaml` (no Python object tags, no
alias bombs), URLs must be https unless the caller says otherwise (redirects
included), so a manifest cannot be swapped on the wire, and a fetch ends by
its deadline however slowly the server answers. Only regular files are read:
a FIFO would block and ``/dev/zero`` never ends. URLs are shown without
their ``user:password@`` part.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests
import urllib3
import yaml
from chaoslib.exceptions import ActivityFailed

from chaoslitmus._deadline import SocketDeadline
from chaoslitmus._redact import redact_url
from chaoslitmus._yaml import UnsafeYaml, safe_load_all

# Per connect and per read, within the whole-fetch deadline.
FETCH_TIMEOUT_S = 15
# The whole fetch (connect, redirects, every read) at most this long.
FETCH_DEADLINE_S = 60
MAX_MANIFEST_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


def _check_scheme(url: str, allow_insecure: bool, asked: str) -> None:
    scheme = urlparse(url).scheme.lower()
    if scheme == "https" or (scheme == "http" and allow_insecure):
        return
    shown = redact_url(url)
    via = "" if url == asked else f" (redirected from {redact_url(asked)})"
    if scheme == "http":
        raise ActivityFailed(
            f"refusing to fetch {shown}{via} over plain http: use https, "
            "or pass allow_insecure=true"
        )
    raise ActivityFailed(f"refusing to fetch {shown}{via}: only https URLs are read")


def _fetch(url: str, allow_insecure: bool, timeout_s: float) -> str:
    """GET ``url``, following redirects only to URLs we would fetch ourselves.

    requests would follow an https -> http redirect silently, handing the
    manifest to anyone on the path; each hop is checked instead. The body is
    read in chunks and cut at 5 MiB, so a huge answer cannot fill memory, and
    the whole fetch, redirects included, ends within ``timeout_s``.
    """
    current = url
    deadline = SocketDeadline(time.monotonic() + timeout_s)
    with deadline, deadline.mount(requests.Session()) as session:
        for _ in range(MAX_REDIRECTS + 1):
            _check_scheme(current, allow_insecure, url)
            shown = redact_url(current)
            left_s = deadline.left_s()
            if left_s <= 0:
                raise _too_slow(url, timeout_s)
            try:
                response = session.get(
                    current,
                    timeout=min(FETCH_TIMEOUT_S, left_s),
                    allow_redirects=False,
                    stream=True,
                )
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if deadline.expired:
                    raise _too_slow(url, timeout_s) from None
                raise ActivityFailed(
                    f"cannot fetch {shown}: {type(exc).__name__}"
                ) from None
            with response:
                if response.is_redirect:
                    location = response.headers.get("Location", "")
                    current = urljoin(current, location)
                    continue
                if response.status_code != 200:
                    raise ActivityFailed(
                        f"fetching {shown} answered HTTP {response.status_code}; "
                        "check the URL"
                    )
                text = _bounded_text(response, shown, deadline)
            if deadline.expired:  # a body cut by the deadline, not the server
                raise _too_slow(url, timeout_s)
            return text
    raise ActivityFailed(f"{redact_url(url)} redirects more than {MAX_REDIRECTS} times")


def _too_slow(url: str, timeout_s: float) -> ActivityFailed:
    return ActivityFailed(
        f"fetching {redact_url(url)} took longer than {timeout_s:g}s (the whole "
        "fetch, redirects and every read included); check the server, or raise "
        "timeout_s"
    )


def _bounded_text(
    response: requests.Response, url: str, deadline: SocketDeadline
) -> str:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_MANIFEST_BYTES:
                raise ActivityFailed(f"{url} is larger than 5 MiB: not a manifest")
            chunks.append(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        if deadline.expired:
            return ""  # the caller reports the deadline
        raise ActivityFailed(f"cannot fetch {url}: {type(exc).__name__}") from None
    data = b"".join(chunks)
    try:  # YAML is UTF-8, whatever charset a web server guesses for text/*
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ActivityFailed(f"{url} is not text (UTF-8 expected)") from None


_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(path: Path, mode: int) -> ActivityFailed:
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a file")
    return ActivityFailed(
        f"manifest path {path} is {kind}, not a regular file: give the path of a "
        "YAML file"
    )


def _read_file(path: Path) -> str:
    """A regular file's text, at most 5 MiB; anything else is refused unopened.

    A FIFO would block the run until someone writes to it and ``/dev/zero``
    never ends, so the kind of file is checked before opening it, and again
    on the opened descriptor (non-blocking) in case the path was swapped.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ActivityFailed(f"manifest file {path} does not exist") from None
    except OSError as exc:
        raise ActivityFailed(f"cannot read manifest file {path}: {exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(path, info.st_mode)
    if info.st_size > MAX_MANIFEST_BYTES:
        raise ActivityFailed(f"{path} is larger than 5 MiB: not a manifest")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        with open(os.open(path, flags), "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(path, mode)
            data = file.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise ActivityFailed(f"cannot read manifest file {path}: {exc}") from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ActivityFailed(f"{path} is larger than 5 MiB: not a manifest")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ActivityFailed(f"cannot read manifest file {path}: {exc}") from None


def read_text(
    path_or_url: str, allow_insecure: bool = False, timeout_s: float | None = None
) -> str:
    """The text at a local path or an https URL (http with ``allow_insecure``).

    A fetch ends within ``timeout_s`` seconds (at most FETCH_DEADLINE_S).
    """
    if not isinstance(path_or_url, str) or not path_or_url.strip():
        raise ActivityFailed(f"expected a file path or URL, got {path_or_url!r}")
    scheme = urlparse(path_or_url).scheme.lower()
    if scheme in ("http", "https"):
        limit = FETCH_DEADLINE_S if timeout_s is None else timeout_s
        return _fetch(path_or_url, allow_insecure, min(limit, FETCH_DEADLINE_S))
    if scheme not in ("", "file"):
        raise ActivityFailed(
            f"unsupported location {redact_url(path_or_url)!r}: give a file path "
            "or an https URL"
        )
    return _read_file(
        Path(urlparse(path_or_url).path if scheme == "file" else path_or_url)
    )


def load_documents(
    path_or_url: str, allow_insecure: bool = False, timeout_s: float | None = None
) -> list[dict]:
    """Every non-empty YAML document at ``path_or_url``, each a mapping."""
    text = read_text(path_or_url, allow_insecure, timeout_s)
    shown = redact_url(path_or_url)
    try:
        documents = [d for d in safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ActivityFailed(
            f"{shown} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}"
        ) from None
    except UnsafeYaml as exc:
        raise ActivityFailed(f"{shown}: {exc}; refused, nothing was created") from None
    if not documents:
        raise ActivityFailed(f"{shown} holds no YAML document")
    for index, document in enumerate(documents, start=1):
        if not isinstance(document, dict):
            raise ActivityFailed(
                f"{shown}: document {index} is not a Kubernetes object "
                f"(got {type(document).__name__})"
            )
    return documents
