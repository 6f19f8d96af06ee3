"""Print the certification matrix (supported Istio release x scenario) as JSON for CI.

python ci/matrix.py                 # {"include": [{"istio": "1.30", "scenario": "ip-passthrough"}, ...]}
python ci/matrix.py --upgrades      # consecutive certified releases: {"include": [{"from": "1.30", "to": "1.31"}, ...]}

The nightly certifies the supported releases that are not past their end of life (an EOL minor
stays selectable by hand, with a warning). Each job is given a minor, so the run certifies that
minor's newest GA patch (programs/release_index.py; the pin where the index cannot be read).
Sail runs at the newest patch the pinned Sail chart installs, given in full (a newer patch the
chart does not know would make it not applicable), and is left out where no chart installs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenarios.registry import SCENARIOS, ScenarioSpec
from scenarios.releases import Pins, load_pins


def certification_matrix(
    pins: Pins | None = None, today: date | None = None
) -> dict[str, list[dict[str, str]]]:
    pins = pins or load_pins()
    include: list[dict[str, str]] = []
    for minor in pins.nightly(today or date.today()):
        for spec in SCENARIOS:
            version = _version(spec, pins, minor)
            if version is not None:
                include.append({"istio": version, "scenario": spec.id})
    return {"include": include}


def _version(spec: ScenarioSpec, pins: Pins, minor: str) -> str | None:
    """The --istio-version ``spec`` is certified at for ``minor`` (None: not at all)."""
    return spec.nightly_version(minor, pins.profiles[minor])


def upgrade_matrix(pins: Pins | None = None, today: date | None = None) -> dict[str, list[dict[str, str]]]:
    nightly = (pins or load_pins()).nightly(today or date.today())
    return {"include": [{"from": old, "to": new} for old, new in pairwise(nightly)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrades", action="store_true", help="pairs of consecutive certified releases")
    args = parser.parse_args()
    print(json.dumps(upgrade_matrix() if args.upgrades else certification_matrix()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
