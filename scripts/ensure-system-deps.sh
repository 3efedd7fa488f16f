#!/usr/bin/env bash
# Installs what the project needs from Debian's packages when it is missing.
#   browser  Chromium for the Playwright browser tests (/usr/bin/chromium)
#   venv     python3-venv, for distributions that split it out
#   bench    wrk, the HTTP load generator of benchmarks/load.py
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi

apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-system-deps: apt-get not found; install $* with your package manager." >&2
    exit 1
  fi
  echo "ensure-system-deps: installing $* from Debian's packages" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

for what in "${@:-browser}"; do
  case "$what" in
    browser)
      if [ ! -x /usr/bin/chromium ]; then
        apt_install chromium fonts-dejavu-core
      fi
      ;;
    venv)
      apt_install python3-venv
      ;;
    bench)
      if ! command -v wrk >/dev/null 2>&1; then
        apt_install wrk
      fi
      ;;
    *)
      echo "ensure-system-deps: unknown item '$what'" >&2
      exit 2
      ;;
  esac
done
