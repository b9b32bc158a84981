"""The lab apiserver's errors: what a Kubernetes Status object says, and
constructors worded like the real apiserver's messages."""

from __future__ import annotations

from typing import Any

from .resources import ResourceType

__all__ = [
    "ApiError",
    "bad_request",
    "conflict",
    "invalid",
    "not_found",
    "unknown_resource",
]

_CONFLICT_MESSAGE = (
    "the object has been modified; please apply your changes to the latest "
    "version and try again"
)


class ApiError(Exception):
    """A failed API call, carrying what a Kubernetes Status object says."""

    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        causes: list[dict[str, Any]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.causes = list(causes or [])
        self.details = dict(details or {})

    def to_status(self, kind: str | None = None, name: str | None = None) -> dict:
        """The Status body a real apiserver sends for this error."""
        details = {k: v for k, v in self.details.items() if v not in ("", None)}
        if name is not None:
            details.setdefault("name", name)
        if kind is not None:
            details.setdefault("kind", kind)
        if self.causes:
            details["causes"] = self.causes
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        }
        if self.reason:
            status["reason"] = self.reason
        if details:
            status["details"] = details
        status["code"] = self.status
        return status

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.reason!r}, {self.message!r})"


# -- error constructors, worded like the apiserver -------------------------------------
def not_found(rtype: ResourceType, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{rtype.group_resource} "{name}" not found',
        details={"name": name, "group": rtype.group, "kind": rtype.plural},
    )


def unknown_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(rtype: ResourceType, name: str, causes: list[dict[str, Any]]) -> ApiError:
    parts = [
        f"{c['field']}: {c['message']}" if c.get("field") else c["message"]
        for c in causes
    ]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    return ApiError(
        422,
        "Invalid",
        f'{rtype.group_kind} "{name}" is invalid: {summary}',
        causes,
        details={"name": name, "group": rtype.group, "kind": rtype.kind},
    )


def conflict(rtype: ResourceType, name: str, why: str = _CONFLICT_MESSAGE) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rtype.group_resource} "{name}": {why}',
        details={"name": name, "group": rtype.group, "kind": rtype.plural},
    )
