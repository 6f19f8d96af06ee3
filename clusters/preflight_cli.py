"""``python -m clusters.preflight_cli --topology-mode MODE``: the host preflight on its own.

ci/certify.sh runs it before it resolves or builds any tool, so a host that cannot run the mode
hears why (and, without Docker, what it can certify instead) in seconds, not after minutes of
Go builds. The same checks run again inside the suite (clusters/*/preflight.py), where the
memory check also knows how many clusters the selected scenarios create.

Exit codes: 0 the host is fit (or the mode creates nothing: existing), 2 it is not (the
problems and their fixes on stderr, as the suite reports them), 4 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from clusters.preflight import PreflightError
from clusters.providers import MODES, provider_spec
from programs.redaction import Redactor
from programs.runner import CommandRunner


def check(mode: str, runner: CommandRunner) -> None:
    """Raise ``PreflightError`` listing every problem of ``mode`` on this host (its provider's
    ``host_preflight``, clusters/providers.py)."""
    provider_spec(mode).host_preflight(runner)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clusters.preflight_cli", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--topology-mode", choices=MODES, default="kind")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return 4 if exit_.code else 0
    try:
        check(args.topology_mode, CommandRunner(Redactor()))
    except PreflightError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"host preflight for --topology-mode {args.topology_mode}: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
