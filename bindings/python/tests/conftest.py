import numpy as np
import pytest

import ntk

# CRAN-like courtesy on shared CI machines, and the library promises identical bits anyway.
ntk.set_num_threads(2)


@pytest.fixture
def rng():
    return np.random.default_rng(20181)


def relerr(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.max(np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-300)))
