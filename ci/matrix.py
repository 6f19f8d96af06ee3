"""Print the certification matrix (supported Istio release x scenario) as JSON for CI.

python ci/matrix.py                 # {"include": [{"istio": "1.29", "scenario": "ip-passthrough"}, ...]}
python ci/matrix.py --upgrades      # consecutive supported releases: {"include": [{"from": "1.29", "to": "1.30"}, ...]}
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scenarios.releases import load_pins
from scenarios.steps import SCENARIO_IDS


def certification_matrix() -> dict[str, list[dict[str, str]]]:
    pins = load_pins()
    return {
        "include": [
            {"istio": minor, "scenario": scenario} for minor in pins.supported for scenario in SCENARIO_IDS
        ]
    }


def upgrade_matrix() -> dict[str, list[dict[str, str]]]:
    supported = load_pins().supported
    return {"include": [{"from": old, "to": new} for old, new in pairwise(supported)]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrades", action="store_true", help="pairs of consecutive supported releases")
    args = parser.parse_args()
    print(json.dumps(upgrade_matrix() if args.upgrades else certification_matrix()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
