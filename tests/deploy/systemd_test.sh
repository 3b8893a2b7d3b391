#!/usr/bin/env bash
# systemd_test.sh BUILD_ROOT SOURCE_ROOT — deploy/bill-server.service and the
# per-port template deploy/bill-server@.service pass `systemd-analyze verify`
# without a single warning (verify exits 0 on unknown keys and bad values,
# so any output fails the test), and carry the hardening of seed 000 §3.5.
# The units point at /opt/bill; the copies verified here point at the
# built binary instead (verify checks that ExecStart= is executable).
# Skipped (77) where systemd-analyze is not installed.
set -euo pipefail
build=$1 src=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not installed: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

required=(
  'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'ReadWritePaths=/opt/bill'
  'PrivateTmp=yes' 'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes'
  'ProtectControlGroups=yes' 'MemoryHigh=' 'MemoryMax=' 'CPUQuota=' 'StandardOutput=journal'
  'StandardError=journal' 'Restart=on-failure' 'User=bill' 'KillSignal=SIGTERM'
  'TimeoutStopSec=' 'ExecReload=/bin/kill -HUP $MAINPID'
)

for unit in bill-server.service bill-server@.service; do
  f=$src/deploy/$unit
  [ -f "$f" ] || { echo "FAIL: $f missing"; fail=1; continue; }
  for k in "${required[@]}"; do
    grep -qxF -- "$k" "$f" || grep -q "^${k}" "$f" || { echo "FAIL: $unit lacks $k"; fail=1; }
  done
  sed -e "s|/opt/bill/bill-server|$build/bill-server/bill-server|" \
      -e "s|^WorkingDirectory=/opt/bill|WorkingDirectory=$tmp|" "$f" > "$tmp/$unit"
  name=$unit
  [ "$unit" = bill-server@.service ] && name=bill-server@50051.service
  out=$(cd "$tmp" && systemd-analyze verify "$tmp/$name" 2>&1) || { echo "FAIL: verify $name exited $?"; fail=1; }
  if [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify $name said:"; echo "$out"; fail=1
  else
    echo "ok: $name verifies cleanly"
  fi
done
# the template serves the port of its instance name
grep -q 'LOCAL_CONFIG_FILE=/opt/bill/instances/%i.toml' "$src/deploy/bill-server@.service" ||
  { echo "FAIL: the template does not read instances/%i.toml"; fail=1; }
exit $fail
