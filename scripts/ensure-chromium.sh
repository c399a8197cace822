#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the monitor console's browser test (Playwright drives it; a
# browser is never downloaded), with a CJK font so that the console's Chinese renders in screenshots.
# Idempotent: when all is there this costs two checks. When it cannot be installed, it says so and fails
# under CI=true; on a workstation the browser test is then skipped instead.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

say() { echo "ensure-chromium: $*"; }

missing=()
[[ -x $CHROMIUM ]] || missing+=(chromium)
dpkg -s fonts-wqy-microhei >/dev/null 2>&1 || missing+=(fonts-wqy-microhei)
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
fi

fail() {
    if [[ ${CI:-} == true ]]; then
        echo "ensure-chromium: $*" >&2
        exit 1
    fi
    say "$* (the console's browser test will be skipped)"
    exit 0
}

command -v apt-get >/dev/null 2>&1 || fail "no apt-get here: install ${missing[*]} by hand"
if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    fail "installing ${missing[*]} needs root (or sudo)"
fi
say "installing ${missing[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; then
    "${SUDO[@]}" apt-get update -q >/dev/null
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null \
        || fail "apt-get could not install ${missing[*]}"
fi
[[ -x $CHROMIUM ]] || fail "$CHROMIUM still missing after installing"
say "ok: $($CHROMIUM --version 2>/dev/null | head -n 1)"
