"""What one pytest process knows about its run: the timeline and the facts it learnt (run/info.py).

One ``RunState`` per pytest ``Config``, kept in ``config.stash`` (``run_state(config)``), so
in-process child runs (pytester) never see an outer run's records and nothing lives in a
module global. Plugins reach it through the config, fixtures through ``timeline`` and
``run_facts``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from run.info import RunFacts
from run.timeline import Timeline


@dataclass
class RunState:
    timeline: Timeline = field(default_factory=Timeline)
    facts: RunFacts = field(default_factory=RunFacts)


RUN_STATE = pytest.StashKey[RunState]()


def run_state(config: pytest.Config) -> RunState:
    """This run's state, created on first use."""
    return config.stash.setdefault(RUN_STATE, RunState())
