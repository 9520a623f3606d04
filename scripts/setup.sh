#!/usr/bin/env bash
# Installs what posterm needs and is missing: Debian packages, then a .venv from pyproject.toml.
# Idempotent and quick when nothing is missing; safe with no stdin (CI).
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(libzbar0 libusb-1.0-0 tmux systemd gettext mosquitto)
VENV=.venv
STAMP="$VENV/.installed"

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
if ((${#missing[@]})); then
    if command -v apt-get >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        echo "setup: installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq </dev/null
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
    else
        echo "setup: please install these system packages: ${missing[*]}" >&2
    fi
fi

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && \
           "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
            PYTHON=$candidate
            break
        fi
    done
fi
if [ -z "$PYTHON" ]; then
    echo "setup: posterm needs Python 3.11 or newer (apt-get install python3)" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    echo "setup: installing Python packages from pyproject.toml"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip </dev/null
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[dev,sim]' </dev/null
    touch "$STAMP"
fi

# The official Adyen Node.js library that the nexo tests play a POS program with
# (tests/integration/nexo_client: version pinned in package.json and package-lock.json).
NEXO_CLIENT=tests/integration/nexo_client
if command -v npm >/dev/null 2>&1; then
    if [ ! -d "$NEXO_CLIENT/node_modules/@adyen/api-library" ] || \
       [ "$NEXO_CLIENT/package-lock.json" -nt "$NEXO_CLIENT/node_modules/.package-lock.json" ]; then
        echo "setup: installing the nexo test client (npm ci in $NEXO_CLIENT)"
        (cd "$NEXO_CLIENT" && CI=true npm ci --no-audit --no-fund --loglevel=error </dev/null)
    fi
else
    echo "setup: node/npm not found: the nexo client tests will be skipped (apt-get install nodejs npm)" >&2
fi
touch "$STAMP"  # make setup: up to date with pyproject.toml, this script and the npm lock file
