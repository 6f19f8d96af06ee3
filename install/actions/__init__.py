"""One module per family of install actions; ``HANDLERS`` maps every ``Action`` to its function."""

from __future__ import annotations

from collections.abc import Callable

from clusters.cluster import ClusterHandle
from install.actions import helm, hostname, istioctl, kubectl_apply, secrets, waits
from install.actions.context import ActionContext
from scenarios.steps import Action, Step

Handler = Callable[[ActionContext, Step, ClusterHandle], str | None]

HANDLERS: dict[Action, Handler] = {
    Action.CREATE_NAMESPACE: kubectl_apply.create_namespace,
    Action.LABEL_NAMESPACE: kubectl_apply.label_namespace,
    Action.ANNOTATE_NAMESPACE: kubectl_apply.annotate_namespace,
    Action.APPLY: kubectl_apply.apply,
    Action.CREATE_SERVICE_ACCOUNT: kubectl_apply.create_service_account,
    Action.APPLY_SAMPLE: kubectl_apply.apply_sample,
    Action.INSTALL_GATEWAY_API_CRDS: kubectl_apply.install_gateway_api_crds,
    Action.DELETE: kubectl_apply.delete,
    Action.ISTIOCTL_INSTALL: istioctl.istioctl_install,
    Action.MANIFEST_GENERATE_APPLY: istioctl.manifest_generate_apply,
    Action.MANIFEST_GENERATE_DELETE: istioctl.manifest_generate_delete,
    Action.ISTIOCTL_UNINSTALL: istioctl.istioctl_uninstall,
    Action.CREATE_SECRET: secrets.create_secret,
    Action.REMOTE_SECRET: secrets.remote_secret,
    Action.HELM_INSTALL: helm.helm_install,
    Action.HELM_UNINSTALL: helm.helm_uninstall,
    Action.WAIT: waits.wait,
    Action.PRECONDITION: hostname.precondition,
    Action.PUBLISH_HOSTNAME: hostname.publish_hostname,
}

__all__ = ["HANDLERS", "ActionContext", "Handler"]
