#!/usr/bin/env bash
# Certification on kind clusters, from a fresh machine: virtual environment, dependencies and
# tools, then the conformance checks. Needs Docker and a host that can run kind clusters.
#
#   bash ci/certify.sh [pytest options, e.g. --istio-version 1.30 --scenario ip-passthrough]
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${EICP_VENV:-.venv}
REPORT_DIR=${EICP_REPORT_DIR:-eicp-report}
step() { printf '\n==> %s\n' "$*"; }

step "Python environment ($VENV)"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .

step "Tools (cache, download, else Go build)"
"$VENV/bin/python" -m programs.tools_cli kind cloud-provider-kind helm kubectl

step "Conformance run"
"$VENV/bin/python" -m pytest suites -n "${EICP_WORKERS:-0}" --dist loadgroup \
  --report-dir "$REPORT_DIR" --alluredir "$REPORT_DIR/allure-results" "$@"
