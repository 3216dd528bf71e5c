#!/usr/bin/env bash
# Installs ntk into a temporary prefix with scripts/install.sh, then builds the C example and the C
# test program from the INSTALLED copy with pkg-config (dynamic and static) and runs them.
#   scripts/test-install.sh                    # full install build (cargo build --release, SONAME)
#   scripts/test-install.sh --no-build --from target/release   # reuse an existing build
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
command -v pkg-config >/dev/null || { echo "test-install: pkg-config is required (apt-get install pkg-config)" >&2; exit 1; }
CC="${CC:-cc}"
unset LD_LIBRARY_PATH  # the installed copy must be found through the rpath alone
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
PREFIX="$WORK/prefix"
"$ROOT/scripts/install.sh" "$@" "$PREFIX"

export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)"
[ "$(pkg-config --modversion ntk)" = "$VERSION" ] || { echo "test-install: pkg-config reports $(pkg-config --modversion ntk), expected $VERSION" >&2; exit 1; }
[ "$(echo $(pkg-config --static --libs ntk))" = "-L$PREFIX/lib -lntk -lpthread -ldl -lm" ] || { echo "test-install: unexpected static libs: $(pkg-config --static --libs ntk)" >&2; exit 1; }
CFLAGS=(-std=c99 -Wall -Wextra -Werror -pedantic -O1)

# Dynamic: link exactly as a user would, run with the prefix's lib dir on the rpath.
# shellcheck disable=SC2046
"$CC" "${CFLAGS[@]}" "$ROOT/bindings/c/example.c" -o "$WORK/example" $(pkg-config --cflags --libs ntk) -lm -Wl,-rpath,"$PREFIX/lib"
"$WORK/example" > "$WORK/example.out"
grep -q "ntk $VERSION" "$WORK/example.out"
# (outputs are captured first: `cmd | grep -q` can fail under pipefail when grep exits early)
LDD="$(ldd "$WORK/example")"
grep -q "$PREFIX/lib/libntk.so" <<<"$LDD" || { echo "test-install: example does not load the installed libntk.so" >&2; ldd "$WORK/example"; exit 1; }
SONAME="$(readelf -d "$PREFIX/lib/libntk.so.$VERSION" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
if [ -n "$SONAME" ]; then
    DYN="$(readelf -d "$WORK/example")"
    grep -q "NEEDED.*\[$SONAME\]" <<<"$DYN" || { echo "test-install: example does not record NEEDED $SONAME" >&2; exit 1; }
    echo "test-install: SONAME $SONAME recorded by the dynamically linked example"
else
    echo "test-install: note: this libntk.so has no SONAME (a --no-build install of a plain cargo build)"
fi

# Static: the same flags with --static, asking the linker for the archive.
# shellcheck disable=SC2046
"$CC" "${CFLAGS[@]}" "$ROOT/bindings/c/example.c" -o "$WORK/example-static" $(pkg-config --cflags ntk) $(pkg-config --static --libs ntk | sed 's/-lntk\b/-l:libntk.a/')
LDD="$(ldd "$WORK/example-static")"
if grep -q libntk <<<"$LDD"; then echo "test-install: static example links libntk.so" >&2; exit 1; fi
"$WORK/example-static" | cmp - "$WORK/example.out"

# The C test program against the installed header and library.
# shellcheck disable=SC2046
"$CC" "${CFLAGS[@]}" -I"$ROOT/bindings/c/tests" "$ROOT/bindings/c/tests/test_network.c" -o "$WORK/test_network" $(pkg-config --cflags --libs ntk) -lm -Wl,-rpath,"$PREFIX/lib"
"$WORK/test_network"
# The README's CMake snippet (pkg_check_modules IMPORTED_TARGET, and the static variant).
if command -v cmake >/dev/null 2>&1; then
    mkdir -p "$WORK/cmake"
    cp "$ROOT/bindings/c/example.c" "$WORK/cmake/main.c"
    cat > "$WORK/cmake/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.13)
project(app C)
find_package(PkgConfig REQUIRED)
pkg_check_modules(NTK REQUIRED IMPORTED_TARGET ntk)
add_executable(app main.c)
target_link_libraries(app PRIVATE PkgConfig::NTK m)
add_executable(app_static main.c)
target_include_directories(app_static PRIVATE ${NTK_INCLUDE_DIRS})
target_link_libraries(app_static PRIVATE ${NTK_LIBDIR}/libntk.a pthread dl m)
CMAKE
    cmake -S "$WORK/cmake" -B "$WORK/cmake/build" >/dev/null
    cmake --build "$WORK/cmake/build" >/dev/null
    LD_LIBRARY_PATH="$PREFIX/lib" "$WORK/cmake/build/app" | cmp - "$WORK/example.out"
    "$WORK/cmake/build/app_static" | cmp - "$WORK/example.out"
    echo "test-install: the README's CMake snippet builds (shared and static)"
else
    echo "test-install: note: cmake not found, the CMake snippet was not tried"
fi
echo "test-install: OK (installed copy builds and runs with pkg-config, dynamic and static)"
