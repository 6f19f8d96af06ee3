"""What ``--istio-source SOURCE`` names: an ``IstioSource`` (scenarios/sources.py), found out
before any work so that a bad value is refused with exit code 4.

SOURCE is either

- ``istio.io/istio@VERSION``: a Go module version (``go mod download -json`` fetches it into
  the Go module cache, read-only there); its commit and date come from the pseudo-version or
  the module's ``.info``, its branch from versions.yaml ``istio_sources.known`` when listed;
- a directory: a local Istio checkout (``go.mod`` says ``module istio.io/istio``) under git,
  at its top level, with at least one commit; its revision is ``HEAD`` and, when it has
  uncommitted changes (tracked or untracked, not ignored), the sha256 of those changes, so
  that a changed file makes a new source (and a new build), never a stale one.

Either way the tree's own ``VERSION`` file is read (the release profile is chosen from it by
``Pins.source_release``).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from datetime import date, datetime
from pathlib import Path

from programs.runner import CommandError, CommandRunner
from run.timeouts import SOURCE_GIT, SOURCE_GO_DOWNLOAD
from scenarios.releases import Pins
from scenarios.sources import ISTIO_MODULE, IstioSource, pseudo_version_date, pseudo_version_revision

# An exact Go module version: semver with an optional pre-release (pseudo-versions included);
# queries such as "latest" or a branch name would pin nothing.
_MODULE_VERSION = re.compile(r"^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+incompatible)?$")
ACCEPTED = (
    f"{ISTIO_MODULE}@VERSION (an exact Go module version, e.g. "
    f"{ISTIO_MODULE}@v0.0.0-20260827124520-eed52ebb66ad) or a local Istio checkout (a directory)"
)


class SourceError(ValueError):
    """The value does not name a usable Istio source; the message says why and what is accepted."""


def inspect_source(
    text: str, pins: Pins, runner: CommandRunner, *, go: str = "go", git: str = "git"
) -> IstioSource:
    """The source ``text`` names (raise ``SourceError`` naming the value and what is accepted)."""
    if text.startswith(f"{ISTIO_MODULE}@"):
        return module_source(text.split("@", 1)[1], pins, runner, go=go)
    if "@" in text and not Path(text).exists():
        raise SourceError(f"{text!r} is not a module of Istio: accepted are {ACCEPTED}")
    path = Path(text).expanduser()
    if not path.is_dir():
        raise SourceError(
            f"{text!r} is neither {ISTIO_MODULE}@VERSION nor an existing directory: accepted are {ACCEPTED}"
        )
    return directory_source(path.resolve(), runner, git=git)


def module_source(version: str, pins: Pins, runner: CommandRunner, *, go: str = "go") -> IstioSource:
    spec = f"{ISTIO_MODULE}@{version}"
    if not _MODULE_VERSION.match(version):
        raise SourceError(f"{spec}: {version!r} is not an exact Go module version: accepted are {ACCEPTED}")
    binary = shutil.which(go)
    if binary is None:
        raise SourceError(f"{spec}: {go!r} is not on PATH (an Istio source is fetched and built with Go)")
    with tempfile.TemporaryDirectory(prefix="eicp-source-") as outside_any_module:
        try:
            result = runner.run(
                [binary, "mod", "download", "-json", spec],
                cwd=Path(outside_any_module),
                env={"GOFLAGS": "-mod=mod"},
                timeout_s=SOURCE_GO_DOWNLOAD.seconds(),
                title=f"go mod download {spec}",
                check=False,
                attach=False,
            )
        except CommandError as error:
            raise SourceError(f"{spec}: go mod download failed: {_one_line(error)}") from None
    try:
        info = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        info = {}
    if result.returncode != 0 or "Dir" not in info:
        why = info.get("Error") or result.stderr or "no module directory"
        raise SourceError(f"{spec}: the Go module proxy does not serve it: {_one_line(why)}")
    module_dir = Path(str(info["Dir"]))
    pinned = pins.sources.get(version)
    committed, origin_hash = _module_info(Path(str(info.get("Info", ""))))
    return IstioSource(
        kind="module",
        location=version,
        revision=origin_hash or pseudo_version_revision(version) or version,
        version_file=_version_file(module_dir, spec),
        # The pseudo-version's timestamp is the commit's; a proxy's .info Time may be later.
        committed=pseudo_version_date(version) or committed or (pinned.committed if pinned else None),
        branch=pinned.branch if pinned else None,
    )


def directory_source(path: Path, runner: CommandRunner, *, git: str = "git") -> IstioSource:
    spec = str(path)
    go_mod = path / "go.mod"
    module = (
        re.search(r"^module\s+(\S+)", go_mod.read_text(errors="replace"), re.M) if go_mod.is_file() else None
    )
    if module is None or module.group(1) != ISTIO_MODULE:
        raise SourceError(
            f"{spec}: not an Istio checkout (its go.mod does not declare module {ISTIO_MODULE})"
        )
    version_file = _version_file(path, spec)
    if shutil.which(git) is None:
        raise SourceError(
            f"{spec}: {git!r} is not on PATH (a checkout's builds are keyed by its git revision)"
        )

    def ask(*args: str) -> str:
        result = runner.run(
            [git, "-C", spec, *args],
            timeout_s=SOURCE_GIT.seconds(),
            title=f"git {args[0]} ({spec})",
            check=False,
            attach=False,
        )
        if result.returncode != 0:
            raise SourceError(
                f"{spec}: not a usable git checkout (git {' '.join(args)}: {_one_line(result.stderr or result.stdout)}); "
                "its builds are cached by git revision, so it must be a repository with at least one commit"
            )
        return result.stdout

    top = Path(ask("rev-parse", "--show-toplevel").strip()).resolve()
    if top != path:
        raise SourceError(f"{spec}: is inside the git checkout {top}; pass the checkout's top level")
    revision = ask("rev-parse", "HEAD").strip()
    committed = ask("log", "-1", "--format=%cI", "HEAD").strip()
    return IstioSource(
        kind="directory",
        location=spec,
        revision=revision,
        version_file=version_file,
        committed=datetime.fromisoformat(committed).date() if committed else None,
        dirty_digest=uncommitted_digest(path, runner, git=git),
    )


def uncommitted_digest(path: Path, runner: CommandRunner, *, git: str = "git") -> str | None:
    """sha256 over a checkout's uncommitted changes: the path and current content (or its
    absence) of every file ``git status`` lists, tracked or untracked (ignored files are not
    part of the source); ``None`` when it is clean."""
    status = runner.run(
        [git, "-C", str(path), "status", "--porcelain=v1", "-z", "--untracked-files=all"],
        timeout_s=SOURCE_GIT.seconds(),
        title=f"git status ({path})",
        attach=False,
    ).stdout
    names: set[str] = set()
    fields = iter(status.split("\0"))
    for entry in fields:
        if len(entry) < 4:
            continue
        names.add(entry[3:])
        if entry[0] in "RC":  # a rename or copy: the next field is the original path
            names.add(next(fields, ""))
    names.discard("")
    if not names:
        return None
    digest = hashlib.sha256()
    for name in sorted(names):
        file = path / name
        digest.update(b"\0" + name.encode("utf-8", errors="surrogateescape") + b"\0")
        if file.is_symlink():
            digest.update(b"symlink:" + str(file.readlink()).encode())
        elif file.is_file():
            digest.update(file.read_bytes())
        else:
            digest.update(b"absent")
    return digest.hexdigest()


def _version_file(root: Path, spec: str) -> str:
    try:
        text = (root / "VERSION").read_text(encoding="utf-8").strip()
    except OSError:
        raise SourceError(
            f"{spec}: has no VERSION file at its top level (an Istio source names its minor there)"
        ) from None
    if not text:
        raise SourceError(f"{spec}: its VERSION file is empty")
    return text


def _module_info(info: Path) -> tuple[date | None, str | None]:
    """The commit date and hash a module's ``.info`` file records (either may be missing)."""
    try:
        data = json.loads(info.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None, None
    committed: date | None = None
    if data.get("Time"):
        try:
            committed = datetime.fromisoformat(str(data["Time"]).replace("Z", "+00:00")).date()
        except ValueError:
            committed = None
    origin = data.get("Origin") or {}
    return committed, (str(origin["Hash"]) if origin.get("Hash") else None)


def _one_line(error: object) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= 300 else text[:297] + "..."
