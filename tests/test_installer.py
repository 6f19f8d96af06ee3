"""The installer against fake kubectl/istioctl/helm: the commands each action runs, idempotent
creates and deletes, and what is refused before any cluster is touched (sample paths outside
the release's samples, publishing a hostname without node access)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from clusters.providers import provider_spec
from install.installer import StepFailed
from programs.runner import CommandRunner
from scenarios.facts import Facts
from scenarios.steps import Action
from tests.fakeexec import FakeTools
from tests.installer_support import (
    IOP,
    TOKEN,
    cluster_fakes,
    finish_fakes,
    kubectl_lines,
    make_installer,
    make_topology,
    plan_of,
    step,
)


@pytest.fixture
def samples_dir(tmp_path: Path) -> Path:
    root = tmp_path / "samples"
    (root / "helloworld").mkdir(parents=True)
    (root / "helloworld" / "helloworld.yaml").write_text("kind: Service\n")
    return root


def test_every_action_runs_the_commands_the_seeds_use(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner, samples_dir: Path
) -> None:
    tools = cluster_fakes(fake_tools)
    finish_fakes(tools)
    topology = make_topology(tmp_path, runner)
    installer = make_installer(tmp_path, topology, samples_dir)
    plan = plan_of(
        step("ns", "remote", Action.CREATE_NAMESPACE, namespace="sample"),
        step(
            "label",
            "remote",
            Action.LABEL_NAMESPACE,
            namespace="sample",
            labels={"istio-injection": "enabled"},
        ),
        step("annotate", "remote", Action.ANNOTATE_NAMESPACE, namespace="sample", annotations={"a/b": "c"}),
        step("sa", "external", Action.CREATE_SERVICE_ACCOUNT, namespace="external-istiod", name="istiod-sa"),
        step("gw", "external", Action.ISTIOCTL_INSTALL, (IOP,), file="controlplane-gateway.yaml"),
        step(
            "remote-iop",
            "remote",
            Action.MANIFEST_GENERATE_APPLY,
            (IOP,),
            file="remote.yaml",
            set=["values.defaultRevision=default"],
        ),
        step(
            "secret",
            "external",
            Action.REMOTE_SECRET,
            source_role="remote",
            target_role="external",
            command=["create-remote-secret"],
            type="config",
            namespace="external-istiod",
            secret_name="istio-kubeconfig",
            create_service_account=False,
            service_account="istiod",
        ),
        step(
            "routing",
            "external",
            Action.APPLY,
            ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}},),
            namespace="external-istiod",
        ),
        step(
            "hello",
            "remote",
            Action.APPLY_SAMPLE,
            path="samples/helloworld/helloworld.yaml",
            namespace="sample",
            selector="version=v1",
        ),
        step(
            "helm",
            "external",
            Action.HELM_INSTALL,
            release="sail",
            repo="https://charts.example",
            chart="sail-operator",
            version="1.30.3",
            namespace="sail-operator",
        ),
        step(
            "wait",
            "remote",
            Action.WAIT,
            resource="deployment/helloworld-v1",
            namespace="sample",
            **{"for": "condition=Available"},
            deadline_s=5,
        ),
    )
    installer.install(plan, Facts(), lambda facts: plan)

    kube = "--kubeconfig {} --context {}"
    ext = kube.format(tmp_path / "external.kubeconfig", "ctx-ext")
    rem = kube.format(tmp_path / "remote.kubeconfig", "ctx-rem")
    ssa = "apply --server-side --field-manager=eicp --force-conflicts"
    # Creates and applies print what they made (-o name): the ledger records it.
    assert kubectl_lines(fake_tools) == [
        f"{rem} create namespace sample -o name",
        f"{rem} label namespace sample istio-injection=enabled --overwrite",
        f"{rem} annotate namespace sample a/b=c --overwrite",
        f"{ext} create serviceaccount istiod-sa -n external-istiod -o name",
        f"{rem} {ssa} -o name -f -",
        f"{ext} {ssa} -o name -f -",
        f"{ext} {ssa} -n external-istiod -o name -f -",
        f"{rem} {ssa} -f {samples_dir / 'helloworld/helloworld.yaml'} -n sample -l version=v1 -o name",
        f"{rem} get deployment/helloworld-v1 -n sample -o json",
    ]
    work = tmp_path / "work"
    assert fake_tools.lines("istioctl") == [
        f"install -y -f {work / 'external/controlplane-gateway.yaml'} {ext}",
        f"manifest generate -f {work / 'remote/remote.yaml'} --set values.defaultRevision=default {rem}",
        f"create-remote-secret --type=config --namespace=external-istiod --service-account=istiod "
        f"--create-service-account=false --server=https://172.18.0.3:6443 {rem}",
    ]
    assert fake_tools.lines("helm") == [
        "upgrade --install sail sail-operator --repo https://charts.example --version 1.30.3 "
        f"--namespace sail-operator --kubeconfig {tmp_path / 'external.kubeconfig'} --kube-context ctx-ext "
        "--wait --timeout 600s --create-namespace"
    ]
    # The generated manifest went to the remote, the remote secret to the external cluster.
    applies = [call for call in fake_tools.calls("kubectl") if call.args[4] == "apply" and call.stdin]
    assert "kind: ConfigMap" in applies[0].stdin
    assert TOKEN in applies[1].stdin  # the real secret reaches the cluster...
    assert yaml.safe_load((work / "external/controlplane-gateway.yaml").read_text()) == IOP
    assert (work / "external/controlplane-gateway.yaml").stat().st_mode & 0o777 == 0o600


def test_creates_tolerate_already_exists_and_fail_on_anything_else(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    already = 'Error from server (AlreadyExists): namespaces "sample" already exists'
    tools["kubectl"].on(r"create namespace sample", exit=1, stderr=already)
    tools["kubectl"].on(r"create namespace broken", exit=1, stderr="Error from server (Forbidden): nope")
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    installer.run_step(step("ns", "remote", Action.CREATE_NAMESPACE, namespace="sample"))
    with pytest.raises(StepFailed, match="Forbidden"):
        installer.run_step(step("ns2", "remote", Action.CREATE_NAMESPACE, namespace="broken"))


def test_publishing_without_node_access_is_refused_and_names_external_hostname(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    cluster_fakes(fake_tools)
    topology = make_topology(tmp_path, runner)
    publish = step(
        "publish",
        "remote",
        Action.PUBLISH_HOSTNAME,
        hostname="h.eicp.test",
        address="1.2.3.4",
        scopes=["pods"],
    )
    with pytest.raises(StepFailed, match=r"no access to the kind node containers.*--external-hostname"):
        make_installer(tmp_path, topology).run_step(publish)
    topology.capabilities = provider_spec("existing").capabilities
    with pytest.raises(StepFailed, match=r"only in clusters it created.*--external-hostname"):
        make_installer(tmp_path, topology).run_step(publish)
    assert fake_tools.calls() == []  # refused before touching any cluster


def test_deletes_ignore_what_is_already_gone(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner
) -> None:
    tools = cluster_fakes(fake_tools)
    tools["kubectl"].on(
        r"delete .* -f -",
        exit=1,
        stderr='error: resource mapping not found for name: "x" namespace: "" from "STDIN": '
        'no matches for kind "Gateway" in version "networking.istio.io/v1"',
    )
    tools["kubectl"].on(r"delete .* namespace/broken", exit=1, stderr="Error from server (Forbidden): no")
    installer = make_installer(tmp_path, make_topology(tmp_path, runner))
    gone = step(
        "gw",
        "external",
        Action.DELETE,
        ({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "x"}},),
    )
    installer.run_step(gone, "uninstall")
    installer.run_step(step("ns", "remote", Action.DELETE, resource="namespace/sample"), "uninstall")
    with pytest.raises(StepFailed, match="Forbidden"):
        installer.run_step(step("ns", "remote", Action.DELETE, resource="namespace/broken"), "uninstall")
    assert any(
        "delete --ignore-not-found --wait=true --timeout=300s namespace/sample" in line
        for line in fake_tools.lines("kubectl")
    )


def test_sample_paths_must_stay_inside_the_release_samples(
    tmp_path: Path, fake_tools: FakeTools, runner: CommandRunner, samples_dir: Path
) -> None:
    cluster_fakes(fake_tools)
    installer = make_installer(tmp_path, make_topology(tmp_path, runner), samples_dir)
    for bad in ("samples/../../etc/passwd", "/etc/passwd", "helloworld/helloworld.yaml", "samples/nope.yaml"):
        with pytest.raises(StepFailed, match="sample"):
            installer.run_step(step("s", "remote", Action.APPLY_SAMPLE, path=bad, namespace="sample"))
    assert fake_tools.calls() == []
