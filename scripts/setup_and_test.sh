#!/usr/bin/env bash
# Set up everything on a fresh Debian 12 machine and run the whole test suite:
#   bash scripts/setup_and_test.sh [pytest arguments; default: tests]
# - QGIS 3.22 LTR + its Python bindings from Debian (apt; skipped when installed),
# - .venv at the project root, made with --system-site-packages so it sees `qgis`,
# - PyTorch, then geocore (editable) with its test extras,
# - the QGIS plugin zip (dist/geocore_qgis.zip), which the qgis_process tests install,
# - pytest over tests/ with a headless Qt (QT_QPA_PLATFORM=offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."

export QT_QPA_PLATFORM=offscreen
export PIP_DISABLE_PIP_VERSION_CHECK=1

if command -v dpkg >/dev/null 2>&1; then
    if ! dpkg -s python3-qgis >/dev/null 2>&1 || ! dpkg -s qgis >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        echo "setup: installing QGIS (apt-get install qgis python3-qgis)"
        $SUDO apt-get update
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y qgis python3-qgis
    fi
else
    echo "setup: no dpkg here; install QGIS and its Python bindings yourself (QGIS tests skip without them)" >&2
fi

if [ ! -x .venv/bin/python ]; then
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q torch==2.14.1 torchvision==0.29.1
.venv/bin/pip install -q -e ".[test]"

.venv/bin/python scripts/build_plugin.py

if [ "$#" -eq 0 ]; then set -- tests; fi
exec .venv/bin/python -m pytest "$@"
