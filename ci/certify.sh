#!/usr/bin/env bash
# Certification on kind clusters, from a fresh machine: virtual environment, dependencies and
# tools, then the conformance checks. Needs Docker and a host that can run kind clusters.
#
#   bash ci/certify.sh [pytest options, e.g. --istio-version 1.30 --scenario ip-passthrough]
#   bash ci/certify.sh --offline-snapshot --topology-mode kwok [pytest options]
#
# --offline-snapshot (this script's own flag, not pytest's): certify the Istio source the tiers
# pin (versions.yaml istio_sources.tier) instead of a release: short for --istio-source
# istio.io/istio@<that version>, for machines that can fetch no Istio release (the self-tests'
# control-plane tier runs this way). The reports name the source, never a release. Sources
# given with --istio-source / --upgrade-to-source are built in the tools step.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${EICP_VENV:-.venv}
REPORT_DIR=${EICP_REPORT_DIR:-eicp-report}
step() { printf '\n==> %s\n' "$*"; }

step "Python environment ($VENV)"
# shellcheck source=ci/python_env.sh
source ci/python_env.sh
python_env "$VENV"

# The tools step takes the run's own tool options, and only the tools its mode uses.
tool_args=() mode=kind sources=() egress=none plan=no
args=()
for arg in "$@"; do
  if [ "$arg" = --offline-snapshot ]; then
    args+=(--istio-source "istio.io/istio@$("$VENV/bin/python" -c 'from scenarios.releases import load_pins; print(load_pins().tier_source())')")
  else args+=("$arg"); fi
done
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --tool-path | --tools-dir) tool_args+=("${args[i]}" "${args[i + 1]:-}"); i=$((i + 1)) ;;
    --tool-path=* | --tools-dir=* | --no-download) tool_args+=("${args[i]}") ;;
    --istio-source | --upgrade-to-source) sources+=(--istio-source "${args[i + 1]:-}"); i=$((i + 1)) ;;
    --istio-source=* | --upgrade-to-source=*) sources+=(--istio-source "${args[i]#*=}") ;;
    --topology-mode) mode=${args[i + 1]:-kind}; i=$((i + 1)) ;;
    --topology-mode=*) mode=${args[i]#--topology-mode=} ;;
    --egress-gateway) egress=${args[i + 1]:-none}; i=$((i + 1)) ;;
    --egress-gateway=*) egress=${args[i]#--egress-gateway=} ;;
    --plan) plan=yes ;;
  esac
done
case "$mode" in
  existing) tools=(kubectl helm) ;;
  kwok) tools=(kwok-tier) ;;  # sail is not applicable in kwok mode: helm only for the egress gateway
  *) tools=(kind cloud-provider-kind kubectl helm) ;;
esac
if [ "$mode" = kwok ] && [ "$egress" = helm ]; then tools+=(helm); fi

if [ "$plan" = yes ]; then
  # --plan renders every step and touches no cluster and no tool: neither the host nor the
  # mode's tools matter to it.
  step "--plan: no host preflight and no tools (nothing is run against a cluster)"
else
  # Before any tool is resolved or built: a host that cannot run the mode hears why in seconds
  # (without Docker, the message names the kwok-mode command that works here; exit 2).
  step "Host preflight for --topology-mode $mode"
  "$VENV/bin/python" -m clusters.preflight_cli --topology-mode "$mode"

  step "Tools for --topology-mode $mode (explicit paths, cache, download, Go build, else PATH)"
  "$VENV/bin/python" -m programs.tools_cli "${tool_args[@]}" "${tools[@]}"
  if [ ${#sources[@]} -gt 0 ]; then
    step "Istio sources: istioctl, pilot-discovery and the synthetic proxy built from each (cached)"
    "$VENV/bin/python" -m programs.tools_cli "${tool_args[@]}" "${sources[@]}"
  fi
fi

step "Conformance run"
"$VENV/bin/python" -m pytest suites -n "${EICP_WORKERS:-0}" --dist loadgroup \
  --report-dir "$REPORT_DIR" --alluredir "$REPORT_DIR/allure-results" "${args[@]}"
