#!/usr/bin/env bash
# Installs the ntk C library: header, shared library with soname, static library, pkg-config file.
#
#   scripts/install.sh [--no-build] [--from DIR] [--libdir NAME] PREFIX
#
#   PREFIX/include/ntk.h
#   PREFIX/lib/libntk.so.MAJOR.MINOR.PATCH   (SONAME libntk.so.MAJOR)
#   PREFIX/lib/libntk.so.MAJOR -> libntk.so.MAJOR.MINOR.PATCH
#   PREFIX/lib/libntk.so       -> libntk.so.MAJOR            (for -lntk at link time)
#   PREFIX/lib/libntk.a                                      (static: add -lpthread -ldl -lm)
#   PREFIX/lib/pkgconfig/ntk.pc                              (Libs.private: -lpthread -ldl -lm)
#
# By default the library is built with `cargo build --release` (build.rs gives the cdylib the SONAME
# libntk.so.MAJOR); a library built without it (e.g. by another build system) is relinked with
# `cargo rustc --release --lib -- -C link-arg=-Wl,-soname,libntk.so.MAJOR`.
#   --no-build     install what is already in DIR (default target/release) as it is
#   --from DIR     take libntk.so / libntk.a from DIR
#   --libdir NAME  library directory under PREFIX (default lib; e.g. lib64)
# While MAJOR is 0 the ABI may change between minor versions; rebuild dependants on upgrade.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD=1
FROM="$ROOT/target/release"
LIBDIR_NAME=lib
PREFIX=""
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --from) FROM="$2"; shift ;;
        --libdir) LIBDIR_NAME="$2"; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        -*) echo "install.sh: unknown option $1" >&2; exit 2 ;;
        *) PREFIX="$1" ;;
    esac
    shift
done
[ -n "$PREFIX" ] || { echo "usage: scripts/install.sh [--no-build] [--from DIR] [--libdir NAME] PREFIX" >&2; exit 2; }
mkdir -p "$PREFIX"
PREFIX="$(cd "$PREFIX" && pwd)"

VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/Cargo.toml" | head -n1)"
MAJOR="${VERSION%%.*}"
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
    [ -f "$FROM/$f" ] || { echo "install.sh: $FROM/$f not found (build with cargo build --release)" >&2; exit 1; }
done
HAS_SONAME="$(soname_of "$FROM/libntk.so")"
if [ -n "$HAS_SONAME" ] && [ "$HAS_SONAME" != "$SONAME" ]; then
    echo "install.sh: $FROM/libntk.so has SONAME $HAS_SONAME, expected $SONAME" >&2
    exit 1
fi

LIBDIR="$PREFIX/$LIBDIR_NAME"
install -d "$PREFIX/include" "$LIBDIR/pkgconfig"
install -m 644 "$ROOT/include/ntk.h" "$PREFIX/include/ntk.h"
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
echo "install.sh: installed ntk $VERSION into $PREFIX (SONAME: ${HAS_SONAME:-none})"
echo "  compile with: cc prog.c \$(PKG_CONFIG_PATH=$LIBDIR/pkgconfig pkg-config --cflags --libs ntk)"
