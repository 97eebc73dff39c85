r"""Check hand-written gradients: numerical evidence, never a proof.

People write backward passes by hand (custom autograd functions, NumPy layers,
kernels). :func:`check_gradient` compares such a gradient with finite
differences of the forward function; :func:`check_against` compares it with a
symbolic reference (a SymPy objective, gradient formulas, or a symgrad
derivation) at sample points; :func:`assert_gradient` raises
:class:`GradientError` with a short, pointed message unless the check passed.

**Directional mode** (the default). For a few random directions :math:`v`
(signed entries, each input's block scaled by that input's RMS) the check
compares :math:`a = \langle \nabla f, v\rangle` from ``grad_f`` with the
derivative :math:`n` of :math:`\varphi(t) = f(x + t v)` at 0: central
differences :math:`D(h) = (\varphi(h) - \varphi(-h))/2h` at :math:`h, h/2,
h/4` with :math:`h = 2\epsilon^{1/5}` (:math:`\epsilon` of the dtype f is
evaluated in) and one Richardson step :math:`R = D(h/2) + (D(h/2) - D(h))/3`,
which removes the :math:`h^2` term. Six evaluations of ``f`` per direction,
however large the input, plus one at the inputs (shared). For an array-valued
``f``, :math:`\varphi = \langle u, f\rangle` with an upstream gradient
:math:`u`.

The *noise floor* :math:`\eta` is measured from the differences themselves:
the spread :math:`|R(h/2, h/4) - R(h, h/2)|`, at least the rounding level of
:math:`R`, :math:`3\delta/h` with :math:`\delta = \max(2\epsilon|\varphi|,
q)` where :math:`q` is the spacing the values of :math:`\varphi` are quantised
to (read from their trailing zero bits: a sum that cancels is exact but
inherits the spacing of its large terms). A direction passes when

.. math:: |a - n| \le \max(\mathrm{rtol}\cdot\max(|a|,|n|),\ 4\eta,\ 8\epsilon_g \textstyle\sum_i |a_i v_i|)

with ``rtol`` defaulting to :math:`\sqrt{\epsilon_g}` of the gradient's dtype
(1.5e-8 for float64, 3.5e-4 for float32): a relative criterion, not an atol
that grows with the input size. A single spread is an unreliable noise
estimate when rounding dominates, so a disagreement within :math:`10^5\eta`
is re-measured at four jittered steps :math:`h(1 + j/32)` (fresh rounding,
nearly the same truncation) and must exceed 30 standard errors of the mean of
the five estimates (plus their largest spread) to count.

The steps shrink by 4 (reusing the finest level, up to six times) when the
differences do not shrink like a smooth function's (ratios of successive
differences outside [2, 40]), when the even part :math:`\varphi(h) +
\varphi(-h) - 2\varphi(0)` shrinks like :math:`h` rather than :math:`h^2` (a
kink at the inputs), when truncation keeps :math:`\eta` above the tolerance,
and (by 8) when :math:`\varphi` is not finite. A direction that never settles
is *inconclusive*, not failed; so is one where :math:`\varphi` is flat to
rounding, or the tolerance exceeds 10%. The checks stop at the first failing
direction, which is then restricted to each input in turn to say whose
gradient is wrong (the last input's share follows by linearity).

Inputs of a lower precision than float64 are re-evaluated in float64 when ``f``
is dtype-generic (it returns float64 for float64 inputs); otherwise ``f`` is
evaluated in their own dtype and the measured noise floor widens the
tolerance. Either way a correct float32 gradient is never failed for float32
rounding: ``rtol`` is that of float32.

**Full mode** (``mode="full"``): central differences for every entry
(:math:`2N` evaluations, step :math:`\epsilon^{1/3}` times the input's scale);
entries that exceed the tolerance, or whose even part betrays a kink, are
re-examined with the directional machinery along their coordinate before they
are called wrong. The report lists the worst entries. Meant for small inputs.

Verdicts are ``"passed"``, ``"failed"`` and ``"inconclusive"``. A passed check
is evidence, never a proof: a gradient can agree along the sampled directions
and still be wrong elsewhere; the directions and their number are in the
report.

The package, one module per job: :mod:`.report` (probes, entries, the report
and its messages), :mod:`.adapters` (NumPy arrays, torch tensors, f
scalarised, grad_f's results), :mod:`.directional` and :mod:`.full` (the two
modes), :mod:`.check` (:func:`check_gradient`, :func:`assert_gradient`),
:mod:`.layer` (:func:`check_layer`, for ``forward -> (out, cache)`` layers) and
:mod:`.reference` (:func:`check_against`). The finite differences themselves
are computed by :mod:`symgrad.numerics.differences`.
"""

from ...core.errors import GradientError
from .check import InconclusiveGradientWarning, assert_gradient, check_gradient
from .layer import check_layer
from .reference import check_against
from .report import FAILED, INCONCLUSIVE, PASSED, Entry, GradientReport, Probe, failure_message

__all__ = [
    "PASSED",
    "FAILED",
    "INCONCLUSIVE",
    "Probe",
    "Entry",
    "GradientReport",
    "GradientError",
    "check_gradient",
    "check_layer",
    "check_against",
    "assert_gradient",
    "failure_message",
    "InconclusiveGradientWarning",
]
