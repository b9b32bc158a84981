"""How Envoy picks the host for a try: round robin or least request.

Pure functions over host names, a counter or the requests in flight per
host, and a seeded random source. Facts in docs/mesh-behaviour.md
("Balancing and discovery"):

* Round robin walks the hosts in order (App Mesh programs it; Istio did
  before 1.14).
* Least request with equal weights is "power of two choices": draw two
  hosts at random (with replacement) and keep the one with fewer active
  requests; on a tie the first draw stays (Envoy's
  `LeastRequestLoadBalancer::unweightedHostPick`, choice_count 2). Istio
  programs it by default since 1.14. A slow pod holds its requests longer,
  so it is drawn as often but kept less often.
* With the previous_hosts predicate a retry re-picks, up to
  host_selection_max_attempts times, while the pick is a host this request
  already tried, then takes the last pick anyway.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence

__all__ = ["least_request_pick", "pick_with_predicate"]


def least_request_pick(
    hosts: Sequence[str], active: Mapping[str, int], rng: random.Random
) -> str:
    """Power of two choices: the less busy of two random draws."""
    if not hosts:
        raise ValueError("no hosts to pick from")
    first = hosts[rng.randrange(len(hosts))]
    second = hosts[rng.randrange(len(hosts))]
    return second if active.get(second, 0) < active.get(first, 0) else first


def pick_with_predicate(
    pick: Callable[[], str],
    tried: Sequence[str],
    previous_hosts: bool,
    max_attempts: int,
) -> str:
    """Ask `pick()` again while it names a tried host (previous_hosts)."""
    host = pick()
    if previous_hosts and tried:
        for _ in range(max_attempts):
            if host not in tried:
                break
            host = pick()
    return host
