"""Run the lab API server in a background thread with its own event loop.

Tests and `chaoslitmus lab` use synchronous clients (kubectl, the official
kubernetes client); they must never share a loop with the server, so the
server and its in-process controllers live on a dedicated thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from aiohttp import web

from chaoslitmus.lab.kube.apiserver import WATCHES_KEY, Authorizer, build_app
from chaoslitmus.lab.kube.resources import ResourceRegistry
from chaoslitmus.lab.kube.schemas import default_crd_files, load_crd_files
from chaoslitmus.lab.kube.store import Store
from chaoslitmus.lab.kube.watchlog import EVENT_LOG_SIZE

__all__ = ["ApiServerThread", "kubeconfig_text", "make_store", "write_kubeconfig"]

log = logging.getLogger("chaoslitmus.lab")

Controller = Callable[[Store], Awaitable[None]]
T = TypeVar("T")

_START_TIMEOUT_S = 15.0
_SHUTDOWN_TIMEOUT_S = 0.5


def make_store(
    crd_files: Iterable[Path | str] | None = None,
    seed: int | None = None,
    *,
    event_log_size: int = EVENT_LOG_SIZE,
) -> Store:
    """A store serving built-ins plus these CRD files (default: all lab CRDs).

    `event_log_size` bounds each kind's watch log (a tiny one makes resumed
    watches expire, to test relists).
    """
    files = default_crd_files() if crd_files is None else list(crd_files)
    registry = ResourceRegistry.with_crds(load_crd_files(files))
    return Store(registry, seed=seed, event_log_size=event_log_size)


class ApiServerThread:
    """The lab API server on 127.0.0.1 in a thread; a context manager."""

    def __init__(
        self,
        store_or_none: Store | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        crd_files: Iterable[Path | str] | None = None,
        controllers: Sequence[Controller] = (),
        token: str | None = None,
        authorizer: Authorizer | None = None,
    ) -> None:
        self.store: Store = (
            store_or_none if store_or_none is not None else make_store(crd_files)
        )
        self.host = host
        self.port = port
        self.url = ""
        self.token = token
        self.loop: asyncio.AbstractEventLoop = asyncio.new_event_loop()
        self.controller_errors: list[BaseException] = []
        self._authorizer = authorizer
        self._controllers = list(controllers)
        self._controller_tasks: list[asyncio.Task[None]] = []
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> ApiServerThread:
        """Bind, serve, start the controllers; returns once requests can be made."""
        if self._thread is not None:
            return self
        if self.loop.is_closed():  # started again after stop()
            self.loop = asyncio.new_event_loop()
            self._ready.clear()
            self._controller_tasks = []
        self._thread = threading.Thread(
            target=self._run, name="chaoslitmus-apiserver", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(_START_TIMEOUT_S):
            raise RuntimeError("the lab API server did not start in time")
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise RuntimeError(
                f"the lab API server could not start: {self._startup_error}"
            ) from self._startup_error
        return self

    def stop(self) -> None:
        """Cancel controllers, end watches, close the server; fast even with watches."""
        thread = self._thread
        if thread is None:
            return
        if self.loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop)
            try:
                future.result(timeout=10)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
        thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> ApiServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run fn on the server loop thread and return its result (awaited if async)."""

        async def invoke() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        if threading.current_thread() is self._thread:
            raise RuntimeError("call() is for other threads; use the store directly")
        return asyncio.run_coroutine_threadsafe(invoke(), self.loop).result(timeout=30)

    # -- on the server thread ---------------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            self.loop.close()
            return
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                self.loop.run_until_complete(
                    asyncio.gather(*pending, return_exceptions=True)
                )
            self.loop.close()

    async def _startup(self) -> None:
        app = build_app(self.store, token=self.token, authorizer=self._authorizer)
        self._runner = web.AppRunner(
            app,
            handle_signals=False,
            handler_cancellation=True,
            shutdown_timeout=_SHUTDOWN_TIMEOUT_S,
            access_log=None,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.url = f"http://{self.host}:{self.port}"
        for controller in self._controllers:
            task = asyncio.ensure_future(controller(self.store))
            task.add_done_callback(self._controller_done)
            self._controller_tasks.append(task)
        log.info("lab API server listening on %s", self.url)

    def _controller_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.controller_errors.append(error)
            log.error("lab controller stopped with an error", exc_info=error)

    async def _shutdown(self) -> None:
        for task in self._controller_tasks:
            task.cancel()
        if self._controller_tasks:
            await asyncio.gather(*self._controller_tasks, return_exceptions=True)
        self.store.close_watches()
        if self._runner is None:
            return
        for task in list(self._runner.app[WATCHES_KEY]):
            task.cancel()
        await self._runner.cleanup()


def kubeconfig_text(
    server_url: str,
    namespace: str = "default",
    context: str = "chaoslitmus-lab",
    token: str | None = None,
) -> str:
    """A kubeconfig pointing kubectl and the kubernetes client at the lab."""
    user: dict[str, Any] = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": user}],
        "contexts": [
            {
                "name": context,
                "context": {
                    "cluster": context,
                    "user": context,
                    "namespace": namespace,
                },
            }
        ],
        "current-context": context,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfig(
    path: Path | str,
    server_url: str,
    namespace: str = "default",
    context: str = "chaoslitmus-lab",
    token: str | None = None,
) -> Path:
    """Write a kubeconfig pointing kubectl and the kubernetes client at the lab
    (tests' own files; `lab up --kubeconfig` goes through `kubeconfig_file`)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = kubeconfig_text(server_url, namespace, context, token)
    target.write_text(text, encoding="utf-8")
    return target
