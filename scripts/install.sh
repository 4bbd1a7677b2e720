#!/usr/bin/env bash
# Creates .venv at the project root and installs geocore with its dependencies.
# The venv is made from Debian's /usr/bin/python3 with --system-site-packages so
# that the same environment also sees QGIS's Python bindings when QGIS is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
if ! "$PY" -c "import venv, ensurepip" 2>/dev/null; then
  echo "installing python3-venv (Debian) ..."
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq python3-venv; else sudo apt-get update -qq && sudo apt-get install -y -qq python3-venv; fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch and torchvision as a matching pair (segmentation-models-pytorch needs torchvision)
.venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
.venv/bin/python -m pip install -q -e ".[test]"
echo "geocore installed in $(pwd)/.venv ($(.venv/bin/geocore --version))"
