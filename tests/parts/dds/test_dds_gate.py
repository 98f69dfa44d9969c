"""The gate of DDS (Eqs. 3-5) against the document's formulas written out in float64, and
Louizos et al.'s closed form of an exact zero."""
import math

import numpy as np
import pytest
import torch

from repro_lib.parts.dds import selection as sel


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _eq3(x, beta, zeta, gamma):
    """Eq. 3 in numpy float64: min(1, max(0, sigma(x / beta) (zeta - gamma) + gamma))."""
    return np.minimum(1.0, np.maximum(0.0, _sigmoid(x / beta) * (zeta - gamma) + gamma))


X = np.linspace(-12, 12, 241)


@pytest.mark.parametrize("beta, zeta, gamma",
                         [(2 / 3, 1.0, 0.0), (2 / 3, 1.1, -0.1), (0.5, 1.3, -0.4), (1.0, 1.0, 0.0)])
def test_gate_is_eq3_in_float64(beta, zeta, gamma):
    got = sel.hard_concrete_gate(torch.tensor(X, dtype=torch.float64), beta, zeta, gamma).numpy()
    np.testing.assert_allclose(got, _eq3(X, beta, zeta, gamma), rtol=0, atol=1e-15)


def test_defaults_are_the_documents_and_make_tau_a_plain_sigmoid():
    assert (sel.BETA, sel.DELTA, sel.ZETA, sel.GAMMA) == (2 / 3, 1.0, 1.0, 0.0)
    assert (sel.KAPPA_TRAIN, sel.KAPPA_TEST, sel.EPSILON) == (0.1, 0.0, 0.1)
    x = torch.tensor(X, dtype=torch.float64)
    gate = sel.hard_concrete_gate(x)
    assert torch.equal(gate, torch.sigmoid(x / sel.BETA))  # the clamp never acts
    assert bool((gate > 0).all()) and bool((gate < 1).all())
    hard = sel.hard_concrete_gate(x, zeta=sel.HARD_ZETA, gamma=sel.HARD_GAMMA)
    assert bool((hard == 0).any()) and bool((hard == 1).any())  # Louizos's stretch does clamp


def test_eq5_with_a_fixed_u():
    x = torch.tensor(X, dtype=torch.float64)
    for u_value in (0.03, 0.5, 0.9):
        u = torch.full_like(x, u_value)
        for kappa in (0.0, 0.1, 1.0):
            expected = _sigmoid((kappa * (math.log(u_value) - math.log(1 - u_value)) + X) / (2 / 3))
            np.testing.assert_allclose(sel.noisy_sigmoid(x, u, kappa).numpy(), expected, rtol=1e-13, atol=1e-15)
            gate = sel.stochastic_gate(x, kappa, zeta=1.1, gamma=-0.1, u=u).numpy()
            np.testing.assert_allclose(gate, np.clip(expected * 1.2 - 0.1, 0, 1), rtol=1e-13, atol=1e-15)
    # u = 1/2 has no noise: Eq. 4 is Eq. 3
    assert torch.allclose(sel.stochastic_gate(x, 1.0, u=torch.full_like(x, 0.5)), sel.hard_concrete_gate(x))


def test_kappa_zero_draws_nothing_and_is_eq3():
    x = torch.randn(50, dtype=torch.float64)
    state = torch.get_rng_state()
    assert torch.equal(sel.stochastic_gate(x, 0.0), sel.hard_concrete_gate(x))
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError, match="kappa"):
        sel.stochastic_gate(x, -0.1)


@pytest.mark.parametrize("x0", [-1.0, 0.0, 0.7, 2.0])
def test_exact_zeros_with_louizos_stretch_and_kappa_one_follow_the_closed_form(x0):
    """Louizos et al. (2018): P(z = 0) = sigma(beta log(-gamma / zeta) - log alpha), with x as log alpha."""
    n = 400_000
    x = torch.full((n,), x0, dtype=torch.float64)
    g = torch.Generator().manual_seed(int(10 * x0) + 100)
    z = sel.stochastic_gate(x, 1.0, zeta=1.1, gamma=-0.1, generator=g)
    closed_zero = 1 / (1 + math.exp(-((2 / 3) * math.log(0.1 / 1.1) - x0)))
    closed_one = 1 - 1 / (1 + math.exp(-((2 / 3) * math.log(1.1 / 0.1) - x0)))
    se = lambda p: math.sqrt(p * (1 - p) / n)
    assert float((z == 0).double().mean()) == pytest.approx(closed_zero, abs=5 * se(closed_zero))
    assert float((z == 1).double().mean()) == pytest.approx(closed_one, abs=5 * se(closed_one))
    ours = sel.prob_exact_zero(torch.tensor([x0], dtype=torch.float64), 1.0, zeta=1.1, gamma=-0.1)
    assert float(ours) == pytest.approx(closed_zero, rel=1e-12)
    assert float(sel.prob_exact_one(torch.tensor([x0]), 1.0, zeta=1.1, gamma=-0.1)) == pytest.approx(closed_one)


def test_closed_form_at_other_kappa_and_with_the_documents_defaults():
    n = 400_000
    x = torch.zeros(n, dtype=torch.float64)
    z = sel.stochastic_gate(x, 0.5, zeta=1.1, gamma=-0.1, generator=torch.Generator().manual_seed(7))
    p = float(sel.prob_exact_zero(torch.zeros(1), 0.5, zeta=1.1, gamma=-0.1))
    assert float((z == 0).double().mean()) == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))
    # zeta = 1, gamma = 0: no exact 0 or 1 (up to u's clipping away from 0 and 1)
    z = sel.stochastic_gate(torch.zeros(n, dtype=torch.float64), 1.0, generator=torch.Generator().manual_seed(8))
    assert not bool((z == 0).any()) and not bool((z == 1).any())
    assert float(sel.prob_exact_zero(torch.zeros(1))) == 0.0 and float(sel.prob_exact_one(torch.zeros(1))) == 0.0


def test_noise_is_logistic():
    u = torch.rand(200_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    noise = sel.logistic_noise(u)
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.02)
    assert float(noise.var()) == pytest.approx(math.pi ** 2 / 3, rel=0.02)  # variance of the standard logistic


def test_gradient_flows_through_the_gate_and_stops_where_it_clamps():
    x = torch.tensor([-5.0, 0.0, 5.0], dtype=torch.float64, requires_grad=True)
    sel.hard_concrete_gate(x).sum().backward()
    s = torch.sigmoid(x.detach() / sel.BETA)
    assert torch.allclose(x.grad, s * (1 - s) / sel.BETA)  # d sigma(x / beta) / dx
    y = torch.tensor([-5.0, 0.0, 5.0], dtype=torch.float64, requires_grad=True)
    sel.hard_concrete_gate(y, zeta=1.1, gamma=-0.1).sum().backward()
    assert y.grad[0] == 0 and y.grad[2] == 0 and y.grad[1] > 0  # clamped at 0 and at 1: no gradient
