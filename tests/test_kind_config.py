"""Rendered kind configs: only v1alpha4 fields (checked against kind's Go types), disjoint subnets."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from clusters.kind.config import (
    KIND_API_VERSION,
    KindConfigError,
    dump_kind_config,
    node_image_for,
    overlapping_subnets,
    render_kind_config,
)
from clusters.networks import ROLE_NETWORKS
from scenarios.releases import VersionError, load_pins
from scenarios.steps import ROLES, Role
from tests.upstream import module_dir_or_reason

KIND_TYPES_RELATIVE = "pkg/apis/config/v1alpha4/types.go"


def kind_types_go() -> Path | str:
    """kind's config types at the pinned version (``EICP_KIND_TYPES_GO`` overrides), or why not."""
    explicit = os.environ.get("EICP_KIND_TYPES_GO")
    if explicit:
        return Path(explicit)
    module = module_dir_or_reason("sigs.k8s.io/kind", load_pins().tools["kind"]["version"])
    return module / KIND_TYPES_RELATIVE if isinstance(module, Path) else module


IMAGE = "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"

_STRUCT_RE = re.compile(r"^type (\w+) struct \{\n(.*?)^\}", re.MULTILINE | re.DOTALL)
_EMBEDDED_RE = re.compile(r"^\s*(\w+)\s+`[^`]*json:\",inline\"", re.MULTILINE)


def go_struct_fields(source: str) -> dict[str, dict[str, str]]:
    """struct name -> {json field name -> Go type}, with inline embedded structs merged in."""
    structs: dict[str, dict[str, str]] = {}
    embedded: dict[str, list[str]] = {}
    for name, body in _STRUCT_RE.findall(source):
        fields: dict[str, str] = {}
        for line in body.splitlines():
            inline = _EMBEDDED_RE.match(line)
            if inline:
                embedded.setdefault(name, []).append(inline.group(1))
                continue
            match = re.match(r"^\s*(\w+)\s+([\w\[\]*.]+)\s+`[^`]*json:\"([^\",]*)[^\"]*\"", line)
            if match:
                fields[match.group(3)] = match.group(2)
        structs[name] = fields
    for name, parents in embedded.items():
        for parent in parents:
            structs[name].update(structs.get(parent, {}))
    return structs


def unknown_fields(value: Any, go_type: str, structs: dict[str, dict[str, str]], path: str) -> list[str]:
    element = go_type.lstrip("*")
    if element.startswith("[]"):
        inner = element[2:].lstrip("*")
        assert isinstance(value, list), f"{path}: expected a list for {go_type}"
        return [
            bad
            for i, item in enumerate(value)
            for bad in unknown_fields(item, inner, structs, f"{path}[{i}]")
        ]
    if element not in structs:
        return []  # a scalar, a named string type or a map: no field names to check
    assert isinstance(value, dict), f"{path}: expected an object for {go_type}"
    fields = structs[element]
    problems = [f"{path}.{key}" for key in value if key not in fields]
    for key, item in value.items():
        if key in fields:
            problems += unknown_fields(item, fields[key], structs, f"{path}.{key}")
    return problems


@pytest.fixture(scope="module")
def kind_structs() -> dict[str, dict[str, str]]:
    types_go = kind_types_go()
    if isinstance(types_go, str) or not types_go.exists():
        pytest.skip(f"kind's v1alpha4 types.go cannot be had ({types_go}; set EICP_KIND_TYPES_GO)")
    structs = go_struct_fields(types_go.read_text())
    # The parser must have understood the file, or the check below would prove nothing.
    assert {"name", "nodes", "networking", "kind", "apiVersion"} <= set(structs["Cluster"])
    assert {"podSubnet", "serviceSubnet", "ipFamily"} <= set(structs["Networking"])
    assert structs["Cluster"]["nodes"] == "[]Node"
    return structs


@pytest.mark.parametrize("role", ROLES)
def test_rendered_config_uses_only_v1alpha4_fields(
    role: Role, kind_structs: dict[str, dict[str, str]]
) -> None:
    config = yaml.safe_load(
        dump_kind_config(render_kind_config(role, name=f"eicp-1-{role}", node_image=IMAGE))
    )
    assert config["apiVersion"] == KIND_API_VERSION == "kind.x-k8s.io/v1alpha4"
    assert config["kind"] == "Cluster"
    assert unknown_fields(config, "Cluster", kind_structs, "Cluster") == []


def test_field_check_catches_a_misspelt_field(kind_structs: dict[str, dict[str, str]]) -> None:
    config = render_kind_config("remote", name="eicp-1-remote", node_image=IMAGE)
    config["networking"]["podSubnets"] = "10.0.0.0/16"
    config["nodes"][0]["imagee"] = IMAGE
    assert sorted(unknown_fields(config, "Cluster", kind_structs, "Cluster")) == [
        "Cluster.networking.podSubnets",
        "Cluster.nodes[0].imagee",
    ]


@pytest.mark.parametrize("role", ROLES)
def test_rendered_config_carries_role_subnets_and_pinned_image(role: Role) -> None:
    config = render_kind_config(role, name="n", node_image=IMAGE)
    assert config["networking"]["podSubnet"] == ROLE_NETWORKS[role].pod_subnet
    assert config["networking"]["serviceSubnet"] == ROLE_NETWORKS[role].service_subnet
    assert [node["image"] for node in config["nodes"]] == [IMAGE]
    assert config["name"] == "n"


def test_design_subnets() -> None:
    assert {role: (n.pod_subnet, n.service_subnet, n.mesh_network) for role, n in ROLE_NETWORKS.items()} == {
        "external": ("10.10.0.0/16", "10.255.10.0/24", None),
        "remote": ("10.20.0.0/16", "10.255.20.0/24", "network1"),
        "second": ("10.30.0.0/16", "10.255.30.0/24", "network2"),
    }


def test_no_subnet_overlaps_between_or_within_roles() -> None:
    assert overlapping_subnets() == []
    cidrs = [
        ipaddress.ip_network(c) for n in ROLE_NETWORKS.values() for c in (n.pod_subnet, n.service_subnet)
    ]
    assert len(cidrs) == 6  # the check above covered every subnet


def test_overlap_check_detects_an_overlap(monkeypatch: pytest.MonkeyPatch) -> None:
    from clusters import networks

    clash = networks.RoleNetwork("10.20.128.0/17", "10.255.30.0/24", "network2")
    monkeypatch.setitem(networks.ROLE_NETWORKS, "second", clash)
    assert overlapping_subnets() == [
        ("remote/pod 10.20.0.0/16", "second/pod 10.20.128.0/17"),
    ]


def test_bad_inputs_are_named() -> None:
    with pytest.raises(KindConfigError, match="unknown role 'third'"):
        render_kind_config("third", name="x", node_image=IMAGE)  # type: ignore[arg-type]
    with pytest.raises(KindConfigError, match="node image is required"):
        render_kind_config("remote", name="x", node_image="")


def test_node_image_follows_every_selected_release() -> None:
    pins = load_pins()
    r129, r130, r131 = (pins.resolve_release(v) for v in ("1.29", "1.30", "1.31"))
    images = pins.kind_node_images
    assert node_image_for((r131,), images) == images["1.36"]  # 1.31 is supported on Kubernetes 1.32 to 1.36
    assert node_image_for((r130,), images) == images["1.36"]
    assert node_image_for((r129,), images) == images["1.35"]
    # An upgrade 1.29 -> 1.31 runs both on one set of clusters: the newest image both support.
    assert node_image_for((r129, r131), images) == images["1.35"]
    assert node_image_for((r129,), images, override="my/node:v1") == "my/node:v1"


def test_node_image_without_a_common_kubernetes_version_is_refused() -> None:
    pins = load_pins()
    r131 = pins.resolve_release("1.31")
    with pytest.raises(VersionError, match="--kind-node-image"):
        node_image_for((r131,), {"1.30": "kindest/node:v1.30.0"})
