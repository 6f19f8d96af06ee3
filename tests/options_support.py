"""The suite's options parsed in-process, as pytest would parse them (layer 1, no child pytest):
``option_getter(*args)`` is what fixtures/options.py hands ``run.config.build_config``."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest

from fixtures.options import pytest_addoption


def option_getter(*args: str) -> Callable[[str], Any]:
    """``option("--flag")`` for the command line ``args`` (suite options only)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pytest.PytestDeprecationWarning)  # the parser class is private
        from _pytest.config.argparsing import Parser

        parser = Parser()
    pytest_addoption(parser)
    namespace = parser.parse(list(args))

    def option(flag: str) -> Any:
        return getattr(namespace, flag.lstrip("-").replace("-", "_"))

    return option
