# Shared by scripts/demo and scripts/test: the project's virtual environment.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${SKUPPER_PODMAN_VENV:-$ROOT/.venv}

# Create .venv and install the package (editable) with the given extras (may be none),
# once per change of pyproject.toml.
ensure_venv() {
    local extras=$1
    local stamp=$VENV/.installed-$extras
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        "$VENV/bin/pip" install --quiet --upgrade pip
        "$VENV/bin/pip" install --quiet -e "$ROOT${extras:+[$extras]}"
        touch "$stamp"
    fi
}

# Install Debian packages that are missing (only as root, the way CI runs).
ensure_debs() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "note: not root, so not installing: ${missing[*]} (tests needing them may skip)" >&2
        return 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
