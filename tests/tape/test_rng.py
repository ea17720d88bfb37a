"""Counter-based normals (aadrisk.tape.rng): Philox known answers, block == scalar,
exact uniforms, Box-Muller accuracy against the C library, and moments."""
import math

import numpy as np
import pytest

from aadrisk.tape import rng

U64 = np.uint64
M32 = 0xFFFFFFFF


@pytest.mark.parametrize("ctr, key, expected", [
    # Random123 kat_vectors, "philox4x32 10" rows (Salmon et al., SC'11)
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((M32, M32, M32, M32), (M32, M32), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_known_answers(ctr, key, expected):
    out = rng.philox4x32(*(U64(c) for c in ctr), *(U64(k) for k in key))
    assert tuple(int(x) for x in out) == expected


def _words(seed, pair, step, draw):
    """The two 53-bit integers of a pair, from the scalar Philox."""
    x0, x1, x2, x3 = (int(v) for v in rng.philox4x32(
        U64(pair & M32), U64(pair >> 32), U64((step + 1) & M32), U64(draw & M32),
        U64(seed & M32), U64((seed >> 32) & M32)))
    return ((x0 << 21) ^ (x1 >> 11)) & (2**64 - 1), ((x2 << 21) ^ (x3 >> 11)) & (2**64 - 1)


def test_block_philox_and_uniforms_are_exact():
    seed, p0, m, step, draw = 2**40 + 12345, 2**33 - 5, 37, 11, 3
    U1, U2 = np.empty(m), np.empty(m)
    rng._uniforms(seed, p0, m, step, draw, U1, U2)
    for k in range(m):
        y1, y2 = _words(seed, p0 + k, step, draw)
        assert y1 < 2**53 and y2 < 2**53
        # the uniform is (y + 1/2) 2^-53, rounded once
        assert U1[k] == (float(y1) + 0.5) * 2.0**-53
        assert U2[k] == (float(y2) + 0.5) * 2.0**-53


@pytest.mark.parametrize("j0, n", [(0, 128), (3, 100), (1, 1), (6, 7), (2**31 + 1, 64)])
def test_normal_block_equals_scalar_pairs(j0, n):
    out = np.empty(n)
    rng.normal_block(99, j0, n, 4, 1, out, rng.workspace(n))
    ref = [rng.counter_normal_pair(99, (j0 + j) >> 1, 4, 1)[(j0 + j) & 1] for j in range(n)]
    assert np.array_equal(out, np.array(ref))


def test_box_muller_matches_libm_on_the_same_uniforms():
    """Polynomial log / sincos against math.log / cos / sin: within a few ulps."""
    m = 4096
    ws = rng.workspace(2 * m)
    out = np.empty(2 * m)
    rng.normal_block(5, 0, 2 * m, 0, 0, out, ws)
    U1, U2 = np.empty(m), np.empty(m)
    rng._uniforms(5, 0, m, 0, 0, U1, U2)
    u1, u2 = U1[:m].copy(), U2[:m].copy()
    r = np.sqrt(-2.0 * np.log(u1))
    ref = np.empty(2 * m)
    ref[0::2] = r * np.cos(2.0 * math.pi * u2)
    ref[1::2] = r * np.sin(2.0 * math.pi * u2)
    assert np.max(np.abs(out - ref)) < 4e-15 * np.max(np.abs(ref))


def test_moments():
    n = 2**20
    z = np.empty(n)
    rng.normal_block(2024, 0, n, 7, 0, z, rng.workspace(n))
    assert abs(z.mean()) < 5 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2.0 / n)
    assert abs(np.mean(z**4) - 3.0) < 5 * math.sqrt(96.0 / n)
    # no repeats across steps and draws
    w = np.empty(1024)
    rng.normal_block(2024, 0, 1024, 8, 0, w, rng.workspace(1024))
    assert not np.any(np.isin(w, z[:1024]))
