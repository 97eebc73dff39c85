"""The kernel's honesty measured on the adversarial corpus (``tests/kernel_corpus.py``).

Targets (each a test below):

- no false step is proved (the worst bug; always on);
- every false step is refuted, with a counterexample this test re-checks on its own
  (substitution and mpmath, see ``kernel_corpus.judge_at``), except the named cases of
  ``MAY_STAY_UNDECIDED`` (at most 10%, each with a reason), which may be numeric or
  unknown; a ``convention`` case (its false side has no value) may also be unknown;
- at least 90% of the true facts are proved, and none is refuted;
- misuse (``expect_error``) raises ``sg.InputError``;
- budget cases return a verdict within 2 x budget + 1 s.

Several targets fail with today's kernel: that is the point of the corpus. The kernel
runs once per module (a module-scoped fixture), each case in a forked child with a
hard cap, so a kernel that overruns its budget cannot hang the suite. The kernel's
sampling stops at its deadline, so on a loaded machine a verdict near the budget can
move from refuted to numeric; none can move to proved.

The corpus is also checked without the kernel: every false case's witness point fails
and every true case holds at sample points of its domain, by the oracle alone.
"""

from __future__ import annotations

import importlib.util
import pickle
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import mpmath
import pytest
import sympy as sp

import symgrad as sg
from symgrad.core.domain import Domain
from symgrad.core.families import Families

# Its module-scoped fixtures are built once: the whole module runs on one xdist worker.
pytestmark = pytest.mark.xdist_group("kernel_corpus")


def _load_corpus() -> ModuleType:
    """``tests/kernel_corpus.py`` as the module ``kernel_corpus`` (outcomes pickle by that name)."""
    if "kernel_corpus" in sys.modules:
        return sys.modules["kernel_corpus"]
    path = Path(__file__).resolve().with_name("kernel_corpus.py")
    spec = importlib.util.spec_from_file_location("kernel_corpus", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["kernel_corpus"] = module
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import kernel_corpus as kc
else:
    kc = _load_corpus()

BUDGET = 3.0
#: The budget cases test only that the kernel stops: a shorter budget tests that as well.
BUDGET_CASE_BUDGET = 1.0
#: The budget target: a verdict within this many seconds.
TIME_LIMIT = 2 * BUDGET_CASE_BUDGET + 1
#: The issue's target is 90%: 76 of 81 (94%) are proved on a quiet machine, 74 under heavy load
#: (interval arithmetic has a time safety net). Not proved yet: harmonic <= log n + 1 (the step
#: needs a law of log), softplus/logsumexp against relu/max plus log 2 (tails of the form
#: oo - oo), log of a product over the reals, relu minus GELU (margin 3e-5), and two budget cases.
#: This threshold is a ratchet: raise it as procedures are added, never lower it.
PROVED_SHARE = 0.90
ALLOWED_UNDECIDED_SHARE = 0.10

FALSE = [case for case in kc.CASES if case.is_false]
TRUE = [case for case in kc.CASES if case.is_true and case.category != "budget"]
BUDGET_CASES = [case for case in kc.CASES if case.category == "budget"]
MISUSE = [case for case in kc.CASES if case.expect_error]
VERDICTS = {status.value for status in sg.Status}


@pytest.fixture(scope="module")
def outcomes(run_once) -> dict[str, kc.Outcome]:
    """Every case checked once with ``budget=3``, once per test run (shared by the xdist workers)."""
    with run_once("kernel-corpus") as (shared, must_fill):
        path = shared / "outcomes.pickle"  # our own objects, written and read within this run
        if must_fill:
            path.write_bytes(pickle.dumps({case.name: kc.run_case(case, _budget(case), kc.cap_for(_budget(case)))
                                           for case in kc.CASES}))
    return pickle.loads(path.read_bytes())


def _budget(case: kc.Case) -> float:
    return BUDGET_CASE_BUDGET if case.category == "budget" else BUDGET


def _describe(outcome: kc.Outcome) -> str:
    text = f"{outcome.name}: {outcome.status}"
    if outcome.method:
        text += f" ({outcome.method})"
    if outcome.error:
        text += f" {outcome.error_type} {outcome.error}"
    return text


# ---------------------------------------------------------------------------
# The corpus itself (no kernel).


def test_corpus_shape() -> None:
    names = [case.name for case in kc.CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(FALSE) >= 70
    assert len(TRUE) >= 45
    assert len([c for c in kc.CASES if c.category == "textbook"]) >= 45
    assert len([c for c in FALSE if c.category == "algebra-slip"]) >= 15
    for category in kc.FALSE_CATEGORIES:
        assert any(c.category == category and c.is_false for c in kc.CASES), category
    assert MISUSE and all(c.category == "non-real" for c in MISUSE)
    assert BUDGET_CASES and all(c.truth is True for c in BUDGET_CASES)
    assert len(kc.MAY_STAY_UNDECIDED) <= ALLOWED_UNDECIDED_SHARE * len(FALSE)
    for name, reason in kc.MAY_STAY_UNDECIDED.items():
        case = kc.by_name(name)
        assert case.is_false and not case.convention and reason, name


@pytest.mark.parametrize("case", kc.CASES, ids=lambda c: c.name)
def test_cases_are_one_step_chains_of_sympy_objects(case: kc.Case) -> None:
    proof = case.build()
    assert isinstance(proof, sg.Proof) and len(proof.steps) == 1
    lhs, _, rhs = kc.the_step(proof)
    assert isinstance(lhs, sp.Basic) and isinstance(rhs, sp.Basic)


@pytest.mark.parametrize("case", [c for c in FALSE if c.witness is not None], ids=lambda c: c.name)
def test_false_case_fails_at_its_witness(case: kc.Case) -> None:
    assert case.witness is not None
    proof = case.build()
    lhs, rel, rhs = kc.the_step(proof)
    judgement = kc.judge_at(lhs, rel, rhs, case.witness(), proof.assumptions)
    assert judgement.finding is kc.Finding.FAILS, judgement


@pytest.mark.parametrize("case", TRUE, ids=lambda c: c.name)
def test_true_case_holds_at_sample_points(case: kc.Case) -> None:
    """A numerical sanity check of the stated truth (not a proof): no sample point fails."""
    proof = case.build()
    lhs, rel, rhs = kc.the_step(proof)
    domain = Domain.build(kc.scalars(lhs) | kc.scalars(rhs), proof.assumptions)
    # The sampler also probes far out (10**9): the oracle evaluates exactly, so keep to moderate points.
    points = [p for p in domain.sample(25, seed=1) if all(abs(v) <= 100 for v in p.values())]
    if Families.present(lhs, rhs):  # the kernel's sampler gives each entry a value; the oracle judges
        families = Families(seed=1)
        points = [written[1] for number, point in enumerate(points)  # short vectors: nested sums are m^2
                  if all(abs(v) <= 12 for v in point.values())
                  and (written := families.at([lhs, rhs], point, number)) is not None]
    judged = [(point, kc.judge_at(lhs, rel, rhs, point, proof.assumptions, certify=False)) for point in points]
    failing = [(point, j) for point, j in judged if j.finding in (kc.Finding.FAILS, kc.Finding.OUTSIDE)]
    assert not failing, failing[:3]
    assert any(j.finding in (kc.Finding.HOLDS, kc.Finding.UNDECIDED) for _, j in judged), "no point evaluated"


def test_oracle_confirms_exact_zeros_and_refuses_bogus_points() -> None:
    x = sp.Symbol("x", real=True)
    lt = sg.Relation.LT
    assert kc.judge_at((x**2 - 2)**2, sg.Relation.GT, sp.S.Zero, {x: sp.sqrt(2)}).finding is kc.Finding.FAILS
    assert kc.judge_at(sp.sin(x), lt, sp.S.One, {x: sp.pi / 2}).finding is kc.Finding.FAILS
    assert kc.judge_at(sp.sin(x), lt, sp.S.One, {x: 1}).finding is kc.Finding.HOLDS
    # cancellation inside a side is not mistaken for a failure
    eq = sg.Relation.EQ
    assert kc.judge_at(sp.cosh(x)**2 - sp.sinh(x)**2, eq, sp.S.One, {x: 30}).finding is kc.Finding.HOLDS
    # outside the domain, missing symbols, undefined sides
    a = sp.Symbol("a", positive=True)
    assert kc.judge_at(sp.log(a), lt, a, {a: -1}).finding is kc.Finding.OUTSIDE
    assert kc.judge_at(sp.log(a), lt, a, {}).finding is kc.Finding.OUTSIDE
    assert kc.judge_at(sp.log(x), lt, x, {x: -1}).finding is kc.Finding.UNDEFINED
    with mpmath.workdps(15):  # the oracle sets its own precision
        assert kc.judge_at(sp.exp(x) + sp.Rational(1, 10**45), sg.Relation.LE, sp.exp(x),
                           {x: 1}).finding is kc.Finding.FAILS


# ---------------------------------------------------------------------------
# The kernel's targets.


def test_no_false_step_is_proved(outcomes: dict[str, kc.Outcome]) -> None:
    proved = [_describe(outcomes[c.name]) for c in FALSE if outcomes[c.name].status == "proved"]
    assert not proved, f"{len(proved)} false step(s) proved:\n" + "\n".join(proved)


def _refutation_problem(case: kc.Case, outcome: kc.Outcome) -> str | None:
    """Why ``outcome`` misses the refutation target for the false ``case`` (None: it meets it)."""
    if outcome.status == "refuted":
        if case.convention:
            return None  # the false side has no value: no numeric counterexample to re-check
        if outcome.point is None:
            return "refuted without a counterexample"
        proof = case.build()
        lhs, rel, rhs = kc.the_step(proof)
        judgement = kc.judge_at(lhs, rel, rhs, outcome.point, proof.assumptions)
        if judgement.finding is not kc.Finding.FAILS:
            return (f"the counterexample {outcome.point} does not re-check: {judgement.finding.value} "
                    f"({judgement.why}; oracle lhs = {judgement.lhs}, rhs = {judgement.rhs})")
        for side, reported, oracle in (("lhs", outcome.lhs_value, judgement.lhs),
                                       ("rhs", outcome.rhs_value, judgement.rhs)):
            if reported is None or oracle is None:
                continue
            with mpmath.workdps(60):
                if reported.is_real:
                    value = mpmath.mpf(sp.Float(sp.N(reported, 60), 60)._to_mpmath(200))
                else:  # both parts at full precision (complex() would keep 16 digits)
                    re_part, im_part = (sp.Float(sp.N(part, 60), 60) for part in reported.as_real_imag())
                    value = mpmath.mpc(re_part._to_mpmath(200), im_part._to_mpmath(200))
                if abs(value - oracle) > mpmath.mpf(10) ** -30 * max(1, abs(oracle)):
                    return f"the reported {side} value {reported} is not the value there ({oracle})"
        return None
    if case.convention and outcome.status == "unknown":
        return None
    if case.name in kc.MAY_STAY_UNDECIDED and outcome.status in ("numeric", "unknown"):
        return None
    return _describe(outcome)


def test_false_steps_are_refuted_with_checked_counterexamples(outcomes: dict[str, kc.Outcome]) -> None:
    problems = []
    for case in FALSE:
        problem = _refutation_problem(case, outcomes[case.name])
        if problem is not None:
            problems.append(f"{case.name} [{case.category}]: {problem}")
    assert not problems, (f"{len(problems)} of {len(FALSE)} false steps miss the refutation target:\n"
                          + "\n".join(problems))


def test_true_facts_are_proved(outcomes: dict[str, kc.Outcome]) -> None:
    proved = [c for c in TRUE if outcomes[c.name].status == "proved"]
    missing = [_describe(outcomes[c.name]) for c in TRUE if outcomes[c.name].status != "proved"]
    share = len(proved) / len(TRUE)
    assert share >= PROVED_SHARE, (f"{len(proved)} of {len(TRUE)} true facts proved ({share:.0%}, target "
                                   f"{PROVED_SHARE:.0%}); not proved:\n" + "\n".join(missing))


def test_no_true_fact_is_refuted(outcomes: dict[str, kc.Outcome]) -> None:
    refuted = [_describe(outcomes[c.name]) + f" at {outcomes[c.name].point}"
               for c in kc.CASES if c.is_true and outcomes[c.name].status == "refuted"]
    assert not refuted, "true steps refuted:\n" + "\n".join(refuted)


def test_valid_steps_get_a_verdict_not_an_exception(outcomes: dict[str, kc.Outcome]) -> None:
    """Only misuse may raise; a valid step (true or false) gets one of the four verdicts."""
    broken = [_describe(outcomes[c.name]) for c in kc.CASES
              if not c.expect_error and outcomes[c.name].status not in VERDICTS]
    assert not broken, "valid steps without a verdict:\n" + "\n".join(broken)


def test_misuse_raises_input_error(outcomes: dict[str, kc.Outcome]) -> None:
    wrong = [_describe(outcomes[c.name]) for c in MISUSE
             if not (outcomes[c.name].status == "error" and outcomes[c.name].error_type == "InputError")]
    assert not wrong, "misuse that did not raise InputError:\n" + "\n".join(wrong)


def test_budget_cases_return_in_time(outcomes: dict[str, kc.Outcome]) -> None:
    late = [f"{_describe(outcomes[c.name])} after {outcomes[c.name].seconds:.1f} s" for c in BUDGET_CASES
            if outcomes[c.name].status not in VERDICTS or outcomes[c.name].seconds > TIME_LIMIT]
    assert not late, f"budget cases without a verdict within {TIME_LIMIT:g} s:\n" + "\n".join(late)
