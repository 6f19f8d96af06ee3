"""Golden tests of istio.io's page as it stands today (guide revision ``istio.io-6129086``).

The page (istio/istio.io content/uk/docs/setup/install/external-controlplane/index.md at
6129086, a translation that follows the English page command for command) is not among the
seeds: the expected manifests are seed 001's, produced by running its own snippets as
tests/test_render_golden.py does, and every field the page changes is listed here with the
page's section. Nothing else may differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from programs.runner import CommandRunner
from scenarios import dns_tls
from scenarios.registry import render
from scenarios.releases import load_pins
from scenarios.steps import Action
from tests.seed_snippets import produce, seed_text
from tests.test_render_golden import (
    BUNDLE,
    CA_BUNDLE_EXTRAS,
    IP,
    PROXY_ROOT_CHANGES,
    assert_docs,
    dr_extras,
    env,
    facts,
    manifests,
    release,
    step,
)

PAGE = "istio.io-6129086"
PAGE_RELEASES = tuple(minor for minor, p in load_pins().profiles.items() if PAGE in p.guides.names)
V1 = "networking.istio.io/v1"
# "Set up the control plane in the external cluster", step 3: `externalIstiod: true`.
PAGE_EXTERNAL_ISTIOD = {"spec.values.global.externalIstiod": (True, "<absent>")}
# Step 7: Gateway and VirtualService v1 (seed: v1beta1), DestinationRule v1 (seed: v1alpha3).
PAGE_ROUTING = [
    {"apiVersion": (V1, "networking.istio.io/v1beta1")},
    {"apiVersion": (V1, "networking.istio.io/v1beta1")},
    {"apiVersion": (V1, "networking.istio.io/v1alpha3")},
]
# "Enable gateways": `metadata.name: ingress-install`.
PAGE_INGRESS = {"metadata.name": ("ingress-install", "<absent>")}


@pytest.mark.parametrize("minor", PAGE_RELEASES)
def test_ip_passthrough_follows_todays_page(minor: str, runner: CommandRunner, tmp_path: Path) -> None:
    rendered = render("ip-passthrough", release(minor, PAGE), facts())
    text, variables = seed_text("001"), env(IP)

    def seed(name: str, ip: bool = True) -> list[dict[str, Any]]:
        return produce(runner, tmp_path, text, name, variables, ip_variant=ip)

    assert_docs(manifests(rendered, "external-gateway"), seed("controlplane-gateway.yaml", ip=False))
    assert_docs(manifests(rendered, "remote-config-cluster"), seed("remote-config-cluster.yaml"))
    assert_docs(manifests(rendered, "external-istiod"), seed("external-istiod.yaml"), [PAGE_EXTERNAL_ISTIOD])
    assert_docs(
        manifests(rendered, "external-istiod-routing"), seed("external-istiod-gw.yaml"), PAGE_ROUTING[:2]
    )
    assert_docs(
        manifests(rendered, "remote-ingressgateway"),
        seed("istio-ingressgateway.yaml", ip=False),
        [PAGE_INGRESS],
    )
    # "Set up the remote config cluster", step 3: `istioctl install -f remote-config-cluster.yaml
    # --set values.defaultRevision=default`; §Cleanup: `istioctl uninstall -y --purge -f` it.
    remote = step(rendered, "remote-config-cluster")
    assert remote.action is Action.ISTIOCTL_INSTALL
    assert remote.params == {
        "file": "remote-config-cluster.yaml",
        "set": ["values.defaultRevision=default"],
        "uninstall": "purge",
    }
    assert step(rendered, "external-istiod").params == {"file": "external-istiod.yaml", "uninstall": "purge"}
    # Step 2 of the control plane: no `kubectl create sa istiod-service-account`; the secret
    # command is unchanged.
    names = [s.name for s in rendered.plan.steps]
    assert "external-istiod-service-account" not in names
    secret = step(rendered, "remote-secret-config").params
    assert (secret["type"], secret["service_account"], secret["create_service_account"]) == (
        "config",
        "istiod",
        False,
    )
    # Step 4 of the remote config cluster lists both mutating webhook configurations.
    mutating = [h.name for h in rendered.expectations.webhooks["remote"] if h.kind == "mutating"]
    assert mutating == [
        "istio-sidecar-injector-external-istiod",
        "istio-revision-tag-default-external-istiod",
    ]
    cleanup = [(s.name, s.action, s.params.get("purge")) for s in rendered.plan.uninstall]
    assert ("delete-external-istiod", Action.ISTIOCTL_UNINSTALL, True) in cleanup
    assert ("delete-remote-config-cluster", Action.ISTIOCTL_UNINSTALL, True) in cleanup
    assert not any(action is Action.MANIFEST_GENERATE_DELETE for _, action, _ in cleanup)


@pytest.mark.parametrize("minor", PAGE_RELEASES)
def test_dns_tls_follows_todays_page(minor: str, runner: CommandRunner, tmp_path: Path) -> None:
    rendered = render("dns-tls", release(minor, PAGE), facts())
    text, variables = seed_text("001"), env(dns_tls.TEST_HOSTNAME)

    def seed(name: str) -> list[dict[str, Any]]:
        return produce(runner, tmp_path, text, name, variables)

    assert_docs(
        manifests(rendered, "remote-config-cluster"), seed("remote-config-cluster.yaml"), [CA_BUNDLE_EXTRAS]
    )
    assert_docs(
        manifests(rendered, "external-istiod"),
        seed("external-istiod.yaml"),
        [{**PROXY_ROOT_CHANGES, **PAGE_EXTERNAL_ISTIOD}],
    )
    routing_extras = [*PAGE_ROUTING[:2], {**dr_extras(0), **dr_extras(1), **PAGE_ROUTING[2]}]
    assert_docs(
        manifests(rendered, "external-istiod-routing"), seed("external-istiod-gw.yaml"), routing_extras
    )
    assert step(rendered, "remote-config-cluster").action is Action.ISTIOCTL_INSTALL


@pytest.mark.parametrize("minor", PAGE_RELEASES)
@pytest.mark.parametrize("base", ["ip-passthrough", "dns-tls"])
def test_second_remote_follows_todays_page(
    minor: str, base: str, runner: CommandRunner, tmp_path: Path
) -> None:
    rendered = render("second-remote", release(minor, PAGE), facts(second_remote_base=base))
    ip = base == "ip-passthrough"
    variables = env(IP if ip else dns_tls.TEST_HOSTNAME)
    expected = produce(
        runner, tmp_path, seed_text("001"), "second-remote-cluster.yaml", variables, ip_variant=ip
    )
    extras = {} if ip else {"spec.values.istiodRemote.injectionCABundle": (BUNDLE, "<absent>")}
    assert_docs(manifests(rendered, "second-remote-cluster"), expected, [extras])
    # "Register the new cluster", step 4: `istioctl install -f second-remote-cluster.yaml`.
    second = step(rendered, "second-remote-cluster")
    assert second.action is Action.ISTIOCTL_INSTALL
    assert second.params == {"file": "second-remote-cluster.yaml", "set": [], "uninstall": "purge"}
    # The east-west gateways are still `manifest generate | kubectl apply` (only the generator's
    # arguments changed, which the script ignores: tests/offline runs it).
    assert step(rendered, "remote-eastwest-gateway").action is Action.MANIFEST_GENERATE_APPLY
    cleanup = {s.name: s for s in rendered.plan.uninstall}
    assert cleanup["delete-second-remote-cluster"].params["purge"] is True
    assert not any(name.endswith("eastwest-gateway") for name in cleanup)  # the purge removes them
