"""The gateway hostname (dns-tls): publishing the suite's test name, and proving a name works.

What publishing changes and how the probe judges are install/hostname/'s; these actions hand
it the step's parameters, and turn its faults into the installer's (a refused publish is a
plan error, an unreachable name an environment fault).
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Callable
from dataclasses import replace

from clusters.capabilities import Capability
from clusters.cluster import ClusterHandle, HostnamePublishing
from install.actions.context import ActionContext, param
from install.faults import EnvironmentFault, PlanError
from install.hostname import (
    PROBE_CONTAINER,
    PROBE_SCRIPT,
    HostnameFault,
    HostnamePublisher,
    ProbeRequest,
    PublishRefused,
    check_address,
    check_hostname,
    check_scopes,
    client_image,
    pod_state,
    probe_args,
    probe_fault,
    probe_manifests,
    probe_names,
)
from install.kubectl import dump, get_json
from programs.runner import CommandError
from programs.waits import Observation, WaitTimeout, wait_until
from run.timeouts import INSTALL_POLL, INSTALL_PROBE_RUN, INSTALL_PROBE_START
from scenarios.dns_tls import publishes_hostname
from scenarios.pki import PRIVATE_MATERIAL
from scenarios.steps import Action, Step


def publish_hostname(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    """Make ``hostname`` resolve to ``address`` for the cluster's pods and API server, or
    (``remove``) take exactly that back; see install/hostname/ (kind) and the provider's own
    publishing (``Topology.hostnames``, kwok: the clusters' hosts files)."""
    hostname, scopes = param(step, "hostname", str), param(step, "scopes", list)
    provider = ctx.topology.hostnames
    node_access = ctx.topology.can(Capability.NODE_CONTAINERS)
    nodes = ctx.nodes if node_access else None
    remove = bool(step.params.get("remove"))
    if provider is None and nodes is None and not remove:
        why = (
            "the installer was given no access to the kind node containers (no kind binary)"
            if node_access
            else ctx.topology.capabilities.why_not(Capability.PUBLISHES_HOSTNAMES)
            or f"{ctx.topology.capabilities.clusters} declare no way to publish a name"
        )
        raise PlanError(
            f"step {step.name!r}: cannot publish {hostname} in {cluster.name}: {why}. The remote API "
            "server resolves webhook URLs through its node, which only kind and kwok let the suite "
            "reach; pass --external-hostname with a name real DNS resolves to the external gateway "
            f"({step.params.get('address')})"
        )
    publisher = HostnamePublisher(cluster, nodes, ctx.timeout(step))
    try:
        if remove:
            if provider is not None:
                provider.withdraw(step.role, hostname)
            else:
                publisher.withdraw(hostname, scopes)
        else:
            if ctx.ledger is not None:
                undo_params = {"hostname": hostname, "address": "", "scopes": scopes, "remove": True}
                undo = Step(
                    f"undo-{step.name}", step.role, Action.PUBLISH_HOSTNAME, step.seed, (), undo_params
                )
                ctx.ledger.undo_with(undo)
            address = param(step, "address", str)
            if provider is not None:
                check_scopes(scopes)
                provider.publish(step.role, check_hostname(hostname), check_address(address, hostname))
            else:
                publisher.publish(hostname, address, scopes)
    except (PublishRefused, ValueError) as refused:
        raise PlanError(f"step {step.name!r}: {refused}") from None
    except HostnameFault as fault:
        raise EnvironmentFault(f"step {step.name!r}: {fault}") from None
    return None


def precondition(ctx: ActionContext, step: Step, cluster: ClusterHandle) -> str | None:
    check = param(step, "check", str)
    if check != "hostname-resolves-and-tls-verifies":
        raise PlanError(
            f"step {step.name!r}: unknown precondition {check!r}; known: hostname-resolves-and-tls-verifies"
        )
    request = _probe_request(ctx, step)
    provider = ctx.topology.hostnames
    if provider is not None:
        # The provider's clusters run no pods: the probe's script runs where their pods would.
        _check_resolution(
            ctx,
            step,
            cluster,
            request,
            lambda: [(cluster.name, provider.resolve(step.role, request.hostname))],
            "network namespace",
        )
        _probe_in_pod_network(ctx, step, cluster, request, provider)
        return None
    if ctx.nodes is not None and ctx.topology.can(Capability.NODE_CONTAINERS):
        nodes = ctx.nodes
        _check_resolution(
            ctx, step, cluster, request,
            lambda: [(node, nodes.resolve(node, request.hostname)) for node in nodes.names(cluster.name)],
            "nodes",
        )  # fmt: skip
    _probe_from_pod(ctx, step, cluster, request)
    return None


def _probe_request(ctx: ActionContext, step: Step) -> ProbeRequest:
    hostname = param(step, "hostname", str)
    ports = tuple(int(port) for port in param(step, "ports", list))
    if not ports or not all(0 < port < 65536 for port in ports):
        raise PlanError(f"step {step.name!r}: ports {list(ports)} must be TCP ports")
    ca = param(step, "ca", str)
    ca_pem: bytes | None = None
    if ca == "system":
        description = "the probe image's system roots (a publicly trusted CA)"
    elif ca.startswith("pki:"):
        material = ca.removeprefix("pki:")
        if material in PRIVATE_MATERIAL:
            raise PlanError(f"step {step.name!r}: ca {ca!r} names a private key; name a certificate")
        if ctx.pki is None:
            raise PlanError(f"step {step.name!r} needs the run's PKI for ca {ca!r}, but none was given")
        ca_pem = ctx.pki().material(material)
        description = f"the mesh root CA of this run's PKI ({material})"
    elif ca.startswith("base64:"):
        ca_pem = base64.b64decode(ca.removeprefix("base64:"))
        description = "the CA of your --external-tls-secret-file (ca.crt, the webhooks' caBundle)"
    else:
        raise PlanError(
            f"step {step.name!r}: ca {ca!r} is unknown; use 'system', 'pki:<certificate>' or 'base64:<PEM>'"
        )
    request = ProbeRequest(
        hostname=hostname,
        ports=ports,
        namespace=param(step, "namespace", str),
        image=_client_image(ctx, step),
        ca_pem=ca_pem,
        ca_description=description,
        expected_address=ctx.facts.external_istiod_addr,
        published=publishes_hostname(ctx.facts),
        deadline_s=ctx.timeout(step),
    )
    provider = ctx.topology.hostnames
    if provider is None:
        return request
    system = "the host's system roots (the host's curl stands in for the probe image's)"
    return replace(
        request, published_how=provider.how, ca_description=system if ca_pem is None else description
    )


def _client_image(ctx: ActionContext, step: Step) -> str:
    """The release's own client sample image (samples/<client>/<client>.yaml), which has curl."""
    client = ctx.release.profile.sample_client
    if ctx.samples is None:
        raise PlanError(f"step {step.name!r} needs the release's samples/ for the {client} image")
    path = ctx.samples() / client / f"{client}.yaml"
    image = client_image(path.read_text(encoding="utf-8"), client) if path.is_file() else None
    if image is None:
        raise PlanError(f"step {step.name!r}: no {client} Deployment with an image in {path}")
    return image


def _check_resolution(
    ctx: ActionContext,
    step: Step,
    cluster: ClusterHandle,
    request: ProbeRequest,
    lookups: Callable[[], list[tuple[str, tuple[str | None, str]]]],
    looked_up_in: str,
) -> None:
    """What the API server resolves (webhook calls): each ``(where, (address, answer))`` lookup,
    made in the API server's ``looked_up_in`` (its nodes, its network namespace)."""
    hostname, expected = request.hostname, request.expected_address

    def observe() -> Observation[None]:
        problems = []
        for where, (address, answer) in lookups():
            if address is None:
                problems.append(f"{where}: does not resolve ({answer})")
            elif request.published and expected and address != expected:
                problems.append(f"{where}: resolves to {address}, not {expected}")
        return Observation(not problems, "; ".join(problems) or "every node resolves it", None)

    try:
        wait_until(
            f"{hostname} to resolve where the API server of {cluster.name} looks it up",
            observe,
            request.deadline_s,
            backoff=ctx.poll,
        )
    except WaitTimeout as timeout:
        kind_way = "a marked line into each node's /etc/hosts and the API server's copy of it"
        fix = (
            f"the suite writes {request.published_how or kind_way} when it publishes the name: did the "
            "publish step run?"
            if request.published
            else f"its DNS must resolve it to {expected or 'the external gateway'}"
        )
        raise EnvironmentFault(
            f"step {step.name!r}: the remote API server's {looked_up_in} cannot resolve {hostname}, so its webhook "
            f"calls to https://{hostname}:15017 fail: {timeout.last_state}; {fix}"
        ) from None


def _probe_in_pod_network(
    ctx: ActionContext,
    step: Step,
    cluster: ClusterHandle,
    request: ProbeRequest,
    provider: HostnamePublishing,
) -> None:
    """The probe pod's own script, run with the host's sh and curl where the cluster's pods
    would run (the provider's ``pod_argv``), the CA given as a file: the same verdict."""
    ca_file = ""
    if request.ca_pem is not None:
        path = ctx.work_dir / step.role / "gateway-probe-ca.pem"  # a public certificate
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(request.ca_pem)
        ca_file = str(path)
    argv = provider.pod_argv(step.role, ["sh", "-c", PROBE_SCRIPT, "probe", *probe_args(request, ca_file)])
    where = f"the network namespace of {cluster.name} (the host's sh and curl stand in for the probe pod)"
    result = cluster.runner.run(
        argv,
        timeout_s=request.deadline_s + INSTALL_PROBE_RUN.seconds(),
        check=False,
        title=f"[{cluster.role}] probe {request.hostname} on ports {', '.join(map(str, request.ports))}",
    )
    fault = probe_fault(request, result.returncode, result.stdout + result.stderr, where)
    if fault is not None:
        raise EnvironmentFault(f"step {step.name!r}: {fault}")


def _probe_from_pod(ctx: ActionContext, step: Step, cluster: ClusterHandle, request: ProbeRequest) -> None:
    """A short-lived pod resolves the name and verifies TLS on every port; always deleted."""
    suffix = secrets.token_hex(4)
    pod, configmap = probe_names(suffix)
    namespace = request.namespace
    where = f"pod {namespace}/{pod} in {cluster.name} ({request.image})"
    try:
        cluster.kubectl(
            "create", "-f", "-", stdin=dump(probe_manifests(request, suffix)),
            timeout_s=INSTALL_POLL.seconds(),
            title=f"[{cluster.role}] probe {request.hostname} from pod {namespace}/{pod}",
        )  # fmt: skip

        def observe() -> Observation[tuple[bool, str, int | None] | None]:
            obj, why = get_json(cluster, f"pod/{pod}", "-n", namespace)
            if obj is None:
                return Observation(False, why, None)
            state = pod_state(obj)
            return Observation(state[0], state[1], state)

        try:
            finished = wait_until(
                f"probe pod {namespace}/{pod} to finish",
                observe,
                request.deadline_s + INSTALL_PROBE_START.seconds(),
                backoff=ctx.poll,
            ).value
        except WaitTimeout as timeout:
            raise EnvironmentFault(
                f"step {step.name!r}: the probe {where} did not finish: {timeout.last_state}; can the "
                "cluster pull and run that image?"
            ) from None
        exit_code = finished[2] if finished is not None and finished[2] is not None else -1
        logs = cluster.kubectl(
            "logs", f"pod/{pod}", "-n", namespace, "-c", PROBE_CONTAINER,
            timeout_s=INSTALL_POLL.seconds(), check=False,
        ).stdout  # fmt: skip
        fault = probe_fault(request, exit_code, logs, where)
        if fault is not None:
            raise EnvironmentFault(f"step {step.name!r}: {fault}")
    finally:
        with contextlib.suppress(CommandError):
            cluster.kubectl(
                "delete", "--ignore-not-found", "--wait=false", "-n", namespace,
                f"pod/{pod}", f"configmap/{configmap}",
                timeout_s=INSTALL_POLL.seconds(),
            )  # fmt: skip
