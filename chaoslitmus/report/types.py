"""The report's model of a run: small frozen dataclasses, no JSON left in them.

Renderers read only these; ``model.build_run`` fills them from a journal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "Fault",
    "FaultEvidence",
    "Hypothesis",
    "RetryEvidence",
    "MeshChange",
    "ProbeResult",
    "RouteChange",
    "Run",
    "Sample",
    "Step",
    "Traffic",
]

MESH_CHANGES = frozenset(
    {"set_retry_policy", "remove_retry_policy", "restore_retry_policy"}
)


@dataclass(frozen=True)
class Sample:
    """One request: when it was due (s into the window), outcome, latency."""

    offset_s: float
    outcome: str  # an HTTP status ("200") or an error kind ("timeout")
    latency_ms: float


@dataclass(frozen=True)
class Traffic:
    """One measure_endpoint window, wherever it ran."""

    activity: str
    phase: str  # before | during | method | after | rollbacks
    background: bool
    url: str
    method: str
    started_at: str
    duration_s: float | None
    total: int
    failed: int
    error_rate: float
    statuses: dict[str, int]
    errors: dict[str, int]  # only kinds that happened
    latency_ms: dict[str, float]  # p50, p90, p95, p99, max, mean (when known)
    achieved_rate_per_s: float | None
    ok_statuses: tuple[int, ...] | None
    samples: tuple[Sample, ...]
    # "" (not cut), "before injection" or "under the fault": a method window
    # is cut at the fault's injection time (see report.injection).
    segment: str = ""

    @property
    def where(self) -> str:
        """Phase, background and segment, as tables show them."""
        text = self.phase + (" (background)" if self.background else "")
        return text + (f", {self.segment}" if self.segment else "")


@dataclass(frozen=True)
class ProbeResult:
    """A hypothesis probe: its tolerance, whether it held, and its figures."""

    name: str
    tolerance: str
    met: bool | None  # None when it did not run
    status: str  # succeeded | failed | not run
    figures: str
    error: str = ""


@dataclass(frozen=True)
class Hypothesis:
    """One check of the steady-state hypothesis (before, during or after)."""

    met: bool | None
    probes: tuple[ProbeResult, ...]


@dataclass(frozen=True)
class FaultEvidence:
    """What the fault-evidence control recorded: was this run's fault on?"""

    injected: bool
    reason: str
    targets: tuple[str, ...]
    inject_lag_s: float | None = None


@dataclass(frozen=True)
class RetryEvidence:
    """Policy propagation, Envoy's retry counters and the retry budget."""

    propagation_s: float | None
    retries: int | None
    rescued: int | None
    attempts_per_request: float | None
    budget: str


@dataclass(frozen=True)
class Fault:
    """A Litmus run, merged from every activity that reported on its engine."""

    engine: str
    namespace: str
    experiment: str
    phase: str
    verdict: str
    probe_success_percentage: str
    failure_step: str
    started_at: str
    ended_at: str
    duration_s: float | None
    settings: str  # what the launch asked for, e.g. "+3000 ms for 30 s on app=..."
    target_pods: tuple[str, ...]
    activities: tuple[str, ...]
    error: str = ""
    faulted_pods: tuple[str, ...] = ()  # marked injected by Litmus' helper
    injected_at: str = ""
    reverted_at: str = ""


@dataclass(frozen=True)
class RouteChange:
    """The retry policy of one route before and after an activity."""

    route: str
    before: str
    after: str
    changed: bool


@dataclass(frozen=True)
class MeshChange:
    """A mesh retry-policy activity: what it did to which routes."""

    activity: str
    action: str  # set_retry_policy, restore_retry_policy, get_retry_policy...
    phase: str
    status: str
    mesh: str
    api_version: str
    target: str
    routes: tuple[RouteChange, ...]
    message: str
    error: str = ""
    note: str = ""


@dataclass(frozen=True)
class Step:
    """One method or rollback activity, for the timeline of the run."""

    name: str
    kind: str  # action | probe
    func: str
    phase: str  # method | rollbacks
    background: bool
    status: str
    duration_s: float | None
    summary: str
    error: str = ""


@dataclass(frozen=True)
class Run:
    """What the report shows of one journal."""

    file: str
    title: str
    description: str
    tags: tuple[str, ...]
    status: str
    deviated: bool | None
    start: str
    end: str
    duration_s: float | None
    before: Hypothesis | None
    after: Hypothesis | None
    during: tuple[Hypothesis, ...]
    steps: tuple[Step, ...]
    rollbacks: tuple[Step, ...]
    faults: tuple[Fault, ...]
    mesh: tuple[MeshChange, ...]
    traffic: tuple[Traffic, ...]
    notes: tuple[str, ...] = field(default=())
    evidence: FaultEvidence | None = None
    retry_evidence: RetryEvidence | None = None
    slo_latency_ms: float | None = None  # the hypothesis' latency limit
    dry: str = ""  # chaos run --dry: the kind of activities not executed

    @property
    def fault_traffic(self) -> tuple[Traffic, ...]:
        """The traffic under the fault: background method windows first, and
        of a window cut at injection only its part after it."""
        method = [
            t
            for t in self.traffic
            if t.phase == "method" and t.segment != "before injection"
        ]
        background = tuple(t for t in method if t.background)
        return background or tuple(method)

    @property
    def before_traffic(self) -> tuple[Traffic, ...]:
        """Traffic before the fault: the steady-state check before the method."""
        return tuple(t for t in self.traffic if t.phase == "before")

    @property
    def timeline_traffic(self) -> tuple[Traffic, ...]:
        """What the charts draw: before the fault, then the fault's windows
        (with their part before injection)."""
        method = [t for t in self.traffic if t.phase == "method"]
        background = [t for t in method if t.background]
        return self.before_traffic + tuple(background or method)

    @property
    def policy_changes(self) -> tuple[MeshChange, ...]:
        """Mesh activities that changed (or tried to change) a policy."""
        return tuple(m for m in self.mesh if m.action in MESH_CHANGES)
