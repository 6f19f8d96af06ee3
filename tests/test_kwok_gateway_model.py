"""The gateway stand-in's plan and HAProxy configuration, from the objects the suite renders (pure).

The Gateway, VirtualService and DestinationRule are the suite's own (scenarios/external.py
``istiod_routing``, both forms); the Services are those of Istio's charts (the ingress gateway
Service the controlplane-gateway IstioOperator makes, istiod's from
manifests/charts/istio-control/istio-discovery/templates/service.yaml).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clusters.kwok.gateway_model import (
    Objects,
    Planner,
    Upstream,
    UpstreamTls,
    Workload,
    service_ref,
)
from clusters.kwok.haproxy_config import render
from scenarios.dns_tls import TEST_HOSTNAME, UPSTREAM_CA_SECRET
from scenarios.external import ROUTING_V1, istiod_routing

GATEWAY_ADDRESS = "10.250.0.5"
ISTIOD_ADDRESS = "10.250.0.6"
GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway"}


def gateway_service() -> dict[str, Any]:
    ports = [
        {"name": "status-port", "port": 15021, "targetPort": 15021, "protocol": "TCP"},
        {"name": "tls-xds", "port": 15012, "targetPort": 15012, "protocol": "TCP"},
        {"name": "tls-webhook", "port": 15017, "targetPort": 15017, "protocol": "TCP"},
    ]
    return {
        "metadata": {"namespace": "istio-system", "name": "istio-ingressgateway"},
        "spec": {"type": "LoadBalancer", "selector": GATEWAY_LABELS, "ports": ports},
    }


def istiod_service() -> dict[str, Any]:
    ports = [
        {"name": "grpc-xds", "port": 15010, "protocol": "TCP"},
        {"name": "https-dns", "port": 15012, "protocol": "TCP"},
        {"name": "https-webhook", "port": 443, "targetPort": 15017, "protocol": "TCP"},
    ]
    return {
        "metadata": {"namespace": "external-istiod", "name": "istiod"},
        "spec": {"selector": {"app": "istiod", "istio": "pilot"}, "ports": ports},
    }


def plan_of(routing: tuple[dict[str, Any], ...], backend: str | None = ISTIOD_ADDRESS) -> Any:
    kinds = {
        kind: [doc for doc in routing if doc["kind"] == kind]
        for kind in ("Gateway", "VirtualService", "DestinationRule")
    }
    objects = Objects(
        gateways=kinds["Gateway"],
        virtual_services=kinds["VirtualService"],
        destination_rules=kinds["DestinationRule"],
        services={
            ("istio-system", "istio-ingressgateway"): gateway_service(),
            ("external-istiod", "istiod"): istiod_service(),
        },
    )
    workload = Workload("istio-system", gateway_service(), GATEWAY_ADDRESS, {**GATEWAY_LABELS, "extra": "x"})
    return Planner(objects, lambda namespace, service: backend).build(workload)


def test_ip_form_is_tls_passthrough_to_istiods_own_address() -> None:
    plan = plan_of(istiod_routing(GATEWAY_ADDRESS, "ip", ROUTING_V1))
    assert plan.unsupported == []
    assert [(listener.port, listener.mode) for listener in plan.listeners] == [
        (15012, "passthrough"),
        (15017, "passthrough"),
    ]
    by_port = {listener.port: listener.routes for listener in plan.listeners}
    # sniHosts "*": any SNI, or none; the webhook port goes to the istiod Service's 443 -> 15017.
    assert [(route.hosts, route.upstream) for route in by_port[15012]] == [
        (("*",), Upstream(ISTIOD_ADDRESS, 15012))
    ]
    assert [route.upstream for route in by_port[15017]] == [Upstream(ISTIOD_ADDRESS, 15017)]


def test_dns_form_terminates_with_the_credential_and_reoriginates_as_the_destination_rule_says() -> None:
    routing = istiod_routing(
        TEST_HOSTNAME,
        "dns",
        ROUTING_V1,
        credential_name="external-istiod-gw-cert",
        upstream_ca_credential=UPSTREAM_CA_SECRET,
    )
    plan = plan_of(routing)
    assert plan.unsupported == []
    xds, webhook = plan.listeners
    assert (xds.port, xds.mode, xds.server_hosts) == (15012, "terminate", (TEST_HOSTNAME,))
    assert xds.credential == "istio-system/external-istiod-gw-cert"  # read where the gateway runs
    tls = UpstreamTls(ca=f"istio-system/{UPSTREAM_CA_SECRET}", sni="istiod.external-istiod.svc")
    # 15012: HTTP/2 upstream (h2UpgradePolicy: UPGRADE); 443 -> 15017: HTTP/1.1, as Envoy would.
    assert [route.upstream for route in xds.routes] == [Upstream(ISTIOD_ADDRESS, 15012, tls, h2=True)]
    assert [route.upstream for route in webhook.routes] == [Upstream(ISTIOD_ADDRESS, 15017, tls, h2=False)]
    assert xds.routes[0].hosts == (TEST_HOSTNAME,)


def test_a_real_certificate_path_verifies_istiod_against_the_system_roots_with_auto_sni() -> None:
    plan = plan_of(istiod_routing("istiod.example.com", "dns", ROUTING_V1, credential_name="user-cert"))
    upstream = plan.listeners[0].routes[0].upstream
    assert upstream.tls == UpstreamTls(ca="system", sni=None)


def test_what_cannot_be_stood_in_is_listed_and_left_out() -> None:
    gateway, virtual_service, rule = istiod_routing(
        TEST_HOSTNAME, "dns", ROUTING_V1, credential_name="c", upstream_ca_credential=UPSTREAM_CA_SECRET
    )
    virtual_service["spec"]["http"][0]["match"][0]["uri"] = {"prefix": "/x"}
    rule["spec"]["trafficPolicy"]["portLevelSettings"][1]["tls"] = {"mode": "MUTUAL"}
    plan = plan_of((gateway, virtual_service, rule))
    assert [route for listener in plan.listeners for route in listener.routes] == []
    assert any("match on uri" in problem for problem in plan.unsupported)
    assert any("MUTUAL" in problem for problem in plan.unsupported)
    nothing = plan_of(istiod_routing(GATEWAY_ADDRESS, "ip", ROUTING_V1), backend=None)
    assert all(
        "nothing stands in for the pods of Service external-istiod/istiod" in p for p in nothing.unsupported
    )


def test_a_gateway_for_other_pods_is_not_this_gateways() -> None:
    gateway, virtual_service = istiod_routing(GATEWAY_ADDRESS, "ip", ROUTING_V1)
    gateway["spec"]["selector"] = {"istio": "eastwestgateway"}
    assert plan_of((gateway, virtual_service)).listeners == []


def test_service_names_resolve_like_istio_hosts() -> None:
    assert service_ref("istiod.external-istiod.svc.cluster.local", "x") == ("external-istiod", "istiod")
    assert service_ref("istiod.external-istiod.svc", "x") == ("external-istiod", "istiod")
    assert service_ref("istiod", "external-istiod") == ("external-istiod", "istiod")
    assert service_ref("istiod.example.com", "x") is None


def test_haproxy_configuration_of_both_forms(tmp_path: Path) -> None:
    dns = plan_of(
        istiod_routing(
            TEST_HOSTNAME,
            "dns",
            ROUTING_V1,
            credential_name="gw-cert",
            upstream_ca_credential=UPSTREAM_CA_SECRET,
        )
    )
    rendered = render(
        dns.listeners,
        credential_file=lambda ref: tmp_path / f"{ref.replace('/', '_')}.pem",
        ca_file=lambda ref: tmp_path / f"{ref.replace('/', '_')}.ca.pem",
        crt_list_file=lambda name: tmp_path / f"{name}.crt-list",
    )
    config = rendered.config
    assert (
        f"bind {GATEWAY_ADDRESS}:15012 ssl crt-list {tmp_path}/gw_10_250_0_5_15012.crt-list strict-sni alpn h2,http/1.1"
        in config
    )
    assert f"use_backend gw_10_250_0_5_15012_r0 if {{ req.hdr(host),host_only -i {TEST_HOSTNAME} }}" in config
    ca = tmp_path / f"istio-system_{UPSTREAM_CA_SECRET}.ca.pem"
    assert (
        f"server upstream {ISTIOD_ADDRESS}:15012 ssl verify required ca-file {ca} "
        "sni str(istiod.external-istiod.svc) alpn h2"
    ) in config
    assert (
        f"server upstream {ISTIOD_ADDRESS}:15017 ssl verify required ca-file {ca} sni str(istiod.external-istiod.svc)\n"
        in config
    )
    assert rendered.crt_lists == {
        tmp_path
        / f"gw_10_250_0_5_{port}.crt-list": f"{tmp_path}/istio-system_gw-cert.pem [alpn h2,http/1.1] {TEST_HOSTNAME}\n"
        for port in (15012, 15017)
    }
    ip = render(
        plan_of(istiod_routing(GATEWAY_ADDRESS, "ip", ROUTING_V1)).listeners,
        credential_file=lambda ref: tmp_path / "unused",
        ca_file=lambda ref: tmp_path / "unused",
        crt_list_file=lambda name: tmp_path / "unused",
    )
    assert "mode tcp" in ip.config and "ssl" not in ip.config.split("backend eicp_no_route")[1].replace(
        "ssl_", ""
    )
    assert f"server upstream {ISTIOD_ADDRESS}:15017\n" in ip.config and "inspect-delay" not in ip.config
    system = render(
        plan_of(
            istiod_routing("istiod.example.com", "dns", ROUTING_V1, credential_name="user-cert")
        ).listeners,
        credential_file=lambda ref: tmp_path / "c.pem",
        ca_file=lambda ref: tmp_path / "unused",
        crt_list_file=lambda name: tmp_path / f"{name}.crt-list",
    )
    assert "ssl verify required ca-file @system-ca sni req.hdr(host),host_only alpn h2" in system.config
