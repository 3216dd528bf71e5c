"""Build step of the Python package: bundles libntk.so into the wheel.

Why setuptools with a cargo step rather than maturin/setuptools-rust: the package is pure
ctypes + NumPy over the one C ABI (no Python extension module is compiled), so all the build
needs is the crate's cdylib copied next to the Python files. That is a dozen lines on top of
setuptools, the most widely kept backend, with no Rust-side Python glue.

Where the library comes from, in this order:
  - NTK_LIB=/path/to/libntk.so   bundle that file (e.g. a library built or installed already);
  - otherwise `cargo build --release --lib` in the repository (NTK_SOURCE_DIR, default two
    directories above this file), honouring CARGO_TARGET_DIR, and bundle target/release/libntk.so.
NTK_NO_BUNDLE=1 builds a wheel without the library: it then loads NTK_LIB or the system's
libntk.so.0 at import (see ntk/_lib.py).
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))


def _repo_root():
    root = os.environ.get("NTK_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
    manifest = os.path.join(root, "Cargo.toml")
    if not os.path.isfile(manifest):
        sys.exit(
            f"ntk: no Cargo.toml in {root}. Build from the ntk repository (pip install ./bindings/python), "
            "set NTK_SOURCE_DIR to the repository, or NTK_LIB to a built libntk.so."
        )
    return root


def _built_library():
    given = os.environ.get("NTK_LIB")
    if given:
        if not os.path.isfile(given):
            sys.exit(f"ntk: NTK_LIB={given!r} is not a file")
        return given
    root = _repo_root()
    cargo = shutil.which("cargo") or os.path.expanduser("~/.cargo/bin/cargo")
    if not os.path.exists(cargo):
        sys.exit("ntk: cargo not found; install Rust (https://rustup.rs) or set NTK_LIB=/path/to/libntk.so")
    subprocess.check_call([cargo, "build", "--release", "--lib"], cwd=root)
    target = os.environ.get("CARGO_TARGET_DIR") or "target"
    lib = os.path.join(root, target, "release", "libntk.so")
    if not os.path.isfile(lib):
        sys.exit(f"ntk: cargo finished but {lib} is missing")
    return lib


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        if os.environ.get("NTK_NO_BUNDLE"):
            return
        dest = os.path.join(self.build_lib, "ntk", "libntk.so")
        self.mkpath(os.path.dirname(dest))
        shutil.copyfile(_built_library(), dest)


class BinaryDistribution(Distribution):
    """The wheel holds a native library: platform-specific, not pure."""

    def has_ext_modules(self):
        return True


cmdclass = {"build_py": BuildPyWithLibrary}
try:
    try:
        from setuptools.command.bdist_wheel import bdist_wheel
    except ImportError:
        from wheel.bdist_wheel import bdist_wheel

    class BdistWheel(bdist_wheel):
        def get_tag(self):
            # ctypes only: any Python 3, no CPython ABI; the platform of the bundled library.
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = BdistWheel
except ImportError:
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
