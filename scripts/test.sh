#!/usr/bin/env bash
# The whole test suite: set-up, lint, type check, then every test against real parts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --tests

export UWS_MODELS_DIR=${UWS_MODELS_DIR:-$(cd .. && pwd)/shared/models}
export UWS_MEDIA_DIR=${UWS_MEDIA_DIR:-$(cd .. && pwd)/shared/media}
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=${YOLO_CONFIG_DIR:-$PWD/var/ultralytics}

echo "== ruff"; .venv/bin/ruff check . && .venv/bin/ruff format --check .
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/pytest -q -p no:cacheprovider "$@"
