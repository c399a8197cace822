#!/usr/bin/env bash
# Make sure .venv exists (Python 3.11) and holds the project with its dev extras; reinstall only when
# pyproject.toml is newer than the stamp .venv/.installed, so a second run costs nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
STAMP="$VENV/.installed"

is_311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

if [[ ! -x "$VENV/bin/python" ]] || ! is_311 "$VENV/bin/python"; then
    python=""
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && is_311 "$candidate"; then
            python=$candidate
            break
        fi
    done
    if [[ -z "$python" ]]; then
        echo "ensure-venv: Python 3.11 is needed (neither python3.11 nor python3 is 3.11)" >&2
        exit 1
    fi
    if [[ -e "$VENV" ]]; then
        echo "ensure-venv: $VENV is not a Python 3.11 virtualenv; remove it and run again" >&2
        exit 1
    fi
    echo "ensure-venv: creating $VENV with $($python --version)"
    "$python" -m venv "$VENV"
    rm -f "$STAMP"
fi

if [[ ! -f "$STAMP" || pyproject.toml -nt "$STAMP" ]]; then
    echo "ensure-venv: installing the project into $VENV (pip install -e '.[dev]')"
    # The stamp takes the time the install started: an edit of pyproject.toml during it still counts.
    touch "$STAMP.new"
    "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q -e '.[dev]'
    mv "$STAMP.new" "$STAMP"
fi
