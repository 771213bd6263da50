import os
import tempfile
from pathlib import Path

import pytest
import torch
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
# MNIST's training files: beside the clone (../shared/data/mnist), or where EXPLORER_TEST_MNIST says (a worktree
# one folder deeper than a clone finds them there)
SHARED_MNIST = Path(os.environ.get("EXPLORER_TEST_MNIST") or REPO.parent / "shared" / "data" / "mnist")

torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
os.environ.setdefault("EXPLORER_CACHE_DIR", tempfile.mkdtemp(prefix="vaex-test-cache-"))  # never a user's cache


@pytest.fixture
def mnist_dir() -> Path:
    if not (SHARED_MNIST / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{SHARED_MNIST} is not present (EXPLORER_TEST_MNIST names another folder)")
    return SHARED_MNIST


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread and one BLAS/OpenMP thread for a module's tests (use it with
    `pytestmark = pytest.mark.usefixtures("one_thread")`). Their problems are small: on a CPU shared
    with other jobs, threads waiting for each other at every op cost up to 10x (t-SNE: 25 s vs 1 s)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        torch.set_num_threads(before)
