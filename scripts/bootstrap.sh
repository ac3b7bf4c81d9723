#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine: Mosquitto, (with --tests)
# a PostgreSQL server and Chromium for the tests, and the Python environment in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test_deps=0
[ "${1:-}" = "--tests" ] && want_test_deps=1

apt_updated=0
apt_install() {
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  if [ $apt_updated = 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "bootstrap: installing mosquitto"
  apt_install mosquitto mosquitto-clients
fi

if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
  echo "bootstrap: installing a Chinese font for printed member cards"
  apt_install fonts-wqy-microhei
fi

if [ $want_test_deps = 1 ] && ! command -v chromium >/dev/null; then
  echo "bootstrap: installing chromium for the browser tests"
  apt_install chromium
fi

# tests/deploy checks deploy/ with each config's own tool: Caddy, promtool (Debian's
# prometheus package) and Compose (systemd-analyze comes with systemd).
if [ $want_test_deps = 1 ]; then
  missing=()
  command -v caddy >/dev/null || missing+=(caddy)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 \
    || missing+=(docker-compose)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bootstrap: installing ${missing[*]} to check the deployment configs"
    apt_install "${missing[@]}"
  fi
fi

# The console and dashboard are Chinese first: the browser tests' screenshots need CJK glyphs.
if [ $want_test_deps = 1 ] && ! fc-list :lang=zh 2>/dev/null | grep -qi 'noto'; then
  echo "bootstrap: installing fonts-noto-cjk for Chinese in the browser tests' screenshots"
  apt_install fonts-noto-cjk
fi

if [ $want_test_deps = 1 ] && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "bootstrap: installing postgresql"
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -n | tail -1)
  hba=/etc/postgresql/$version/main/pg_hba.conf
  # Tests connect as postgres over loopback without a password, as on the CI machines.
  grep -q '^host all all 127.0.0.1/32 trust' "$hba" || sed -i '1i host all all 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main restart
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
  echo "bootstrap: Python 3.11 or newer is needed (found $("$python" --version))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Python packages into .venv (torch and ultralytics take a while)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The device tests make a CA with the openssl command.
if ! command -v openssl >/dev/null; then
  echo "bootstrap: installing openssl"
  apt_install openssl
fi

# esphome pins paho-mqtt 1.6.1, starlette and more that clash with the project's packages,
# so it gets its own environment; the tests run `esphome config` from it (offline).
if [ ! -x .venv-esphome/bin/esphome ]; then
  echo "bootstrap: installing esphome into .venv-esphome (validates firmware-configs/)"
  "$python" -m venv .venv-esphome
  .venv-esphome/bin/python -m pip install -q "esphome==2026.6.5"
fi
