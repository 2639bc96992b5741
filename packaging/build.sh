#!/usr/bin/env bash
# Build the desktop bundle (dist/LayerTune/) and the wheel (dist/*.whl).
#   bash packaging/build.sh            # wheel + PyInstaller folder bundle
#   bash packaging/build.sh --wheel    # the wheel only (what CI checks)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip wheel --no-deps --no-build-isolation -w dist .
if [[ "${1:-}" != "--wheel" ]]; then
  "$PY" -m pip install -q "pyinstaller>=6"
  "$PY" -m PyInstaller --noconfirm --distpath dist --workpath build/pyinstaller packaging/layertune.spec
  install -Dm644 resources/layertune.desktop dist/LayerTune/layertune.desktop
  install -Dm644 resources/layertune.svg dist/LayerTune/layertune.svg
fi
