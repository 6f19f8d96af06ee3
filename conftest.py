"""Registers the suite's plugin modules; the options live in fixtures/options.py, the hooks the
plugins tell each other by in fixtures/hookspecs.py."""

pytest_plugins = [
    "fixtures.options",
    "fixtures.core",
    "fixtures.termination",
    "fixtures.plan",
    "fixtures.topology_plugin",
    "fixtures.scenario_plugin",
    "fixtures.upgrade_plugin",
    "fixtures.reports_plugin",
    "fixtures.progress",
]
