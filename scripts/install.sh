#!/usr/bin/env bash
# Installs the ntk C library: header, shared library with soname, static library, pkg-config file,
# CMake package configuration.
#
#   scripts/install.sh [--no-build] [--from DIR] [--libdir NAME] PREFIX
#
#   PREFIX/include/ntk.h
#   PREFIX/lib/libntk.so.MAJOR.MINOR.PATCH   (SONAME libntk.so.MAJOR)
#   PREFIX/lib/libntk.so.MAJOR -> libntk.so.MAJOR.MINOR.PATCH
#   PREFIX/lib/libntk.so       -> libntk.so.MAJOR            (for -lntk at link time)
#   PREFIX/lib/libntk.a                                      (static: add -lpthread -ldl -lm)
#   PREFIX/lib/pkgconfig/ntk.pc                              (Libs.private: -lpthread -ldl -lm)
#   PREFIX/lib/cmake/ntk/ntkConfig.cmake, ntkConfigVersion.cmake
#                                     find_package(ntk 0.2): targets ntk::ntk, ntk::ntk_static
#
# By default the library is built with `cargo build --release` (build.rs gives the cdylib the SONAME
# libntk.so.MAJOR) in $CARGO_TARGET_DIR/release (default target/release); a library built without
# it (e.g. by another build system) is relinked with
# `cargo rustc --release --lib -- -C link-arg=-Wl,-soname,libntk.so.MAJOR`.
#   --no-build     install what is already in DIR as it is
#   --from DIR     take libntk.so / libntk.a from DIR (default $CARGO_TARGET_DIR/release)
#   --libdir NAME  library directory under PREFIX (default lib; e.g. lib64)
# DESTDIR=/stage scripts/install.sh /usr/local   stages the files under /stage/usr/local while
# ntk.pc keeps prefix=/usr/local (PREFIX must then be absolute); the CMake files are relocatable.
# While MAJOR is 0 the ABI may change between minor versions; rebuild dependants on upgrade.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=1
# cargo resolves a relative CARGO_TARGET_DIR against its working directory, here ROOT.
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$ROOT/$TARGET_DIR" ;; esac
FROM="$TARGET_DIR/release"
LIBDIR_NAME=lib
PREFIX=""
DESTDIR="${DESTDIR:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --from) FROM="$2"; shift ;;
        --libdir) LIBDIR_NAME="$2"; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
        *) PREFIX="$1" ;;
    esac
    shift
done
[ -n "$PREFIX" ] || { echo "usage: [DESTDIR=DIR] scripts/install.sh [--no-build] [--from DIR] [--libdir NAME] PREFIX" >&2; exit 2; }
case "$LIBDIR_NAME" in /*|*..*|"") echo "install.sh: --libdir must be a relative path under PREFIX" >&2; exit 2 ;; esac
if [ -n "$DESTDIR" ]; then
    case "$PREFIX" in /*) ;; *) echo "install.sh: with DESTDIR, PREFIX must be absolute (got $PREFIX)" >&2; exit 2 ;; esac
    DESTDIR="$(mkdir -p "$DESTDIR" && cd "$DESTDIR" && pwd)"
else
    mkdir -p "$PREFIX"
    PREFIX="$(cd "$PREFIX" && pwd)"
fi
FROM="$(cd "$FROM" 2>/dev/null && pwd || echo "$FROM")"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)"
MAJOR="${VERSION%%.*}"
MINOR="${VERSION#*.}"; MINOR="${MINOR%%.*}"
SONAME="libntk.so.$MAJOR"

soname_of() { readelf -d "$1" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }

if [ "$BUILD" = 1 ]; then
    (cd "$ROOT" && cargo build --release --lib)
    if [ "$(soname_of "$FROM/libntk.so")" != "$SONAME" ]; then
        echo "install.sh: relinking libntk.so with SONAME $SONAME"
        (cd "$ROOT" && cargo rustc --release --lib -- -C "link-arg=-Wl,-soname,$SONAME")
    fi
fi
for f in libntk.so libntk.a; do
    [ -f "$FROM/$f" ] || { echo "install.sh: $FROM/$f not found (build with cargo build --release; CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-unset})" >&2; exit 1; }
done
HAS_SONAME="$(soname_of "$FROM/libntk.so")"
if [ -n "$HAS_SONAME" ] && [ "$HAS_SONAME" != "$SONAME" ]; then
    echo "install.sh: $FROM/libntk.so has SONAME $HAS_SONAME, expected $SONAME" >&2
    exit 1
fi

STAGE="$DESTDIR$PREFIX"
LIBDIR="$STAGE/$LIBDIR_NAME"
CMAKEDIR="$LIBDIR/cmake/ntk"
install -d "$STAGE/include" "$LIBDIR/pkgconfig" "$CMAKEDIR"
install -m 644 "$ROOT/include/ntk.h" "$STAGE/include/ntk.h"
install -m 755 "$FROM/libntk.so" "$LIBDIR/libntk.so.$VERSION"
ln -sfn "libntk.so.$VERSION" "$LIBDIR/$SONAME"
ln -sfn "$SONAME" "$LIBDIR/libntk.so"
install -m 644 "$FROM/libntk.a" "$LIBDIR/libntk.a"
cat > "$LIBDIR/pkgconfig/ntk.pc" <<PC
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/$LIBDIR_NAME
includedir=\${prefix}/include

Name: ntk
Description: Neural Tangent Kernels (limit and empirical kernels, training dynamics) - C API
Version: $VERSION
Libs: -L\${libdir} -lntk
Libs.private: -lpthread -ldl -lm
Cflags: -I\${includedir}
PC
# From PREFIX/LIBDIR/cmake/ntk back up to PREFIX: one ".." per path component.
UP=""
IFS=/ read -r -a parts <<<"$LIBDIR_NAME/cmake/ntk"
for p in "${parts[@]}"; do [ -n "$p" ] && UP="${UP:+$UP/}.."; done
for f in ntkConfig ntkConfigVersion; do
    sed -e "s|@VERSION@|$VERSION|g" -e "s|@MAJOR@|$MAJOR|g" -e "s|@MINOR@|$MINOR|g" \
        -e "s|@LIBDIR@|$LIBDIR_NAME|g" -e "s|@UP@|$UP|g" \
        "$ROOT/cmake/$f.cmake.in" > "$CMAKEDIR/$f.cmake"
    chmod 644 "$CMAKEDIR/$f.cmake"
done
echo "install.sh: installed ntk $VERSION from $FROM into $STAGE (SONAME: ${HAS_SONAME:-none})"
echo "  compile with: cc prog.c \$(PKG_CONFIG_PATH=$PREFIX/$LIBDIR_NAME/pkgconfig pkg-config --cflags --libs ntk)"
echo "  or in CMake:  find_package(ntk $MAJOR.$MINOR REQUIRED) with CMAKE_PREFIX_PATH=$PREFIX; target ntk::ntk or ntk::ntk_static"
