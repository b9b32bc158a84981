"""Hostile manifests: alias bombs, half-bad files, endless files, slow servers.

Each bad input gets one ActivityFailed line and leaves the lab's cluster as
it was (checked through the lab's API store, not through our own client).
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chaoslib.exceptions import ActivityFailed

from chaoslitmus._yaml import MAX_ALIAS_NODES, UnsafeYaml, safe_load, safe_load_all
from chaoslitmus.lab import world
from chaoslitmus.litmus import actions
from chaoslitmus.sources import load_documents

from .conftest import ENGINES, NS, ResilienceRig, point_at, server_context, start_lab
from .faultproxy import FaultProxy

EXPERIMENTS = "litmuschaos.io/v1alpha1/chaosexperiments"


def engine_yaml(name: str, state: str = "active") -> str:
    return f"""apiVersion: litmuschaos.io/v1alpha1
kind: ChaosEngine
metadata:
  name: {name}
  namespace: {NS}
spec:
  engineState: {state}
  appinfo: {{appns: {NS}, applabel: app=ratings, appkind: deployment}}
  chaosServiceAccount: pod-network-latency-sa
  experiments:
    - name: pod-network-latency
      spec:
        components:
          env:
            - {{name: TOTAL_CHAOS_DURATION, value: '1'}}
            - {{name: NETWORK_LATENCY, value: '10'}}
"""


def experiment_yaml(name: str, permissions: str = "[]") -> str:
    return f"""apiVersion: litmuschaos.io/v1alpha1
kind: ChaosExperiment
metadata:
  name: {name}
spec:
  definition:
    permissions: {permissions}
"""


def billion_laughs(head: str) -> str:
    """About 1 KB of YAML standing for 10^9 strings, under ``head``'s spec."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "\n".join("    " + line for line in lines)
    return head + "  laughs:\n" + bomb + "\n"


@pytest.fixture
def cluster(lab: ResilienceRig, monkeypatch, tmp_path) -> ResilienceRig:
    point_at(monkeypatch, tmp_path / "kubeconfig", lab.server.url)
    return lab


def experiment_names(lab: ResilienceRig) -> set[str]:
    items, _ = lab.call(lab.server.store.list, EXPERIMENTS, NS)
    return {e["metadata"]["name"] for e in items}


def one_line(failed: pytest.ExceptionInfo) -> str:
    message = str(failed.value)
    assert "\n" not in message
    return message


# --- item 3: YAML alias bombs ---------------------------------------------------


def test_a_billion_laughs_is_refused_by_the_loader():
    text = billion_laughs("kind: ConfigMap\nspec:\n")
    assert len(text) < 1100
    with pytest.raises(UnsafeYaml, match="expand it to more than"):
        safe_load_all(text)
    with pytest.raises(UnsafeYaml, match="expand it to more than"):
        safe_load(text)  # the one-document form, for an API server's bodies


def test_aliases_within_the_bound_still_load():
    text = (
        "env: &env [{name: A, value: '1'}, {name: B, value: '2'}]\nx: *env\ny: *env\n"
    )
    [doc] = safe_load_all(text)
    assert doc["x"] == doc["y"] == doc["env"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: &a [1, *a]\n", "refers to itself"),
        ("[" * 300 + "]" * 300, "nests more than 200 levels"),
        ("[" * 5000 + "]" * 5000, "nests more than 200 levels"),
    ],
)
def test_self_referring_and_deep_documents_are_refused(text, message):
    with pytest.raises(UnsafeYaml, match=message):
        safe_load_all(text)


def test_a_bound_just_past_the_limit_is_refused():
    width = MAX_ALIAS_NODES // 10 + 10
    text = (
        "a: &a [" + ",".join(["x"] * width) + "]\nb: [" + ",".join(["*a"] * 11) + "]\n"
    )
    with pytest.raises(UnsafeYaml):
        safe_load_all(text)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("activity", ["engine", "experiment"])
def test_alias_bombs_are_refused_fast_and_create_nothing(cluster, tmp_path, activity):
    head = (
        engine_yaml("laughing-engine")
        if activity == "engine"
        else (experiment_yaml("laughing-experiment"))
    )
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs(head))
    engines, experiments = cluster.engine_names(), experiment_names(cluster)

    began = time.monotonic()
    with pytest.raises(ActivityFailed) as failed:
        if activity == "engine":
            actions.create_engine_from_manifest(str(path), timeout_s=30)
        else:
            actions.install_experiment(str(path), NS)
    elapsed = time.monotonic() - began

    assert "aliases that expand it" in one_line(failed)
    # Refusing costs milliseconds; walking the expansion would take hours.
    assert elapsed < 5
    assert cluster.engine_names() == engines
    assert experiment_names(cluster) == experiments


# --- item 2: several documents, all or none ------------------------------------


@pytest.mark.parametrize(
    "second, message",
    [
        (engine_yaml("first-of-two"), "repeats ChaosEngine 'first-of-two'"),
        (engine_yaml("second-of-two", state="sleeping"), "nothing was created"),
        (engine_yaml("second-of-two").replace("app=ratings", "app=none"), "no pods"),
    ],
    ids=["same-name-twice", "schema-invalid", "preflight-fails"],
)
def test_a_bad_second_engine_creates_no_first_one(cluster, tmp_path, second, message):
    path = tmp_path / "engines.yaml"
    path.write_text(engine_yaml("first-of-two") + "---\n" + second)
    before = cluster.engine_names()

    with pytest.raises(ActivityFailed, match=message) as failed:
        actions.create_engine_from_manifest(str(path), timeout_s=30)

    one_line(failed)
    assert cluster.engine_names() == before


def test_a_name_taken_in_the_cluster_creates_no_first_one(cluster, tmp_path):
    path = tmp_path / "engines.yaml"
    path.write_text(engine_yaml("taken-a") + "---\n" + engine_yaml("taken-b"))
    manifest = yaml.safe_load(engine_yaml("taken-b"))
    manifest["spec"]["engineState"] = "stop"
    cluster.call(cluster.server.store.create, ENGINES, NS, manifest)
    before = cluster.engine_names()
    try:
        with pytest.raises(ActivityFailed, match="'taken-b' already exists"):
            actions.create_engine_from_manifest(str(path), timeout_s=30)
        assert cluster.engine_names() == before
    finally:
        actions.delete_engine("taken-b", NS, timeout_s=30)


def test_a_create_that_fails_late_is_undone(lab: ResilienceRig, monkeypatch, tmp_path):
    """Another actor takes the second name between our dry run and our create:
    the first engine, already created, is deleted again (and waited for);
    the other actor's engine is left alone."""
    posts = []

    def race(method: str, path: str) -> bool:
        if method == "POST" and "chaosengines" in path and "dryRun" not in path:
            posts.append(path)
            if len(posts) == 2:
                theirs = yaml.safe_load(engine_yaml("late-b"))
                theirs["spec"]["engineState"] = "stop"
                lab.call(lab.server.store.create, ENGINES, NS, theirs)
        return False

    path = tmp_path / "engines.yaml"
    path.write_text(engine_yaml("late-a") + "---\n" + engine_yaml("late-b"))
    before = lab.engine_names()
    with FaultProxy(lab.server.url, rate=0.0, eligible=race) as proxy:
        point_at(monkeypatch, tmp_path / "kc", proxy.url)
        with pytest.raises(ActivityFailed) as failed:
            actions.create_engine_from_manifest(str(path), timeout_s=30)
    try:
        message = one_line(failed)
        assert "'late-b' already exists" in message
        assert "what this call had created was removed again" in message
        assert len(posts) == 2  # late-a was really created
        assert lab.engine_names() == before | {"late-b"}
    finally:
        point_at(monkeypatch, tmp_path / "kc2", lab.server.url)
        actions.delete_engine("late-b", NS, timeout_s=30)


def test_every_created_engine_is_named_in_the_output(cluster, tmp_path):
    path = tmp_path / "engines.yaml"
    path.write_text(engine_yaml("pair-a") + "---\n" + engine_yaml("pair-b"))
    try:
        outcomes = actions.create_engine_from_manifest(
            str(path), wait=False, timeout_s=30
        )
        assert [o["engine_name"] for o in outcomes] == ["pair-a", "pair-b"]
        for outcome in outcomes:
            assert outcome["created_engines"] == ["pair-a", "pair-b"]
            assert outcome["verdict"] == "Awaited"
    finally:
        for name in ("pair-a", "pair-b"):
            actions.delete_engine(name, NS, timeout_s=30)


def test_generated_names_are_created_together_and_followed(cluster, tmp_path):
    text = engine_yaml("x").replace("  name: x\n", "  generateName: fresh-\n")
    path = tmp_path / "engines.yaml"
    path.write_text(text + "---\n" + text)
    outcomes = actions.create_engine_from_manifest(str(path), timeout_s=60)
    names = [o["engine_name"] for o in outcomes]
    try:
        assert len(set(names)) == 2 and all(n.startswith("fresh-") for n in names)
        assert [o["verdict"] for o in outcomes] == ["Pass", "Pass"]
        assert outcomes[0]["created_engines"] == names
    finally:
        for name in names:
            actions.delete_engine(name, NS, timeout_s=30)


@pytest.mark.parametrize(
    "second, message",
    [
        (experiment_yaml("exp-one"), "repeats ChaosExperiment 'exp-one'"),
        (experiment_yaml("exp-two", permissions="all"), "nothing was installed"),
        (engine_yaml("not-an-experiment"), "document 2 is a ChaosEngine"),
    ],
    ids=["same-name-twice", "schema-invalid", "wrong-kind"],
)
def test_a_bad_second_experiment_installs_no_first_one(
    cluster, tmp_path, second, message
):
    path = tmp_path / "experiments.yaml"
    path.write_text(experiment_yaml("exp-one") + "---\n" + second)
    before = experiment_names(cluster)

    with pytest.raises(ActivityFailed, match=message) as failed:
        actions.install_experiment(str(path), NS)

    one_line(failed)
    assert experiment_names(cluster) == before


def test_experiments_install_together(cluster, tmp_path):
    path = tmp_path / "experiments.yaml"
    text = experiment_yaml("exp-x") + "---\n" + experiment_yaml("exp-y")
    path.write_text(
        text + "---\n" + yaml.safe_dump(world.network_latency_experiment(NS))
    )
    out = actions.install_experiment(str(path), NS)
    try:
        assert out["installed"] == ["exp-x", "exp-y"]
        assert out["already_present"] == ["pod-network-latency"]
    finally:
        for name in ("exp-x", "exp-y"):
            actions.uninstall_experiment(name, NS)
    assert "pod-network-latency" in experiment_names(cluster)


def test_an_experiment_refused_late_is_undone(monkeypatch, tmp_path):
    """The dry runs pass, then the second real create is forbidden: the first
    experiment, already installed, is removed again."""
    creates = []

    def authorizer(verb, rtype, namespace, name) -> bool:
        if (verb, rtype.plural) == ("create", "chaosexperiments"):
            creates.append(name)
            return len(creates) != 4  # dry run, dry run, create, *create*
        return True

    lab = start_lab(authorizer=authorizer)
    try:
        point_at(monkeypatch, tmp_path / "kc", lab.server.url)
        path = tmp_path / "experiments.yaml"
        path.write_text(
            experiment_yaml("late-one") + "---\n" + experiment_yaml("late-two")
        )
        before = experiment_names(lab)
        with pytest.raises(ActivityFailed) as failed:
            actions.install_experiment(str(path), NS)
        message = one_line(failed)
        assert "forbidden" in message
        assert "what this call had created was removed again" in message
        assert len(creates) == 4
        assert experiment_names(lab) == before
    finally:
        lab.server.stop()


# --- item 8: files that never end ------------------------------------------------


@pytest.mark.timeout(60)
def test_a_fifo_is_refused_without_blocking(cluster, tmp_path):
    fifo = tmp_path / "engine.yaml"
    os.mkfifo(fifo)
    before = cluster.engine_names()
    with pytest.raises(ActivityFailed, match="is a FIFO .*not a regular file") as f:
        actions.create_engine_from_manifest(str(fifo), timeout_s=30)
    one_line(f)
    with pytest.raises(ActivityFailed, match="is a FIFO"):
        actions.install_experiment(f"file://{fifo}", NS)
    assert cluster.engine_names() == before


@pytest.mark.timeout(60)
@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_without_reading(cluster):
    before = cluster.engine_names()
    with pytest.raises(ActivityFailed, match="is a character device") as failed:
        actions.create_engine_from_manifest("/dev/zero", timeout_s=30)
    one_line(failed)
    with pytest.raises(ActivityFailed, match="is a directory"):
        load_documents("/")
    assert cluster.engine_names() == before


# --- item 6: the fetch deadline --------------------------------------------------


class Trickle:
    """A web server on 127.0.0.1 that sends its answer one byte at a time.

    ``where="body"``: headers at once, then a 2,000-byte body at one byte per
    ``every_s``; ``where="headers"``: the status line and headers trickle.
    Records when the client went away.
    """

    def __init__(
        self, where: str, every_s: float = 0.2, tls: ssl.SSLContext | None = None
    ) -> None:
        self.where = where
        self.every_s = every_s
        self.tls = tls
        self.closed_at: float | None = None
        self.listener = socket.create_server(("127.0.0.1", 0))
        scheme = "https" if tls else "http"
        port = self.listener.getsockname()[1]
        self.url = f"{scheme}://127.0.0.1:{port}/engine.yaml"
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        body = b"#" * 2000
        head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        slow, fast = (body, head) if self.where == "body" else (head, b"")
        with conn:
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                conn.recv(65536)
                conn.sendall(fast)
                for byte in slow:
                    if self._stop.wait(self.every_s):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                self.closed_at = time.monotonic()

    def close(self) -> None:
        self._stop.set()
        self.listener.close()


@pytest.fixture
def trickle(request, certificate, monkeypatch) -> Iterator[Trickle]:
    tls = None
    if request.param.startswith("tls-"):
        tls = server_context(certificate)
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    server = Trickle(request.param.removeprefix("tls-"), tls=tls)
    yield server
    server.close()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("trickle", ["body", "headers", "tls-body"], indirect=True)
def test_a_trickling_server_is_cut_at_the_deadline(cluster, trickle):
    before = cluster.engine_names()
    began = time.monotonic()
    with pytest.raises(ActivityFailed, match=r"took longer than 1\.5s") as failed:
        actions.create_engine_from_manifest(
            trickle.url, allow_insecure=True, timeout_s=1.5
        )
    elapsed = time.monotonic() - began
    one_line(failed)
    # Each byte arrives well within any per-read timeout; without a whole
    # deadline the 2,000 bytes would take ~400 s. Wide bound for a busy box.
    assert 1.5 <= elapsed < 10
    # The connection was shut, not left trickling in a forgotten thread.
    deadline = time.monotonic() + 5
    while trickle.closed_at is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert trickle.closed_at is not None
    assert cluster.engine_names() == before
