#!/usr/bin/env bash
# Installs the tools that check the operator kit (deploy/): promtool, kustomize and an
# offline Kubernetes schema validator. Safe to run before every `make test`: when every
# tool is already there at the pinned version it does nothing and takes well under a
# second. On any failure it prints ONE line starting with "install-tools:" and exits 1.
#
#   promtool            Debian package `prometheus` (promtool ships only in it). The
#                       package's daemon is never left running: service starts are
#                       blocked while installing, and stopped/disabled if one slipped through.
#   kustomize           `go install` from the Go module proxy into .lgsp/tools/bin
#                       (ignored by git), pinned below.
#   postgresql          Debian package `postgresql`: the index tests start their own server
#                       (initdb/pg_ctl from /usr/lib/postgresql/*/bin) on loopback in a
#                       temporary directory; the package's own cluster is never started.
#   kubernetes-validate PyPI, into the project venv. It bundles the Kubernetes JSON
#                       schemas, so validation needs no network (kubeconform would fetch
#                       its schemas from GitHub, which these machines cannot reach).
#                       types-PyYAML comes along for mypy on tests/deploy.
#   chromium            Debian package `chromium`: the console tests (tests/console) drive
#                       it headless with Playwright (`playwright` in the dev extra), launched
#                       with executable_path=/usr/bin/chromium. Playwright's own browser
#                       download (`playwright install`) is never used.
set -Eeuo pipefail
# Anything failing that is not handled below still ends in one line, not a bare exit.
trap 'echo "install-tools: unexpected failure (exit $?) at line $LINENO of $0" >&2' ERR

KUSTOMIZE_VERSION="v5.7.1"
KUBERNETES_VALIDATE_VERSION="1.37.0"
TYPES_PYYAML_VERSION="6.0.12.20261113"

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_BIN="$REPO/.lgsp/tools/bin"
VENV_BIN="${LGSP_VENV_BIN:-$REPO/.venv/bin}"
LOG_DIR="$REPO/.lgsp/tools/logs"

fail() {
    echo "install-tools: $*" >&2
    exit 1
}

# Commands that need root: run directly as root, through passwordless sudo otherwise.
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        return 1
    fi
}

# ---------------------------------------------------------------------------- promtool
prometheus_service_running() {
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
        return 0
    fi
    # sysvinit / no systemd: the Debian init script keeps its pid here.
    local pidfile=/run/prometheus/prometheus.pid
    [[ -r $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

stop_prometheus_service() {
    # Only the package's own service is stopped (never a Prometheus someone started by
    # hand, e.g. for the demo): through systemd or the init script, which act on its pid.
    # On a systemd host the package also enables the unit; disable it so it does not
    # come up at the next boot and hold port 9090, which the demo's Prometheus wants.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        as_root systemctl disable --now prometheus >/dev/null 2>&1 || true
    fi
    if [[ -x /etc/init.d/prometheus ]] && prometheus_service_running; then
        as_root /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    fi
    if prometheus_service_running; then
        fail "the prometheus package started a daemon that could not be stopped; run: systemctl stop prometheus"
    fi
}

install_promtool() {
    if command -v promtool >/dev/null 2>&1; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || fail "promtool is missing and apt-get is not available (install Prometheus' promtool by hand)"
    echo "install-tools: installing promtool (Debian package prometheus)" >&2
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/apt.log"
    # Refresh the package lists only when apt does not know the package yet.
    if ! apt-cache policy prometheus 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        as_root apt-get update -q >"$log" 2>&1 || fail "apt-get update failed (see $log)"
    fi
    # policy-rc.d answering 101 tells Debian maintainer scripts not to start services.
    local own_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        own_policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$own_policy" >/dev/null || fail "cannot write $own_policy (need root to install promtool)"
        as_root chmod 755 "$own_policy"
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus >>"$log" 2>&1 || rc=$?
    if [[ -n $own_policy ]]; then
        as_root rm -f "$own_policy"
    fi
    [[ $rc -eq 0 ]] || fail "apt-get install prometheus failed (exit $rc, see $log; root needed)"
    stop_prometheus_service
    command -v promtool >/dev/null 2>&1 || fail "package prometheus installed but promtool is not on PATH"
}

# -------------------------------------------------------------------------- postgresql
postgres_bin_dir() {
    local dir
    for dir in /usr/lib/postgresql/*/bin; do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
    done
    return 1
}

install_postgresql() {
    if postgres_bin_dir >/dev/null; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || fail "PostgreSQL (initdb, pg_ctl) is missing and apt-get is not available (install PostgreSQL by hand)"
    echo "install-tools: installing PostgreSQL (Debian package postgresql)" >&2
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/apt.log"
    if ! apt-cache policy postgresql 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        as_root apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed (see $log)"
    fi
    # As for promtool: maintainer scripts must not start the package's cluster.
    local own_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        own_policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' | as_root tee "$own_policy" >/dev/null || fail "cannot write $own_policy (need root to install PostgreSQL)"
        as_root chmod 755 "$own_policy"
    fi
    local rc=0
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >>"$log" 2>&1 || rc=$?
    if [[ -n $own_policy ]]; then
        as_root rm -f "$own_policy"
    fi
    [[ $rc -eq 0 ]] || fail "apt-get install postgresql failed (exit $rc, see $log; root needed)"
    postgres_bin_dir >/dev/null || fail "package postgresql installed but no /usr/lib/postgresql/*/bin/initdb"
}

# ---------------------------------------------------------------------------- chromium
install_chromium() {
    if command -v chromium >/dev/null 2>&1; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 || fail "chromium is missing and apt-get is not available (install Debian's chromium by hand)"
    echo "install-tools: installing Chromium (Debian package chromium) for the console tests" >&2
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/apt.log"
    if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        as_root apt-get update -q >>"$log" 2>&1 || fail "apt-get update failed (see $log)"
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        chromium fonts-dejavu-core >>"$log" 2>&1 \
        || fail "apt-get install chromium failed (see $log; root needed)"
    command -v chromium >/dev/null 2>&1 || fail "package chromium installed but chromium is not on PATH"
}

# --------------------------------------------------------------------------- kustomize
install_kustomize() {
    local bin="$TOOLS_BIN/kustomize"
    if [[ -x $bin ]] && "$bin" version 2>/dev/null | grep -qF "$KUSTOMIZE_VERSION"; then
        return 0
    fi
    command -v go >/dev/null 2>&1 || fail "kustomize is missing and Go is not installed (needed to build kustomize $KUSTOMIZE_VERSION)"
    echo "install-tools: building kustomize $KUSTOMIZE_VERSION with go install (about a minute, once)" >&2
    mkdir -p "$TOOLS_BIN" "$LOG_DIR"
    local log="$LOG_DIR/kustomize.log"
    # GOTOOLCHAIN=local: build with the installed Go rather than fetching another one;
    # -buildvcs=false: the module cache is not a git checkout.
    if ! GOBIN="$TOOLS_BIN" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false \
        go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >"$log" 2>&1; then
        fail "go install kustomize $KUSTOMIZE_VERSION failed (see $log)"
    fi
    "$bin" version 2>/dev/null | grep -qF "$KUSTOMIZE_VERSION" || fail "kustomize built but '$bin version' does not report $KUSTOMIZE_VERSION"
}

# ----------------------------------------------------------------- kubernetes-validate
install_kubernetes_validate() {
    [[ -x $VENV_BIN/python ]] || fail "no project virtualenv at $VENV_BIN (run make setup first)"
    # Any installed version will do (the lead may pin it in the dev extra instead); the
    # pin below is what gets installed when it is missing. One interpreter start checks both.
    if [[ -x $VENV_BIN/kubernetes-validate ]] && "$VENV_BIN/python" -c '
from importlib.metadata import version
version("kubernetes-validate"); version("types-PyYAML")' 2>/dev/null; then
        return 0
    fi
    echo "install-tools: installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into the venv" >&2
    mkdir -p "$LOG_DIR"
    local log="$LOG_DIR/pip.log"
    "$VENV_BIN/python" -m pip install -q --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
        "types-PyYAML==$TYPES_PYYAML_VERSION" >"$log" 2>&1 \
        || fail "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed (see $log)"
    [[ -x $VENV_BIN/kubernetes-validate ]] || fail "kubernetes-validate installed but $VENV_BIN/kubernetes-validate is missing"
}

install_promtool
install_postgresql
install_chromium
install_kustomize
install_kubernetes_validate
