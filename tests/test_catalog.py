"""Catalog entries: every proof proved, every claimed derivative cross-checked."""

from __future__ import annotations

import math

import mpmath
import pytest
import sympy as sp

import symgrad as sg
from symgrad.proofs.documents import ProofBlock, Table

x = sp.Symbol("x", real=True)


#: Entries whose analytic steps rest on named lemmas (never shown as proved by computation).
RESTS_ON_LEMMAS = {
    "batchnorm-backward": ("sum-linearity", "kronecker-collapse", "centred-sum-zero-general", "sum-of-constant"),
    "chain-rule": ("caratheodory-criterion",),
    "full-batch-vs-sgd": ("induction",),
    "gradient-product-bound": ("induction", "operator-norm-submultiplicative"),
    "lstm-gating": ("induction",),
}


# On the xdist worker that also renders the catalog (tests/test_tools_output.py): built and checked once.
@pytest.mark.xdist_group("catalog")
@pytest.mark.parametrize("name", sg.catalog.names())
def test_every_proof_of_every_entry_is_proved(name: str) -> None:
    document = sg.catalog.get(name)
    report = document.check()
    failures = [v.explain() for r in report.reports for v in r.steps if not v.ok_given_lemmas]
    assert report.ok_given_lemmas, "\n".join(failures)
    assert report.lemmas == RESTS_ON_LEMMAS.get(name, ())
    assert report.ok == (name not in RESTS_ON_LEMMAS)
    assert document.proofs, "an entry without proofs checks nothing"


def test_unknown_entry_is_a_clear_error() -> None:
    with pytest.raises(sg.UnknownEntryError, match="no catalog entry named 'nope'"):
        sg.catalog.get("nope")


def test_sigmoid_entry_claims_match_independent_oracles() -> None:
    document = sg.catalog.get("sigmoid-derivative-bound")
    claims = {b.proof.title: b.proof for b in document.blocks if isinstance(b, ProofBlock)}
    # The derivative chain ends at sigma(1 - sigma); sympy.diff of the definition agrees.
    chain = claims["Derivative from the definition"]
    definition = 1 / (1 + sp.exp(-x))
    end = chain.end.rewrite(sg.sigmoid, sp.exp)
    assert sp.simplify(sp.diff(definition, x) - end) == 0
    # The bound: the maximum of sigma' over a fine grid is 1/4, at 0 (mpmath, 30 digits).
    with mpmath.workdps(30):
        def dsig(v: float) -> mpmath.mpf:
            return mpmath.diff(lambda u: 1 / (1 + mpmath.exp(-u)), v)

        grid = [i / 50 for i in range(-500, 501)]
        values = [dsig(v) for v in grid]
        assert max(values) <= mpmath.mpf(1) / 4 + mpmath.mpf(10) ** -25
        assert grid[values.index(max(values))] == 0.0
        assert dsig(40) < 1e-17 and dsig(-40) < 1e-17


def test_sigmoid_entry_numeric_table_errors_are_small() -> None:
    document = sg.catalog.get("sigmoid-derivative-bound")
    (table,) = [b for b in document.blocks if isinstance(b, Table)]
    assert len(table.rows) >= 5
    for row in table.rows:
        point, exact, *errors = row
        expected = 1 / (1 + math.exp(-float(point)))
        assert abs(float(exact) - expected * (1 - expected)) < 1e-14
        richardson, complex_step, mp = (float(e) for e in errors)
        assert richardson < 1e-12 and complex_step < 1e-15 and mp < 1e-40
