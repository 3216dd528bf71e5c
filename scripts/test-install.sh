#!/usr/bin/env bash
# Installs ntk into a temporary prefix with scripts/install.sh, then builds the C example and the C
# test program from the INSTALLED copy with pkg-config (dynamic and static) and runs them, builds
# bindings/c/CMakeLists.txt (C, static C, C++ examples) through find_package(ntk 0.2), and checks
# DESTDIR staging and CARGO_TARGET_DIR.
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
# The build directory that install took the library from (its --from, else the profile
# directory of the target dir), reused below for the DESTDIR / CARGO_TARGET_DIR check.
FROM="${CARGO_TARGET_DIR:-$ROOT/target}/release"
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    [ "${args[$i]}" = --from ] && FROM="${args[$((i + 1))]}"
done

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
# The CMake package: find_package(ntk 0.2 REQUIRED) -> ntk::ntk, ntk::ntk_static, building the C
# and C++ examples of bindings/c/CMakeLists.txt; the version file refuses 0.1 and 1.0.
if command -v cmake >/dev/null 2>&1; then
    command -v "${CXX:-c++}" >/dev/null || { echo "test-install: a C++ compiler is required (apt-get install g++)" >&2; exit 1; }
    cmake -S "$ROOT/bindings/c" -B "$WORK/cmake-pkg" -DCMAKE_PREFIX_PATH="$PREFIX" >"$WORK/cmake-pkg.log" ||
        { cat "$WORK/cmake-pkg.log"; exit 1; }
    grep -q "ntk $VERSION from $PREFIX/lib/cmake/ntk" "$WORK/cmake-pkg.log" || { cat "$WORK/cmake-pkg.log"; exit 1; }
    cmake --build "$WORK/cmake-pkg" >/dev/null
    "$WORK/cmake-pkg/example" | cmp - "$WORK/example.out"
    "$WORK/cmake-pkg/example_static" | cmp - "$WORK/example.out"
    LDD="$(ldd "$WORK/cmake-pkg/example_static")"
    if grep -q libntk <<<"$LDD"; then echo "test-install: ntk::ntk_static links libntk.so" >&2; exit 1; fi
    LDD="$(ldd "$WORK/cmake-pkg/example_cpp")"
    grep -q "$PREFIX/lib/libntk.so.0" <<<"$LDD" || { echo "test-install: example_cpp does not load the installed libntk" >&2; exit 1; }
    "$WORK/cmake-pkg/example_cpp"
    for bad in 0.1 1.0 "$VERSION.1"; do
        mkdir -p "$WORK/cmake-bad"
        printf 'cmake_minimum_required(VERSION 3.13)\nproject(bad C)\nfind_package(ntk %s REQUIRED)\n' "$bad" > "$WORK/cmake-bad/CMakeLists.txt"
        if cmake -S "$WORK/cmake-bad" -B "$WORK/cmake-bad/build" -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null 2>&1; then
            echo "test-install: find_package(ntk $bad) accepted version $VERSION" >&2; exit 1
        fi
        rm -rf "$WORK/cmake-bad"
    done
    echo "test-install: find_package(ntk ${VERSION%.*} REQUIRED) builds the C, static C and C++ examples; 0.1, 1.0, $VERSION.1 refused"
else
    echo "test-install: cmake not found (apt-get install cmake)" >&2
    exit 1
fi

# DESTDIR staging: files under DESTDIR/PREFIX, ntk.pc naming PREFIX; the relocatable CMake files
# work from the staged copy. CARGO_TARGET_DIR: the library is taken from $CARGO_TARGET_DIR/release
# (a directory linking the already built profile; --no-build, as a changed target path makes cargo
# relink).
mkdir -p "$WORK/tdir"
ln -s "$(cd "$FROM" && pwd)" "$WORK/tdir/release"
CARGO_TARGET_DIR="$WORK/tdir" DESTDIR="$WORK/stage" "$ROOT/scripts/install.sh" --no-build /opt/ntk-test > "$WORK/stage.log"
grep -q "from $WORK/tdir/release into $WORK/stage/opt/ntk-test" "$WORK/stage.log" || { cat "$WORK/stage.log"; exit 1; }
[ ! -e /opt/ntk-test ] || { echo "test-install: DESTDIR install wrote to /opt/ntk-test" >&2; exit 1; }
for f in include/ntk.h lib/libntk.so.$VERSION lib/libntk.a lib/cmake/ntk/ntkConfig.cmake lib/cmake/ntk/ntkConfigVersion.cmake; do
    [ -e "$WORK/stage/opt/ntk-test/$f" ] || { echo "test-install: DESTDIR install lacks $f" >&2; exit 1; }
done
grep -qx "prefix=/opt/ntk-test" "$WORK/stage/opt/ntk-test/lib/pkgconfig/ntk.pc"
[ "$(readlink "$WORK/stage/opt/ntk-test/lib/libntk.so")" = "libntk.so.${VERSION%%.*}" ]
cmake -S "$ROOT/bindings/c" -B "$WORK/cmake-stage" -DCMAKE_PREFIX_PATH="$WORK/stage/opt/ntk-test" >/dev/null
cmake --build "$WORK/cmake-stage" --target example_static >/dev/null
"$WORK/cmake-stage/example_static" | cmp - "$WORK/example.out"
echo "test-install: DESTDIR staging and CARGO_TARGET_DIR honoured"
echo "test-install: OK (installed copy builds and runs with pkg-config and CMake, dynamic and static, C and C++)"
