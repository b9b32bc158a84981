"""The one place that talks to the Kubernetes API.

Every activity builds one :class:`Kube` and addresses objects through
:class:`Resource` handles (group, version, plural and namespace said once;
get, list, create, patch, delete, watch), sends dicts and gets dicts
back (``_preload_content=False`` + ``json.loads``), so the kubernetes client's
generated models, which changed shape in 37.x, never leak into our code, and
every failure becomes one actionable :class:`ActivityFailed` line, with no
credential in it.

The API may fail under us (overload, restarts, proxies, resets): requests
that are safe to send twice are retried with jittered back-off within a
bounded budget and the caller's deadline (policy in :mod:`chaoslitmus._retry`);
creates are made safe to replay with a request id (:meth:`Resource.create`).
Statuses callers branch on are classes (:class:`NotFound`, :class:`Conflict`,
:class:`Forbidden`, :class:`Invalid`, :class:`Gone`), all :class:`KubeError`.

Waiting is done with watches (:func:`follow`), never with sleep loops: a watch
resumes from the last resourceVersion it saw after a disconnect, relists on
``410 Gone`` and honours a deadline.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import inspect
import json
import logging
import math
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets
from kubernetes import client
from kubernetes.client.rest import ApiException

from chaoslitmus._kubeclient import build_api_client, credentials_of
from chaoslitmus._redact import clean, redact, redact_url
from chaoslitmus._retry import (
    API_BACKOFF,
    MERGE_PATCH,
    WATCH_BACKOFF,
    Backoff,
    Decision,
    Failure,
    decide,
    replay_safe,
    request_timeout,
    retry_after_s,
    stamp,
    stamped_by,
)

__all__ = [
    "CRD_HINTS",
    "Conflict",
    "Forbidden",
    "Gone",
    "Invalid",
    "Kube",
    "KubeError",
    "MAYBE_APPLIED",
    "MERGE_PATCH",
    "NotFound",
    "Resource",
    "SYNCED",
    "HEARTBEAT",
    "Stopper",
    "Watched",
    "api_error",
    "follow",
    "follow_many",
    "kube_error",
]

logger = logging.getLogger("chaostoolkit.litmus")

# Every single request gets this budget (connect, read); watches set their own.
REQUEST_TIMEOUT_S = (10, 60)
# A watch request is asked to end server-side after this, then resumed; short
# enough that a silently dead connection is noticed.
WATCH_WINDOW_S = 60
# Event type `follow` yields once a listing has been replayed.
SYNCED = "SYNCED"
HEARTBEAT = "HEARTBEAT"

CRD_HINTS = {
    "litmuschaos.io": "install Litmus (the chaos-operator and its CRDs): "
    "https://docs.litmuschaos.io/docs/getting-started/installation",
    "appmesh.k8s.aws": "install the App Mesh controller and its CRDs "
    "(eks-charts appmesh-controller)",
    "networking.istio.io": "install Istio (istioctl install) so its CRDs are served",
}


def _plural_label(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


def _status_body(exc: ApiException) -> dict:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _header(exc: ApiException, name: str) -> str | None:
    headers = getattr(exc, "headers", None) or {}
    try:
        return headers.get(name)
    except AttributeError:
        return None


class KubeError(ActivityFailed):
    """An API failure, with what callers branch on.

    ``status``: the HTTP status (0: no answer). ``uncertain``: a try of this
    call got no answer and may have been applied, so a 409 or 404 that
    follows may be our own doing. ``gave_up``: why retrying stopped ("final",
    "unsafe", "attempts", "budget", "deadline"; see :mod:`chaoslitmus._retry`).
    The message is one line and carries no credential.
    """

    def __init__(
        self,
        message: str,
        status: int = 0,
        uncertain: bool = False,
        gave_up: str = "",
    ) -> None:
        super().__init__(clean(message))
        self.status = status
        self.uncertain = uncertain
        self.gave_up = gave_up


class Forbidden(KubeError):
    """403: the identity may not do this (RBAC)."""


class NotFound(KubeError):
    """404: the object, its namespace or its API is not there."""


class Conflict(KubeError):
    """409: the name is taken, or the object changed since it was read."""


class Gone(KubeError):
    """410: the resourceVersion asked for is too old (watches relist)."""


class Invalid(KubeError):
    """422: the API refused the object's content."""


_BY_STATUS: dict[int, type[KubeError]] = {
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
}


def kube_error(
    message: str, status: int = 0, uncertain: bool = False, gave_up: str = ""
) -> KubeError:
    """The :class:`KubeError` subclass callers branch on for ``status``."""
    return _BY_STATUS.get(status, KubeError)(message, status, uncertain, gave_up)


def _target(
    group: str, plural: str, namespace: str | None, name: str | None
) -> tuple[str, str, str]:
    what = _plural_label(group, plural)
    where = f" in namespace '{namespace}'" if namespace else ""
    return what, f"{what} '{name}'" if name else what, where


def api_error(
    exc: ApiException,
    verb: str,
    group: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
) -> KubeError:
    """Turn an ``ApiException`` into one line that says what to do about it."""
    status = exc.status or 0
    body = _status_body(exc)
    message = body.get("message") or (exc.reason or "").strip()
    what, target, where = _target(group, plural, namespace, name)

    if status == 0:
        if "CERTIFICATE_VERIFY_FAILED" in message or "SSLError" in message:
            text = (
                f"TLS verification of the Kubernetes API failed while trying to "
                f"{verb} {target}{where} ({message}): give the cluster's CA "
                "(certificate-authority in the kubeconfig, or "
                "KUBERNETES_CA_CERT_FILE) or fix the server address"
            )
        else:
            text = f"could not {verb} {target}{where}: {message or 'no details'}"
    elif status == 401:
        text = (
            f"the Kubernetes API refused our credentials while trying to {verb} "
            f"{target}{where}: refresh the token or check the kubeconfig user"
        )
    elif status == 403:
        rbac_verb = "get" if verb == "discover" else verb
        text = (
            f"forbidden: the current identity may not '{rbac_verb}' {what}{where}; "
            f"grant it with a Role/ClusterRole rule (apiGroups: ['{group}'], "
            f"resources: ['{plural}'], verbs: ['{rbac_verb}'])"
        )
    elif status == 404:
        details = body.get("details") or {}
        if name and details.get("name") == name:
            text = f"{target} not found{where}"
        elif namespace and "namespaces" in message and f'"{namespace}"' in message:
            text = f"namespace '{namespace}' not found: create it or fix the namespace"
        elif name:
            text = f"{target} not found{where}"
        else:
            hint = CRD_HINTS.get(group, "install the CRD that serves it")
            text = f"{what} is not served by this cluster: {hint}"
        if message and message not in text:
            text += f" ({message})"
    elif status == 409:
        text = (
            f"conflict on {target}{where}: {message or 'it already exists or changed'}"
            "; pick another name or retry on the latest version"
        )
    elif status == 422:
        causes = (body.get("details") or {}).get("causes") or []
        listed = "; ".join(
            f"{c.get('field', '?')}: {c.get('message', c.get('reason', ''))}"
            for c in causes
        )
        text = f"the API rejected {target}{where} as invalid: {listed or message}"
    else:
        text = (
            f"the Kubernetes API answered {status} to {verb} {target}{where}: "
            f"{message or 'no details'}"
        )
        if status == 429 or status >= 500:
            text += "; the API server is overloaded or failing, try again later"
    return kube_error(text, status)


def _transport_failure(exc: BaseException) -> Failure:
    """A try that got no answer: was the request possibly sent?"""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    never_sent = isinstance(
        reason, urllib3.exceptions.ConnectTimeoutError | ConnectionRefusedError
    )
    return Failure.no_answer(sent=not never_sent)


def _unreachable(
    host: str,
    exc: BaseException,
    verb: str = "",
    target: str = "",
    where: str = "",
) -> KubeError:
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    doing = f" while trying to {verb} {target}{where}" if verb else ""
    return KubeError(
        f"cannot reach the Kubernetes API at {host} ({type(reason).__name__}){doing}; "
        "check KUBECONFIG / KUBERNETES_CONTEXT and that the cluster is up"
    )


# Said when a write got no answer: the server may have applied it anyway.
MAYBE_APPLIED = "; the change may have been applied: check it before running again"
_STOPPED = {
    "deadline": "stopped retrying at the deadline",
    "budget": "gave up",
    "attempts": "gave up",
}


def _final(
    error: KubeError,
    tries: int,
    elapsed_s: float,
    uncertain: bool,
    decision: Decision,
    writes: bool,
) -> KubeError:
    """The error a call ends with, saying how hard we tried."""
    text = str(error)
    if decision.why in _STOPPED:
        count = f"{tries} {'try' if tries == 1 else 'tries'}"
        text += f" ({_STOPPED[decision.why]} after {count} in {elapsed_s:.1f}s)"
    elif tries > 1:
        text += f" (on try {tries})"
    if decision.why == "unsafe" or (writes and uncertain and error.status != 409):
        text += MAYBE_APPLIED
    return kube_error(text, error.status, uncertain, decision.why)


@functools.lru_cache(maxsize=256)
def _accepts_content_type(fn: Callable[..., Any]) -> bool:
    try:
        return "_content_type" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class Stopper:
    """Ends watches from another thread, even one blocked reading a socket."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._open: set[Any] = set()
        self._lock = threading.Lock()

    def is_set(self) -> bool:
        return self.event.is_set()

    def track(self, response: Any) -> None:
        with self._lock:
            self._open.add(response)
        if self.event.is_set():
            self._shut(response)

    def untrack(self, response: Any) -> None:
        with self._lock:
            self._open.discard(response)

    def stop(self) -> None:
        self.event.set()
        with self._lock:
            responses = list(self._open)
        for response in responses:
            self._shut(response)

    @staticmethod
    def _shut(response: Any) -> None:
        shutdown = getattr(response, "shutdown", None)
        # Closing a dying socket may fail; it is closed anyway.
        with contextlib.suppress(Exception):
            (shutdown or response.close)()


@dataclass
class Watched:
    """One event from :func:`follow_many`: which stream, what happened, the object."""

    source: str
    type: str
    object: dict


def follow(
    resource: Resource,
    deadline: float,
    field_selector: str | None = None,
    label_selector: str | None = None,
    stop: Stopper | None = None,
) -> Iterator[tuple[str, dict]]:
    """Yield ``(type, object)`` for what exists now, then for every change.

    After each (re)listing comes ``("SYNCED", {})``: by then every existing
    object has been yielded, so "not seen" means "absent".

    The stream survives disconnects and server errors (resumes from the last
    resourceVersion, with back-off; too many breaks in a row raise), relists
    on 410 Gone, and ends quietly at ``deadline`` (``time.monotonic()``) or
    when ``stop`` is set; the caller decides what a timeout means.
    """
    kube = resource.kube
    selectors = _selectors(label_selector, field_selector)
    label = resource.label
    list_fn, args = resource._operation("list", None)

    def listing() -> tuple[str, list[tuple[str, dict]]] | None:
        """(resourceVersion, the events of this listing: each item ADDED, then
        SYNCED), or None when the deadline came first."""
        try:
            body = resource.list(label_selector, field_selector, deadline=deadline)
        except KubeError as exc:
            if exc.gave_up == "deadline":
                return None
            raise
        version = (body.get("metadata") or {}).get("resourceVersion", "")
        added = [("ADDED", item) for item in body.get("items", [])]
        return version, [*added, (SYNCED, {})]

    def pause(seconds: float) -> None:
        if stop:
            stop.event.wait(seconds)
        else:
            time.sleep(seconds)

    listed = listing()
    if listed is None:
        return
    resource_version, events = listed
    yield from events
    breaks = 0  # watch requests or streams that failed in a row
    first_break = 0.0
    while not (stop and stop.is_set()):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        window = max(1, min(WATCH_WINDOW_S, int(left + 0.999)))
        failure: Failure | None = None
        relist = False
        try:
            response = list_fn(
                *args,
                watch=True,
                resource_version=resource_version,
                timeout_seconds=window,
                _preload_content=False,
                _request_timeout=(min(10.0, left), window + 5),
                **selectors,
            )
        except ApiException as exc:
            if exc.status == 410:
                relist = True
            else:
                failure = Failure.answered(
                    exc.status or 0, retry_after_s(_header(exc, "Retry-After"))
                )
                if not exc.status or not failure.retriable:
                    raise kube.scrub(
                        api_error(
                            exc,
                            "watch",
                            resource.group,
                            resource.plural,
                            resource.namespace,
                        )
                    ) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failure = _transport_failure(exc)
        else:
            if stop:
                stop.track(response)
            try:
                for line in _lines(response, stop):
                    event = json.loads(line)
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            relist = True
                            break
                        raise kube.scrub(
                            kube_error(
                                f"watch on {label} failed: "
                                f"{obj.get('message', 'unknown error')}",
                                int(obj.get("code") or 0),
                            )
                        )
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        resource_version = rv
                    breaks = 0
                    if kind == "BOOKMARK":
                        continue
                    yield kind, obj
                    if time.monotonic() >= deadline:
                        return
            except (urllib3.exceptions.HTTPError, OSError, ValueError):
                if stop and stop.is_set():
                    return
                failure = Failure.no_answer(sent=True)
            finally:
                if stop:
                    stop.untrack(response)
                response.close()
                response.release_conn()
        if relist:
            listed = listing()
            if listed is None:
                return
            resource_version, events = listed
            yield from events
            continue
        if failure is None:
            continue  # the server ended the window: resume
        breaks += 1
        if breaks == 1:
            first_break = time.monotonic()
        decision = decide(
            WATCH_BACKOFF,
            breaks,
            failure,
            True,
            time.monotonic() - first_break,
            deadline - time.monotonic(),
            kube.rng,
        )
        if decision.why == "deadline":
            return
        if not decision.retry:
            raise kube.scrub(
                kube_error(
                    f"the watch on {label} at {kube.host} broke {breaks} times in a "
                    f"row (last: {failure.status or 'no answer'}); check that the "
                    "Kubernetes API is up and reachable",
                    failure.status,
                    gave_up=decision.why,
                )
            )
        logger.debug(
            "watch on %s broke (%s); resuming from resourceVersion %s in %.2fs",
            label,
            failure.status or "no answer",
            resource_version,
            decision.delay_s,
        )
        pause(decision.delay_s or 0.0)


def _lines(response: Any, stop: Stopper | None) -> Iterator[str]:
    """Newline-delimited JSON events from a streaming urllib3 response."""
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        if stop and stop.is_set():
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.strip()
            if line:
                yield line.decode("utf-8")
    if buffer.strip():
        yield buffer.strip().decode("utf-8")


# How long follow_many waits for its stream threads once it stops them.
_JOIN_S = 5.0


def follow_many(
    streams: dict[str, Callable[[Stopper], Iterator[tuple[str, dict]]]],
    deadline: float,
    heartbeat_s: float | None = None,
) -> Iterator[Watched]:
    """Merge several :func:`follow` streams into one, each in its own thread.

    ``streams`` maps a label to a function that takes a stop event and returns
    an iterator (usually a :func:`follow` call). Ends at ``deadline``; errors
    raised in a stream are re-raised here. With ``heartbeat_s``, a quiet spell
    that long yields ``Watched("heartbeat", HEARTBEAT, {})`` so a waiting
    caller can say how it is doing.
    """
    inbox: queue.Queue = queue.Queue()
    stop = Stopper()
    done = object()

    def pump(label: str, make: Callable[[Stopper], Iterator]) -> None:
        try:
            for kind, obj in make(stop):
                inbox.put(Watched(label, kind, obj))
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the consumer thread
            inbox.put(exc)
        finally:
            inbox.put(done)

    threads = [
        threading.Thread(target=pump, args=(label, make), daemon=True)
        for label, make in streams.items()
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            wait = remaining if heartbeat_s is None else min(remaining, heartbeat_s)
            try:
                item = inbox.get(timeout=wait)
            except queue.Empty:
                if wait < remaining:
                    yield Watched("heartbeat", HEARTBEAT, {})
                    continue
                return
            if item is done:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.stop()
        # Wait (briefly) for the pumps to notice: a watch thread still inside
        # a TLS read when the interpreter exits can abort the process.
        until = time.monotonic() + _JOIN_S
        for thread in threads:
            thread.join(max(0.0, until - time.monotonic()))


class Kube:
    """A JSON-in, JSON-out client for one activity call.

    Built once per activity from ``secrets`` (chaosk8s' rules: kubeconfig,
    in-cluster, or KUBERNETES_* variables). ``deadline`` (``time.monotonic()``)
    bounds every call and its retries; without it each call has the
    ``backoff`` budget alone. Objects are addressed through
    :meth:`resource` handles, never through the typed API classes.
    """

    def __init__(
        self,
        secrets: Secrets | None = None,
        api: client.ApiClient | None = None,
        deadline: float | None = None,
        backoff: Backoff = API_BACKOFF,
    ) -> None:
        self.api = api or build_api_client(secrets)
        self.deadline = deadline
        self.backoff = backoff
        self.rng = random.Random()
        self._typed: dict[str, Any] = {}
        self._discovery: dict[tuple[str, str], dict | None] = {}

    @property
    def host(self) -> str:
        return redact_url(self.api.configuration.host or "")

    def within(self, timeout_s: float) -> Kube:
        """A client on the same connection whose calls (retries included)
        end ``timeout_s`` from now; this one keeps its own deadline."""
        bounded = copy.copy(self)
        bounded.deadline = time.monotonic() + timeout_s
        return bounded

    def resource(
        self, group: str, version: str, plural: str, namespace: str | None = None
    ) -> Resource:
        """One kind of object (in one namespace, or cluster-wide without one)."""
        return Resource(self, group, version, plural, namespace)

    def left_s(self, deadline: float | None = None) -> float:
        """Seconds until the nearer of our deadline and ``deadline`` (inf: none)."""
        ends = [d for d in (self.deadline, deadline) if d is not None]
        return min(ends) - time.monotonic() if ends else math.inf

    def scrub(self, error: KubeError) -> KubeError:
        """``error`` without any credential this client holds in its text."""
        error.args = (redact(str(error), credentials_of(self.api.configuration)),)
        return error

    def typed(self, name: str) -> Any:
        """The kubernetes client's generated API class ``name``, on our connection."""
        if name not in self._typed:
            self._typed[name] = getattr(client, name)(self.api)
        return self._typed[name]

    def send(
        self,
        fn: Callable[..., Any],
        *args: Any,
        verb: str,
        group: str,
        plural: str,
        namespace: str | None = None,
        name: str | None = None,
        idempotent: bool | None = None,
        deadline: float | None = None,
        raw: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Invoke one API method and return the decoded JSON body (with
        ``raw``, the body as text: e.g. what a pod answers through pods/proxy).

        ``verb``/``group``/``plural``/``namespace``/``name`` shape the error
        message and the retry decision (``verb`` "get", "list", "discover",
        "create", "patch", "delete"); they are not sent. ``idempotent``
        overrides whether a request that may have reached the server is sent
        again (default: :func:`chaoslitmus._retry.replay_safe`). A delete
        whose earlier try got no answer and that then meets 404 has done its
        job: it returns ``{}``.
        """
        body = args[-1] if args and verb in ("create", "patch", "update") else None
        safe = (
            replay_safe(verb, body, kwargs.get("_content_type"))
            if idempotent is None
            else idempotent
        )
        what, target, where = _target(group, plural, namespace, name)
        asked = kwargs.pop("_request_timeout", REQUEST_TIMEOUT_S)
        connect_s, read_s = asked if isinstance(asked, tuple) else (asked, asked)
        began = time.monotonic()
        tries = 0
        uncertain = False  # an earlier try may have been applied
        while True:
            tries += 1
            timeout = request_timeout(self.left_s(deadline), connect_s, read_s)
            try:
                response = fn(
                    *args, _preload_content=False, _request_timeout=timeout, **kwargs
                )
                data = response.data
            except ApiException as exc:
                error = api_error(exc, verb, group, plural, namespace, name)
                if not exc.status:
                    raise self.scrub(error) from None
                if uncertain and exc.status == 404 and verb == "delete":
                    logger.debug("%s %s%s: gone on retry, deleted", verb, target, where)
                    return {}
                failure = Failure.answered(
                    exc.status, retry_after_s(_header(exc, "Retry-After"))
                )
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = _unreachable(self.host, exc, verb, target, where)
                failure = _transport_failure(exc)
            else:
                if raw:
                    return (data or b"").decode("utf-8", "replace")
                return self._decode(data, verb, plural)
            elapsed = time.monotonic() - began
            decision = decide(
                self.backoff,
                tries,
                failure,
                safe,
                elapsed,
                self.left_s(deadline),
                self.rng,
            )
            lost = failure.retriable and failure.maybe_applied
            if not decision.retry:
                writes = verb not in ("get", "list", "discover")
                raise self.scrub(
                    _final(error, tries, elapsed, uncertain or lost, decision, writes)
                ) from None
            uncertain = uncertain or lost
            logger.debug(
                "retrying %s %s%s in %.2fs (try %d of %d failed: %s)",
                verb,
                target,
                where,
                decision.delay_s,
                tries,
                self.backoff.attempts,
                failure.status or "no answer",
            )
            time.sleep(decision.delay_s or 0.0)

    def _decode(self, data: bytes, verb: str, plural: str) -> dict:
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            raise ActivityFailed(
                f"the Kubernetes API at {self.host} answered {verb} {plural} with "
                "something that is not JSON; is KUBECONFIG pointing at an API server?"
            ) from None

    def served(self, group: str, version: str, plural: str) -> bool:
        """Whether the API serves ``group/version/plural`` (discovery needs no RBAC).

        One discovery request per group/version for the life of this client
        (one activity call): preflight asks about several kinds of one group.
        """
        key = (group, version)
        if key not in self._discovery:
            api = self.typed("CustomObjectsApi" if group else "CoreV1Api")
            args = (group, version) if group else ()
            fn = api.get_api_resources
            try:
                self._discovery[key] = self.send(
                    fn, *args, verb="discover", group=group, plural=plural
                )
            except NotFound:
                self._discovery[key] = None
        body = self._discovery[key]
        return bool(body) and any(
            r.get("name") == plural for r in body.get("resources", [])
        )


# Built-in kinds we address, by (group, plural): the generated API class and
# the stem of its method names (read_namespaced_<stem>, list_..., ...). Every
# other group is a custom resource, reached through CustomObjectsApi.
_BUILTIN: dict[tuple[str, str], tuple[str, str]] = {
    ("", "namespaces"): ("CoreV1Api", "namespace"),
    ("", "pods"): ("CoreV1Api", "pod"),
    ("", "events"): ("CoreV1Api", "event"),
    ("", "serviceaccounts"): ("CoreV1Api", "service_account"),
    ("", "services"): ("CoreV1Api", "service"),
    ("apps", "deployments"): ("AppsV1Api", "deployment"),
    ("apps", "statefulsets"): ("AppsV1Api", "stateful_set"),
    ("apps", "daemonsets"): ("AppsV1Api", "daemon_set"),
    ("rbac.authorization.k8s.io", "roles"): ("RbacAuthorizationV1Api", "role"),
    ("rbac.authorization.k8s.io", "rolebindings"): (
        "RbacAuthorizationV1Api",
        "role_binding",
    ),
}
_BUILTIN_GROUPS = {group for group, _ in _BUILTIN}


@dataclass(frozen=True)
class Resource:
    """One kind of object, in one namespace (or cluster-wide): say group,
    version, plural and namespace once, then get, list, create, patch,
    delete and watch objects by name.

    Every call goes through :meth:`Kube.send` (retries, deadline, one-line
    errors without credentials); failures callers branch on are
    :class:`NotFound`, :class:`Conflict`, :class:`Forbidden`,
    :class:`Invalid` and :class:`Gone`.
    """

    kube: Kube
    group: str
    version: str
    plural: str
    namespace: str | None = None

    def __post_init__(self) -> None:
        if self.group in _BUILTIN_GROUPS and (self.group, self.plural) not in _BUILTIN:
            raise ValueError(f"no typed API known for {self.plural}.{self.group}")

    @property
    def label(self) -> str:
        return _plural_label(self.group, self.plural)

    def within(self, timeout_s: float) -> Resource:
        """The same resource on a client whose calls end ``timeout_s`` from now."""
        return dataclasses.replace(self, kube=self.kube.within(timeout_s))

    def _operation(self, verb: str, name: str | None) -> tuple[Callable, tuple]:
        """The generated client method for ``verb`` and its leading arguments."""
        builtin = _BUILTIN.get((self.group, self.plural))
        scoped = self.namespace is not None
        if builtin is None:
            scope = "namespaced" if scoped else "cluster"
            api = self.kube.typed("CustomObjectsApi")
            fn = getattr(api, f"{verb}_{scope}_custom_object")
            args: tuple = (self.group, self.version)
            args += (self.namespace, self.plural) if scoped else (self.plural,)
            return fn, args + ((name,) if name is not None else ())
        api_name, stem = builtin
        typed_verb = "read" if verb == "get" else verb
        scope = "namespaced_" if scoped else ""
        fn = getattr(self.kube.typed(api_name), f"{typed_verb}_{scope}{stem}")
        args = (name,) if name is not None else ()
        return fn, args + ((self.namespace,) if scoped else ())

    def _call(
        self, verb: str, name: str | None = None, *body: Any, **kwargs: Any
    ) -> dict:
        # A create is addressed to the collection; the name is for messages.
        fn, args = self._operation(verb, None if verb == "create" else name)
        if verb == "patch" and _accepts_content_type(getattr(fn, "__func__", fn)):
            kwargs["_content_type"] = MERGE_PATCH
        return self.kube.send(
            fn,
            *args,
            *body,
            verb=verb,
            group=self.group,
            plural=self.plural,
            namespace=self.namespace,
            name=name,
            **kwargs,
        )

    def get(self, name: str) -> dict:
        """The object; :class:`NotFound` when it does not exist."""
        return self._call("get", name)

    def find(self, name: str) -> dict | None:
        """The object, or None when it does not exist."""
        try:
            return self.get(name)
        except NotFound:
            return None

    def list(
        self,
        label_selector: str | None = None,
        field_selector: str | None = None,
        deadline: float | None = None,
    ) -> dict:
        """The list body (``items``, ``metadata.resourceVersion``)."""
        selectors = _selectors(label_selector, field_selector)
        return self._call("list", None, deadline=deadline, **selectors)

    def create(self, body: dict) -> dict:
        """Create ``body`` exactly once, even when answers get lost.

        The object carries a fresh request id (annotation
        ``chaoslitmus.io/request-id``), so the create can be sent again: when a
        try got no answer and a later one meets 409 (or the retries run out),
        the object is read by name and, if it carries our id, the first try
        did create it and it is returned. A 409 for anyone else's object is
        raised as :class:`Conflict`.
        """
        name = body["metadata"]["name"]
        request_id = uuid.uuid4().hex
        try:
            return self._call("create", name, stamp(body, request_id), idempotent=True)
        except KubeError as exc:
            if not exc.uncertain:
                raise
            found = self.find(name)
            if not stamped_by(found, request_id):
                raise
            _, target, where = _target(self.group, self.plural, self.namespace, name)
            logger.debug("create %s%s: an earlier try made it; using it", target, where)
            return found or {}

    def dry_run_create(self, body: dict) -> dict:
        """Ask the API server whether ``body`` would be created (``dryRun=All``:
        admission, schema and name checks run; nothing is stored)."""
        name = body["metadata"]["name"]
        return self._call("create", name, body, idempotent=True, dry_run="All")

    def patch(
        self,
        name: str,
        body: dict,
        idempotent: bool | None = None,
        field_manager: str | None = None,
    ) -> dict:
        """Apply an RFC 7386 merge patch (custom resources refuse strategic merge).

        kubernetes 37 sends a dict body as JSON Patch unless told otherwise;
        older clients pick the type from the body. A merge patch sets values,
        so sending it twice lands as once: it is retried like a read unless
        ``idempotent=False``; one guarded by ``metadata.resourceVersion`` is
        refused with :class:`Conflict` when the object changed. ``field_manager``
        names us in the object's ``managedFields``.
        """
        kwargs: dict[str, Any] = (
            {"field_manager": field_manager} if field_manager else {}
        )
        return self._call(
            "patch",
            name,
            body,
            idempotent=True if idempotent is None else idempotent,
            **kwargs,
        )

    def delete(self, name: str) -> dict | None:
        """Delete it; None when it was already gone."""
        try:
            return self._call("delete", name)
        except NotFound:
            return None

    def served(self) -> bool:
        """Whether the cluster serves this kind (discovery, cached per client)."""
        return self.kube.served(self.group, self.version, self.plural)

    def watch(
        self,
        name: str | None,
        deadline: float,
        stop: Stopper | None = None,
        label_selector: str | None = None,
    ) -> Iterator[tuple[str, dict]]:
        """:func:`follow` one object by name (or all of them, or a label
        selection) until ``deadline`` (``time.monotonic()``)."""
        return follow(
            self,
            deadline=deadline,
            field_selector=f"metadata.name={name}" if name else None,
            label_selector=label_selector,
            stop=stop,
        )


def _selectors(label_selector: str | None, field_selector: str | None) -> dict:
    selectors: dict[str, str] = {}
    if field_selector:
        selectors["field_selector"] = field_selector
    if label_selector:
        selectors["label_selector"] = label_selector
    return selectors
