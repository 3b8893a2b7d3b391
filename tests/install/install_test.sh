#!/usr/bin/env bash
# install_test.sh — `meson install` works and gives embedders what they need
# (R-SHAPE-1, R-SHAPE-5):
#   1. install the built tree into a scratch DESTDIR;
#   2. check libbill.so.0 (SONAME), the libbill.so dev link, libbill.pc and
#      every public header of include/bill/;
#   3. compile tests/install/embed.c against the installed copy only, with
#      `pkg-config --cflags --libs libbill` and strict C11 warnings as errors;
#   4. run it (from the installed library, not the build tree) against a real
#      PostgreSQL database: migrate, customer, recharge, deduct, refused
#      deduction, ledger check.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR [B_SANITIZE]
# (B_SANITIZE: meson's b_sanitize value; a sanitized libbill needs the
# embedder built with the same runtime.)
set -euo pipefail

build=$1
src=$2
sanitize=${3:-none}
scratch=$(mktemp -d /tmp/bill-install-test.XXXXXX)
chmod 755 "$scratch"   # a private cluster runs as the postgres user when we are root
pgdir=""
cleanup() {
  if [ -n "$pgdir" ]; then bash "$src/tests/support/pg-cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() { echo "install_test: FAIL: $*" >&2; exit 1; }

dest=$scratch/dest
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >"$scratch/install.log" 2>&1 ||
  { cat "$scratch/install.log" >&2; fail "meson install --destdir failed"; }

pc=$(find "$dest" -name libbill.pc -path '*/pkgconfig/*' | head -1)
[ -n "$pc" ] || fail "libbill.pc was not installed"
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")
prefix=$(sed -n 's/^prefix=//p' "$pc")
[ -n "$prefix" ] || fail "libbill.pc has no prefix"
echo "installed: prefix $prefix, libdir ${libdir#"$dest"}"

so=$libdir/libbill.so.0
[ -L "$so" ] || [ -f "$so" ] || fail "libbill.so.0 missing in ${libdir#"$dest"}"
[ -L "$libdir/libbill.so" ] || fail "libbill.so (development link) missing"
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "libbill.so.0" ] || fail "SONAME is '$soname', want libbill.so.0"
echo "SONAME $soname"

for h in "$src"/include/bill/*.h; do
  [ -f "$dest$prefix/include/bill/$(basename "$h")" ] || fail "header bill/$(basename "$h") not installed"
done
echo "headers: $(ls "$dest$prefix/include/bill" | wc -l) installed"

# The .pc names the final prefix; point it into the DESTDIR for this test.
export PKG_CONFIG_PATH=$pcdir
cflags=$(pkg-config --define-variable=prefix="$dest$prefix" --cflags libbill) ||
  fail "pkg-config --cflags libbill"
libs=$(pkg-config --define-variable=prefix="$dest$prefix" --libs libbill) ||
  fail "pkg-config --libs libbill"
case "$cflags $libs" in
  *"$build"*|*"$src"*) fail "pkg-config points into the build or source tree: $cflags $libs" ;;
esac
san=()
[ "$sanitize" = none ] || san=(-fsanitize="$sanitize")
${CC:-cc} -std=c11 -Wall -Wextra -Wpedantic -Werror "${san[@]}" -o "$scratch/embed" \
  "$src/tests/install/embed.c" $cflags $libs || fail "compiling embed.c against the installed libbill"

# Which libbill the program loads must be the installed one.
export LD_LIBRARY_PATH=$libdir
loaded=$(ldd "$scratch/embed" | awk '/libbill\.so/ {print $3}')
[ "$loaded" = "$so" ] || fail "embed loads '$loaded', want $so"

# A database: the suite's shared server when there is one, else a private one.
if [ -n "${BILL_TEST_PG_HOST:-}" ]; then
  pghost=$BILL_TEST_PG_HOST pgport=${BILL_TEST_PG_PORT:-5432} pguser=${BILL_TEST_PG_USER:-postgres}
else
  pgdir=$scratch/pg
  env_out=$(bash "$src/tests/support/pg-cluster.sh" start "$pgdir") ||
    fail "cannot start a private PostgreSQL cluster"
  eval "$env_out"
  pghost=$BILL_TEST_PG_HOST pgport=$BILL_TEST_PG_PORT pguser=$BILL_TEST_PG_USER
fi
db=embed_$$_$RANDOM
psql -X -q -v ON_ERROR_STOP=1 "host=$pghost port=$pgport user=$pguser dbname=postgres" \
  -c "CREATE DATABASE $db" || fail "cannot create database $db"
url="postgresql:///$db?host=$pghost&port=$pgport&user=$pguser"
"$scratch/embed" "$url" >"$scratch/embed.out" 2>"$scratch/embed.err" || {
  cat "$scratch/embed.out" "$scratch/embed.err" >&2; fail "embed program failed"; }
cat "$scratch/embed.out"
grep -q '^balance 69.50$' "$scratch/embed.out" || fail "embed did not report balance 69.50"
rows=$(psql -X -A -t "$url" -c "SELECT count(*) FROM balance_transactions")
[ "$rows" = 2 ] || fail "ledger has $rows rows, want 2 (the refused deduction must add none)"
psql -X -q "host=$pghost port=$pgport user=$pguser dbname=postgres" \
  -c "DROP DATABASE $db" >/dev/null 2>&1 || true
echo "install_test: ok"
