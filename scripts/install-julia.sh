#!/usr/bin/env bash
# Installs Julia 1.5.3 from Debian bullseye's .debs into a private prefix (Debian bookworm has no
# Julia package). Usage: scripts/install-julia.sh [PREFIX]   (default /opt/julia-1.5.3)
#
# The .debs are fetched with `apt-get download` against a separate sources list, so the system's
# apt configuration is left untouched; they are unpacked with `dpkg -x` (not installed). A wrapper
# PREFIX/bin/julia sets LD_LIBRARY_PATH and runs the real binary. Idempotent: exits early when
# PREFIX/bin/julia already runs. Needs root (or sudo) for the system libraries it apt-installs.
set -euo pipefail
PREFIX="${1:-/opt/julia-1.5.3}"
# Version check plus an exception thrown from a compiled function (crashes with a wrong libunwind).
SMOKE='VERSION == v"1.5.3" || exit(1); f() = error("x"); try f() catch end; println("install-julia: ", VERSION, " OK")'
if [ -x "$PREFIX/bin/julia" ] && "$PREFIX/bin/julia" --startup-file=no -e "$SMOKE" >/dev/null 2>&1; then
    echo "install-julia: Julia 1.5.3 already installed in $PREFIX"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# System libraries Julia 1.5.3's .debs link against (present in bookworm under the same sonames).
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends ca-certificates libcurl3-gnutls libgmp10 libmpfr6 \
    libpcre2-8-0 libssh2-1 libgfortran5

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/debs" "$WORK/archives/partial"
echo "deb http://deb.debian.org/debian bullseye main" > "$WORK/bullseye.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$WORK/bullseye.list" -o "Dir::Etc::SourceParts=-"
          -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache::Archives=$WORK/archives"
          -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
apt-get "${APT_OPTS[@]}" update
# libunwind8 comes from bullseye too (1.3.2): with bookworm's libunwind 1.6.2, Julia 1.5.3
# segfaults whenever an exception is thrown from a compiled function (backtrace collection).
PKGS=(julia libjulia1 julia-common libllvm9 libgit2-1.1 libmbedtls12 libmbedcrypto3 libmbedx509-0
      libdsfmt-19937-1 libopenlibm3 libutf8proc2 libffi7 libunwind8)
# Pin each package to its bullseye version (otherwise apt picks the version the system has
# installed, e.g. bookworm's libunwind8, which is not in the bullseye archive).
PINNED=()
for p in "${PKGS[@]}"; do
    v="$(apt-cache "${APT_OPTS[@]}" madison "$p" | awk -F'|' 'NR==1 {gsub(/ /, "", $2); print $2}')"
    [ -n "$v" ] || { echo "install-julia: $p not found in bullseye" >&2; exit 1; }
    PINNED+=("$p=$v")
done
( cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" download "${PINNED[@]}" )

$SUDO mkdir -p "$PREFIX"
for deb in "$WORK"/debs/*.deb; do
    $SUDO dpkg -x "$deb" "$PREFIX"
done

LIBDIR="$PREFIX/usr/lib/x86_64-linux-gnu"
MULTIARCH="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
LIBDIR="$PREFIX/usr/lib/$MULTIARCH"
$SUDO mkdir -p "$LIBDIR"
for lib in libcurl-gnutls.so.4 libgmp.so.10 libmpfr.so.6 libpcre2-8.so.0 libssh2.so.1; do
    src="/usr/lib/$MULTIARCH/$lib"
    [ -e "$src" ] || src="/lib/$MULTIARCH/$lib"
    [ -e "$src" ] || { echo "install-julia: system library $lib not found" >&2; exit 1; }
    $SUDO ln -sf "$src" "$LIBDIR/$lib"
done

$SUDO mkdir -p "$PREFIX/bin"
$SUDO tee "$PREFIX/bin/julia" >/dev/null <<WRAP
#!/bin/sh
# Wrapper installed by ntk's scripts/install-julia.sh.
export LD_LIBRARY_PATH="$LIBDIR:$LIBDIR/julia\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
exec "$PREFIX/usr/bin/julia" "\$@"
WRAP
$SUDO chmod +x "$PREFIX/bin/julia"
"$PREFIX/bin/julia" --startup-file=no -e "$SMOKE"
echo "install-julia: add $PREFIX/bin to PATH (or set JULIA=$PREFIX/bin/julia)"
