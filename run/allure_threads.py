"""Allure steps and attachments from the threads of a fork (run/lanes.py) land under the step
that forked them.

allure-pytest keeps one stack of open items per thread (``allure_commons.reporter
.ThreadContextItems``) and starts a new thread's stack with the *last* item of the thread that
created the reporter. When that item is not a step or a test (a fixture's container, left last
by a fixture set up inside another), a step or attachment in the new thread finds no parent:
an attachment then fails (``KeyError: None``). ``adopt(parent)`` gives the calling thread's
stack the innermost open step, fixture or test of ``parent`` (the thread that forked), the
parent allure-pytest would have picked had the work run in that thread.

Only allure-pytest's reporter is touched, through the attributes named here; with another
version that lacks them, or without Allure (no ``--alluredir``), nothing happens.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any

log = logging.getLogger("eicp.allure")


def _contexts() -> list[Any]:
    """The per-thread item stores (``defaultdict(thread -> OrderedDict)``) of Allure's reporters."""
    try:
        from allure_commons import plugin_manager
    except ImportError:
        return []
    found = []
    for plugin in plugin_manager.get_plugins():
        items = getattr(getattr(plugin, "allure_logger", None), "_items", None)
        context = getattr(items, "_thread_context", None)
        if context is not None:
            found.append(context)
    return found


def adopt(parent: threading.Thread) -> None:
    """Open Allure items of the calling thread start at ``parent``'s innermost step, fixture or test."""
    try:
        from allure_commons.model2 import ExecutableItem
    except ImportError:
        return
    me = threading.current_thread()
    for context in _contexts():
        try:
            stack = context.get(parent) or OrderedDict()
            innermost = next(
                ((uuid, item) for uuid, item in reversed(stack.items()) if isinstance(item, ExecutableItem)),
                None,
            )
            if innermost is not None:
                context[me] = OrderedDict([innermost])
        except Exception:  # another allure-pytest's internals: the report may lack the steps, the run goes on
            log.debug("cannot hand the forking thread's Allure step to %s", me.name, exc_info=True)
