import os

os.environ.setdefault("MPLBACKEND", "Agg")
# One BLAS thread per process (set before numpy loads): the suite's matrices are small, several
# tests start worker processes, and a threaded BLAS on 2 cores then oversubscribes them (the
# ADMM iteration-bound test took 11 s with one thread and minutes with two on a loaded machine).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
