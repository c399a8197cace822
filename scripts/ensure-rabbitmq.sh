#!/usr/bin/env bash
# Make sure a local RabbitMQ is installed, running, and has the plugins the project needs: the
# management HTTP API (tests create a vhost each through it) and federation (for a later issue).
# Idempotent: when all is already fine this costs two HTTP requests.
#
# Environment: RABBITMQ_API (default http://127.0.0.1:15672/api), RABBITMQ_USER / RABBITMQ_PASSWORD
# (guest/guest), RABBITMQ_START_TIMEOUT (seconds to wait for the node and its API, default 120).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

API=${RABBITMQ_API:-http://127.0.0.1:15672/api}
API_USER=${RABBITMQ_USER:-guest}
API_PASSWORD=${RABBITMQ_PASSWORD:-guest}
TIMEOUT=${RABBITMQ_START_TIMEOUT:-120}
PLUGINS=(rabbitmq_management rabbitmq_federation rabbitmq_federation_management)
START_LOG=var/log/rabbitmq-start.log

# Debian puts the RabbitMQ commands in /usr/sbin, which a non-login shell may not have on its PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

say() { echo "ensure-rabbitmq: $*"; }
die() { echo "ensure-rabbitmq: $*" >&2; exit 1; }

# The RabbitMQ commands and apt-get need root; a developer who is not root goes through sudo.
SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
fi

# api_ok PATH: the management API answers 200 on PATH with our credentials.
api_ok() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 5 -u "$API_USER:$API_PASSWORD" "$API/$1" 2>/dev/null
    else
        python3 - "$API/$1" "$API_USER" "$API_PASSWORD" <<'PY' 2>/dev/null
import base64, sys, urllib.request
url, user, password = sys.argv[1:]
req = urllib.request.Request(url)
req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
with urllib.request.urlopen(req, timeout=5) as resp:
    sys.exit(resp.status != 200)
PY
    fi
}

node_running() { "${SUDO[@]}" timeout 20 rabbitmq-diagnostics -q ping >/dev/null 2>&1; }

deadline=$((SECONDS + TIMEOUT))
time_left() { ((SECONDS < deadline)); }

# Fast path: the management API answers, and the federation API too (so federation is enabled).
if api_ok overview && api_ok federation-links; then
    say "RabbitMQ is running with the management and federation plugins"
    exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "rabbitmq-server is missing and there is no apt-get to install it"
    say "installing Debian's rabbitmq-server"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # The package's own attempt to start the service can fail without systemd; we start it below.
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q rabbitmq-server ||
        command -v rabbitmq-server >/dev/null 2>&1 || die "could not install rabbitmq-server"
fi

started=false
if ! node_running; then
    # Enabling offline first means the node boots once, with every plugin.
    say "enabling ${PLUGINS[*]} (offline) and starting RabbitMQ"
    "${SUDO[@]}" rabbitmq-plugins -q enable --offline "${PLUGINS[@]}" >/dev/null
    mkdir -p "$(dirname "$START_LOG")"
    # The detached node must not inherit our stdout/stderr: whoever reads them (make, CI) would wait
    # for an end of file that never comes.
    "${SUDO[@]}" rabbitmq-server -detached >>"$START_LOG" 2>&1 </dev/null || true
    started=true
fi

# A node that answers a ping may still be booting (say, just started by the package's postinst).
until "${SUDO[@]}" timeout 30 rabbitmqctl -q await_startup >/dev/null 2>&1; do
    if ! time_left; then
        if [[ -f $START_LOG ]]; then
            echo "--- tail of $START_LOG" >&2
            tail -n 20 "$START_LOG" >&2 || true
        fi
        die "RabbitMQ did not start within ${TIMEOUT}s (see also /var/log/rabbitmq/)"
    fi
    sleep 1
done

if [[ $started == true ]]; then
    say "RabbitMQ started"
else
    # Online enabling is a no-op for plugins already enabled.
    say "enabling ${PLUGINS[*]}"
    "${SUDO[@]}" rabbitmq-plugins -q enable "${PLUGINS[@]}" >/dev/null
fi

# The management listener comes up a moment after the plugin is enabled.
until api_ok overview; do
    time_left || die "the management API at $API/overview did not answer $API_USER/*** within ${TIMEOUT}s"
    sleep 0.5
done
until api_ok federation-links; do
    if ! time_left; then
        # Nothing uses federation yet; do not fail the build over it.
        say "warning: $API/federation-links does not answer; is rabbitmq_federation_management enabled?" >&2
        break
    fi
    sleep 0.5
done
say "RabbitMQ is running; management API at $API"
