#!/usr/bin/env bash
# Install everything coupadl needs on a Debian machine: Debian's Chromium and ChromeDriver (and Xvfb for
# visible-mode tests), a virtual environment in .venv, and the package with its dev and demo extras.
# Idempotent and quiet when there is nothing to do. Nothing here or later downloads a browser or a driver
# from anywhere but Debian's own packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${COUPADL_VENV:-$here/.venv}"
say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

apt_packages=()
command -v chromium >/dev/null 2>&1 || apt_packages+=(chromium)
command -v chromedriver >/dev/null 2>&1 || apt_packages+=(chromium-driver)
command -v Xvfb >/dev/null 2>&1 || apt_packages+=(xvfb)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || apt_packages+=(python3-venv)

if ((${#apt_packages[@]})); then
    command -v apt-get >/dev/null 2>&1 || die "missing ${apt_packages[*]} and no apt-get to install them"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "installing ${apt_packages[*]} needs root (or sudo)"
        sudo="sudo"
    fi
    say "installing ${apt_packages[*]} with apt-get"
    $sudo apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" \
        >/dev/null || die "apt-get install ${apt_packages[*]} failed"
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11 or newer is needed ($(python3 --version))"

if [ ! -x "$venv/bin/python" ]; then
    say "creating virtual environment $venv"
    python3 -m venv "$venv" || die "python3 -m venv failed"
fi

# Reinstall only when the project metadata changed since the last successful install.
stamp="$venv/.coupadl-installed"
if [ ! -f "$stamp" ] || [ "$here/pyproject.toml" -nt "$stamp" ]; then
    say "installing coupadl and its dev and demo extras into $venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$here[dev,demo]" \
        || die "pip install failed"
    touch "$stamp"
fi
