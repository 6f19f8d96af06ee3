"""install/hostname/ in pieces: the Corefile edit and its exact undo, the hosts-file script run by
a real ``sh`` on real files, the probe script against a fake curl, and what each curl exit means."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from install.hostname import (
    HANDSHAKE_DONE,
    HOSTS_EDIT_SCRIPT,
    PROBE_SCRIPT,
    ProbeRequest,
    PublishRefused,
    check_address,
    check_hostname,
    check_scopes,
    client_image,
    corefile_with,
    corefile_without,
    hosts_line,
    hosts_mark,
    last_attempt,
    pod_state,
    probe_fault,
    probe_manifests,
    reloads_itself,
)
from programs.runner import CommandError, CommandRunner
from scenarios import pki
from tests.fakeexec import FakeTools

HOST = "istiod.external-istiod.eicp.test"
ADDR = "172.18.0.200"
# kubeadm's default Corefile (cmd/kubeadm/app/phases/addons/dns/manifests.go), which kind deploys
# unchanged: it has `reload`, so CoreDNS picks up an edited ConfigMap by itself.
KUBEADM_COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
"""
DOCKER_HOSTS = (
    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n172.18.0.3\teicp-remote-control-plane\n"
)


# -- input ---------------------------------------------------------------------------------------


def test_bad_names_addresses_and_scopes_are_refused_with_what_is_accepted() -> None:
    assert check_hostname(HOST) == HOST
    for bad in ("UPPER.test", "single", "-x.test", "a..test", "a b.test", "x" * 64 + ".test"):
        with pytest.raises(PublishRefused, match="lower-case labels"):
            check_hostname(bad)
    assert check_address("172.18.0.200", HOST) == "172.18.0.200"
    with pytest.raises(
        PublishRefused, match=r"not an IP address.*CNAME to lb.example.com.*--external-hostname"
    ):
        check_address("lb.example.com", HOST)
    with pytest.raises(PublishRefused, match="accepted are node, pods"):
        check_scopes(["pods", "dns"])


# -- the Corefile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "original", [KUBEADM_COREFILE, KUBEADM_COREFILE.rstrip("\n"), ".:53 {\n    forward . 8.8.8.8\n}\n\n"]
)
def test_the_corefile_block_is_added_once_and_removed_exactly(original: str) -> None:
    published = corefile_with(original, HOST, ADDR)
    assert published.startswith(original)
    block = published[len(original) :]
    assert (
        f"# BEGIN eicp-published-hostname {HOST}\n{HOST}:53 {{\n    hosts {{\n        {ADDR} {HOST}\n"
        in block
    )
    assert corefile_with(published, HOST, ADDR) == published  # idempotent
    moved = corefile_with(published, HOST, "172.18.0.201")
    assert moved.count("BEGIN eicp") == 1 and "172.18.0.201" in moved and ADDR not in moved
    assert corefile_without(published, HOST) == original  # byte for byte
    assert corefile_without(moved, HOST) == original
    assert corefile_without(original, HOST) == original


def test_two_names_are_independent_and_a_foreign_block_for_the_name_is_not_overridden() -> None:
    both = corefile_with(corefile_with(KUBEADM_COREFILE, HOST, ADDR), "other.eicp.test", "10.0.0.9")
    assert corefile_without(corefile_without(both, HOST), "other.eicp.test") == KUBEADM_COREFILE
    assert "other.eicp.test" in corefile_without(both, HOST)
    theirs = KUBEADM_COREFILE + f"{HOST}:53 {{\n    forward . 10.1.1.1\n}}\n"
    with pytest.raises(PublishRefused, match="already has a server block"):
        corefile_with(theirs, HOST, ADDR)


def test_reload_is_detected_as_a_plugin_line_only() -> None:
    assert reloads_itself(KUBEADM_COREFILE)
    without = KUBEADM_COREFILE.replace("    reload\n", "")
    assert not reloads_itself(without)
    assert not reloads_itself(corefile_with(without, "reload.eicp.test", ADDR))


# -- the hosts-file script, run by a real sh on real files -----------------------------------------


def edit(runner: CommandRunner, hostname: str, line: str, *files: Path) -> None:
    runner.run(["sh", "-c", HOSTS_EDIT_SCRIPT, "eicp", hosts_mark(hostname), line, *map(str, files)])


def test_the_hosts_script_adds_replaces_and_removes_exactly_the_marked_line(
    runner: CommandRunner, tmp_path: Path
) -> None:
    node, apiserver = tmp_path / "hosts", tmp_path / "etc-hosts"
    node.write_text(DOCKER_HOSTS)
    apiserver.write_text("# Kubernetes-managed hosts file (host network).\n" + DOCKER_HOSTS)
    originals = {path: path.read_bytes() for path in (node, apiserver)}
    line = hosts_line(HOST, ADDR)
    edit(runner, HOST, line, node, apiserver)
    for path, before in originals.items():
        assert path.read_bytes() == before + f"{line}\n".encode()
    inode = node.stat().st_ino
    edit(runner, HOST, line, node, apiserver)  # idempotent
    assert node.read_bytes() == originals[node] + f"{line}\n".encode()
    assert node.stat().st_ino == inode  # written in place: /etc/hosts is a bind mount
    edit(runner, HOST, hosts_line(HOST, "172.18.0.201"), node)
    assert node.read_text().count(HOST) == 2 and ADDR not in node.read_text()
    edit(runner, HOST, "", node, apiserver)
    for path, before in originals.items():
        assert path.read_bytes() == before


def test_the_hosts_script_leaves_other_names_marks_alone(runner: CommandRunner, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    neighbours = [hosts_line(f"b.{HOST}", "10.0.0.1"), hosts_line(f"{HOST}.example", "10.0.0.2")]
    hosts.write_text(DOCKER_HOSTS + "".join(f"{line}\n" for line in neighbours))
    before = hosts.read_bytes()
    edit(runner, HOST, hosts_line(HOST, ADDR), hosts)
    edit(runner, HOST, "", hosts)
    assert hosts.read_bytes() == before


def test_the_hosts_script_fails_on_a_missing_file_and_ends_a_last_line_first(
    runner: CommandRunner, tmp_path: Path
) -> None:
    with pytest.raises(CommandError, match="no file"):
        edit(runner, HOST, hosts_line(HOST, ADDR), tmp_path / "absent")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost")  # no final newline
    edit(runner, HOST, hosts_line(HOST, ADDR), hosts)
    assert hosts.read_text().splitlines() == ["127.0.0.1 localhost", hosts_line(HOST, ADDR)]


# -- the probe script against a fake curl ------------------------------------------------------------


def run_probe(
    runner: CommandRunner, *, deadline: int, ca: str = "", ports: tuple[str, ...] = ("15012", "15017")
) -> tuple[int, str]:
    result = runner.run(
        ["sh", "-c", PROBE_SCRIPT, "probe", HOST, str(deadline), "0", ca, *ports], check=False, timeout_s=30
    )
    return result.returncode, result.stdout


def test_the_probe_passes_when_every_port_verifies(runner: CommandRunner, fake_tools: FakeTools) -> None:
    fake_tools.install("curl").on(r"", stdout=ADDR)
    code, out = run_probe(runner, deadline=0, ca="/etc/eicp-probe/ca.pem")
    assert code == 0
    assert out.splitlines() == [
        f"eicp-probe port=15012 rc=0 ip={ADDR} ",
        f"eicp-probe port=15017 rc=0 ip={ADDR} ",
    ]
    calls = fake_tools.lines("curl")
    assert calls[0].split()[-3:] == ["-w", "%{remote_ip}", f"https://{HOST}:15012/"]
    assert "--cacert /etc/eicp-probe/ca.pem" in calls[0]


def test_the_probe_retries_until_its_deadline_then_exits_with_curls_code(
    runner: CommandRunner, fake_tools: FakeTools
) -> None:
    curl = fake_tools.install("curl")
    curl.on(r"", exit=6, stderr=f"curl: (6) Could not resolve host: {HOST}\n", times=2)
    curl.on(r"", exit=52, stdout=ADDR, stderr="curl: (52) Empty reply from server\n")  # TLS done
    code, out = run_probe(runner, deadline=30, ports=("15012",))
    assert code == 0 and out.count("rc=6") == 2 and "rc=52" in out
    assert "--cacert" not in fake_tools.lines("curl")[0]  # system roots
    curl.rules.clear()
    curl.on(
        r"", exit=60, stdout=ADDR, stderr="curl: (60) SSL certificate problem: unable to get local issuer\n"
    )
    code, out = run_probe(runner, deadline=0)
    assert code == 60
    attempt = last_attempt(out)
    assert attempt is not None and (attempt.port, attempt.exit_code, attempt.address) == (15012, 60, ADDR)
    assert attempt.message.startswith("curl: (60) SSL certificate problem")


# -- what an exit code means ---------------------------------------------------------------------------


def request(*, published: bool = True, ca: bytes | None = b"PEM") -> ProbeRequest:
    return ProbeRequest(
        hostname=HOST,
        ports=(15012, 15017),
        namespace="external-istiod",
        image="docker.io/curlimages/curl:8.16.0",
        ca_pem=ca,
        ca_description="the mesh root CA of this run's PKI (root-cert)",
        expected_address=ADDR,
        published=published,
        deadline_s=180,
    )


@pytest.mark.parametrize(
    ("code", "wanted"),
    [
        (
            6,
            rf"{HOST} does not resolve from pod p within 180s .*must resolve to {ADDR}: the suite publishes it through the marked block in kube-system/coredns",
        ),
        (
            7,
            rf"{HOST}:15012 resolves to {ADDR} but the connection was refused or the address is unreachable.*cloud-provider-kind",
        ),
        (28, rf"connecting to {HOST}:15012 \({ADDR}\) timed out"),
        (35, rf"TLS handshake with {HOST}:15012 .*no certificate for SNI {HOST}.*credentialName"),
        (60, rf"certificate of {HOST}:15012 .*not verified against the mesh root CA .*SAN {HOST}"),
        (3, r"failed with curl exit code 3"),
    ],
)
def test_each_curl_exit_code_names_the_host_the_address_and_the_fix(code: int, wanted: str) -> None:
    logs = f"eicp-probe port=15012 rc={code} ip={ADDR if code != 6 else ''} curl: ({code}) something\n"
    fault = probe_fault(request(), code, logs, "pod p")
    assert fault is not None
    assert re.search(wanted, fault), fault


def test_real_dns_faults_say_to_create_a_record_and_handshakes_done_pass() -> None:
    fault = probe_fault(request(published=False), 6, "", "pod p")
    assert fault is not None and f"create a DNS record for {HOST} pointing at {ADDR}" in fault
    assert all(probe_fault(request(), code, "", "pod p") is None for code in HANDSHAKE_DONE)


# -- manifests and pod state -------------------------------------------------------------------------


def test_the_probe_pod_gets_only_the_root_certificate_and_is_never_injected() -> None:
    suite = pki.generate(HOST, run_label="selftest")
    manifests = probe_manifests(request(ca=suite.material(pki.ROOT_CERT)), "abcd")
    configmap, pod = manifests
    assert configmap["kind"] == "ConfigMap" and "PRIVATE KEY" not in yaml.safe_dump(manifests)
    assert configmap["data"]["ca.pem"] == suite.material(pki.ROOT_CERT).decode()
    assert pod["metadata"]["labels"]["sidecar.istio.io/inject"] == "false"
    assert pod["spec"]["restartPolicy"] == "Never" and pod["spec"]["activeDeadlineSeconds"] == 300
    container = pod["spec"]["containers"][0]
    assert container["args"] == [HOST, "180", "3", "/etc/eicp-probe/ca.pem", "15012", "15017"]
    assert pod["spec"]["volumes"] == [{"name": "ca", "configMap": {"name": "eicp-gateway-probe-ca-abcd"}}]
    (system,) = probe_manifests(request(ca=None), "abcd")
    assert "volumes" not in system["spec"] and system["spec"]["containers"][0]["args"][3] == ""


def test_the_client_image_comes_from_the_release_sample() -> None:
    sample = (
        "apiVersion: v1\nkind: Service\nmetadata: {name: curl}\n---\napiVersion: apps/v1\nkind: Deployment\n"
        "metadata: {name: curl}\nspec:\n  template:\n    spec:\n      containers:\n"
        "      - {name: curl, image: docker.io/curlimages/curl:8.16.0}\n"
    )
    assert client_image(sample, "curl") == "docker.io/curlimages/curl:8.16.0"
    assert client_image(sample, "sleep") is None


def test_pod_state_reads_phase_waiting_reason_and_exit_code() -> None:
    pulling = {
        "status": {
            "phase": "Pending",
            "containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}],
        }
    }
    assert pod_state(pulling) == (False, "phase Pending; waiting: ImagePullBackOff", None)
    failed = {
        "status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"exitCode": 6}}}]}
    }
    assert pod_state(failed) == (True, "phase Failed; terminated with exit code 6", 6)
