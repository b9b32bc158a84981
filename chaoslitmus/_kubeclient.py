"""Building the kubernetes API client: which configuration, and how safely.

Follows chaosk8s' rules (kubeconfig, then in-cluster, then KUBERNETES_*
variables) with three changes, each for safety:

- urllib3's own silent retries are off: :class:`chaoslitmus.k8s.Kube` retries,
  knowing which requests are safe to send twice, logging each retry and
  keeping to the caller's deadline;
- the client's wire debug (``KUBERNETES_DEBUG``) stays off: http.client would
  print every request header, the bearer token included, to stdout;
- TLS verification follows the configuration, and when it is off for an https
  API (chaosk8s' variables path turns it off unless KUBERNETES_VERIFY_SSL is
  set), a WARNING says so, once per API server, with the way to turn it on.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import urllib.request
from urllib.parse import urlsplit

from chaoslib.exceptions import ActivityFailed
from chaoslib.types import Secrets
from kubernetes import client
from kubernetes.config.config_exception import ConfigException

from chaoslitmus._redact import clean, redact_url

__all__ = ["build_api_client", "credentials_of"]

logger = logging.getLogger("chaostoolkit.litmus")

_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()

# How to turn TLS verification on, by where the configuration came from.
_TLS_FIX = {
    "kubeconfig": "remove insecure-skip-tls-verify from the cluster in the "
    "kubeconfig and give certificate-authority (or certificate-authority-data)",
    "env": "set KUBERNETES_VERIFY_SSL=true and KUBERNETES_CA_CERT_FILE=<the "
    "cluster's CA file> (chaostoolkit-kubernetes skips verification when "
    "KUBERNETES_VERIFY_SSL is unset)",
    "in-cluster": "let the service account's ca.crt be used (do not set "
    "verify_ssl off)",
}


def _warn_once(kind: str, host: str, message: str) -> None:
    with _warned_lock:
        if (kind, host) in _warned:
            return
        _warned.add((kind, host))
    logger.warning(message)


def credentials_of(configuration: client.Configuration) -> list[str]:
    """The secret values a configuration holds now (tokens refresh)."""
    values = [str(v) for v in (configuration.api_key or {}).values() if v]
    values += [v.split(None, 1)[-1] for v in values if " " in v]
    if configuration.password:
        values.append(str(configuration.password))
    return values


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_transport(configuration: client.Configuration, source: str) -> None:
    """Say it loudly when the connection to the API is not protected."""
    url = configuration.host or ""
    parts = urlsplit(url)
    shown = redact_url(url)
    if parts.scheme == "https" and not configuration.verify_ssl:
        _warn_once(
            "tls",
            shown,
            f"TLS certificates of the Kubernetes API at {shown} are NOT verified, "
            "so anyone on the path can impersonate it and read the credentials; "
            f"to verify them, {_TLS_FIX[source]}",
        )
    elif (
        parts.scheme == "http"
        and credentials_of(configuration)
        and not _is_loopback(parts.hostname or "")
    ):
        _warn_once(
            "http",
            shown,
            f"credentials for the Kubernetes API at {shown} are sent over plain "
            "http, readable by anyone on the path; use the https address",
        )


def _harden(configuration: client.Configuration, source: str) -> client.ApiClient:
    """A fresh client on ``configuration``, with our retry and logging rules."""
    configuration.retries = False
    if getattr(configuration, "debug", False):
        _warn_once(
            "debug",
            redact_url(configuration.host or ""),
            "KUBERNETES_DEBUG is ignored: the kubernetes client's wire debug prints "
            "request headers, the API token included; log at DEBUG level instead",
        )
        configuration.debug = False
    _check_transport(configuration, source)
    return client.ApiClient(configuration)


def build_api_client(secrets: Secrets | None) -> client.ApiClient:
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
            configuration = client.Configuration()
            config.load_kube_config(
                config_file=get_config_path(),
                context=context or None,
                client_configuration=configuration,
            )
            if not configuration.proxy:  # a kubeconfig proxy-url wins
                configuration.proxy = proxy_from_environment(configuration.host)
            return _harden(configuration, "kubeconfig")
        in_pod = env.get("CHAOSTOOLKIT_IN_POD") == "true"
        if not (in_pod or "KUBERNETES_HOST" in secrets or "KUBERNETES_HOST" in env):
            raise ActivityFailed(
                "no Kubernetes configuration found: set KUBECONFIG (or create "
                "~/.kube/config), or KUBERNETES_HOST with credentials"
            )
        made = create_k8s_api_client(secrets)
        made.close()
        return _harden(made.configuration, "in-cluster" if in_pod else "env")
    except ConfigException as exc:
        raise ActivityFailed(
            clean(
                f"invalid Kubernetes configuration: {exc}; check KUBECONFIG and "
                "KUBERNETES_CONTEXT"
            )
        ) from None
    except (OSError, ValueError, TypeError) as exc:
        raise ActivityFailed(
            clean(f"cannot load the Kubernetes configuration ({exc}); check KUBECONFIG")
        ) from None


def proxy_from_environment(host: str) -> str | None:
    """The proxy the environment asks for to reach ``host``, honouring NO_PROXY
    (so a lab or cluster on 127.0.0.1 is never sent through an internet proxy)."""
    proxies = urllib.request.getproxies_environment()
    parsed = urlsplit(host)
    if not parsed.hostname or urllib.request.proxy_bypass_environment(
        parsed.hostname, proxies
    ):
        return None
    return proxies.get(parsed.scheme or "https")
