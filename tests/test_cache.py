"""The persistent verdict cache: same verdicts and renders, safe storage, honest degradation."""

from __future__ import annotations

import io
import json
import sqlite3
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
import sympy as sp

import symgrad as sg
from symgrad.cli import main
from symgrad.core import budget, cache
from symgrad.core.kernel import CheckOptions
from symgrad.core.verdicts import Relation, Status, Verdict
from symgrad.proofs import proof as proof_module
from symgrad.rendering.render import render


@pytest.fixture
def verdict_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[cache.VerdictCache]:
    """A cache in a fresh directory, in use for one test (the in-memory report cache emptied around it)."""
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    proof_module._check_cached.cache_clear()
    active = cache.configure(directory=tmp_path / "cache", warn=pytest.fail)
    assert active is not None
    yield active
    cache.use(None)
    proof_module._check_cached.cache_clear()


def uncached(proof: sg.Proof, **options: object) -> sg.Report:
    """The report with no persistent cache and no in-memory cache."""
    previous = cache.active()
    cache.use(None)
    proof_module._check_cached.cache_clear()
    try:
        return proof.check(**options)
    finally:
        cache.use(previous)
        proof_module._check_cached.cache_clear()


def fresh(proof: sg.Proof, **options: object) -> sg.Report:
    proof_module._check_cached.cache_clear()
    return proof.check(**options)


def shown(report: sg.Report) -> tuple[str, str]:
    return render(report, "markdown"), render(report, "latex")


def findings(report: sg.Report) -> list[tuple[object, ...]]:
    """Everything a verdict says, SymPy values by their exact srepr (``seconds`` left out: it is a timing)."""
    out = []
    for v in report.steps:
        cx = v.counterexample
        out.append((v.index, sp.srepr(v.lhs), v.relation, sp.srepr(v.rhs), v.status, v.method, v.by, v.samples,
                    v.digits, None if v.min_slack is None else sp.srepr(v.min_slack), v.note, v.rests_on,
                    None if cx is None else ([(sp.srepr(k), sp.srepr(p)) for k, p in cx.point.items()],
                                             sp.srepr(cx.lhs_value), sp.srepr(cx.rhs_value), cx.exact)))
    return out


pytestmark = pytest.mark.fresh_kernel  # these tests watch the caches themselves

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", positive=True)
z = sp.Symbol("z")

PROOFS = {
    "proved": sg.calc((x + 1) ** 2).eq(x**2 + 2 * x + 1, by="expand").le(2 * x**2 + 2 * x + 1 + 0 * y),
    "refuted exactly": sg.calc(x**2).ge(x),
    "refuted with floats": sg.calc(sp.exp(x)).ge(x + sp.Rational(1, 2) + x**2),
    "complex counterexample": sg.calc(sp.sqrt(z**2)).eq(z),
    "numeric": sg.calc(sp.besselj(0, y)).le(1),  # true; no procedure of the kernel knows Bessel functions
    "lemma": sg.calc(sp.Function("f")(x)).eq(sp.Function("f")(x), by="same"),
}


@pytest.mark.parametrize("name", sorted(PROOFS))
def test_cached_and_uncached_reports_and_renders_are_identical(name: str,
                                                               verdict_cache: cache.VerdictCache) -> None:
    proof = PROOFS[name]
    reference = uncached(proof)
    cold = fresh(proof)
    hits = verdict_cache.hits
    warm = fresh(proof)
    assert findings(cold) == findings(reference) == findings(warm)
    assert shown(cold) == shown(reference) == shown(warm)
    if verdict_cache.hits > hits:  # (a verdict the clock decided, e.g. under heavy load, is never stored)
        assert [v.seconds for v in warm.steps] == [v.seconds for v in cold.steps]  # the stored timing, read back


def test_every_kind_of_verdict_is_stored_and_read_back(verdict_cache: cache.VerdictCache) -> None:
    for proof in PROOFS.values():
        fresh(proof)
    stored = verdict_cache.stores
    hits = verdict_cache.hits
    statuses = set()
    for proof in PROOFS.values():
        statuses |= {v.status for v in fresh(proof).steps}
    assert {Status.PROVED, Status.REFUTED, Status.NUMERIC} <= statuses
    # Every verdict stored by the first pass is read back by the second. (Under heavy load a verdict the
    # clock decided in the first pass is not stored, and the second pass may store it: so no equality.)
    assert stored > 0 and verdict_cache.hits - hits >= stored


def test_a_catalog_entry_renders_byte_identically_from_the_cache(verdict_cache: cache.VerdictCache) -> None:
    document = sg.catalog.get("sigmoid-derivative-bound")
    cache.use(None)
    proof_module._check_cached.cache_clear()
    reference = document.check()
    cache.use(verdict_cache)
    proof_module._check_cached.cache_clear()
    document.check()
    proof_module._check_cached.cache_clear()
    stores = verdict_cache.stores
    warm = document.check()
    assert verdict_cache.stores == stores and verdict_cache.hits > 0
    for fmt in ("markdown", "latex"):
        assert render(warm, fmt) == render(reference, fmt)


def test_a_note_checked_again_decides_nothing_and_reads_the_same(verdict_cache: cache.VerdictCache) -> None:
    """`symgrad check` reads the verdict cache too: a note checked again (every step, and the small
    sizes of the steps over a symbolic number of terms) is answered from it, with the same report."""
    from symgrad.notes.checker import check_text

    note = Path(__file__).parent / "notes_corpus" / "everyday" / "layer_index_backprop.tex"
    text = note.read_text(encoding="utf-8")
    cache.use(None)
    reference = check_text(text, "latex", path=note.name)
    assert {s.verdict.method for s in reference.steps} >= {"small sizes"}
    assert {s.verdict.status for s in reference.steps} >= {Status.PROVED, Status.NUMERIC, Status.REFUTED}
    cache.use(verdict_cache)
    cold = check_text(text, "latex", path=note.name)
    misses, stores = verdict_cache.misses, verdict_cache.stores
    warm = check_text(text, "latex", path=note.name)
    assert verdict_cache.misses == misses and verdict_cache.stores == stores and verdict_cache.hits > 0
    assert list(warm.lines()) == list(cold.lines()) == list(reference.lines())
    assert warm.summary() == reference.summary()


# -- the key -------------------------------------------------------------------


def key(lhs: object, rhs: object, assumptions: tuple = (), definitions: tuple = (),
        options: CheckOptions = CheckOptions(), relation: Relation = Relation.EQ, symbolic: bool = True) -> str:
    k = cache.step_key(lhs, relation, rhs, assumptions, definitions, options, symbolic)
    assert k is not None
    return k.digest


def test_key_renumbers_dummies_but_keeps_them_apart() -> None:
    a, b = sp.Dummy("u", real=True), sp.Dummy("u", real=True)
    c = sp.Dummy("u", real=True)
    assert key(a + 1, a) == key(c + 1, c)  # fresh Dummies of another run: the same step
    assert key(a + b, b) != key(a + b, a + b)
    assert key(a, b) != key(a, a)
    assert key(a, sp.S.One) != key(sp.Symbol("u", real=True), sp.S.One)  # a Dummy is not a Symbol of the same name


def test_key_depends_on_everything_a_verdict_depends_on() -> None:
    base = key(x**2, x)
    assert key(sp.Symbol("x", positive=True) ** 2, sp.Symbol("x", positive=True)) != base  # assumptions
    assert key(x**2, x, relation=Relation.LE) != base
    assert key(x**2, x, assumptions=(x > 1,)) != base
    assert key(x**2, x, options=CheckOptions(samples=300)) != base
    assert key(x**2, x, options=CheckOptions(budget=5)) != base
    assert key(x**2, x, symbolic=False) != base
    f, g = sp.Function("f"), sp.Function("f", positive=True)
    assert key(f(x), x) != key(g(x), x)  # srepr alone omits a function's assumptions
    assert key(f(x), x, definitions=((f, sp.Lambda(y, y)),)) != key(f(x), x)
    assert key(x**2, x) == base


def test_a_class_without_source_file_is_never_cached() -> None:
    namespace: dict[str, object] = {"sp": sp}
    exec("class mystery(sp.Function):\n    pass\n", namespace)  # noqa: S102 - a class with no source file
    mystery = namespace["mystery"]
    assert cache.step_key(mystery(x), Relation.EQ, x, (), (), CheckOptions(), True) is None


# -- values ----------------------------------------------------------------------


@pytest.mark.parametrize("value", [
    sp.Integer(0), sp.Integer(-7), sp.Rational(-3, 7), sp.Float("0.1", 50), sp.Float("-1.5e-300", 15),
    sp.Float(0, 50), sp.Rational(1, 2) + sp.I, sp.N(sp.sqrt(2) - 3 * sp.I, 40), sp.I, -sp.I, sp.nan, sp.oo,
    -sp.oo, sp.zoo, sp.Integer(10) ** 60 + 1,
])
def test_numbers_read_back_exactly(value: sp.Expr) -> None:
    text = sp.srepr(value)
    assert sp.srepr(cache.parse_number(text)) == text


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "Symbol('x')", "Integer(1).__class__", "Float(1.5, precision=53)",
    "Rational(1, 'x')", "exp(Integer(1))", "Add(Integer(1), lambda: 0)", "[Integer(1)]", "Integer(1) + Integer(2)",
    "Add(" * 5000 + ")" * 5000, "Float('1', precision=53, dps=3)",
])
def test_the_number_parser_builds_only_whitelisted_classes(text: str) -> None:
    with pytest.raises(ValueError):
        cache.parse_number(text)


# -- what is stored ----------------------------------------------------------------


def test_only_verdicts_that_did_not_depend_on_the_clock_are_stored() -> None:
    v = Verdict(index=1, lhs=x, relation=Relation.EQ, rhs=x, status=Status.PROVED, method="expansion")
    assert cache._storable(v, set()) and cache._storable(v, {"quick", "full"})
    assert not cache._storable(v, {"symbolic"}) and not cache._storable(v, {"prepare"})
    refuted = replace(v, status=Status.REFUTED)
    assert cache._storable(refuted, {"symbolic"})
    assert not cache._storable(refuted, {"quick"}) and not cache._storable(refuted, {"full"})
    numeric = replace(v, status=Status.NUMERIC)
    assert cache._storable(numeric, set()) and not cache._storable(numeric, {"full"})
    unknown = replace(v, status=Status.UNKNOWN, note="too few sample points")
    assert cache._storable(unknown, set()) and not cache._storable(unknown, {"full"})
    assert not cache._storable(replace(unknown, note="the budget ran out"), set())


def test_a_step_cut_short_by_the_budget_is_not_stored(verdict_cache: cache.VerdictCache) -> None:
    hard = sg.calc(sp.sin(x) ** 2 + sp.cos(x) ** 2 + sp.exp(sp.sin(x)) ** 3).ge(1 + sp.exp(sp.sin(x)) ** 3)
    before = budget.cutoffs()
    report = fresh(hard, budget=0.001, min_samples=1, samples=1, quick_samples=1)
    assert budget.cutoffs() != before
    assert verdict_cache.stores == 0, report.steps[0].status


# -- storage ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def cache_allowed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """These tests may turn the cache on; each ends with it off."""
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    yield
    cache.use(None)


def test_a_corrupt_cache_file_is_ignored_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / cache.FILE_NAME).write_bytes(b"this is not a database" * 100)
    messages: list[str] = []
    assert cache.configure(directory=tmp_path, warn=messages.append) is None
    assert len(messages) == 1 and "cannot be used" in messages[0]
    assert cache.active() is None
    assert uncached(PROOFS["refuted exactly"]).status is Status.REFUTED


def test_a_foreign_sqlite_file_is_ignored(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / cache.FILE_NAME) as connection:
        connection.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        connection.execute("INSERT INTO meta VALUES ('format', 'someone-else-1')")
    messages: list[str] = []
    assert cache.configure(directory=tmp_path, warn=messages.append) is None
    assert len(messages) == 1 and "another format" in messages[0]


def test_a_malformed_entry_is_a_miss_and_is_replaced(verdict_cache: cache.VerdictCache) -> None:
    proof = PROOFS["refuted exactly"]
    reference = findings(fresh(proof))
    with sqlite3.connect(verdict_cache.path) as connection:
        rows = connection.execute("SELECT key, data FROM verdicts").fetchall()
        assert len(rows) == 1
        (k, data), = rows
        bad = json.loads(data)
        bad["counterexample"]["lhs"] = "__import__('os').getcwd()"
        for text in (json.dumps(bad), "not json", json.dumps({"status": "proved"}),
                     json.dumps({**json.loads(data), "status": "proved", "samples": "12"})):
            connection.execute("UPDATE verdicts SET data = ? WHERE key = ?", (text, k))
            connection.commit()
            hits = verdict_cache.hits
            assert findings(fresh(proof)) == reference
            assert verdict_cache.hits == hits
        stored = json.loads(connection.execute("SELECT data FROM verdicts").fetchone()[0])
        assert {**stored, "seconds": 0} == {**json.loads(data), "seconds": 0}  # replaced by the fresh verdict


def test_an_unwritable_cache_directory_degrades_to_no_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    messages: list[str] = []
    assert cache.configure(directory=blocker / "cache", warn=messages.append) is None
    assert len(messages) == 1


# -- the command line ----------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_cache_path_clear_and_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    monkeypatch.setenv(cache.ENV_DIR, str(tmp_path / "c"))
    assert run("cache", "path") == (0, f"{tmp_path / 'c'}\n", "")
    code, out, _ = run("cache", "clear")  # nothing there yet: fine
    assert code == 0 and "no cached verdicts" in out
    code, _, err = run("render", "sigmoid-derivative-bound", "--no-cache", "--out", str(tmp_path / "a"))
    assert code == 0, err
    assert not (tmp_path / "c" / cache.FILE_NAME).exists()
    code, _, err = run("render", "sigmoid-derivative-bound", "--out", str(tmp_path / "b"))
    assert code == 0, err
    assert (tmp_path / "c" / cache.FILE_NAME).exists()
    assert cache.active() is None  # the command leaves the library's setting as it was
    assert (tmp_path / "a" / "sigmoid-derivative-bound.md").read_bytes() == \
        (tmp_path / "b" / "sigmoid-derivative-bound.md").read_bytes()
    code, out, _ = run("cache", "clear")
    assert code == 0 and "removed" in out
    assert not (tmp_path / "c" / cache.FILE_NAME).exists()


def test_cli_warns_once_and_goes_on_when_the_cache_cannot_be_used(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cache.ENV_OFF, raising=False)
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv(cache.ENV_DIR, str(blocker / "cache"))
    proof_module._check_cached.cache_clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, _, err = run("show", "sigmoid-derivative-bound")
    assert code == 0
    assert err.count("symgrad: warning: verdict cache") == 1, err


def test_render_jobs_give_the_same_files_in_the_same_order(tmp_path: Path) -> None:
    names = ["gradient-flow", "gradient-clipping"]  # small entries, with figures
    outputs = []
    for jobs in ("1", "2"):  # the workers fork from this process, its in-memory reports warm
        out_dir = tmp_path / jobs
        code, out, err = run("render", *names, "-f", "md", "-f", "tex", "--no-cache", "--jobs", jobs,
                             "--out", str(out_dir))
        assert code == 0, err
        outputs.append((out.replace(str(out_dir), "OUT"),
                        {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}))
    assert outputs[0] == outputs[1]


def test_jobs_must_be_a_positive_number() -> None:
    code, _, err = run("render", "--all", "--jobs", "0")
    assert code == 2 and "at least 1" in err
