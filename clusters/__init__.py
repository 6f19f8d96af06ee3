"""Cluster providers (kind, existing, kwok), cloud-provider-kind, host preflight, kubeconfigs."""
