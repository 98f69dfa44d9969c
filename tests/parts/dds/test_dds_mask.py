"""Gamma_M (exactly M ones per row, ties included, no gradient), the dynamic M of Eq. 6, and
the DDS wrapper f(tau(g~(X) + delta) * Gamma_M * X) on hand-made selectors."""
import math

import pytest
import torch
from torch import nn

from repro_lib.parts.dds import selection as sel
from repro_lib.parts.dds.model import DDS, DDSAutoencoder, NaiveAutoencoder
from repro_lib.parts.dds.networks import UNet, parameter_count


def test_top_m_keeps_the_m_largest():
    scores = torch.tensor([[0.1, 0.9, 0.5, -2.0], [3.0, 1.0, 2.0, 0.0]])
    assert sel.top_m_mask(scores, 2).tolist() == [[0, 1, 1, 0], [1, 0, 1, 0]]
    assert sel.top_m_mask(scores, 0).sum() == 0 and sel.top_m_mask(scores, 4).sum() == 8


@pytest.mark.parametrize("m", [1, 3, 7, 16, 32])
def test_exactly_m_ones_per_row_with_ties(m):
    g = torch.Generator().manual_seed(m)
    scores = torch.randint(0, 3, (50, 32), generator=g).float()  # three values: ties everywhere
    scores[0] = 1.0  # a row with all scores equal
    mask = sel.top_m_mask(scores, m)
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    assert mask.sum(1).tolist() == [m] * 50
    kept_min = torch.where(mask.bool(), scores, torch.inf).min(1).values
    dropped_max = torch.where(mask.bool(), -torch.inf, scores).max(1).values
    assert bool((kept_min >= dropped_max).all())  # nothing dropped beats anything kept
    assert mask[0].tolist() == [1.0] * m + [0.0] * (32 - m)  # ties: the earlier feature first


def test_per_row_counts_and_bad_counts():
    scores = torch.randn(4, 10, generator=torch.Generator().manual_seed(0))
    mask = sel.top_m_mask(scores, torch.tensor([1, 10, 3, 0]))
    assert mask.sum(1).tolist() == [1, 10, 3, 0]
    with pytest.raises(ValueError, match="0..10"):
        sel.top_m_mask(scores, 11)
    with pytest.raises(ValueError, match="one count per row"):
        sel.top_m_mask(scores, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="batch, features"):
        sel.top_m_mask(scores[0], 2)


def test_no_gradient_through_gamma():
    scores = torch.randn(3, 8, requires_grad=True)
    mask = sel.top_m_mask(scores, 3)
    assert not mask.requires_grad and mask.grad_fn is None
    # in tau(s) * Gamma(s) the gradient is tau'(s) where kept and 0 where dropped
    (sel.hard_concrete_gate(scores + sel.DELTA) * mask).sum().backward()
    s = torch.sigmoid((scores.detach() + sel.DELTA) / sel.BETA)
    assert torch.allclose(scores.grad, mask * s * (1 - s) / sel.BETA)


def test_dynamic_m_keeps_everything_for_a_share_epsilon():
    n = 200_000
    counts = sel.dynamic_m(n, 64, 1024, 0.1, torch.Generator().manual_seed(0))
    assert set(counts.unique().tolist()) == {64, 1024} and counts.dtype == torch.int64
    share = float((counts == 1024).double().mean())
    assert share == pytest.approx(0.1, abs=5 * math.sqrt(0.09 / n))
    assert (sel.dynamic_m(100, 64, 1024, 0.0) == 64).all() and (sel.dynamic_m(100, 64, 1024, 1.0) == 1024).all()
    with pytest.raises(ValueError, match="epsilon"):
        sel.dynamic_m(10, 4, 8, 1.5)


class Fixed(nn.Module):
    """A selector returning given scores (B, 1, H, W) whatever the input, with a parameter so
    gradients can be checked."""

    def __init__(self, scores):
        super().__init__()
        self.scores = nn.Parameter(scores)

    def forward(self, x):
        return self.scores.expand(len(x), *self.scores.shape[1:])


def test_dds_is_the_documents_composition_in_eval_mode():
    scores = torch.tensor([[[[2.0, -1.0], [0.5, 3.0]]]])
    x = torch.arange(24.0).view(2, 3, 2, 2)
    dds = DDS(Fixed(scores), nn.Identity(), m=2).eval()
    out = dds(x)
    gate = torch.sigmoid((scores + 1.0) / (2 / 3))
    mask = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])  # the top-2 positions: 3.0 and 2.0
    assert torch.allclose(out, gate * mask * x)  # one mask for all three colour channels
    sel_ = dds.select(x)
    assert sel_.counts.tolist() == [2, 2] and sel_.mask.sum(1).tolist() == [2, 2]
    assert torch.allclose(sel_.weights, (gate * mask).flatten(1).expand(2, 4))


def test_dds_element_granularity_scores_each_number():
    x = torch.rand(2, 3, 4, 4)
    dds = DDS(Fixed(torch.randn(1, 3, 4, 4)), nn.Identity(), m=5, granularity="element").eval()
    sel_ = dds.select(x)
    assert sel_.scores.shape == (2, 48) and sel_.mask.sum(1).tolist() == [5, 5]
    assert int((sel_.masked != 0).sum()) == 10
    with pytest.raises(ValueError, match="a pixel mask needs"):
        DDS(Fixed(torch.randn(1, 3, 4, 4)), nn.Identity(), m=5).select(x)
    with pytest.raises(ValueError, match="exceeds"):
        DDS(Fixed(torch.randn(1, 1, 4, 4)), nn.Identity(), m=17).eval().select(x)
    with pytest.raises(ValueError, match="granularity"):
        DDS(nn.Identity(), nn.Identity(), m=1, granularity="channel")


def test_training_mode_uses_noise_and_dynamic_m():
    torch.manual_seed(0)
    x = torch.rand(4000, 1, 4, 4)
    dds = DDS(Fixed(torch.zeros(1, 1, 4, 4)), nn.Identity(), m=3, kappa=0.1, epsilon=0.25).train()
    s = dds.select(x)
    share = float((s.counts == 16).double().mean())
    assert share == pytest.approx(0.25, abs=0.03) and set(s.counts.unique().tolist()) == {3, 16}
    assert s.mask.sum(1).tolist() == s.counts.tolist()
    assert s.gate.detach().unique().numel() > 1  # noisy gate, although every score is equal
    dds.eval()
    e = dds.select(x)
    assert (e.counts == 3).all() and e.gate.detach().unique().numel() == 1


def test_gradient_reaches_the_selector_only_through_the_gate():
    scores = torch.randn(1, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    selector = Fixed(scores.clone())
    dds = DDS(selector, nn.Identity(), m=5).eval()
    x = torch.rand(2, 3, 4, 4)
    dds(x).sum().backward()
    kept = dds.select(x).mask[0].view(1, 1, 4, 4).bool()
    grad = selector.scores.grad
    assert bool((grad[~kept] == 0).all()) and bool((grad[kept] != 0).all())
    s = torch.sigmoid((scores + 1) / (2 / 3))
    expected = (s * (1 - s) / (2 / 3)) * x.sum((0, 1), keepdim=True)  # d/ds of sum_b,c tau(s) x
    assert torch.allclose(grad[kept], expected[kept], rtol=1e-5)


def test_the_table5_models_build_and_reconstruct_shapes():
    x = torch.rand(2, 3, 32, 32)
    for skips in (True, False):
        model = DDSAutoencoder(m=64, channels=4, f_channels=4, f_skips=skips).eval()
        out = model(x)
        assert out.shape == x.shape and bool(((out > 0) & (out < 1)).all())
    assert NaiveAutoencoder(64, width=8)(x).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 8"):
        UNet(depth=3)(torch.rand(1, 3, 12, 12))


def test_parameter_counts():
    # UNet at C = 16: the selector of the document's experiments
    unet = UNet(3, 1, 16, 3)
    by_hand = 0
    widths = [16, 32, 64, 128]
    conv = lambda cin, cout, k: cin * cout * k * k + cout
    block = lambda cin, cout: conv(cin, cout, 3) + conv(cout, cout, 3) + 4 * cout  # + two batch norms
    by_hand += block(3, 16) + block(16, 32) + block(32, 64) + block(64, 128)
    by_hand += sum(conv(widths[i + 1], widths[i], 2) + block(2 * widths[i], widths[i]) for i in range(3))
    by_hand += conv(16, 1, 1)
    assert parameter_count(unet) == by_hand
    assert parameter_count(UNet(3, 1, 16, 3, skips=False)) < by_hand
