"""Hosts files on kind node containers: the marked line, the script that edits it, node access."""

from __future__ import annotations

from dataclasses import dataclass

from install.hostname.names import MARK, HostnameFault
from programs.runner import CommandResult, CommandRunner
from run.timeouts import INSTALL_NODE_QUERY


def hosts_mark(hostname: str) -> str:
    """Delimited on both sides, so the mark of one name is never part of another's."""
    return f"#{MARK}:{hostname}:"


def hosts_line(hostname: str, address: str) -> str:
    return f"{address} {hostname} {hosts_mark(hostname)}"


# Arguments: mark, line ("" removes), files. Writes in place (``cat >``): /etc/hosts in a
# container is a bind mount, which a rename (sed -i) cannot replace. A file already holding
# exactly the line is left untouched; removal rewrites only files that hold the mark.
HOSTS_EDIT_SCRIPT = r"""set -eu
mark=$1; line=$2; shift 2
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
for f in "$@"; do
  if [ ! -f "$f" ]; then echo "eicp: no file $f" >&2; exit 3; fi
  if grep -qF -- "$mark" "$f"; then
    grep -F -- "$mark" "$f" > "$tmp" || true
    if [ -n "$line" ] && [ "$(cat "$tmp")" = "$line" ]; then continue; fi
    grep -vF -- "$mark" "$f" > "$tmp" || true
    cat "$tmp" > "$f"
  fi
  if [ -n "$line" ]; then
    if [ -s "$f" ] && [ -n "$(tail -c 1 "$f")" ]; then printf '\n' >> "$f"; fi
    printf '%s\n' "$line" >> "$f"
  fi
done
"""


@dataclass(frozen=True)
class KindNodes:
    """The node containers of kind clusters: listed by ``kind``, entered with ``docker exec``."""

    runner: CommandRunner
    kind_bin: str
    docker_bin: str = "docker"

    def names(self, cluster: str) -> list[str]:
        result = self.runner.run(
            [self.kind_bin, "get", "nodes", "--name", cluster],
            timeout_s=INSTALL_NODE_QUERY.seconds(),
            title=f"kind get nodes --name {cluster}",
        )
        names = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if not names:
            raise HostnameFault(f"kind get nodes --name {cluster} listed no node containers")
        return names

    def shell(self, node: str, script: str, *args: str, title: str, check: bool = True) -> CommandResult:
        """``docker exec <node> sh -c <script> eicp <args...>``: values travel as arguments."""
        return self.runner.run(
            [self.docker_bin, "exec", node, "sh", "-c", script, "eicp", *args],
            timeout_s=INSTALL_NODE_QUERY.seconds(),
            check=check,
            title=title,
        )

    def resolve(self, node: str, hostname: str) -> tuple[str | None, str]:
        """(first address, raw answer) of ``getent hosts`` on the node: what its resolver sees."""
        result = self.runner.run(
            [self.docker_bin, "exec", node, "getent", "hosts", hostname],
            timeout_s=INSTALL_NODE_QUERY.seconds(),
            check=False,
            title=f"[{node}] getent hosts {hostname}",
        )
        fields = result.stdout.split()
        return (fields[0] if result.returncode == 0 and fields else None), (
            result.stdout.strip() or result.stderr.strip() or f"exit {result.returncode}"
        )
