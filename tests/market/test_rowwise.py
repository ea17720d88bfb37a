"""The compiled row-by-row product equals einsum's bit for bit (the order of its sums)."""
import numpy as np
import pytest

from aadrisk.market._rowwise import fits, matmul_rows
from aadrisk.market.bootstrap import rowwise_matmul

SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 5e-324])


def _einsum(a, b):
    return np.einsum("...j,jk->...k", a, b, optimize=False)


@pytest.mark.parametrize("seed", range(4))
def test_matmul_rows_is_einsum_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for t in range(150):
        n = int(rng.choice([0, 1, 2, 3, 700, 2049])) if t % 2 else int(rng.integers(1, 40))
        p, q = int(rng.integers(0, 40)), int(rng.integers(2, 40))
        a = rng.standard_normal((n, p)) * 10.0 ** rng.integers(-8, 8, (n, p))
        b = rng.standard_normal((p, q)) * 10.0 ** rng.integers(-8, 8, (p, q))
        if t % 5 == 0 and a.size:
            a.ravel()[rng.integers(0, a.size, 5)] = rng.choice(SPECIAL, 5)
        if t % 7 == 0 and b.size:
            b.ravel()[rng.integers(0, b.size, 5)] = rng.choice(SPECIAL, 5)
        if t % 11 == 0:
            a[a < 0] = -0.0                       # signed zeros: sums start from +0.0
        assert fits(a, b)
        got, want = matmul_rows(a, b), _einsum(a, b)
        assert got.shape == want.shape and got.tobytes() == want.tobytes(), (n, p, q)


def test_sums_in_order():
    """Not reassociated: (1e16 + 1) - 1e16 is 0 in order, 1 otherwise."""
    a = np.array([[1e16, 1.0, -1e16]])
    b = np.ones((3, 2))
    assert matmul_rows(a, b).tolist() == [[0.0, 0.0]] == _einsum(a, b).tolist()


def test_other_shapes_stay_with_einsum():
    a = np.arange(12.0).reshape(4, 3)
    assert not fits(a, np.ones((3, 1)))           # one column: einsum sums another way
    assert not fits(a[:, :2], np.ones((2, 2)))    # not C-contiguous
    assert not fits(a.astype(np.float32), np.ones((3, 2), dtype=np.float32))
    assert not fits(a[0], np.ones((3, 2)))        # 1-d
    for x, y in ((a, np.ones((3, 1))), (a[0], np.ones((3, 2))),
                 (np.ones((2, 4, 3)), np.ones((3, 2)))):
        assert rowwise_matmul(x, y).tobytes() == _einsum(x, y).tobytes()
    rng = np.random.default_rng(9)
    x, y = rng.standard_normal((50, 6)), rng.standard_normal((6, 5))
    assert rowwise_matmul(x, y).tobytes() == _einsum(x, y).tobytes()
