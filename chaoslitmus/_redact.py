"""Keep credentials out of what people read: errors, logs, journals.

Pure text functions. Error texts may quote what a server, a proxy or a
config loader said, and any of those can echo a header or a URL with a
password in it; everything we raise or log passes through :func:`clean`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "SENSITIVE_HEADERS",
    "clean",
    "header_credentials",
    "redact",
    "redact_headers",
    "redact_tree",
    "redact_url",
    "url_credentials",
]

MASK = "***"
# Shortest value treated as a secret: masking "a" would mangle every message.
_MIN_SECRET = 4
# "Bearer <token>" in any case; "Basic <base64>" only when it looks encoded.
_SCHEME_VALUE = re.compile(
    r"\b((?i:bearer)\s+)[A-Za-z0-9._~+/=:-]+|\b(Basic\s+)[A-Za-z0-9+/]{8,}=*"
)
_HEADER_VALUE = re.compile(
    r"(?i)((?:authorization|x-api-key|api[_-]?key|token|password|cookie)"
    r"[\"']?\s*[:=]\s*[\"']?)"
    r"(?!bearer\b|basic\b)[^\s,;\"'}]+"
)
# Up to the last "@" of the authority: a password may hold an unescaped "@".
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s?#]+@")
# Request headers whose values are credentials (names compared in lower case).
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-auth-token",
    }
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with credentials masked: known ``secrets`` and anything that
    looks like an Authorization value, a token field or URL user info."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET:
            text = text.replace(secret, MASK)
    text = _SCHEME_VALUE.sub(lambda m: f"{m.group(1) or m.group(2)}{MASK}", text)
    text = _HEADER_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)


def clean(text: str, secrets: Iterable[str] = ()) -> str:
    """One line (an ActivityFailed message is read in one line), redacted."""
    return redact(" ".join(str(text).split()), secrets)


def redact_url(url: str) -> str:
    """A URL without its ``user:password@`` part."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def url_credentials(url: object) -> list[str]:
    """The password of a URL's user info, as written and decoded."""
    if not isinstance(url, str):
        return []
    try:
        password = urlsplit(url.strip()).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def header_credentials(headers: object) -> list[str]:
    """Values of credential headers: whole, without the scheme, each cookie."""
    if isinstance(headers, Mapping):
        headers = headers.items()
    if not isinstance(headers, Iterable) or isinstance(headers, (str, bytes)):
        return []
    found: list[str] = []
    for pair in headers:
        if not isinstance(pair, tuple) or len(pair) != 2:
            continue
        name, value = pair
        if not isinstance(name, str) or name.strip().lower() not in SENSITIVE_HEADERS:
            continue
        text = str(value).strip()
        found.append(text)
        found.extend(text.split(None, 1)[1:])  # "Bearer abc" -> "abc"
        found.extend(c.split("=", 1)[-1].strip() for c in text.split(";"))
    return [value for value in found if value]


def redact_headers(headers: Mapping[str, object]) -> dict[str, object]:
    """A copy of ``headers`` with the values of credential headers masked."""
    return {
        name: MASK if str(name).strip().lower() in SENSITIVE_HEADERS else value
        for name, value in headers.items()
    }


def redact_tree(value: object) -> object:
    """A copy of a JSON-like value with every string redacted (keys too).

    For documents written before redaction existed (an old journal holding a
    URL with a password) and for anything we did not write ourselves.
    """
    if isinstance(value, str):
        # Every pattern needs a space, a colon or an equals sign.
        return redact(value) if any(c in value for c in " :=\t") else value
    if isinstance(value, Mapping):
        return {redact_tree(k): redact_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(v) for v in value]
    return value
