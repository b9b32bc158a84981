"""Keep credentials out of what people read: errors, logs, journals.

Pure text functions. Error texts may quote what a server, a proxy or a
config loader said, and any of those can echo a header or a URL with a
password in it; everything we raise or log passes through :func:`clean`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

__all__ = ["MASK", "clean", "redact", "redact_url"]

MASK = "***"
# Shortest value treated as a secret: masking "a" would mangle every message.
_MIN_SECRET = 4
# "Bearer <token>" in any case; "Basic <base64>" only when it looks encoded.
_SCHEME_VALUE = re.compile(
    r"\b((?i:bearer)\s+)[A-Za-z0-9._~+/=:-]+|\b(Basic\s+)[A-Za-z0-9+/]{8,}=*"
)
_HEADER_VALUE = re.compile(
    r"(?i)((?:authorization|x-api-key|api[_-]?key|token|password)[\"']?\s*[:=]\s*[\"']?)"
    r"(?!bearer\b|basic\b)[^\s,;\"'}]+"
)
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


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
