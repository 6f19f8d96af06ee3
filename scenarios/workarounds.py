"""Workarounds of known upstream issues a run may apply (``--workaround NAME``), by name.

Each one changes the documented procedure on purpose, so a run that applies one certifies the
procedure *with* it: the plan shows the changed step, the reports name the workaround. The
issues they work around are listed in suites/known_issues.yaml (``workaround_option``).
"""

from __future__ import annotations

UNLABELLED_CONFIG_SECRET = "unlabelled-config-secret"
MULTICLUSTER_LABEL = "istio/multiCluster"  # the label istiod's secret controller watches for
GATEWAY_TRUSTS_ISTIOD_CA = "gateway-trusts-istiod-ca"

WORKAROUNDS: dict[str, str] = {
    UNLABELLED_CONFIG_SECRET: (
        "the config cluster's istio-kubeconfig Secret (istioctl create-remote-secret --type=config) is "
        f"applied without its {MULTICLUSTER_LABEL} label, as Istio's integration framework creates it, "
        "so the external istiod does not register its config cluster a second time "
        "(known issue config-cluster-registered-twice)"
    ),
    GATEWAY_TRUSTS_ISTIOD_CA: (
        "dns-tls with a certificate of your own (--external-tls-secret): istiod gets a plug-in CA from "
        "the suite's per-run PKI (cacerts) and the guide's DestinationRule verifies istiod against that "
        "PKI's root (credentialName, istiod's service name as SNI and SAN), as the suite's own-PKI path "
        "does, so the external gateway can verify istiod's certificate "
        "(known issue gateway-verifies-istiod-with-system-roots)"
    ),
}
