"""When to send a Kubernetes API request again, and how long to wait first.

Pure: no clock, no I/O. :class:`chaoslitmus.k8s.Kube` reports each failed try
and the time left; :func:`decide` answers with a delay or a reason to stop.

A chaos tool must not become the outage, so a retry may never change what the
call does. A request that may have reached the server is sent again only when
sending it twice lands the same as once: reads and watches, deletes (a 404 on
the replay means the first one worked), merge patches (RFC 7386 sets absolute
values) and anything guarded by a ``resourceVersion`` precondition. Creates are
replayed only with a request id stamped on the object (:func:`stamp`), so a
409 on the replay can be recognised as our own object (:func:`stamped_by`).
"""

from __future__ import annotations

import copy
import math
import random
from dataclasses import dataclass
from typing import Any

__all__ = [
    "API_BACKOFF",
    "MERGE_PATCH",
    "REQUEST_ID",
    "RETRY_STATUSES",
    "WATCH_BACKOFF",
    "Backoff",
    "Decision",
    "Failure",
    "decide",
    "replay_safe",
    "request_timeout",
    "retry_after_s",
    "stamp",
    "stamped_by",
]

# Answers that say "not now" rather than "no": overload, restarts, proxies.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# 429 is sent before the request is processed, whatever the verb.
_NOT_PROCESSED = frozenset({429})
_READ_VERBS = frozenset({"get", "list", "watch", "discover"})
# RFC 7386 JSON merge patch: the one patch type chaoslitmus sends.
MERGE_PATCH = "application/merge-patch+json"
# The annotation a create carries so that its replay can find its own object.
REQUEST_ID = "chaoslitmus.io/request-id"
# A try needs at least this long to be worth starting.
_MIN_TRY_S = 0.05


@dataclass(frozen=True)
class Backoff:
    """How many tries, how far apart (full jitter), within how long.

    ``attempts`` counts every try, the first included; ``budget_s`` bounds one
    call from its first try to its last, on top of any caller's deadline.
    """

    attempts: int = 6
    base_s: float = 0.2
    cap_s: float = 3.0
    budget_s: float = 60.0

    def delay_s(self, retry: int, rng: random.Random) -> float:
        """Wait before retry number ``retry`` (1 = the first retry).

        Full jitter (uniform in ``[0, min(cap, base * 2**(retry-1))]``) spreads
        clients that failed together, so they do not return together.
        """
        ceiling = min(self.cap_s, self.base_s * 2 ** max(0, retry - 1))
        return rng.uniform(0.0, ceiling)


# One API call: about 6 s of retries at most, far below any activity timeout.
API_BACKOFF = Backoff()
# A watch is resumed after each break; this many breaks in a row is an outage.
WATCH_BACKOFF = Backoff(attempts=8, base_s=0.1, cap_s=2.0, budget_s=math.inf)


@dataclass(frozen=True)
class Failure:
    """One failed try.

    ``status`` is the HTTP status (0: no answer at all, e.g. a reset);
    ``maybe_applied`` says whether the server may have acted on the request
    (False only when it surely never saw it: refused connection, 429).
    """

    status: int
    maybe_applied: bool
    retry_after_s: float | None = None

    @classmethod
    def answered(cls, status: int, retry_after: float | None = None) -> Failure:
        return cls(status, status not in _NOT_PROCESSED, retry_after)

    @classmethod
    def no_answer(cls, sent: bool) -> Failure:
        return cls(0, sent)

    @property
    def retriable(self) -> bool:
        """A kind of failure that may pass on its own (others never will)."""
        return self.status == 0 or self.status in RETRY_STATUSES


@dataclass(frozen=True)
class Decision:
    """Retry after ``delay_s`` seconds, or stop (``delay_s is None``) because ``why``.

    ``why`` is one of "final" (this failure will not pass by retrying),
    "unsafe" (the request may have landed and a replay could change the
    outcome), "attempts", "budget" or "deadline".
    """

    delay_s: float | None
    why: str = ""

    @property
    def retry(self) -> bool:
        return self.delay_s is not None


def decide(
    backoff: Backoff,
    tries: int,
    failure: Failure,
    safe: bool,
    elapsed_s: float,
    left_s: float,
    rng: random.Random,
) -> Decision:
    """What to do after ``tries`` tries, the last of which failed with ``failure``.

    ``safe``: replaying the request cannot change the outcome (see
    :func:`replay_safe`). ``elapsed_s``: since the first try. ``left_s``: until
    the caller's deadline (``math.inf`` without one).
    """
    if not failure.retriable:
        return Decision(None, "final")
    if failure.maybe_applied and not safe:
        return Decision(None, "unsafe")
    if tries >= backoff.attempts:
        return Decision(None, "attempts")
    delay = (
        failure.retry_after_s
        if failure.retry_after_s is not None
        else backoff.delay_s(tries, rng)
    )
    delay = max(0.0, min(delay, backoff.cap_s))
    if delay + _MIN_TRY_S > left_s:
        return Decision(None, "deadline")
    if elapsed_s + delay + _MIN_TRY_S > backoff.budget_s:
        return Decision(None, "budget")
    return Decision(delay)


def replay_safe(verb: str, body: Any = None, content_type: str | None = None) -> bool:
    """Whether sending this request twice lands the same as sending it once."""
    if verb in _READ_VERBS or verb == "delete":
        return True
    if verb in ("patch", "update"):
        if _has_precondition(body):
            return True
        # A merge patch sets values; a JSON patch may append or move them.
        return verb == "patch" and content_type == MERGE_PATCH
    return False


def _has_precondition(body: Any) -> bool:
    meta = body.get("metadata") if isinstance(body, dict) else None
    return isinstance(meta, dict) and bool(meta.get("resourceVersion"))


def request_timeout(
    left_s: float, connect_s: float = 10.0, read_s: float = 60.0
) -> tuple[float, float]:
    """(connect, read) timeouts for one try that must end within ``left_s``."""
    left = max(_MIN_TRY_S, left_s)
    return (min(connect_s, left), min(read_s, left))


def retry_after_s(header: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header in its delay form (dates ignored)."""
    if not header:
        return None
    try:
        value = float(header.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def stamp(body: dict, request_id: str) -> dict:
    """A copy of ``body`` carrying ``request_id`` in its annotations."""
    stamped = copy.deepcopy(body)
    meta = stamped.setdefault("metadata", {})
    meta["annotations"] = {**(meta.get("annotations") or {}), REQUEST_ID: request_id}
    return stamped


def stamped_by(obj: dict | None, request_id: str) -> bool:
    """Whether ``obj`` is the one a create stamped with ``request_id`` made."""
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    return bool(request_id) and annotations.get(REQUEST_ID) == request_id
