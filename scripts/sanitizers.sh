#!/usr/bin/env bash
# Memory checking of the C API from C:
#   1. valgrind memcheck on every C test program (bindings/c/tests/reliability_*.c, and
#      bindings/c/tests/test_*.c and bindings/c/example.c when present), linked against
#      libntk.so: must report 0 errors and 0 bytes definitely/indirectly lost;
#   2. AddressSanitizer (+ LeakSanitizer) on the same programs, compiled with
#      gcc -fsanitize=address and linked against the (uninstrumented) Rust library: ASan's
#      malloc interposition still covers every heap block the library allocates, so overflows
#      of C buffers by the library, use-after-free and leaks are caught.
# Usage: scripts/sanitizers.sh            (builds the library with cargo build --release first)
# Needs: gcc (or CC) with libasan, valgrind (skipped with a warning when absent unless
# NTK_REQUIRE_VALGRIND=1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CC=${CC:-gcc}
OUT=${OUT:-$ROOT/target/sanitizers}
mkdir -p "$OUT/lib"

cargo build --release >&2
LIB=$ROOT/target/release
ln -sf "$LIB/libntk.so" "$OUT/lib/libntk.so"
soname=$(readelf -d "$LIB/libntk.so" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p' || true)
if [ -n "$soname" ]; then ln -sf "$LIB/libntk.so" "$OUT/lib/$soname"; fi

sources=(bindings/c/tests/reliability_*.c)
for f in bindings/c/tests/test_*.c bindings/c/example.c; do
    [ -f "$f" ] && sources+=("$f")
done
incs=(-I"$ROOT/include")
[ -d bindings/c/tests ] && incs+=(-I"$ROOT/bindings/c/tests")
CFLAGS=(-std=c99 -Wall -Wextra -Werror -pedantic -O1 -g -fno-omit-frame-pointer)
LINK=(-L"$OUT/lib" -lntk -Wl,-rpath,"$OUT/lib" -lpthread -lm)

fail=0
summary=()

# 1. valgrind memcheck
if command -v valgrind >/dev/null 2>&1; then
    for src in "${sources[@]}"; do
        name=$(basename "${src%.c}")
        exe=$OUT/vg-$name
        $CC "${CFLAGS[@]}" "${incs[@]}" "$src" -o "$exe" "${LINK[@]}"
        log=$OUT/vg-$name.log
        # Rayon's worker threads are still alive at exit, so their stacks' thread-local blocks
        # are "possibly lost"/"still reachable"; only definite and indirect leaks are errors.
        if valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
            --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
            --log-file="$log" "$exe" >/dev/null; then
            res="ok"
        else
            res="FAILED"
            fail=1
        fi
        errs=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -1)
        def=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
        ind=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -1)
        summary+=("valgrind $name: $res, errors=${errs:-?}, definitely lost=${def:-0} B, indirectly lost=${ind:-0} B")
        [ "$res" = ok ] || tail -60 "$log" >&2
    done
else
    if [ "${NTK_REQUIRE_VALGRIND:-0}" = 1 ]; then
        echo "sanitizers: valgrind not found" >&2
        exit 1
    fi
    summary+=("valgrind: not installed, skipped")
fi

# 2. AddressSanitizer + LeakSanitizer
for src in "${sources[@]}"; do
    name=$(basename "${src%.c}")
    exe=$OUT/asan-$name
    $CC "${CFLAGS[@]}" -fsanitize=address,undefined -fno-sanitize-recover=all "${incs[@]}" \
        "$src" -o "$exe" "${LINK[@]}"
    log=$OUT/asan-$name.log
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1 \
        "$exe" >"$log" 2>&1; then
        summary+=("asan+lsan+ubsan $name: ok")
    else
        summary+=("asan+lsan+ubsan $name: FAILED")
        tail -60 "$log" >&2
        fail=1
    fi
done

printf '%s\n' "${summary[@]}"
exit $fail
