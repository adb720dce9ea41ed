#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine, then runs every test (npm test).
# Safe to run again: packages already present are not reinstalled.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real servers from Debian's packages: nginx and haproxy (drain), dnsmasq (DNS readiness),
# PostgreSQL (leader election), util-linux's setpriv/unshare (parent-death signal, PID namespace).
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
# systemd's notification socket: systemd-notify sends to a receiver run by Debian's Python 3.
[ -x /usr/bin/systemd-notify ] || need+=(systemd)
[ -x /usr/bin/python3 ] || need+=(python3-minimal)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  # Keep package scripts from starting the services they install: the tests start their own.
  policy=/usr/sbin/policy-rc.d
  created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [ "$created_policy" = 1 ] && rm -f "$policy"
fi

npm ci --no-audit --no-fund
npm test
