"""Chaos Toolkit extension: Litmus faults, mesh retry policies, HTTP measurements."""

from chaoslib.discovery import (
    discover_actions,
    discover_probes,
    initialize_discovery_result,
)
from chaoslib.types import Discovery

__version__ = "0.1.0"
__all__ = ["__version__", "discover"]

# (module, kind) pairs listed by `chaos discover`; each module declares __all__.
ACTIVITY_MODULES = [
    ("chaoslitmus.litmus.actions", "action"),
    ("chaoslitmus.litmus.probes", "probe"),
    ("chaoslitmus.mesh.actions", "action"),
    ("chaoslitmus.mesh.probes", "probe"),
    ("chaoslitmus.http.probes", "probe"),
    ("chaoslitmus.http.tolerances", "probe"),
]


def discover(discover_system: bool = True) -> Discovery:
    """Describe every activity this extension offers, for `chaos discover`."""
    discovery = initialize_discovery_result(
        "chaostoolkit-litmus", __version__, "litmus"
    )
    for module, kind in ACTIVITY_MODULES:
        find = discover_actions if kind == "action" else discover_probes
        discovery["activities"].extend(find(module))
    return discovery
