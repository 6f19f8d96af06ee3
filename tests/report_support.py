"""Fake cluster state for the report and diagnostics self-tests: a fake ``kubectl`` whose output
carries known secrets, so tests can prove none of them reaches the report directory."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clusters.cluster import ClusterHandle, Topology
from clusters.providers import provider_spec
from programs.runner import CommandRunner
from scenarios.steps import Role
from tests.fakeexec import FakeTool, FakeTools

# A service-account token as a remote secret holds it (registered with the redactor, as the
# installer does), and one that is not registered but travels as a bearer header.
REGISTERED_TOKEN = (
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6aXN0aW8ifQ.c2lnbmF0dXJlLXJlZ2lzdGVyZWQ"
)
BEARER_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiZWFyZXIifQ.c2lnbmF0dXJlLWJlYXJlci1vbmx5"
KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDfakeKeyMaterialForTests0123456789"
KEY_TAIL = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/abcdefghijklmn"
PRIVATE_KEY = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}\n{KEY_TAIL}\n-----END PRIVATE KEY-----"
SECRETS = (
    REGISTERED_TOKEN,
    BEARER_TOKEN,
    KEY_BODY,
    KEY_TAIL,
    base64.b64encode(REGISTERED_TOKEN.encode()).decode(),
)


def pods_json(namespace: str) -> str:
    if namespace == "external-istiod":
        pod = {
            "metadata": {
                "name": "istiod-5d8f7-abcde",
                "namespace": namespace,
                "labels": {"app": "istiod"},
                "annotations": {
                    "kubectl.kubernetes.io/last-applied-configuration": f'{{"token": "{REGISTERED_TOKEN}"}}'
                },
            },
            "spec": {
                "containers": [
                    {"name": "discovery", "env": [{"name": "REMOTE_TOKEN", "value": REGISTERED_TOKEN}]}
                ]
            },
            "status": {"containerStatuses": [{"name": "discovery", "restartCount": 2}]},
        }
    else:
        pod = {
            "metadata": {
                "name": "helloworld-v1-xyz",
                "namespace": namespace,
                "labels": {"app": "helloworld"},
            },
            "spec": {
                "initContainers": [{"name": "istio-init"}],
                "containers": [{"name": "helloworld"}, {"name": "istio-proxy"}],
            },
            "status": {"containerStatuses": [{"name": "helloworld", "restartCount": 0}]},
        }
    return json.dumps({"kind": "List", "items": [pod]})


def configmaps_json(namespace: str) -> str:
    items = [
        {
            "metadata": {"name": "istio", "namespace": namespace},
            "data": {"mesh": "defaultConfig: {}\n" + PRIVATE_KEY},
        },
        {"metadata": {"name": "istio-sidecar-injector", "namespace": namespace}, "data": {"values": "{}"}},
        {
            "metadata": {"name": "kube-root-ca.crt", "namespace": namespace},
            "data": {"ca.crt": "not collected"},
        },
    ]
    return json.dumps({"kind": "List", "items": items})


LOG = (
    "2026-01-01T00:00:00Z info ads New connection\n"
    f"2026-01-01T00:00:01Z debug Authorization: Bearer {BEARER_TOKEN}\n"
    f"2026-01-01T00:00:02Z debug remote token {REGISTERED_TOKEN}\n"
    f"{PRIVATE_KEY}\n"
)


def _literal(text: str) -> str:
    # FakeTool expands regex backreferences in stdout; keep JSON escapes such as \\n intact.
    return text.replace("\\", "\\\\")


def script_kubectl(tool: FakeTool, *, unreachable: tuple[str, ...] = (), sleep: float = 0.0) -> FakeTool:
    """Rules for a healthy cluster set; contexts in ``unreachable`` refuse every call."""
    for context in unreachable:
        tool.on(
            rf"--context {context} ",
            exit=1,
            stderr="Unable to connect to the server: dial tcp 172.18.0.9:6443: connect: connection refused\n",
        )
    # The external cluster hosts istiod, the remotes the sample (enough to cover the layout).
    tool.on(
        r"--context ctx-external .*get namespaces -o name",
        sleep=sleep,
        stdout="namespace/external-istiod\nnamespace/kube-system\n",
    )
    tool.on(r"get namespaces -o name", sleep=sleep, stdout="namespace/sample\nnamespace/kube-system\n")
    tool.on(r"get nodes", sleep=sleep, stdout="NAME STATUS\nc-control-plane Ready\n")
    tool.on(
        r"get mutatingwebhookconfigurations",
        sleep=sleep,
        stdout="kind: List\nitems:\n- metadata: {name: istio-sidecar-injector-external-istiod}\n",
    )
    tool.on(r"get validatingwebhookconfigurations", sleep=sleep, stdout="kind: List\nitems: []\n")
    tool.on(
        r"get customresourcedefinitions -o name",
        sleep=sleep,
        stdout="customresourcedefinition.apiextensions.k8s.io/istios.sailoperator.io\n",
    )
    tool.on(
        r"get istios.sailoperator.io -A -o json",
        sleep=sleep,
        stdout=json.dumps({"items": [{"metadata": {"name": "default"}, "status": {"state": "Healthy"}}]}),
    )
    for namespace in ("external-istiod", "istio-system", "sample"):
        tool.on(rf"get pods -n {namespace} -o json", sleep=sleep, stdout=_literal(pods_json(namespace)))
        tool.on(
            rf"get configmaps -n {namespace} -o json",
            sleep=sleep,
            stdout=_literal(configmaps_json(namespace)),
        )
    tool.on(r"get events", sleep=sleep, stdout="LAST SEEN TYPE REASON\n1m Warning BackOff\n")
    tool.on(r"get deployments,", sleep=sleep, stdout="NAME READY\ndeployment/istiod 1/1\n")
    tool.on(r"logs .* --previous", sleep=sleep, stdout="previous run: panic: boom\n")
    tool.on(r"logs ", sleep=sleep, stdout=_literal(LOG))
    tool.on(r"exec .* /debug/connections", sleep=sleep, stdout=json.dumps({"totalClients": 3}))
    tool.on(r"exec .* /debug/syncz", sleep=sleep, stdout="[]")
    tool.on(r"exec .* /debug/clusterz", sleep=sleep, stdout="[]")
    return tool


def make_topology(
    tools: FakeTools, runner: CommandRunner, root: Path, roles: tuple[Role, ...], mode: str = "existing"
) -> Topology:
    clusters: dict[Role, ClusterHandle] = {}
    for role in roles:
        kubeconfig = root / f"kubeconfig-{role}"
        kubeconfig.write_text(f"users:\n- name: u\n  user:\n    token: {REGISTERED_TOKEN}\n")
        kubeconfig.chmod(0o600)
        clusters[role] = ClusterHandle(
            role=role,
            name=f"eicp-{role}",
            context=f"ctx-{role}",
            kubeconfig=kubeconfig,
            internal_api_server="https://172.18.0.2:6443",
            network=None,
            runner=runner,
            kubectl_bin=str(tools.bin_dir / "kubectl"),
        )
    return Topology(provider_spec(mode).capabilities, clusters=clusters, prefix="eicp")


def leaks(root: Path) -> list[str]:
    """Every file under ``root`` holding one of the known secrets, with the secret's index."""
    found: list[str] = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found.extend(
                f"{path}: secret #{index}" for index, secret in enumerate(SECRETS) if secret.encode() in data
            )
    return found


def decode_png(data: bytes) -> tuple[int, int, list[tuple[int, ...]]]:
    """(width, height, pixels) of an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes).

    Enough of the PNG format to check a screenshot without adding an imaging library."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    offset, idat, header = 8, b"", b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
    width, height, depth, colour, _compression, _filter, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    pixels: list[tuple[int, ...]] = []
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        pixels.extend(tuple(line[i : i + 3]) for i in range(0, stride, channels))
        previous = line
    return width, height, pixels


CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # sRGB keeps a page's colours exact so tests can look for them; half scale keeps the PNG
    # small enough to decode in pure Python quickly.
    "--force-color-profile=srgb",
    "--force-device-scale-factor=0.5",
    "--hide-scrollbars",
    # Scripted pages (Allure's) render before the capture: virtual time runs until idle or this.
    "--virtual-time-budget=15000",
)


def chromium_screenshot(
    runner: CommandRunner,
    url: str,
    scratch: Path,
    *,
    screenshot: Path | None = None,
    dump_dom: bool = False,
    window: str = "1280,1000",
) -> str:
    """Render ``url`` in headless Chromium (Debian's package) with a fresh profile; write a PNG
    screenshot and/or return the DOM after scripts ran. Skips without Chromium (fails under CI)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        reason = "chromium is not installed (ci/selftest.sh installs Debian's chromium package)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; CI must not skip the browser checks")
        pytest.skip(reason)
    profile = scratch / f"chromium-profile-{len(list(scratch.glob('chromium-profile-*')))}"
    argv = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={window}"]
    if screenshot is not None:
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.unlink(missing_ok=True)
        argv.append(f"--screenshot={screenshot}")
    argv.append(url)
    dom = scratch / f"{profile.name}.dom.html"
    if dump_dom:
        # Into a file, not through the runner's captured stdout: a page's DOM is megabytes of
        # script, and redacting that much text is slow.
        argv = ["sh", "-c", 'out=$1; shift; exec "$@" >"$out"', "sh", str(dom), *argv, "--dump-dom"]
    result = runner.run(argv, timeout_s=120, attach=False)
    if screenshot is not None and not screenshot.is_file():
        raise AssertionError(f"chromium wrote no screenshot at {screenshot}: {result.stderr[-2000:]}")
    return dom.read_text(encoding="utf-8") if dump_dom else ""


def keep_artifact(config: pytest.Config, path: Path) -> Path:
    """Copy a screenshot next to the self-test reports (``<report-dir>/artifacts``) for people to see."""
    from fixtures.options import SUITE_CONFIG

    artifacts = config.stash[SUITE_CONFIG].report_dir.resolve() / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(path, artifacts / path.name))


class TagCollector(HTMLParser):
    """Every start tag of a page with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
