"""The exact BatchNorm oracle: one reverse pass over the forward algorithm, equal to forward mode."""

from __future__ import annotations

import pytest

from symgrad.catalog.support import normalization as nz
from symgrad.catalog.support.normalization import exact


@pytest.mark.parametrize("kind", nz.KINDS)
@pytest.mark.parametrize("m", [1, 2, 5, 13, 40])
def test_reverse_pass_equals_forward_mode(kind: str, m: int) -> None:
    s = nz.setup(kind, m)
    for seed in range(2):
        point = nz.rational_point(s, seed)
        reverse = nz.exact_gradient(s, point)
        assert reverse == exact.exact_gradient_forward(s, point)
        assert set(reverse) == {*s.x, *s.gamma, *s.beta}


def test_tape_gradient_of_a_known_function() -> None:
    """d/da, d/db of (a*b + a/b) * 3 at a = 2, b = 1/2, by hand: 3 (b + 1/b) = 15/2, 3 (a - a/b^2) = -18."""
    from fractions import Fraction

    tape = exact._Tape()
    a, b = tape.const(Fraction(2)), tape.const(Fraction(1, 2))
    out = (a * b + a / b).scaled(Fraction(3))
    grad = tape.gradient(out)
    assert out.value == 15 and grad[a.index] == Fraction(15, 2) and grad[b.index] == -18
