"""The LaTeX notation parser: meaning checked against SymPy built by hand, errors, fuzzing."""

from __future__ import annotations

import builtins
import logging
import math
from importlib import resources

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark

import symgrad as sg
from symgrad.core.budget import run_within
from symgrad.core.errors import InputError, SymgradError, UnsupportedError
from symgrad.notes.notation import (
    MAX_CHARS,
    ParseError,
    SymbolTable,
    UnsupportedNotation,
    parse_definition,
    parse_display,
    parse_latex,
    parse_relations,
    subscripted,
)
from symgrad.notes.notation.grammar import grammar_text

R = lambda name: sp.Symbol(name, real=True)  # noqa: E731
x, y, z, w, b, s, L = (R(n) for n in ("x", "y", "z", "w", "b", "s", "L"))


def P(text: str, table: SymbolTable | None = None) -> sp.Expr:
    return parse_latex(text, table)


# ---------------------------------------------------------------------------
# The grammar
# ---------------------------------------------------------------------------


def test_grammar_is_lalr_without_conflicts(caplog: pytest.LogCaptureFixture) -> None:
    """Built in debug mode, lark logs every shift/reduce conflict it resolves; there must be none."""
    text = grammar_text()
    lark_logger = logging.getLogger("lark")
    old = lark_logger.level
    lark_logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG, logger="lark"):
            Lark(text, parser="lalr", lexer="basic", start=["start", "raw_tokens"], debug=True)
    finally:
        lark_logger.setLevel(old)
    assert not [r for r in caplog.records if "conflict" in r.getMessage().lower()]


def test_grammar_ships_inside_the_package() -> None:
    assert resources.files("symgrad.notes.notation").joinpath("latex.lark").is_file()


# ---------------------------------------------------------------------------
# Meaning, against SymPy built by hand
# ---------------------------------------------------------------------------

E = sp.exp
CASES = [
    (r"\frac{1}{1 + e^{-x}}", 1 / (1 + E(-x))),
    (r"\dfrac{a}{b}", R("a") / R("b")),
    (r"\frac12", sp.Rational(1, 2)),
    (r"\tfrac{1}{4} x", x / 4),
    (r"\sqrt{x^2 + 1}", sp.sqrt(x**2 + 1)),
    (r"\sqrt[3]{x}", x ** sp.Rational(1, 3)),
    (r"x^{2} y^3", x**2 * y**3),
    (r"x^10", sp.S.Zero),  # TeX: x^1 0, as it typesets
    (r"2 \cdot 3 \times x", 6 * x),
    (r"x / 2", x / 2),
    (r"a/b/c", R("a") / R("b") / R("c")),
    (r"s(1 - s)", s * (1 - s)),  # a name times a bracket, not an application
    (r"\left( a + b \right)^2", (R("a") + R("b")) ** 2),
    (r"\bigl[ x - y \bigr] z", (x - y) * z),
    (r"\{ x \}", x),
    (r"|x| + \lvert y \rvert + \left| z \right|", sp.Abs(x) + sp.Abs(y) + sp.Abs(z)),
    (r"||x| - |y||", sp.Abs(sp.Abs(x) - sp.Abs(y))),
    (r"\sigma(x)", sg.sigmoid(x)),
    (r"\sigma(x)(1 - \sigma(x))", sg.sigmoid(x) * (1 - sg.sigmoid(x))),
    (r"\sigma(x)^2", sg.sigmoid(x) ** 2),
    (r"\sigma^2 + \epsilon", R("sigma") ** 2 + R("epsilon")),
    (r"\tanh(x) + \exp(x) + \log(x) + \ln y", sp.tanh(x) + E(x) + sp.log(x) + sp.log(y)),
    (r"\log \sigma(x)", sp.log(sg.sigmoid(x))),
    (r"\log x \, y", sp.log(x) * y),
    (r"\tanh^2 x", sp.tanh(x) ** 2),
    (r"\log_2 x", sp.log(x, 2)),
    (r"\max(0, x) + \min(x, y, z)", sp.Max(0, x) + sp.Min(x, y, z)),
    (r"\operatorname{ReLU}(x)", sp.Max(0, x)),
    (r"\operatorname{softplus}(x)", sp.log(1 + E(x))),
    (r"\operatorname{sigmoid}(x)", sg.sigmoid(x)),
    (r"\operatorname{net}(x, y)", sp.Function("net", real=True)(x, y)),
    (r"\mathbb{E}[x]", sp.Function("E", real=True)(x)),
    (r"e^{x} + \pi", E(x) + sp.pi),
    (r"\gamma \hat{x}_i + \beta", R("gamma") * R("xhat_i") + R("beta")),
    (r"\bar{x} + \tilde{y}", R("xbar") + R("ytilde")),
    (r"x_i + x_{i}", 2 * R("x_i")),
    (r"w_{ij} - w_{i,j}", sp.S.Zero),
    (r"x_{12} - x_{1,2}", R("x_12") - R("x_1,2")),
    (r"W_{\text{out}}", R("W_out")),
    (r"\mathrm{lr} \cdot g", R("lr") * R("g")),
    (r"\mathcal{L}", R("Lcal")),
    (r"\alpha \beta \ell", R("alpha") * R("beta") * R("ell")),
    (r"x' + y''", R("xprime") + R("yprimeprime")),
    (r"- x + 3", 3 - x),
    (r"0.25 x", x / 4),
]


@pytest.mark.parametrize("latex, expected", CASES, ids=[c[0] for c in CASES])
def test_parses_to_the_expression_built_by_hand(latex: str, expected: sp.Expr) -> None:
    assert P(latex) == expected


def test_hat_subscript_is_one_symbol_that_prints_back() -> None:
    """SymPy's own parse_latex reads \\hat{x}_i as hat*x; here it is one real symbol."""
    xhat_i = P(r"\hat{x}_i")
    assert isinstance(xhat_i, sp.Symbol) and xhat_i.is_real
    assert xhat_i != P("x_i")
    assert sp.latex(xhat_i) == r"\hat{x}_{i}"
    assert sp.latex(P(r"\hat{\sigma}")) == r"\hat{\sigma}"


def test_no_term_is_dropped() -> None:
    """SymPy's parse_latex was measured dropping '+ \\beta'; every term must survive."""
    expr = P(r"\gamma \hat{x}_i + \beta")
    assert R("beta") in expr.free_symbols
    assert sp.expand(expr - R("beta")) == R("gamma") * R("xhat_i")


def test_unicode_letters_and_relations() -> None:
    assert P("α · β − γ") == R("alpha") * R("beta") - R("gamma")
    chain = parse_display("x ≤ y").chains[0]
    assert chain.links[0].relation is sg.Relation.LE


def test_numbers_are_exact_rationals() -> None:
    value = P("0.1 + 0.2")
    assert value == sp.Rational(3, 10) and value.is_Rational


def test_numeric_values_match_floating_point() -> None:
    """An independent oracle: evaluate the parsed expression and the same formula with math."""
    for point in (-2.5, -0.3, 0.0, 0.7, 3.0):
        parsed = P(r"\frac{e^{x}}{\left(1 + e^{x}\right)^2} + \tanh\left(\frac{x}{2}\right) \log(1 + x^2)")
        got = float(parsed.subs(x, point))
        want = math.exp(point) / (1 + math.exp(point)) ** 2 + math.tanh(point / 2) * math.log(1 + point**2)
        assert got == pytest.approx(want, rel=1e-12)


# -- derivatives ---------------------------------------------------------------


@pytest.mark.parametrize("latex, function", [
    (r"\frac{d}{dx} \sigma(x)", sg.sigmoid(x)),
    (r"\frac{d}{dx} \tanh(x)", sp.tanh(x)),
    (r"\frac{\mathrm{d}}{\mathrm{d}x} x^3", x**3),
    (r"\frac{d}{dx} x \sigma(x)", x * sg.sigmoid(x)),  # the operator takes the rest of the product
    (r"\frac{\partial}{\partial w} \sigma(w x + b)", sg.sigmoid(w * x + b)),
    (r"\partial_x \log(1 + e^{x})", sp.log(1 + E(x))),
])
def test_derivatives_agree_with_sympy_diff(latex: str, function: sp.Expr) -> None:
    parsed = P(latex)
    assert isinstance(parsed, sp.Derivative)
    variable = parsed.variables[0]
    assert sp.simplify((parsed.doit() - sp.diff(function, variable)).rewrite(sp.exp)) == 0


def test_leibniz_fraction_of_a_defined_name() -> None:
    table = SymbolTable().with_definition(parse_definition(r"L = \frac{1}{2}(x_i - y)^2"))
    parsed = P(r"\frac{\partial L}{\partial x_i}", table)
    assert parsed == sp.Derivative((R("x_i") - y) ** 2 / 2, R("x_i"))
    assert sp.expand(parsed.doit()) == R("x_i") - y


def test_higher_and_mixed_derivatives() -> None:
    assert P(r"\frac{d^2}{dx^2} x^4").doit() == 12 * x**2
    table = SymbolTable().with_definition(parse_definition(r"f = x^2 y^3"))
    mixed = P(r"\frac{\partial^2 f}{\partial x \partial y}", table)
    assert mixed.doit() == sp.diff(x**2 * y**3, x, y)


def test_primes_are_derivatives() -> None:
    assert P(r"\sigma'(x)") == sp.Derivative(sg.sigmoid(x), x)
    inner = P(r"\sigma'(w x)")
    assert inner.doit() == sp.diff(sg.sigmoid(z), z).subs(z, w * x)
    f, g = sp.Function("f", real=True), sp.Function("g", real=True)
    table = SymbolTable().with_functions(["f", "g"])
    assert P("f(x) + g(y)", table) == f(x) + g(y)
    chain_rule = P(r"f'(g(x)) g'(x)", table)
    assert (chain_rule - sp.diff(f(g(x)), x)).doit() == 0


def test_derivative_of_an_undefined_name_is_an_opaque_quantity_not_zero() -> None:
    """A reader takes dL/dz_i of a loss never written down as an unknown quantity (never 0)."""
    assert P(r"\frac{\partial L}{\partial x}") == R("∂L/∂x")
    assert P(r"\frac{dy}{dx}") == R("∂y/∂x")
    assert P(r"\frac{\partial L}{\partial z_i}") == P(r"\frac{\partial L}{\partial z_{i}}") == R("∂L/∂z_i")
    under_sum = P(r"\sum_{j=1}^{2} \frac{\partial L}{\partial z_j}").doit()
    assert under_sum == R("∂L/∂z_1") + R("∂L/∂z_2")  # depends on j under the sum


def test_an_ordinary_fraction_with_d_stays_a_fraction() -> None:
    assert P(r"\frac{d}{2}") == R("d") / 2
    assert P(r"\frac{d}{x}") == R("d") / x


# -- sums, products, limits ---------------------------------------------------------


def test_sum_with_concrete_limits_evaluates_to_the_written_out_sum() -> None:
    parsed = P(r"\sum_{j=1}^{3} x_j^2")
    assert isinstance(parsed, sp.Sum)
    assert parsed.limits[0][0].is_integer
    assert parsed.doit() == P("x_1^2 + x_2^2 + x_3^2")


def test_sum_applies_to_the_rest_of_the_product_only() -> None:
    parsed = P(r"\sum_{j=1}^{2} g_j \hat{x}_j + 1")
    assert parsed.doit() == P(r"g_1 \hat{x}_1 + g_2 \hat{x}_2 + 1")


def test_sum_binds_its_index_inside_the_body() -> None:
    assert P(r"\sum_{k=1}^{4} k").doit() == 10
    assert P(r"\prod_{k=1}^{4} k").doit() == 24


def test_symbolic_limits_stay_an_unevaluated_sum() -> None:
    parsed = P(r"\frac{1}{m} \sum_{i=1}^{m} x_i")
    total = next(iter(parsed.atoms(sp.Sum)))
    assert total.limits[0][2] == R("m")
    assert total.function.has(subscripted)  # x_i depends on the summation index
    assert R("x_i") not in parsed.free_symbols


def test_a_free_index_is_just_a_name() -> None:
    assert P("x_i") == R("x_i") and not P("x_i").has(subscripted)


def test_limits() -> None:
    parsed = P(r"\lim_{x \to \infty} \sigma(x)")
    assert isinstance(parsed, sp.Limit)
    assert parsed.doit() == 1
    assert P(r"\lim_{x \to 0^+} \log(x)").args[3] == sp.Symbol("+")


def test_derivative_with_a_free_index_over_a_sum_is_a_kronecker_delta() -> None:
    i, j = sp.Symbol("i", integer=True), sp.Symbol("j", integer=True)
    assert P(r"\frac{\partial x_i}{\partial x_j}") == sp.KroneckerDelta(i, j)
    over_sum = P(r"\frac{\partial}{\partial x_i} \sum_{j=1}^{3} x_j^2").doit()
    assert over_sum.subs(i, 2) == 2 * R("x_2") and over_sum.subs(i, 5) == 0
    assert P(r"\frac{\partial}{\partial x_2} \sum_{j=1}^{3} x_j^2").doit() == 2 * R("x_2")
    # SymPy alone says 0 here (x_1 is not a free symbol of the sum): never read it so
    assert P(r"\frac{\partial}{\partial x_1} \sum_{j=1}^{m} x_j^2") != 0


# -- declarations -------------------------------------------------------------------


def test_let_substitutes_and_later_lets_reach_earlier_bodies() -> None:
    table = SymbolTable().with_definition(parse_definition(r"s = \sigma(x)"))
    assert P("s(1 - s)", table) == sg.sigmoid(x) * (1 - sg.sigmoid(x))
    table = table.with_definition(parse_definition("x = 0", table))
    assert P("s", table) == sp.Rational(1, 2)


def test_family_definitions_under_sums_and_at_indices() -> None:
    table = SymbolTable().with_definition(parse_definition(r"\mu = \frac{1}{2} \sum_{j=1}^{2} x_j"))
    table = table.with_definition(parse_definition(r"\hat{x}_j = x_j - \mu", table))
    mean = (R("x_1") + R("x_2")) / 2
    assert P(r"\hat{x}_1", table).doit() == R("x_1") - mean
    assert P(r"\hat{x}_i", table).doit() == R("x_i") - mean
    assert sp.simplify(P(r"\sum_{k=1}^{2} \hat{x}_k", table).doit()) == 0


def test_declared_plain_sigma_is_a_symbol() -> None:
    table = SymbolTable().with_plain(["sigma"])
    assert P(r"\sigma(x)", table) == R("sigma") * x
    assert P(r"\sigma(1 - \sigma)", table) == R("sigma") * (1 - R("sigma"))


def test_sigma_of_an_expression_in_sigma_is_ambiguous() -> None:
    with pytest.raises(ParseError, match="ambiguous"):
        P(r"\sigma(1 - \sigma)")


def test_relations_stay_unevaluated_conditions() -> None:
    conditions = parse_relations(r"0 < \sigma(x) < 1")
    assert len(conditions) == 2
    assert all(isinstance(c, sp.Rel) for c in conditions)  # not collapsed to True


def test_definitions_need_a_name_on_the_left() -> None:
    with pytest.raises(ParseError, match="must be a name"):
        parse_definition("x + y = 2")
    table = SymbolTable().with_definition(parse_definition("s = 1"))
    with pytest.raises(ParseError, match="already defined|must be a name"):
        parse_definition("s = 2", table)


# ---------------------------------------------------------------------------
# Chains
# ---------------------------------------------------------------------------


def test_display_rows_make_one_chain_with_lines_and_notes() -> None:
    text = "\n".join([
        r"a &= b \quad \text{(by one)} \\",
        r"  &\le c \tag{2} \\",
        r"  &= d.",
    ])
    display = parse_display(text, line=10, column=3)
    (chain,) = display.chains
    assert chain.start == R("a")
    assert [link.relation.value for link in chain.links] == ["=", "<=", "="]
    assert [link.line for link in chain.links] == [10, 11, 12]
    assert chain.links[0].column == 4 + 3 - 1  # '=' is column 4 of the text, which starts at column 3
    assert [link.note for link in chain.links] == ["(by one)", None, None]


def test_rows_starting_with_an_expression_start_new_chains() -> None:
    display = parse_display(r"f &= 1 \\ g &= 2 \\ h")
    assert [c.start for c in display.chains] == [R("f"), R("g")]
    assert display.fragments == 1


def test_a_row_starting_with_a_sign_continues_the_expression() -> None:
    (chain,) = parse_display(r"L &= a + b \\ &\quad - c \\ &= d").chains
    assert chain.links[0].rhs == R("a") + R("b") - R("c")
    assert chain.links[1].rhs == R("d")


def test_environments_spacing_and_trailing_punctuation_are_ignored() -> None:
    text = r"\begin{aligned} x &= y, \\ &\leq z \,. \end{aligned}"
    (chain,) = parse_display(text).chains
    assert [link.rhs for link in chain.links] == [y, z]


def test_several_equations_on_one_row_are_refused() -> None:
    with pytest.raises(ParseError, match="side by side"):
        parse_display(r"a &= b & c &= d")


# ---------------------------------------------------------------------------
# Errors: clear, with line and column
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, line, column, fragment", [
    (r"x + \foo{y}", 1, 5, r"unknown macro \foo"),
    ("x = 1\n\\\\ y = \\bar{x + 1}", 2, 8, "takes one name"),
    (r"\frac{a}", 1, 9, "ends too early"),
    (r"(a + b]", 1, 7, "']' closes '('"),
    (r"\left( x", 1, 1, "never closed"),
    (r"x^{1}^{2}", 1, 6, "double superscript"),
    (r"a = = b", 1, 5, "two relations"),
    (r"a \approx b", 1, 3, r"\approx cannot be checked"),
    (r"x @ y", 1, 3, "unexpected character"),
    (r"1/2 x", 1, 3, "ambiguous"),
    (r"\sum x_j", 1, 1, "limits"),
    (r"9^{9^{9}}", 1, 1, "too large"),
    (r"x \cdot", 1, 8, "ends too early"),
])
def test_errors_name_line_and_column(text: str, line: int, column: int, fragment: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_display(text)
    error = info.value
    assert fragment in error.message
    assert (error.line, error.column) == (line, column), str(error)
    assert str(error).startswith(f"line {line}, column {column}: ")
    assert isinstance(error, InputError)


def test_positions_are_shifted_into_the_file() -> None:
    with pytest.raises(ParseError) as info:
        parse_display("x +\n  \\foo", line=20, column=7)
    assert (info.value.line, info.value.column) == (21, 3)
    with pytest.raises(ParseError) as info:
        parse_display(r"x + \foo", line=20, column=7)
    assert (info.value.line, info.value.column) == (20, 11)


@pytest.mark.parametrize("text", [r"\int_0^1 x", r"\mathbf{x}", r"\nabla L", r"x^\top y", r"a \odot b",
                                  r"x_1 + \dots + x_n", r"\begin{vmatrix} a \end{vmatrix}",
                                  r"(a + b)^\top"])
def test_unsupported_notation_is_an_unsupported_error(text: str) -> None:
    with pytest.raises(UnsupportedNotation) as info:
        P(text)
    assert isinstance(info.value, UnsupportedError) and isinstance(info.value, SymgradError)


def test_size_and_depth_limits() -> None:
    with pytest.raises(ParseError, match=f"at most {MAX_CHARS}"):
        P("x+" * (MAX_CHARS // 2 + 1))
    with pytest.raises(ParseError, match="nested more than"):
        P("(" * 60 + "x" + ")" * 60)
    with pytest.raises(ParseError, match="more than 100 digits"):
        P("1" * 101)


def test_long_flat_input_is_fast() -> None:
    text = " + ".join(f"x_{{{k}}}" for k in range(1500))
    parsed = run_within(lambda: P(text), 20)
    assert len(parsed.args) == 1500


def test_parse_latex_takes_strings_only() -> None:
    with pytest.raises(ParseError):
        parse_latex(b"x")  # type: ignore[arg-type]


def test_never_evaluates_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """No eval, no sympify of a string: make both fail loudly while parsing."""
    import sympy.parsing.sympy_parser as sympy_parser

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("text was evaluated")

    real_eval = builtins.eval
    monkeypatch.setattr(sympy_parser, "parse_expr", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    try:
        parsed = P(r"\frac{\partial}{\partial x} \sigma(x) + \sum_{j=1}^{3} x_j + \operatorname{foo}(x)")
    finally:
        monkeypatch.setattr(builtins, "eval", real_eval)
    assert parsed.has(sp.Derivative, sp.Sum)


# ---------------------------------------------------------------------------
# Fuzzing: a SymgradError or a result, never another exception, never a hang
# ---------------------------------------------------------------------------

PIECES = ["x", "y", "i", "j", "d", "e", "f", "0", "1", "2", "12", "3.5", "+", "-", "*", "/", "=", "<", ">",
          "^", "_", "'", ",", ".", "(", ")", "[", "]", "{", "}", "|", "&", "\\\\", " ", "\n", "%", "$", "!",
          "~", r"\frac", r"\dfrac", r"\sqrt", r"\sum", r"\prod", r"\lim", r"\to", r"\partial", r"\sigma",
          r"\hat", r"\bar", r"\log", r"\exp", r"\max", r"\tanh", r"\left(", r"\right)", r"\left|", r"\right|",
          r"\left.", r"\cdot", r"\times", r"\le", r"\ge", r"\infty", r"\mathbb{E}", r"\operatorname{relu}",
          r"\operatorname{foo}", r"\text{(by x)}", r"\tag{1}", r"\alpha", r"\mathrm{d}", r"\{", r"\}",
          r"\foo", r"\int", r"\approx", r"\begin{aligned}", r"\end{aligned}", r"\begin{cases}", r"\quad",
          r"\,", r"\prime", r"\mathcal{L}", r"\lvert", r"\rvert", r"\big(", r"\bigr)", r"\Big|", r"\mathbf{x}",
          r"\pi", "α", "≤", "∂", "\\", r"\end{cases}", r"\begin{bmatrix}", r"\end{bmatrix}", r"\top",
          r"\textcolor{red}", r"\cancel", r"\underbrace", r"\text{ReLU}", r"\text{if }", "sigmoid", "tanh",
          r"\neq", r"\in", ":=", r"\triangleq", r"\delta", "^{(1)}", ";", r"\newline", r"\color{blue}"]
FUZZ_TABLE = SymbolTable().with_functions(["f"]).with_definition(
    parse_definition(r"\hat{x}_j = x_j - \frac{1}{2} \sum_{k=1}^{2} x_k"))


def _parse_everything(text: str) -> None:
    for parse in (lambda: parse_display(text, FUZZ_TABLE), lambda: parse_latex(text, FUZZ_TABLE),
                  lambda: parse_definition(text, FUZZ_TABLE), lambda: parse_relations(text, FUZZ_TABLE)):
        try:
            parse()
        except SymgradError:
            pass


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.sampled_from(["", " "]))
def test_fuzz_token_soup(pieces: list[str], glue: str) -> None:
    run_within(lambda: _parse_everything(glue.join(pieces)), 10)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_fuzz_arbitrary_text(text: str) -> None:
    run_within(lambda: _parse_everything(text), 10)


_ATOMS = st.sampled_from(["x", "y", "x_i", "x_1", r"\hat{x}_j", "2", "0", r"\infty", "e", r"\pi", "d", "L",
                          r"\sigma", "f", r"\partial", "j", "x'"])


def _extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    ops = st.sampled_from(["+", "-", r"\cdot", "/", "", "^", "_", "=", r"\le", ",", r"\\ &"])
    heads = st.sampled_from([r"\log", r"\exp", r"\tanh", r"\max", r"\sigma", "f", r"\mathbb{E}", r"\log_2",
                             r"\tanh^2", r"\frac{d}{dx}", r"\frac{\partial}{\partial x_i}", r"\partial_x",
                             r"\lim_{x \to 0^+}", r"\sum_{j=1}^{3}", r"\prod_{k=1}^{m}", r"\sqrt"])
    return st.one_of(
        st.tuples(children, ops, children).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
        st.tuples(children, children).map(lambda t: f"\\frac{{{t[0]}}}{{{t[1]}}}"),
        st.tuples(children, children).map(lambda t: f"\\frac{{\\partial {t[0]}}}{{\\partial {t[1]}}}"),
        st.tuples(heads, children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(heads, children).map(lambda t: f"{t[0]} {t[1]}"),
        children.map(lambda c: f"\\left[{c}\\right]"),
        children.map(lambda c: f"|{c}|"),
        children.map(lambda c: f"{{{c}}}^{{{c}}}"),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_ATOMS, _extend, max_leaves=10))
def test_fuzz_nearly_valid_formulas(text: str) -> None:
    run_within(lambda: _parse_everything(text), 10)


def test_explicit_matrices_and_their_transposes() -> None:
    a, b = R("a"), R("b")
    assert P(r"\begin{pmatrix} a & b \end{pmatrix}") == sp.ImmutableMatrix([[a, b]])
    assert P(r"\begin{bmatrix} a & b \end{bmatrix}^\top") == sp.ImmutableMatrix([[a], [b]])
    # a 1 by 1 product (x^T x) is its entry, a scalar, so that it can equal a sum written out
    assert P(r"\begin{bmatrix} a \\ b \end{bmatrix}^T \begin{bmatrix} a \\ b \end{bmatrix}") == a**2 + b**2
    assert P(r"\begin{bmatrix} a \\ b \end{bmatrix} \begin{bmatrix} a & b \end{bmatrix}") == \
        sp.ImmutableMatrix([[a**2, a * b], [a * b, b**2]])
    assert P(r"\begin{bmatrix} \frac12 & 1 \end{bmatrix}") == sp.ImmutableMatrix([[sp.Rational(1, 2), 1]])


def test_a_summation_index_named_like_the_variable_index_stays_bound() -> None:
    r"""``\partial / \partial w_{jk}`` of ``\sum_k w_{jk} a_k`` is ``a_k``: the sum's k is not the variable's k."""
    k = sp.Symbol("k", integer=True)
    derivative = P(r"\frac{\partial}{\partial w_{jk}} \sum_{k=1}^{3} w_{jk} a_k").doit()
    assert [derivative.subs(k, value) for value in (1, 2, 3, 4)] == [R("a_1"), R("a_2"), R("a_3"), 0]
    oracle = sp.diff(sum(R(f"w_j{n}") * R(f"a_{n}") for n in (1, 2, 3)), R("w_j2"))
    assert derivative.subs(k, 2) == oracle
    cost = P(r"\frac{\partial}{\partial a_j} \frac{1}{2} \sum_{j=1}^{2} (a_j - y_j)^2").doit()
    j = sp.Symbol("j", integer=True)
    assert sp.simplify(cost.subs(j, 1) - (R("a_1") - R("y_1"))) == 0
