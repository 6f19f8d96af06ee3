# shellcheck shell=bash
# Sourced by ci/certify.sh and ci/selftest.sh: the project's virtual environment, installed
# only when something the install depends on changed, and quiet unless the install fails.
#
#   python_env VENV [EXTRAS]     e.g. python_env .venv dev
#
# The stamp ($VENV/.eicp-install-stamp) holds a hash of pyproject.toml, the checkout the
# editable install points at, the Python version, the extras installed and the project version
# then installed. A warm start whose pyproject.toml, checkout and installed version match it (and
# whose extras it covers) skips pip altogether. Otherwise pip upgrades itself and installs the
# project (editable) with its output in $VENV/pip-install.log, printed only when pip fails.
# EICP_FORCE_INSTALL=1 installs regardless of the stamp.

PROJECT_DIST=istio-external-control-plane-conformance

# "<pyproject sha256> <checkout> <python version> <installed version or none>", from the venv's
# own Python: one interpreter start, no pip.
_python_env_state() {
  "$1/bin/python" - "$PROJECT_DIST" <<'PY'
import hashlib, importlib.metadata, os, platform, sys
try:
    installed = importlib.metadata.version(sys.argv[1])
except importlib.metadata.PackageNotFoundError:
    installed = "none"
digest = hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest()
print(digest, os.getcwd(), platform.python_version(), installed)
PY
}

python_env() {
  local venv=$1 extras=${2:-} spec=. stamp log state
  [ -n "$extras" ] && spec=".[$extras]"
  stamp="$venv/.eicp-install-stamp"  # line 1: the state; line 2: the extras installed
  log="$venv/pip-install.log"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  state=$(_python_env_state "$venv")
  if [ "${EICP_FORCE_INSTALL:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$state" ] \
    && { [ -z "$extras" ] || [ "$(sed -n 2p "$stamp")" = "$extras" ]; }; then
    echo "up to date: $PROJECT_DIST ${state##* } ($spec; pyproject.toml unchanged since it was installed)"
    return 0
  fi
  echo "installing $PROJECT_DIST ($spec) into $venv (first install, or pyproject.toml or the install changed)"
  if ! { "$venv/bin/python" -m pip install --disable-pip-version-check --upgrade pip \
    && "$venv/bin/python" -m pip install --disable-pip-version-check -e "$spec"; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "pip install of $spec failed (its full output is above, and in $log)" >&2
    rm -f "$stamp"
    return 1
  fi
  state=$(_python_env_state "$venv")
  printf '%s\n%s\n' "$state" "$extras" >"$stamp"
  echo "installed: $PROJECT_DIST ${state##* } (pip's output: $log)"
}
