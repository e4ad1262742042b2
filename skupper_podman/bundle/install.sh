#!/bin/sh
# Installs the skupper-podman site of bundle @name@ on this host, or removes it again.
#
#   ./install.sh [--platform linux|podman|docker] [--namespace NS]   install and start
#   ./install.sh --uninstall [--namespace NS]                        remove everything
#
# Installing makes a Python virtual environment for skupper-podman (from wheels/, and from
# the package index for what wheels/ lacks), applies resources.yaml to the namespace
# (a new site: new CA and certificates made here, never copied) and installs the site's
# systemd units when systemd runs. Environment: PYTHON (default python3),
# SKUPPER_PODMAN_HOME (where sites live, as for skupper-podman itself).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
namespace=@namespace@
platform=
uninstall=0

usage() {
    sed -n '2,13s/^# \{0,1\}//p' "$0"
}

while [ $# -gt 0 ]; do
    case $1 in
        --platform) platform=${2:?--platform needs a value}; shift 2 ;;
        --platform=*) platform=${1#*=}; shift ;;
        --namespace|-n) namespace=${2:?--namespace needs a value}; shift 2 ;;
        --namespace=*) namespace=${1#*=}; shift ;;
        --uninstall) uninstall=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ -n "${SKUPPER_PODMAN_HOME:-}" ]; then
    data=$SKUPPER_PODMAN_HOME
elif [ "$(id -u)" -eq 0 ]; then
    data=/var/lib/skupper-podman
else
    data=${XDG_DATA_HOME:-$HOME/.local/share}/skupper-podman
fi
venv=$data/venvs/$namespace
cli=$venv/bin/skupper-podman

if [ "$uninstall" -eq 1 ]; then
    if [ -x "$cli" ]; then
        "$cli" system uninstall -n "$namespace" >/dev/null 2>&1 || true
        "$cli" site delete -n "$namespace"
    fi
    rm -rf "$venv"
    # Folders this script or the site made, if nothing else lives there.
    rmdir "$data/venvs" "$data/namespaces" "$data" 2>/dev/null || true
    echo "Bundle @name@ removed from namespace $namespace."
    exit 0
fi

if [ -e "$venv" ]; then
    echo "install.sh: namespace $namespace already has an installation ($venv): use --uninstall first" >&2
    exit 1
fi
python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "install.sh: skupper-podman needs Python 3.11 or newer as $python (set PYTHON)" >&2
    exit 1
fi

cleanup() { rm -rf "$venv"; rmdir "$data/venvs" "$data" 2>/dev/null || true; }
trap 'cleanup' INT TERM
"$python" -m venv "$venv" || { cleanup; exit 1; }
pip_install() {
    "$venv/bin/pip" --disable-pip-version-check --no-cache-dir --quiet install "$@"
}
if ! pip_install --no-index --find-links "$here/wheels" skupper-podman 2>/dev/null; then
    echo "Some dependencies are not in the bundle: installing them from the package index."
    pip_install --find-links "$here/wheels" skupper-podman || { cleanup; exit 1; }
fi

if ! "$cli" apply -f "$here/resources.yaml" -n "$namespace" ${platform:+--platform "$platform"}; then
    cleanup
    exit 1
fi
trap - INT TERM
if ! "$cli" system install -n "$namespace"; then
    echo "warning: the site runs now, but without systemd units it will not start at boot" >&2
fi
echo "Bundle @name@ installed in namespace $namespace; 'skupper-podman' is $cli."
