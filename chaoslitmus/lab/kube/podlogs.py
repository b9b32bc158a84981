"""What `GET .../pods/{name}/log` answers: each pod's log lines.

Whatever runs "inside" a lab pod writes here: the data plane's ratings and
reviews servers (one access-log line per request), the Litmus stand-in's
runner and experiment pods (a line per step). Lines are kept per pod and
container, bounded, with their time, so `kubectl logs` can take
`--tail`, `--since`, `--timestamps` and `-f`. Safe from any thread.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass

__all__ = ["LogLine", "PodLogs", "logrus_line"]

MAX_LINES_PER_POD = 2000
MAX_PODS = 500


@dataclass(frozen=True)
class LogLine:
    at: dt.datetime
    text: str
    seq: int


def logrus_line(message: str, level: str = "info", **fields: object) -> str:
    """A line in logrus' text format, as Go programs such as Litmus log."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra = "".join(
        f' {k}="{v}"' if " " in str(v) or not str(v) else f" {k}={v}"
        for k, v in fields.items()
    )
    return f'time="{stamp}" level={level} msg="{message}"{extra}'


class PodLogs:
    """Log lines by (namespace, pod, container); the oldest pods and lines go
    first when the bounds are reached."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: OrderedDict[tuple[str, str, str], deque[LogLine]] = OrderedDict()
        self._seq = 0

    def write(self, namespace: str, pod: str, text: str, container: str = "") -> None:
        """Append one line (or several, split on newlines)."""
        now = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            key = (namespace, pod, container)
            lines = self._lines.get(key)
            if lines is None:
                lines = self._lines[key] = deque(maxlen=MAX_LINES_PER_POD)
                while len(self._lines) > MAX_PODS:
                    self._lines.popitem(last=False)
            for part in text.splitlines() or [""]:
                self._seq += 1
                lines.append(LogLine(now, part, self._seq))

    def read(
        self,
        namespace: str,
        pod: str,
        container: str | None = None,
        *,
        after_seq: int = 0,
        since: dt.datetime | None = None,
        tail: int | None = None,
    ) -> list[LogLine]:
        """Lines of one pod (one container, or all of them in order)."""
        with self._lock:
            found: list[LogLine] = []
            for (ns, name, cont), lines in self._lines.items():
                # Lines written without a container belong to every container.
                mine = container is None or cont in ("", container)
                if ns == namespace and name == pod and mine:
                    found.extend(lines)
        found.sort(key=lambda line: line.seq)
        found = [
            line
            for line in found
            if line.seq > after_seq and (since is None or line.at >= since)
        ]
        if tail is not None and tail >= 0:
            found = found[-tail:] if tail else []
        return found

    def forget(self, namespace: str, pod: str) -> None:
        """Drop a pod's lines (it was deleted; a new pod of that name starts empty)."""
        with self._lock:
            for key in [k for k in self._lines if k[:2] == (namespace, pod)]:
                del self._lines[key]
