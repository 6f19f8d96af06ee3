"""Reads a stand-in pod's inputs from its API server without logging their payloads.

ConfigMaps, Secrets and service-account tokens (TokenRequest bound to the pod, as a kubelet
asks for them) are read through the Kubernetes API client, not ``kubectl``, so their values
never pass through the command runner's output or attachments; every token and Secret value
is registered with the suite's redactor the moment it is read.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from programs.redaction import Redactor
from run.timeouts import KWOK_ISTIOD_API


@dataclass
class KubeObjectSource:
    """``pod_sandbox.ObjectSource`` over one cluster's API client, for one pod."""

    api: Any  # kubernetes.client.ApiClient
    redactor: Redactor
    pod_name: str = ""
    pod_uid: str = ""

    def _core(self) -> Any:
        from kubernetes import client

        return client.CoreV1Api(self.api)

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        from kubernetes import client

        try:
            found = self._core().read_namespaced_config_map(
                name, namespace, _request_timeout=KWOK_ISTIOD_API.seconds()
            )
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return dict(found.data or {})

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        from kubernetes import client

        try:
            found = self._core().read_namespaced_secret(
                name, namespace, _request_timeout=KWOK_ISTIOD_API.seconds()
            )
        except client.ApiException as error:
            if error.status == 404:
                return None
            raise
        data: dict[str, bytes] = {}
        for key, value in (found.data or {}).items():
            raw = base64.b64decode(value)
            data[key] = raw
            text = raw.decode("utf-8", errors="replace")
            for line in text.splitlines():
                if "token:" in line:
                    self.redactor.register(line.split("token:", 1)[1].strip().strip('"'))
            if "PRIVATE KEY" in text:
                self.redactor.register(text)
        return data

    def token(self, namespace: str, service_account: str, audience: str | None, seconds: int) -> str:
        from kubernetes import client

        bound = (
            client.V1BoundObjectReference(api_version="v1", kind="Pod", name=self.pod_name, uid=self.pod_uid)
            if self.pod_name and self.pod_uid
            else None
        )
        request = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(
                audiences=[audience] if audience else [],
                expiration_seconds=max(seconds, 600),
                bound_object_ref=bound,
            )
        )
        answer = self._core().create_namespaced_service_account_token(
            service_account, namespace, request, _request_timeout=KWOK_ISTIOD_API.seconds()
        )
        token = str(answer.status.token)
        self.redactor.register(token)
        return token
