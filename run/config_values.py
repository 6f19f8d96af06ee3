"""Checks of single option values: paths, image references, URLs, host and object names.

Each check raises ``ConfigError`` with a message that names the value (``shown``: quoted,
control bytes escaped, a huge value cut) and what is accepted. Patterns are matched whole
(``fullmatch``: ``$`` would let a trailing newline through) and in ASCII only (``\\d`` and a
case-insensitive ``[a-z]`` accept look-alikes such as ``０`` or the Kelvin sign). Nothing here
creates anything: a directory the run will write to is only checked to be creatable.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import re
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A bad option value; the message names it and what is accepted."""


def fail(message: str) -> NoReturn:
    raise ConfigError(message)


_SHOWN_LIMIT = 300  # a huge value (thousands of digits) is cut; paths are not


def shown(value: object) -> str:
    """``value`` as a message names it: its repr (quotes, escapes), cut when it is huge."""
    text = repr(str(value))
    return (
        text
        if len(text) <= _SHOWN_LIMIT
        else f"{text[: _SHOWN_LIMIT - 4]}...' ({len(str(value))} characters)"
    )


# Docker's reference grammar (distribution/reference): a registry host with an optional port,
# then lowercase path components separated by '/', a tag of up to 128 word characters, dots
# and dashes, a digest. Components cannot be '..' or start or end with a separator.
_HOST_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*(?::[0-9]{{1,5}})?"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_HUB_RE = re.compile(_REPOSITORY, re.ASCII)
_TAG_RE = re.compile(_TAG, re.ASCII)
_IMAGE_RE = re.compile(rf"{_REPOSITORY}(?::{_TAG})?(?:@{_DIGEST})?", re.ASCII)
_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?"
_DNS_LABEL_RE = re.compile(_DNS_LABEL, re.ASCII)
_SUBDOMAIN_RE = re.compile(rf"(?=.{{1,253}}\Z){_DNS_LABEL}(?:\.{_DNS_LABEL})*", re.ASCII)
_HOSTNAME_RE = re.compile(rf"(?=.{{1,253}}\Z){_HOST_LABEL}(?:\.{_HOST_LABEL})*", re.ASCII)
_PREFIX_RE = re.compile(r"[a-z](?:[a-z0-9-]{0,18}[a-z0-9])?", re.ASCII)


def check_path_text(flag: str, text: str) -> Path:
    """A path as given: not empty, not only white space, no NUL, no control byte."""
    if not text.strip():
        fail(f"{flag} {shown(text)}: an empty or blank path names no file; pass a path")
    if re.search(r"[\x00-\x1f\x7f]", text):
        fail(f"{flag} {shown(text)}: a path with a control character (newline, NUL...); pass a plain path")
    return Path(text).expanduser()


def _exists(path: Path, flag: str, given: Path) -> bool:
    try:
        return path.exists()
    except OSError as error:  # a name longer than the system allows, a loop of links
        fail(f"{flag} {shown(given)}: {error.strerror or error}; pass a shorter path")


def check_directory(flag: str, path: Path) -> Path:
    """A directory the run will write to: an existing writable directory, or one that can be
    created (no part of the path is a file, the nearest existing part is a writable directory,
    no name is longer than the file system allows). Nothing is created here."""
    limit = _name_limit(path)
    for part in path.parts:
        if len(part.encode()) > limit:
            fail(
                f"{flag} {shown(path)}: a name of {len(part.encode())} bytes is longer than this file "
                f"system allows ({limit}); pass a shorter path"
            )
    for candidate in (path, *path.parents):
        if not _exists(candidate, flag, path):
            continue
        if not candidate.is_dir():
            fail(f"{flag} {path}: {candidate} is a file, not a directory; pass a directory path")
        if not os.access(candidate, os.W_OK | os.X_OK):
            problem = (
                "is not writable" if candidate == path else f"cannot be created ({candidate} is not writable)"
            )
            fail(f"{flag} {path}: {problem} by this user; pass a writable directory")
        return path
    fail(f"{flag} {path}: no part of it exists; pass a path under an existing directory")


def make_directory(flag: str, path: Path) -> Path:
    """Create a directory ``check_directory`` accepted, once every option was found good (the
    options plugin calls this when the session starts, never for --plan)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        fail(f"{flag} {path}: cannot be created ({error.strerror or error}); pass a writable directory")
    return path


def _name_limit(path: Path) -> int:
    for candidate in (path, *path.parents):
        try:
            return os.pathconf(candidate, "PC_NAME_MAX")
        except OSError as error:
            if error.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ENAMETOOLONG):
                break
    return 255


def check_tool_path(flag: str, path: Path) -> Path:
    """An executable file: refuse a missing path, a directory, or a file without execute permission."""
    where = f"{flag} {shown(path)}" if str(path) not in flag else flag
    if not _exists(path, flag, path):
        fail(f"{where}: no such file; pass the path of an executable")
    if path.is_dir():
        fail(f"{where}: is a directory; pass the path of the executable itself")
    if not os.access(path, os.X_OK):
        fail(f"{where}: is not executable (chmod +x it, or pass another binary)")
    return path


def check_hub(hub: str) -> str:
    if not _HUB_RE.fullmatch(hub):
        fail(
            f"--istio-hub {shown(hub)} is not an image registry reference: expected [HOST[:PORT]/]PATH in "
            "lowercase, without a tag or digest, e.g. docker.io/istio or localhost:5000/istio-testing"
        )
    return hub


def check_tag(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        fail(
            f"--istio-tag {shown(tag)} is not an image tag: expected 1-128 letters, digits, '_', '.' or '-' "
            "not starting with '.' or '-', e.g. 1.31.1 or 1.32-alpha.abc123"
        )
    return tag


def check_image(flag: str, image: str) -> str:
    """An image reference in Docker's grammar: ``[HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST]``."""
    if not _IMAGE_RE.fullmatch(image):
        fail(
            f"{flag} {shown(image)} is not an image reference: expected [HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST] "
            "in ASCII, path components in lowercase without '..', e.g. kindest/node:v1.35.0"
        )
    return image


def check_prefix(prefix: str) -> str:
    if not _PREFIX_RE.fullmatch(prefix):
        fail(
            f"--cluster-prefix {shown(prefix)}: use 1-20 characters of a-z, 0-9 and '-', starting with a "
            "letter and not ending with '-'"
        )
    return prefix


def check_dns_label(flag: str, value: str, what: str) -> str:
    if not _DNS_LABEL_RE.fullmatch(value):
        fail(
            f"{flag} {shown(value)} is not a DNS-1123 label: 1-63 characters of a-z, 0-9 and '-', "
            f"starting and ending with a letter or digit ({what})"
        )
    return value


def check_secret_name(flag: str, value: str) -> str:
    """A Kubernetes object name (DNS-1123 subdomain), as a Secret's is."""
    if not _SUBDOMAIN_RE.fullmatch(value):
        fail(
            f"{flag} {shown(value)} is not a Kubernetes Secret name: up to 253 characters of a-z, 0-9, "
            "'-' and '.', each dot-separated part starting and ending with a letter or digit"
        )
    return value


def check_hostname(flag: str, value: str) -> str:
    """An RFC 1123 host name, in ASCII, that is not an IP address (its TLD is not all digits)."""
    if not _HOSTNAME_RE.fullmatch(value) or value.rsplit(".", 1)[-1].isdigit():
        fail(
            f"{flag} {shown(value)} is not an RFC 1123 host name: use ASCII letters, digits, '-' and dots "
            "only (no IP address, scheme, port, path, spaces or underscores), e.g. istiod.example.com"
        )
    return value


def check_https_url(flag: str, value: str) -> str:
    """An API server URL: https, a host name or IP address, an optional port, no credentials,
    query or fragment."""
    problem = _url_problem(value)
    if problem is not None:
        fail(
            f"{flag} {shown(value)}: {problem}; expected https://HOST[:PORT][/PATH], e.g. https://10.0.0.5:6443"
        )
    return value


def _url_problem(value: str) -> str | None:
    if not value.isascii() or re.search(r"[\s\x00-\x1f\x7f]", value):
        return "not a URL (white space, control or non-ASCII characters)"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        return f"not a URL ({error})"
    problems = (
        (parts.scheme != "https", "not an https:// URL"),
        (
            parts.username is not None or parts.password is not None,
            "it holds credentials (user@ or user:password@); the kubeconfig holds those",
        ),
        (bool(parts.query or parts.fragment) or value.endswith(("?", "#")), "it has a query or a fragment"),
        (port == 0, "port 0 is not a port"),
        (not _is_host(parts.hostname or ""), f"{parts.hostname or ''!r} is not a host name or an IP address"),
    )
    return next((problem for failed, problem in problems if failed), None)


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOSTNAME_RE.fullmatch(host) is not None
    return True
