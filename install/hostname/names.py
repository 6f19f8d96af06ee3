"""Checks of what publishing is given: a DNS name, an IP address, the scopes to publish in."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence

MARK = "eicp-published-hostname"
SCOPES = frozenset({"pods", "node"})

_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class PublishRefused(ValueError):
    """Publishing cannot be done here (bad input, or clusters the suite cannot reach into)."""


class HostnameFault(RuntimeError):
    """The cluster is not as publishing needs it (no CoreDNS ConfigMap, no node, no API server pod)."""


def check_hostname(hostname: str) -> str:
    """A DNS name (RFC 1123, lower case, at least two labels); the message says what is accepted."""
    labels = hostname.split(".")
    if len(hostname) > 253 or len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        raise PublishRefused(
            f"hostname {hostname!r} is not a DNS name the suite can publish: use lower-case labels of "
            "letters, digits and '-' (at most 63 characters each, 253 in all), separated by dots"
        )
    return hostname


def check_address(address: str, hostname: str) -> str:
    """The gateway's address as an IP: hosts entries map a name to an IP, never to another name."""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        raise PublishRefused(
            f"cannot publish {hostname} at {address!r}: the external gateway's LoadBalancer address is "
            "not an IP address, and hosts entries map names to IPs only; create a DNS record (e.g. a "
            f"CNAME to {address}) and pass it with --external-hostname"
        ) from None


def check_scopes(scopes: Sequence[object]) -> list[str]:
    wanted = [str(scope) for scope in scopes]
    unknown = sorted(set(wanted) - SCOPES)
    if unknown or not wanted:
        raise PublishRefused(
            f"publish scopes {wanted!r}: accepted are {', '.join(sorted(SCOPES))} (at least one)"
        )
    return wanted
