"""A pod's sandbox for a host process: its files, its environment, its namespaces.

kwok runs no containers, so the Deployments the model needs alive run as host processes
built from the pod template the suite applied. This module turns a pod template into what a
kubelet would give the container:

- a private root directory (0700) holding every volume at its ``mountPath`` (ConfigMaps,
  Secrets, projected service-account tokens, emptyDirs) plus the service-account volume the
  API server's admission adds to every pod (``/var/run/secrets/kubernetes.io/serviceaccount``
  with ``token``, ``ca.crt`` and ``namespace``). The process runs with that directory as its
  working directory (Istio's binaries read ``./etc/istio/...``, ``./var/run/secrets/...``);
- the container's environment with ``valueFrom`` resolved, plus ``KUBERNETES_SERVICE_HOST``
  and ``KUBERNETES_SERVICE_PORT`` naming its API server, and nothing of the suite's own;
- an argv that enters the pod's network namespace (``ip netns exec``) and a private mount
  namespace (``unshare --mount``) in which the root's ``var/run`` is bound over ``/run``, so
  absolute in-cluster paths (client-go's in-cluster config, ``KUBECONFIG=/var/run/secrets/...``)
  resolve to the pod's files and nothing of the host's ``/run`` is visible.

Reading objects is the ``ObjectSource``'s job (see clusters/kwok/istiod_source.py): payloads
go from the API straight to 0600 files and never to a log.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from programs.private_files import make_private_dir, write_private

Obj = dict[str, Any]
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_TOKEN_SECONDS = 3607  # what the API server's admission asks for the kube-api-access volume
_FIELD = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
SANDBOX_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class SandboxError(RuntimeError):
    """The pod template asks for something the sandbox cannot give (named in the message)."""


class ObjectSource(Protocol):
    """What materializing a pod needs from its API server."""

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None: ...
    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None: ...
    def token(self, namespace: str, service_account: str, audience: str | None, seconds: int) -> str: ...


@dataclass(frozen=True)
class PodIdentity:
    """The pod a process stands in for: what ``fieldRef`` and the downward API resolve to."""

    name: str
    namespace: str
    uid: str
    service_account: str
    node_name: str
    pod_ip: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)

    def field_value(self, path: str) -> str:
        simple = {
            "metadata.name": self.name,
            "metadata.namespace": self.namespace,
            "metadata.uid": self.uid,
            "spec.serviceAccountName": self.service_account,
            "spec.nodeName": self.node_name,
            "status.podIP": self.pod_ip,
            "status.podIPs": self.pod_ip,
            "status.hostIP": self.pod_ip,
        }
        if path in simple:
            return simple[path]
        match = _FIELD.match(path)
        if match:
            source = self.labels if match.group(1) == "labels" else self.annotations
            return source.get(match.group(2), "")
        if path in ("metadata.labels", "metadata.annotations"):
            source = self.labels if path == "metadata.labels" else self.annotations
            return "\n".join(f'{key}="{value}"' for key, value in sorted(source.items()))
        raise SandboxError(f"fieldRef {path!r} is not supported by the pod sandbox")


def container_of(template: Obj, name: str) -> Obj:
    for container in (template.get("spec") or {}).get("containers") or []:
        if container.get("name") == name:
            return dict(container)
    raise SandboxError(f"the pod template has no container {name!r}")


# --- files --------------------------------------------------------------------------------


def _relative(path: str) -> PurePosixPath:
    relative = PurePosixPath(path.lstrip("/"))
    if ".." in relative.parts or not relative.parts:
        raise SandboxError(f"refusing path {path!r}")
    return relative


def _select(data: Mapping[str, bytes], items: list[Obj] | None, what: str) -> dict[str, bytes]:
    if not items:
        return dict(data)
    chosen: dict[str, bytes] = {}
    for item in items:
        key = str(item.get("key"))
        if key not in data:
            raise SandboxError(f"{what} has no key {key!r}")
        chosen[str(item.get("path") or key)] = data[key]
    return chosen


@dataclass
class Materializer:
    """Writes a pod's volumes under ``root`` and resolves its environment."""

    source: ObjectSource
    pod: PodIdentity
    root: Path
    api_host: str
    api_port: int
    cpu_count: int = field(default_factory=lambda: os.cpu_count() or 1)

    def prepare(self, template: Obj, container: Obj) -> None:
        """Create the 0700 root and write every volume the container mounts."""
        make_private_dir(self.root)
        volumes = {v["name"]: v for v in (template.get("spec") or {}).get("volumes") or []}
        mounts = list(container.get("volumeMounts") or [])
        for mount in mounts:
            volume = volumes.get(mount.get("name"))
            if volume is None:
                raise SandboxError(f"volumeMount {mount.get('name')!r} names no volume of the pod")
            files = self.volume_files(volume)
            target = self.root / _relative(str(mount["mountPath"]))
            sub_path = mount.get("subPath")
            if sub_path:
                if sub_path in files:
                    write_private(target, files[sub_path])
                continue
            target.mkdir(parents=True, exist_ok=True, mode=0o700)
            for name, data in files.items():
                write_private(target / _relative(name), data)
        automount = (template.get("spec") or {}).get("automountServiceAccountToken", True)
        if automount and not any(m.get("mountPath") == SERVICE_ACCOUNT_DIR for m in mounts):
            self._service_account_volume()
        (self.root / "var" / "run").mkdir(parents=True, exist_ok=True, mode=0o700)

    def _service_account_volume(self) -> None:
        target = self.root / _relative(SERVICE_ACCOUNT_DIR)
        ca = self._config_map_or_fail("kube-root-ca.crt", optional=False)
        token = self.source.token(self.pod.namespace, self.pod.service_account, None, DEFAULT_TOKEN_SECONDS)
        write_private(target / "token", token.encode())
        write_private(target / "ca.crt", ca["ca.crt"])
        write_private(target / "namespace", self.pod.namespace.encode())

    def _config_map_or_fail(self, name: str, *, optional: bool) -> dict[str, bytes]:
        data = self.source.config_map(self.pod.namespace, name)
        if data is None:
            if optional:
                return {}
            raise SandboxError(
                f"ConfigMap {self.pod.namespace}/{name} does not exist (the pod would not start)"
            )
        return {key: value.encode() for key, value in data.items()}

    def _secret_or_fail(self, name: str, *, optional: bool) -> dict[str, bytes]:
        data = self.source.secret(self.pod.namespace, name)
        if data is None:
            if optional:
                return {}
            raise SandboxError(f"Secret {self.pod.namespace}/{name} does not exist (the pod would not start)")
        return data

    def volume_files(self, volume: Obj) -> dict[str, bytes]:
        """The files a volume shows the container (relative path -> content)."""
        if "configMap" in volume:
            spec = volume["configMap"]
            data = self._config_map_or_fail(spec["name"], optional=bool(spec.get("optional")))
            return _select(data, spec.get("items"), f"ConfigMap {spec['name']}") if data else {}
        if "secret" in volume:
            spec = volume["secret"]
            data = self._secret_or_fail(spec["secretName"], optional=bool(spec.get("optional")))
            return _select(data, spec.get("items"), f"Secret {spec['secretName']}") if data else {}
        if "emptyDir" in volume:
            return {}
        if "projected" in volume:
            files: dict[str, bytes] = {}
            for source in volume["projected"].get("sources") or []:
                files.update(self._projection(source))
            return files
        if "downwardAPI" in volume:
            return self._downward(volume["downwardAPI"].get("items") or [])
        kinds = sorted(set(volume) - {"name"})
        raise SandboxError(
            f"volume {volume.get('name')!r} of type {kinds} is not supported by the pod sandbox"
        )

    def _projection(self, source: Obj) -> dict[str, bytes]:
        if "serviceAccountToken" in source:
            spec = source["serviceAccountToken"]
            seconds = int(spec.get("expirationSeconds") or DEFAULT_TOKEN_SECONDS)
            token = self.source.token(
                self.pod.namespace, self.pod.service_account, spec.get("audience"), seconds
            )
            return {str(spec["path"]): token.encode()}
        if "configMap" in source or "secret" in source:
            return self.volume_files(
                {"name": "projected", **source}
                if "configMap" in source
                else {
                    "name": "projected",
                    "secret": {**source["secret"], "secretName": source["secret"]["name"]},
                }
            )
        if "downwardAPI" in source:
            return self._downward(source["downwardAPI"].get("items") or [])
        raise SandboxError(f"projected source {sorted(source)} is not supported by the pod sandbox")

    def _downward(self, items: Iterable[Obj]) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for item in items:
            ref = item.get("fieldRef") or {}
            if not ref:
                raise SandboxError(f"downwardAPI item {item.get('path')!r} has no fieldRef")
            files[str(item["path"])] = self.pod.field_value(str(ref["fieldPath"])).encode()
        return files

    # --- environment ----------------------------------------------------------------------

    def environment(self, container: Obj) -> dict[str, str]:
        """The container's environment as a kubelet would build it (no host variables)."""
        env = {
            "PATH": SANDBOX_PATH,
            "HOSTNAME": self.pod.name,
            "HOME": "/root",
            "KUBERNETES_SERVICE_HOST": self.api_host,
            "KUBERNETES_SERVICE_PORT": str(self.api_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(self.api_port),
        }
        for source in container.get("envFrom") or []:
            env.update(self._env_from(source))
        for entry in container.get("env") or []:
            name = str(entry["name"])
            if "valueFrom" in entry:
                value = self._value_from(name, entry["valueFrom"], container)
                if value is None:
                    continue
                env[name] = value
            else:
                env[name] = expand_env(str(entry.get("value", "")), env)
        return env

    def _env_from(self, source: Obj) -> dict[str, str]:
        prefix = str(source.get("prefix") or "")
        if "configMapRef" in source:
            ref = source["configMapRef"]
            data = self._config_map_or_fail(ref["name"], optional=bool(ref.get("optional")))
        else:
            ref = source["secretRef"]
            data = self._secret_or_fail(ref["name"], optional=bool(ref.get("optional")))
        return {prefix + key: value.decode() for key, value in data.items()}

    def _value_from(self, name: str, spec: Obj, container: Obj) -> str | None:
        if "fieldRef" in spec:
            return self.pod.field_value(str(spec["fieldRef"]["fieldPath"]))
        if "resourceFieldRef" in spec:
            return self._resource(spec["resourceFieldRef"], container)
        for kind, key in (("configMapKeyRef", "configMap"), ("secretKeyRef", "secret")):
            if kind in spec:
                ref = spec[kind]
                optional = bool(ref.get("optional"))
                if key == "configMap":
                    data = self._config_map_or_fail(ref["name"], optional=optional)
                else:
                    data = self._secret_or_fail(ref["name"], optional=optional)
                if ref["key"] in data:
                    return data[ref["key"]].decode()
                if optional:
                    return None
                raise SandboxError(f"env {name}: {key} {ref['name']} has no key {ref['key']!r}")
        raise SandboxError(f"env {name}: valueFrom {sorted(spec)} is not supported by the pod sandbox")

    def _resource(self, ref: Obj, container: Obj) -> str:
        resource = str(ref["resource"])
        kind, _, what = resource.partition(".")
        amounts = (container.get("resources") or {}).get(kind) or {}
        divisor = str(ref.get("divisor") or "1")
        if what == "cpu":
            cores = _cpu(amounts.get("cpu")) if amounts.get("cpu") else float(self.cpu_count)
            return str(max(1, math.ceil(cores / _cpu(divisor))))
        if what == "memory":
            total = _bytes(amounts["memory"]) if amounts.get("memory") else _host_memory()
            return str(max(1, math.ceil(total / _bytes(divisor))))
        raise SandboxError(f"resourceFieldRef {resource!r} is not supported by the pod sandbox")


def expand_env(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion of earlier variables (``$$`` escapes)."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        value,
    )


def _cpu(quantity: Any) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def _bytes(quantity: Any) -> float:
    text = str(quantity)
    for suffix in sorted(_UNITS, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _UNITS[suffix]
    return float(text)


def _host_memory() -> float:
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def sandbox_argv(netns: str, root: Path, argv: list[str]) -> list[str]:
    """``argv`` inside network namespace ``netns`` and a private mount namespace where
    ``root/var/run`` is ``/run`` (and so ``/var/run``). Run it with ``cwd=root``."""
    if not _SAFE_NAME.match(netns):
        raise SandboxError(f"network namespace name {netns!r} is not a plain name")
    script = 'mount --bind "$1" /run && shift && exec "$@"'
    return [
        "ip",
        "netns",
        "exec",
        netns,
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "/bin/sh",
        "-c",
        script,
        "eicp-pod-sandbox",
        str(root / "var" / "run"),
        *argv,
    ]
