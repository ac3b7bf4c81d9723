#!/usr/bin/env bash
# Set up on a fresh machine, then run a whole station and cloud-duty here (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR=${YOLO_CONFIG_DIR:-$PWD/var/ultralytics}
exec .venv/bin/station demo "$@"
