"""``--timeout`` values (``NAME=SECONDS`` or a YAML file of them) read and checked against the one
timeout table (run/timeouts.py)."""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from run.timeouts import TABLE, TimeoutsError


def parse(values: list[str]) -> dict[str, float]:
    """``--timeout`` values (``NAME=SECONDS`` or a YAML file of them) -> overrides, validated."""
    found: dict[str, float] = {}
    for value in values:
        name, sep, number = value.partition("=")
        pairs = [(name, number)] if sep else _from_file(value)
        for key, text in pairs:
            found[_known(key, value)] = _positive(key, text)
    return found


def _known(name: str, value: str) -> str:
    if name not in TABLE:
        raise TimeoutsError(
            f"--timeout {value!r}: unknown deadline {name!r}; known deadlines (--plan lists them with "
            f"their defaults): {', '.join(TABLE)}"
        )
    return name


def _positive(name: str, text: object) -> float:
    try:
        seconds = float(str(text))
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise TimeoutsError(f"--timeout {name}={text}: must be a positive, finite number of seconds")
    return seconds


def _from_file(value: str) -> list[tuple[str, object]]:
    path = Path(value)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise TimeoutsError(
            f"--timeout {value!r}: expected NAME=SECONDS or a YAML file of them ({error.strerror})"
        ) from None
    except yaml.YAMLError as error:
        raise TimeoutsError(f"--timeout {value}: not YAML: {' '.join(str(error).split())[:200]}") from None
    if not isinstance(data, dict):
        raise TimeoutsError(f"--timeout {value}: expected a mapping of deadline names to seconds")
    return [(str(key), seconds) for key, seconds in data.items()]
