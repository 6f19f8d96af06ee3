"""A failed traffic measurement, explained from the client's sidecar config (kind and existing).

When requests from a client did not all succeed or did not spread evenly over the helloworld
versions, the client's real Envoy config is read and judged by Envoy's rules
(suites/evaluation/evaluators/xds.py). Either the config explains it (it routes elsewhere, not
with Istio mutual TLS, or splits unevenly) or the config is balanced and the fault lies in the
data plane (Envoy itself, the east-west gateway, the network): the failure says which.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from programs.runner import CommandError
from scenarios.steps import Role
from suites.evaluation.evaluators.envoy_lb import percent
from suites.evaluation.evaluators.verdict import Verdict
from suites.evaluation.evaluators.xds import helloworld_split
from suites.evaluation.readers import Observer
from suites.evaluation.xds_reader import read_helloworld_xds


def explained(verdict: Verdict, observer: Observer, role: Role) -> Verdict:
    """``verdict`` of traffic from ``role``'s client, with the xDS explanation beside a failure."""
    if verdict.ok:
        return verdict
    exp = observer.exp
    try:
        view = read_helloworld_xds(observer, role)
    except (CommandError, LookupError, ValueError) as error:  # never hide the failure it explains
        return replace(
            verdict, facts=(*verdict.facts, f"xDS: the client's sidecar config could not be read: {error}")
        )
    if view.dump is None:
        note = (
            f"xDS: the client's sidecar config could not be read ({'; '.join(view.problems) or view.source})"
        )
        return replace(verdict, facts=(*verdict.facts, note))
    judged = helloworld_split(view.dump, exp.sample_namespace, view.local_pod_ips, view.gateways)
    pods: dict[str, int] = {}
    for version in view.local_pod_ips.values():
        pods[version] = pods.get(version, 0) + 1
    for gateway in view.gateways:
        for version, count in gateway.versions.items():
            pods[version] = pods.get(version, 0) + count
    total = sum(pods.values())
    wanted = {version: Fraction(count, total) for version, count in pods.items()} if total else {}
    split = ", ".join(f"{v} {percent(s)}" for v, s in sorted(judged.by_version.items())) or "nowhere"
    if not judged.problems and judged.by_version == wanted:
        note = (
            f"xDS: {view.client}'s sidecar config is balanced (by Envoy's rules it sends helloworld "
            f"requests {split}, as the pods are spread): the fault is in the data plane (Envoy, the "
            "east-west gateway or the network), not in the config istiod sent"
        )
    else:
        wanted_text = ", ".join(f"{v} {percent(s)}" for v, s in sorted(wanted.items()))
        note = (
            f"xDS explains it: by Envoy's rules {view.client}'s sidecar sends helloworld requests {split} "
            f"(the pods call for {wanted_text})" + "".join(f"; {problem}" for problem in judged.problems)
        )
    evidence = {f"{role}-{view.client}-helloworld-xds": {"route": judged.route, **judged.evidence}}
    return replace(verdict, facts=(*verdict.facts, note), evidence={**verdict.evidence, **evidence})
