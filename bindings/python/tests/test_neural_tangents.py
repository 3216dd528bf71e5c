"""ntk's limit kernels against neural-tangents 0.6.5 (values committed in
reference/nt_reference.json by reference/make_nt_reference.py; CI has no JAX)."""

import json
import os

import numpy as np
import pytest

import ntk
from conftest import relerr

REF = json.load(open(os.path.join(os.path.dirname(__file__), "reference", "nt_reference.json")))


@pytest.mark.parametrize(
    "act, tol",
    [
        ("erf", 1e-12),
        # neural-tangents writes the arc-cosine kernel with arccos, which loses ~1e-8 near
        # correlation 1; ntk uses atan2 (checked against the closed form to 1e-12 elsewhere).
        ("relu", 1e-7),
    ],
)
def test_limit_kernels_match_neural_tangents(act, tol):
    net = ntk.Network(REF["widths"], act, beta=REF["beta"])
    nngp, theta = ntk.kernel_limit(net, REF["x1"], REF["x2"], get=("nngp", "ntk"))
    assert nngp.shape == (6, 2)
    assert relerr(nngp, REF[act]["nngp"]) < tol
    assert relerr(theta, REF[act]["ntk"]) < tol


def test_package_readme_snippet_runs():
    readme = os.path.join(os.path.dirname(__file__), "..", "README.md")
    text = open(readme).read()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    env = {}
    exec(compile(code, "README.md", "exec"), env)
    assert env["theta"].shape == (6, 2) and env["theta_emp"].shape == (6, 2)
    assert env["f_test"].shape == (2, 1) and env["flow"].time == 10.0


def test_nt_equivalent_values():
    # The README's neural-tangents-equivalent snippet (erf, 3 -> 512 -> 512 -> 1).
    x1, x2 = np.array(REF["x1"]), np.array(REF["x2"])
    net = ntk.Network([3, 512, 512, 1], "erf", beta=0.1, seed=0)
    k = ntk.kernel_limit(net, x1, x2, get="ntk")
    assert relerr(k, REF["erf"]["ntk"]) < 1e-12
