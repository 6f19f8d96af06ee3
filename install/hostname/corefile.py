"""The suite's marked server block in CoreDNS's Corefile: added and removed byte for byte."""

from __future__ import annotations

import re

from install.hostname.names import MARK, PublishRefused

HOSTS_TTL_S = 30

_RELOAD = re.compile(r"^\s*reload(\s|$)", re.MULTILINE)


def _marks(hostname: str) -> tuple[str, str]:
    return f"# BEGIN {MARK} {hostname}", f"# END {MARK} {hostname}"


def corefile_block(hostname: str, address: str) -> str:
    """A server block answering exactly ``hostname`` from a ``hosts`` entry, between marks."""
    begin, end = _marks(hostname)
    return (
        f"{begin}\n"
        f"{hostname}:53 {{\n"
        f"    hosts {{\n"
        f"        {address} {hostname}\n"
        f"        ttl {HOSTS_TTL_S}\n"
        f"    }}\n"
        f"}}\n"
        f"{end}\n"
    )


def _block_pattern(hostname: str) -> re.Pattern[str]:
    begin, end = _marks(hostname)
    return re.compile(rf"\n{re.escape(begin)}\n.*?\n{re.escape(end)}\n", re.DOTALL)


def corefile_without(corefile: str, hostname: str) -> str:
    """The Corefile without the suite's block for ``hostname`` (unchanged when there is none)."""
    return _block_pattern(hostname).sub("", corefile)


def corefile_with(corefile: str, hostname: str, address: str) -> str:
    """The Corefile with exactly one suite block for ``hostname`` at ``address``, appended last.

    ``corefile_without(corefile_with(c, h, a), h) == c`` for any Corefile ``c`` without a block.
    """
    base = corefile_without(corefile, hostname)
    owner = re.search(rf"(?m)^\s*{re.escape(hostname)}(:\d+)?\s*\{{", base)
    if owner:
        raise PublishRefused(
            f"the cluster's Corefile already has a server block for {hostname} (not the suite's): "
            "the suite will not override it; use that name with --external-hostname instead"
        )
    return f"{base}\n{corefile_block(hostname, address)}"


def reloads_itself(corefile: str) -> bool:
    """Whether CoreDNS re-reads this Corefile on its own (the ``reload`` plugin)."""
    return bool(_RELOAD.search(corefile))
