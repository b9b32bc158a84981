"""TLS verification follows the configuration and is never off silently.

The lab API is put behind a TLS-terminating proxy with a self-signed
certificate for 127.0.0.1 (made by the openssl command line).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chaoslib.exceptions import ActivityFailed

from chaoslitmus.k8s import Kube
from chaoslitmus.litmus import actions

from .conftest import NS, server_context
from .faultproxy import FaultProxy

pytestmark = [
    # With verification off, urllib3 warns on every request: that is the point.
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


@pytest.fixture
def tls_api(lab, certificate) -> Iterator[FaultProxy]:
    """The lab's API over https, on a port of its own for this test."""
    context = server_context(certificate)
    with FaultProxy(lab.server.url, rate=0.0, ssl_context=context) as proxy:
        yield proxy


@pytest.fixture
def no_kubeconfig(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "absent"))
    for var in (
        "KUBERNETES_HOST",
        "KUBERNETES_VERIFY_SSL",
        "KUBERNETES_CA_CERT_FILE",
        "KUBERNETES_CONTEXT",
        "CHAOSTOOLKIT_IN_POD",
    ):
        monkeypatch.delenv(var, raising=False)


def tls_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "NOT verified" in r.getMessage()
    ]


def kubeconfig(path: Path, server: str, **cluster: object) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
                "users": [{"name": "u", "user": {"token": "t0ken-for-tls-tests"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def stop_missing(secrets=None) -> dict:
    return actions.stop_engine("no-such-engine", NS, secrets=secrets)


def test_env_path_without_verify_ssl_warns_once_and_says_how(
    tls_api, no_kubeconfig, caplog
):
    caplog.set_level(logging.WARNING)
    secrets = {"KUBERNETES_HOST": tls_api.url}

    assert stop_missing(secrets)["reason"] == "not found"
    assert stop_missing(secrets)["reason"] == "not found"

    [warning] = tls_warnings(caplog)
    assert tls_api.url in warning
    assert "KUBERNETES_VERIFY_SSL=true" in warning
    assert "KUBERNETES_CA_CERT_FILE" in warning


def test_env_path_with_verification_and_the_ca_is_quiet(
    tls_api, no_kubeconfig, certificate, caplog
):
    caplog.set_level(logging.WARNING)
    secrets = {
        "KUBERNETES_HOST": tls_api.url,
        "KUBERNETES_VERIFY_SSL": "true",
        "KUBERNETES_CA_CERT_FILE": str(certificate[0]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no InsecureRequestWarning either
        assert stop_missing(secrets)["reason"] == "not found"
    assert tls_warnings(caplog) == []


def test_a_certificate_that_does_not_verify_fails_clearly_at_once(
    tls_api, no_kubeconfig, caplog
):
    caplog.set_level(logging.DEBUG, logger="chaostoolkit.litmus")
    secrets = {"KUBERNETES_HOST": tls_api.url, "KUBERNETES_VERIFY_SSL": "true"}

    with pytest.raises(ActivityFailed) as failed:
        stop_missing(secrets)

    text = str(failed.value)
    assert "\n" not in text
    assert "TLS verification of the Kubernetes API failed" in text
    assert "certificate-authority" in text and "KUBERNETES_CA_CERT_FILE" in text
    # Not retried: a certificate does not start verifying by itself.
    assert "retrying" not in caplog.text


def test_kubeconfig_with_its_ca_verifies(
    tls_api, certificate, monkeypatch, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    path = kubeconfig(
        tmp_path / "kc", tls_api.url, **{"certificate-authority": str(certificate[0])}
    )
    monkeypatch.setenv("KUBECONFIG", str(path))

    assert stop_missing()["reason"] == "not found"
    assert tls_warnings(caplog) == []


def test_kubeconfig_skipping_verification_is_said_out_loud(
    tls_api, monkeypatch, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    path = kubeconfig(
        tmp_path / "kc", tls_api.url, **{"insecure-skip-tls-verify": True}
    )
    monkeypatch.setenv("KUBECONFIG", str(path))

    assert stop_missing()["reason"] == "not found"
    [warning] = tls_warnings(caplog)
    assert "insecure-skip-tls-verify" in warning


def test_kubeconfig_without_a_ca_does_not_trust_a_self_signed_api(
    tls_api, monkeypatch, tmp_path
):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path / "kc", tls_api.url)))

    with pytest.raises(ActivityFailed, match="TLS verification .* failed"):
        stop_missing()


def test_credentials_over_plain_http_to_a_remote_api_are_warned_about(
    no_kubeconfig, caplog
):
    caplog.set_level(logging.WARNING)
    # No request is sent: building the client is enough to know.
    Kube({"KUBERNETES_HOST": "http://10.20.30.40:8080", "KUBERNETES_API_KEY": "k3y-x"})
    Kube({"KUBERNETES_HOST": "http://127.0.0.1:8080", "KUBERNETES_API_KEY": "k3y-x"})
    messages = [
        r.getMessage() for r in caplog.records if "plain http" in r.getMessage()
    ]
    assert len(messages) == 1 and "10.20.30.40" in messages[0]
    assert "k3y-x" not in caplog.text


def test_proxy_from_environment_honours_no_proxy(monkeypatch):
    from chaoslitmus._kubeclient import proxy_from_environment

    for var in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,.internal")
    assert (
        proxy_from_environment("https://api.eks.example:443")
        == "http://proxy.corp:3128"
    )
    assert proxy_from_environment("https://127.0.0.1:6443") is None
    assert proxy_from_environment("https://k8s.internal") is None
    assert proxy_from_environment("http://10.0.0.1:8080") is None  # no http proxy set
