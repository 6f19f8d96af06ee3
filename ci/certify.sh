#!/usr/bin/env bash
# Certification on kind clusters, from a fresh machine: virtual environment, dependencies and
# tools, then the conformance checks. Needs Docker and a host that can run kind clusters.
#
#   bash ci/certify.sh [pytest options, e.g. --istio-version 1.30 --scenario ip-passthrough]
#   bash ci/certify.sh --offline-snapshot --topology-mode kwok [pytest options]
#
# --offline-snapshot (this script's own flag, not pytest's): certify the pinned Istio source
# snapshot (versions.yaml offline_istioctl) instead of a release, with istioctl and
# pilot-discovery built from it; for machines that can fetch no Istio release (the self-tests'
# control-plane tier runs this way). The reports name the snapshot, never a release.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${EICP_VENV:-.venv}
REPORT_DIR=${EICP_REPORT_DIR:-eicp-report}
step() { printf '\n==> %s\n' "$*"; }

step "Python environment ($VENV)"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e .

# The tools step takes the run's own tool options, and only the tools its mode uses.
tool_args=() mode=kind snapshot=no
args=()
for arg in "$@"; do
  if [ "$arg" = --offline-snapshot ]; then snapshot=yes; else args+=("$arg"); fi
done
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --tool-path | --tools-dir) tool_args+=("${args[i]}" "${args[i + 1]:-}"); i=$((i + 1)) ;;
    --tool-path=* | --tools-dir=* | --no-download) tool_args+=("${args[i]}") ;;
    --topology-mode) mode=${args[i + 1]:-kind}; i=$((i + 1)) ;;
    --topology-mode=*) mode=${args[i]#--topology-mode=} ;;
  esac
done
case "$mode" in
  existing) tools=(kubectl helm) ;;
  kwok) tools=(kwok-tier) ;;  # sail, the one user of helm, is not applicable in kwok mode
  *) tools=(kind cloud-provider-kind kubectl helm) ;;
esac

# Before any tool is resolved or built: a host that cannot run the mode hears why in seconds
# (without Docker, the message names the kwok-mode command that works here; exit 2).
step "Host preflight for --topology-mode $mode"
"$VENV/bin/python" -m clusters.preflight_cli --topology-mode "$mode"

step "Tools for --topology-mode $mode (explicit paths, cache, download, Go build, else PATH)"
"$VENV/bin/python" -m programs.tools_cli "${tool_args[@]}" "${tools[@]}"

if [ "$snapshot" = yes ]; then
  step "The offline Istio source snapshot: istioctl and pilot-discovery built from it"
  built=$("$VENV/bin/python" -m programs.tools_cli "${tool_args[@]}" istioctl-offline pilot-discovery-offline)
  echo "$built"
  istioctl=$(sed -n 's/^istioctl [^:]*: \(.*\) ([a-z ]*)$/\1/p' <<<"$built")
  pilot=$(sed -n 's/^pilot-discovery [^:]*: \(.*\) ([a-z ]*)$/\1/p' <<<"$built")
  tag=$("$VENV/bin/python" -c 'from scenarios.releases import load_pins; print(load_pins().offline_istioctl["reports_as"])')
  args+=(--istio-version "${tag%%-*}" --istioctl "$istioctl" --istio-tag "$tag"
    --tool-path "pilot-discovery=$pilot")
fi

step "Conformance run"
"$VENV/bin/python" -m pytest suites -n "${EICP_WORKERS:-0}" --dist loadgroup \
  --report-dir "$REPORT_DIR" --alluredir "$REPORT_DIR/allure-results" "${args[@]}"
