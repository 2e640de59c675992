"""Tests of the spinor products (spec Sec. 2): invariants, antisymmetry, momentum conservation, Schouten."""

from __future__ import annotations

import numpy as np

from oracles.spinors import cross_to_outgoing, light_cone_frame, spinor_products
from tests.oracles.diphoton_points import SQRT_S


def test_spinor_identities(points3: np.ndarray) -> None:
    k = light_cone_frame(cross_to_outgoing(points3[:10]))
    angle, square, s = spinor_products(k)
    dot = 2 * (k[:, :, None, 0] * k[:, None, :, 0] - np.einsum("nid,njd->nij", k[..., 1:], k[..., 1:]))
    scale = SQRT_S**2
    np.testing.assert_allclose(s, dot, atol=1e-12 * scale)
    np.testing.assert_allclose(angle * np.swapaxes(square, 1, 2), s, atol=1e-12 * scale)  # ⟨ij⟩[ji] = s_ij
    np.testing.assert_allclose(angle, -np.swapaxes(angle, 1, 2), atol=0)
    # momentum conservation Σ_k ⟨ik⟩[kj] = 0 and the Schouten identity
    np.testing.assert_allclose(np.einsum("nik,nkj->nij", angle, square), 0, atol=1e-10 * scale)
    a = angle
    schouten = a[:, 0, 1] * a[:, 2, 3] + a[:, 0, 2] * a[:, 3, 1] + a[:, 0, 3] * a[:, 1, 2]
    np.testing.assert_allclose(schouten, 0, atol=1e-12 * scale)
