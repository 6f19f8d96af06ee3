"""Go builds through a generated wrapper module (programs/gobuild.py): a go.mod's local replaces,
the wrapper's requires and replaces, the version templates of the ldflags, a wrapper build
against fake go; and the pins of the kwok tier's binaries (one Kubernetes release, pilot-discovery
built like istioctl)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from programs import gobuild
from programs import tools as tools_module
from programs.runner import CommandRunner
from programs.tools import ToolResolver
from scenarios.releases import load_pins
from tests.fakeexec import FakeTools
from tests.tools_support import serve

# The replace block of k8s.io/kubernetes v1.35.4's go.mod (first lines, as published), and
# etcd server v3.6.16's (sibling directories, absent from its module zip).
KUBERNETES_GO_MOD_REPLACES = """require (
\tk8s.io/api v0.0.0
\tk8s.io/apiextensions-apiserver v0.0.0
\tk8s.io/apimachinery v0.0.0 // indirect
)

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/apiextensions-apiserver => ./staging/src/k8s.io/apiextensions-apiserver
\tk8s.io/apimachinery => ./staging/src/k8s.io/apimachinery
\tk8s.io/sample-cli-plugin => ./staging/src/k8s.io/sample-cli-plugin
)
"""
ETCD_GO_MOD_REPLACES = """replace (
\tgo.etcd.io/etcd/api/v3 => ../api
)

replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY
replace github.com/x/y v1.0.0 => github.com/x/y v1.0.1
"""


def test_local_replaces_are_the_modules_replaced_by_directories() -> None:
    assert gobuild.local_replaces(KUBERNETES_GO_MOD_REPLACES) == [
        "k8s.io/api",
        "k8s.io/apiextensions-apiserver",
        "k8s.io/apimachinery",
        "k8s.io/sample-cli-plugin",
    ]
    # k8s.io/kubernetes v1.35.8 replaces sample-cli-plugin without requiring it, and the module
    # proxy serves no v0.35.8 of it: pinning it would fail a build that never needs it.
    assert gobuild.pinned_local_replaces(KUBERNETES_GO_MOD_REPLACES, "v0.35.8") == {
        "k8s.io/api": "v0.35.8",
        "k8s.io/apiextensions-apiserver": "v0.35.8",
        "k8s.io/apimachinery": "v0.35.8",
    }
    assert gobuild.local_replaces(ETCD_GO_MOD_REPLACES) == ["go.etcd.io/etcd/api/v3", "go.etcd.io/etcd"]


def test_wrapper_module_requires_and_replaces_every_pinned_module() -> None:
    text = gobuild.wrapper_go_mod("k8s.io/kubernetes", "v1.35.4", {"k8s.io/api": "v0.35.4"})
    assert text.startswith("module eicp.local/gowrap\n\ngo 1.25\n\nrequire k8s.io/kubernetes v1.35.4\n")
    assert "\tk8s.io/api v0.35.4\n" in text and "\tk8s.io/api => k8s.io/api v0.35.4\n" in text
    assert gobuild.wrapper_tools_go("k8s.io/kubernetes/cmd/kubectl").endswith(
        'import _ "k8s.io/kubernetes/cmd/kubectl"\n'
    )


def test_version_templates_know_major_minor_patch() -> None:
    assert tools_module.expand_template("v0.{minor}.{patch}", "v1.35.4") == "v0.35.4"
    assert tools_module.expand_template("{major}.{minor}", "v1.35.4") == "1.35"
    assert tools_module.expand_template("{minor}", "1.31-dev+abc") == ""
    assert tools_module.expand_template("{module_time}", "v1.35.4") == "{module_time}"


def test_wrapper_build_tidies_a_generated_module_and_stamps_the_version(
    tmp_path: Path, runner: CommandRunner, fake_tools: FakeTools, monkeypatch: pytest.MonkeyPatch
) -> None:
    serve(monkeypatch, {})
    go_mod = tmp_path / "kubernetes.mod"
    go_mod.write_text(KUBERNETES_GO_MOD_REPLACES)
    info = tmp_path / "kubernetes.info"
    info.write_text('{"Version":"v1.35.4","Time":"2026-04-15T18:01:22Z"}')
    go = fake_tools.install("go")
    go.on(
        r"^mod download -json k8s.io/kubernetes@v1.35.4$",
        stdout=json.dumps({"Dir": str(tmp_path), "GoMod": str(go_mod), "Info": str(info)}),
    )
    go.on(r"^mod tidy$")
    go.on(
        r"^build .* -o (\S+) k8s.io/kubernetes/cmd/kubectl$",
        write_file=(r"\1", "#!/bin/sh\necho 'Client Version: v1.35.4'\n"),
    )
    pins = {
        "kubectl": {
            "version": "v1.35.4",
            "go_module": "k8s.io/kubernetes",
            "go_build": "wrapper",
            "go_package": "k8s.io/kubernetes/cmd/kubectl",
            "go_wrapper_pin_local_replaces": "v0.{minor}.{patch}",
            "go_version_ldflags": {
                "k8s.io/client-go/pkg/version.gitVersion": "{version}",
                "k8s.io/component-base/version.gitMinor": "{minor}",
                "k8s.io/component-base/version.buildDate": "{module_time}",
            },
            "version_args": ["version", "--client"],
            "version_pattern": "Client Version: (v[0-9.]+)",
        }
    }
    tool = ToolResolver.from_pins(pins, tmp_path / "cache", runner).resolve("kubectl")
    assert tool.source == "go build" and tool.path == tmp_path / "cache" / "kubectl" / "v1.35.4" / "kubectl"
    _, tidy, build = fake_tools.calls("go")
    # The wrapper lives in a temporary directory of the tools cache, gone after the build.
    assert Path(tidy.cwd).parent == tmp_path / "cache" and not Path(tidy.cwd).exists()
    assert build.cwd == tidy.cwd
    assert build.args[3] == (
        "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v1.35.4 "
        "-X k8s.io/component-base/version.gitMinor=35 "
        "-X k8s.io/component-base/version.buildDate=2026-04-15T18:01:22Z"
    )
    assert build.env["CGO_ENABLED"] == "0"


def test_kwok_tier_pins_are_one_kubernetes_release() -> None:
    tools = load_pins().tools
    kube = {
        tools[name]["version"]
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
    }
    assert len(kube) == 1
    (version,) = kube
    assert tools["kwok"]["go_version_ldflags"]["sigs.k8s.io/kwok/pkg/consts.KubeVersion"] == version
    assert tools["kwokctl"]["go_version_ldflags"] == tools["kwok"]["go_version_ldflags"]
    # The Kubernetes minor lies inside every supported Istio release's range.
    major, minor_number = (int(part) for part in version.removeprefix("v").split(".")[:2])
    minor = (major, minor_number)
    pins = load_pins()
    for release in pins.supported:
        assert pins.profiles[release].kubernetes.allows(minor), release
    # pilot-discovery is built from the same Istio module (and ldflags) as istioctl.
    assert tools["pilot-discovery"]["go_module"] == tools["istioctl"]["go_module"]
    assert tools["pilot-discovery"]["go_version_ldflags"] == tools["istioctl"]["go_version_ldflags"]
