"""The README's activity reference and its example experiment stay true."""

from __future__ import annotations

import importlib
import inspect
import json
import re
from pathlib import Path

from chaoslib.experiment import ensure_experiment_is_valid

from chaoslitmus import ACTIVITY_MODULES

README = Path(__file__).resolve().parents[1] / "README.md"
# Filled in by Chaos Toolkit, never written in an experiment.
INJECTED = {"secrets", "configuration"}


def signature(func, tolerance: bool) -> str:
    """``name(a, b="x", c=None)`` as the README writes it."""
    parts = []
    for param in inspect.signature(func).parameters.values():
        if param.name in INJECTED or (tolerance and param.name == "value"):
            continue
        if param.default is inspect.Parameter.empty:
            parts.append(param.name)
        else:
            shown = (
                json.dumps(param.default)
                if isinstance(param.default, str)
                else repr(param.default)
            )
            parts.append(f"{param.name}={shown}")
    return f"{func.__name__}({', '.join(parts)})"


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_reference_shows_every_activity_with_every_argument():
    reference = section(README.read_text(), "Activity reference")
    for module_name, _ in ACTIVITY_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            expected = signature(
                getattr(module, name), module_name.endswith("tolerances")
            )
            assert f"`{expected}`" in reference, f"{module_name}.{name}: {expected}"
    # no argument hidden behind "...": every call shown is complete
    assert not re.search(r"`\w+\([^`]*\.\.\.[^`]*\)`", reference)


def example_experiment() -> dict:
    block = section(README.read_text(), "A minimal experiment to copy")
    (body,) = re.findall(r"```json\n(.*?)```", block, flags=re.S)
    return json.loads(body)


def test_the_example_experiment_is_valid():
    experiment = example_experiment()
    ensure_experiment_is_valid(experiment)
    probes = experiment["steady-state-hypothesis"]["probes"]
    assert probes[0]["provider"]["func"] == "cluster_ready"
    assert probes[1]["tolerance"]["type"] == "probe"
    assert experiment["controls"][0]["provider"]["module"] == (
        "chaoslitmus.controls.safe_interrupt"
    )
    assert experiment["configuration"]["engine_name"]["type"] == "probe"
    for rollback in experiment["rollbacks"]:
        assert rollback["provider"]["arguments"]["engine_name"] == "${engine_name}"
