"""The one place that talks to the Kubernetes API.

Every activity gets its clients from :class:`Kube`, sends dicts and gets dicts
back (``_preload_content=False`` + ``json.loads``), so the kubernetes client's
generated models, which changed shape in 37.x, never leak into our code, and
every failure becomes one actionable :class:`ActivityFailed` line.

Waiting is done with watches (:func:`follow`), never with sleep loops: a watch
resumes from the last resourceVersion it saw after a disconnect, relists on
``410 Gone`` and honours a deadline.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import urllib3
from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.config.config_exception import ConfigException

__all__ = [
    "Kube",
    "KubeError",
    "SYNCED",
    "Stopper",
    "Watched",
    "api_error",
    "follow",
    "follow_many",
]

logger = logging.getLogger("chaostoolkit.litmus")

# Every single request gets this budget (connect, read); watches set their own.
REQUEST_TIMEOUT_S = (10, 60)
# A watch request is asked to end server-side after this, then resumed; short
# enough that a silently dead connection is noticed.
WATCH_WINDOW_S = 60
# Event type `follow` yields once a listing has been replayed.
SYNCED = "SYNCED"

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


class KubeError(ActivityFailed):
    """An API failure, with the HTTP status kept for callers that branch on it."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


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
    what = _plural_label(group, plural)
    where = f" in namespace '{namespace}'" if namespace else ""
    target = f"{what} '{name}'" if name else what

    if status == 401:
        text = (
            f"the Kubernetes API refused our credentials while trying to {verb} "
            f"{target}{where}: refresh the token or check the kubeconfig user"
        )
    elif status == 403:
        text = (
            f"forbidden: the current identity may not '{verb}' {what}{where}; "
            f"grant it with a Role/ClusterRole rule (apiGroups: ['{group}'], "
            f"resources: ['{plural}'], verbs: ['{verb}'])"
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
    return KubeError(text, status)


def _unreachable(host: str, exc: Exception) -> KubeError:
    return KubeError(
        f"cannot reach the Kubernetes API at {host} ({type(exc).__name__}); check "
        "KUBECONFIG / KUBERNETES_CONTEXT and that the cluster is up"
    )


def _build_api_client(secrets: Secrets | None) -> client.ApiClient:
    """An API client following chaosk8s' rules, with clear errors.

    With a kubeconfig we build an isolated client from the file named by
    KUBECONFIG *now* (chaosk8s loads the path the kubernetes package saw at
    import time into the process-wide default, which breaks two contexts in
    one process); TLS settings come from the kubeconfig as written. In a pod
    or with KUBERNETES_HOST, chaosk8s' factory does the work.
    """
    from chaosk8s import create_k8s_api_client, get_config_path, has_local_config_file
    from kubernetes import config

    secrets = secrets or {}
    env = os.environ
    context = secrets.get("KUBERNETES_CONTEXT") or env.get("KUBERNETES_CONTEXT")
    try:
        if has_local_config_file():
            api = config.new_client_from_config(
                config_file=get_config_path(), context=context or None
            )
            proxy = env.get("HTTP_PROXY") or env.get("HTTPS_PROXY")
            if proxy:
                api.configuration.proxy = proxy
            return api
        in_pod = env.get("CHAOSTOOLKIT_IN_POD") == "true"
        if not (in_pod or "KUBERNETES_HOST" in secrets or "KUBERNETES_HOST" in env):
            raise ActivityFailed(
                "no Kubernetes configuration found: set KUBECONFIG (or create "
                "~/.kube/config), or KUBERNETES_HOST with credentials"
            )
        return create_k8s_api_client(secrets)
    except ConfigException as exc:
        raise ActivityFailed(
            f"invalid Kubernetes configuration: {exc}; check KUBECONFIG and "
            "KUBERNETES_CONTEXT"
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ActivityFailed(
            f"cannot load the Kubernetes configuration ({exc}); check KUBECONFIG"
        ) from None


class Kube:
    """A JSON-in, JSON-out facade over the typed API classes.

    Built once per activity from ``secrets`` (chaosk8s' rules: kubeconfig,
    in-cluster, or KUBERNETES_* variables).
    """

    def __init__(
        self, secrets: Secrets | None = None, api: client.ApiClient | None = None
    ) -> None:
        self.api = api or _build_api_client(secrets)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.rbac = client.RbacAuthorizationV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    @property
    def host(self) -> str:
        return self.api.configuration.host

    def call(
        self,
        fn: Callable[..., Any],
        *args: Any,
        verb: str,
        group: str,
        plural: str,
        namespace: str | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> dict:
        """Invoke one API method and return the decoded JSON body.

        ``verb``/``group``/``plural``/``namespace``/``name`` only shape the
        error message; they are not sent.
        """
        kwargs.setdefault("_request_timeout", REQUEST_TIMEOUT_S)
        try:
            response = fn(*args, _preload_content=False, **kwargs)
            data = response.data
        except ApiException as exc:
            raise api_error(exc, verb, group, plural, namespace, name) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unreachable(self.host, exc) from None
        if not data:
            return {}
        try:
            return json.loads(data)
        except ValueError:
            raise ActivityFailed(
                f"the Kubernetes API at {self.host} answered {verb} {plural} with "
                "something that is not JSON; is KUBECONFIG pointing at an API server?"
            ) from None

    def merge_patch(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict:
        """:meth:`call` for a PATCH whose body is an RFC 7386 merge patch.

        kubernetes 37 sends a dict body as JSON Patch unless told otherwise;
        older clients pick merge or strategic merge from the body's type.
        """
        if _accepts_content_type(fn):
            kwargs["_content_type"] = "application/merge-patch+json"
        return self.call(fn, *args, **kwargs)

    def maybe(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict | None:
        """Like :meth:`call`, but a 404 gives ``None`` (the object is absent)."""
        try:
            return self.call(fn, *args, **kwargs)
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def served(self, group: str, version: str, plural: str) -> bool:
        """Whether the API serves ``group/version/plural`` (discovery needs no RBAC)."""
        api = self.custom if group else self.core
        args = (group, version) if group else ()
        body = self.maybe(
            api.get_api_resources, *args, verb="discover", group=group, plural=plural
        )
        return bool(body) and any(
            r.get("name") == plural for r in body.get("resources", [])
        )


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
    kube: Kube,
    list_fn: Callable[..., Any],
    *args: Any,
    deadline: float,
    group: str,
    plural: str,
    namespace: str | None = None,
    field_selector: str | None = None,
    label_selector: str | None = None,
    stop: Stopper | None = None,
) -> Iterator[tuple[str, dict]]:
    """Yield ``(type, object)`` for what exists now, then for every change.

    After each (re)listing comes ``("SYNCED", {})``: by then every existing
    object has been yielded, so "not seen" means "absent".

    ``list_fn`` is a list method of the typed API (for example
    ``kube.custom.list_namespaced_custom_object``) and ``args`` its positional
    arguments. The stream survives disconnects (resumes from the last
    resourceVersion), relists on 410 Gone, and ends quietly at ``deadline``
    (``time.monotonic()``) or when ``stop`` is set; the caller decides what a
    timeout means.
    """
    selectors: dict[str, str] = {}
    if field_selector:
        selectors["field_selector"] = field_selector
    if label_selector:
        selectors["label_selector"] = label_selector

    def listing() -> str:
        body = kube.call(
            list_fn,
            *args,
            verb="list",
            group=group,
            plural=plural,
            namespace=namespace,
            **selectors,
        )
        for item in body.get("items", []):
            pending.append(("ADDED", item))
        return (body.get("metadata") or {}).get("resourceVersion", "")

    pending: list[tuple[str, dict]] = []
    resource_version = listing()
    yield from pending
    yield SYNCED, {}
    failures = 0
    while not (stop and stop.is_set()):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        window = max(1, min(WATCH_WINDOW_S, int(remaining + 0.999)))
        try:
            response = list_fn(
                *args,
                watch=True,
                resource_version=resource_version,
                timeout_seconds=window,
                _preload_content=False,
                _request_timeout=(10, window + 5),
                **selectors,
            )
        except ApiException as exc:
            if exc.status == 410:
                pending = []
                resource_version = listing()
                yield from pending
                yield SYNCED, {}
                continue
            raise api_error(exc, "watch", group, plural, namespace) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            failures += 1
            if failures > 5:
                raise _unreachable(kube.host, exc) from None
            time.sleep(min(2.0, 0.1 * 2**failures))
            continue
        gone = False
        if stop:
            stop.track(response)
        try:
            for line in _lines(response, stop):
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if obj.get("code") == 410:
                        gone = True
                        break
                    raise ActivityFailed(
                        f"watch on {_plural_label(group, plural)} failed: "
                        f"{obj.get('message', 'unknown error')}"
                    )
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if rv:
                    resource_version = rv
                if kind == "BOOKMARK":
                    continue
                failures = 0
                yield kind, obj
                if time.monotonic() >= deadline:
                    return
        except (urllib3.exceptions.HTTPError, OSError, ValueError):
            if stop and stop.is_set():
                return
            failures += 1
            if failures > 5:
                raise _unreachable(kube.host, OSError("watch kept breaking")) from None
            time.sleep(min(2.0, 0.1 * 2**failures))
        finally:
            if stop:
                stop.untrack(response)
            response.close()
            response.release_conn()
        if gone:
            pending = []
            resource_version = listing()
            yield from pending
            yield SYNCED, {}


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


def follow_many(
    streams: dict[str, Callable[[Stopper], Iterator[tuple[str, dict]]]],
    deadline: float,
) -> Iterator[Watched]:
    """Merge several :func:`follow` streams into one, each in its own thread.

    ``streams`` maps a label to a function that takes a stop event and returns
    an iterator (usually a :func:`follow` call). Ends at ``deadline``; errors
    raised in a stream are re-raised here.
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
            try:
                item = inbox.get(timeout=remaining)
            except queue.Empty:
                return
            if item is done:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.stop()
