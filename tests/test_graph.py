"""Computation graphs: forward values and backward adjoints against independent oracles.

Oracles: hand-computed values of the classic neuron, :func:`sympy.diff`,
numerical differentiation (:func:`symgrad.numeric.derivative`, Richardson) and
PyTorch autograd (skipped only when torch is not installed).
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

import symgrad as sg
from symgrad.derivation.graph import OPS, Graph, Node, Op, register_op
from symgrad.proofs.documents import Document, Figure, ProofBlock, Table
from symgrad.numerics.numeric import derivative

# Its module-scoped fixtures are built once: the whole module runs on one xdist worker.
pytestmark = pytest.mark.xdist_group("graph")

try:
    from . import tooling
except ImportError:  # tests/ is not a package: pytest put it on sys.path
    import tooling

w0, x0, w1, x1, w2 = sp.symbols("w0 x0 w1 x1 w2", real=True)
x, y = sp.symbols("x y", real=True)
INPUTS = (w0, x0, w1, x1, w2)
POINT = {w0: 2, x0: -1, w1: -3, x1: -2, w2: -3}
Z = w0 * x0 + w1 * x1 + w2
NEURON = 1 / (1 + sp.exp(-Z))
NEURON_NAMES = ["w0", "x0", "mul1", "w1", "x1", "mul2", "add1", "w2", "add2", "neg1", "exp1", "shift1", "recip1"]


@pytest.fixture(scope="module")
def neuron() -> Graph:
    return Graph.from_expr(NEURON, binary=True)


@pytest.fixture(scope="module")
def neuron_back(neuron: Graph) -> sg.graph.Backward:
    return neuron.backward(POINT)


def _float(value: sp.Expr) -> float:
    return float(sp.N(value, 30))


# ----------------------------------------------------------------- forward


def test_neuron_traces_into_the_classic_gates(neuron: Graph) -> None:
    assert [n.name for n in neuron.nodes] == NEURON_NAMES
    ops = {n.name: (n.op, n.inputs) for n in neuron.nodes}
    assert ops["mul1"] == ("mul", ("w0", "x0"))
    assert ops["add2"] == ("add", ("add1", "w2"))
    assert ops["neg1"] == ("neg", ("add2",))
    assert neuron["shift1"].param == 1 and ops["recip1"] == ("recip", ("shift1",))
    assert neuron.output.name == "recip1" and neuron.expr == NEURON


def test_forward_values_of_the_neuron_are_the_hand_computed_ones(neuron: Graph) -> None:
    values = neuron.forward(POINT)
    assert [values[n] for n in ("mul1", "mul2", "add1", "add2", "neg1")] == [-2, 6, 4, 1, -1]
    assert values["exp1"] == sp.exp(-1)
    assert values["recip1"] == 1 / (1 + sp.exp(-1))
    assert _float(values["recip1"]) == pytest.approx(1 / (1 + math.exp(-1)), rel=1e-15)
    assert f"{_float(values['recip1']):.2f}" == "0.73"
    # Symbols or names as keys give the same values; floats are read as decimals.
    by_name = neuron.forward({s.name: v for s, v in POINT.items()})
    assert by_name == values
    assert Graph.from_expr(x * y).forward({"x": 0.1, "y": 3})["mul1"] == sp.Rational(3, 10)


# ----------------------------------------------------------------- backward


def test_backward_of_the_neuron_matches_the_classic_numbers(neuron_back: sg.graph.Backward) -> None:
    rounded = tuple(f"{_float(neuron_back[s.name].value):.2f}" for s in INPUTS)
    assert rounded == ("-0.20", "0.39", "-0.39", "-0.59", "0.20")
    # by hand: sigma(1)(1 - sigma(1)) = 0.19661193324148185 reaches z; mul gates swap their inputs
    s1 = 1 / (1 + math.exp(-1))
    dz = s1 * (1 - s1)
    expected = {"w0": -dz, "x0": 2 * dz, "w1": -2 * dz, "x1": -3 * dz, "w2": dz,
                "add2": dz, "neg1": -dz, "exp1": -1 / (1 + math.exp(-1)) ** 2, "recip1": 1.0}
    for name, value in expected.items():
        assert float(neuron_back[name]) == pytest.approx(value, rel=1e-14), name
    assert list(neuron_back) == list(reversed(NEURON_NAMES))  # output first


def test_every_adjoint_is_proved_by_the_kernel(neuron_back: sg.graph.Backward) -> None:
    assert neuron_back.ok
    for adjoint in neuron_back.values():
        assert adjoint.status is sg.Status.PROVED, adjoint.report
        verdicts = adjoint.report.steps
        assert verdicts[0].by.rule in ("adjoint-sum", "adjoint-seed")


def test_gradient_equals_sympy_diff_exactly(neuron_back: sg.graph.Backward) -> None:
    for s in INPUTS:
        oracle = sp.diff(NEURON, s).subs(POINT)
        assert sp.simplify(neuron_back[s.name].value - oracle) == 0, s


def test_symbolic_backward_equals_sympy_diff_and_is_proved(neuron: Graph) -> None:
    back = neuron.backward()
    assert back.ok and not back.numeric
    for s in INPUTS:
        assert sp.simplify(back[s.name].value - sp.diff(NEURON, s)) == 0, s
    # the adjoint of z is the sigmoid's derivative at z
    assert sp.simplify(back["add2"].value - sp.exp(-Z) / (1 + sp.exp(-Z)) ** 2) == 0


def test_gradient_matches_richardson_differences(neuron_back: sg.graph.Backward) -> None:
    for s in INPUTS:
        others = {t: v for t, v in POINT.items() if t != s}
        numeric = derivative(NEURON.subs(others), POINT[s], method="richardson", wrt=s)
        assert float(neuron_back[s.name]) == pytest.approx(float(numeric.value), abs=1e-10), s
    # an intermediate node: f as a function of z = add2, at z = 1
    z = sp.Symbol("z", real=True)
    numeric = derivative(1 / (1 + sp.exp(-z)), 1, wrt=z)
    assert float(neuron_back["add2"]) == pytest.approx(float(numeric.value), abs=1e-10)


def test_gradient_matches_torch_autograd(neuron_back: sg.graph.Backward) -> None:
    torch = pytest.importorskip("torch")
    leaves = {s.name: torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for s, v in POINT.items()}
    z = leaves["w0"] * leaves["x0"] + leaves["w1"] * leaves["x1"] + leaves["w2"]
    f = 1 / (1 + torch.exp(-z))
    f.backward()
    assert f.item() == pytest.approx(_float(neuron_back.forward["recip1"]), rel=1e-14)
    for name, leaf in leaves.items():
        assert leaf.grad.item() == pytest.approx(float(neuron_back[name]), rel=1e-12), name


def test_sigmoid_gate_is_one_node_with_the_same_gradient(neuron_back: sg.graph.Backward) -> None:
    graph = Graph.from_expr(sg.sigmoid(Z), binary=True)
    assert [n.op for n in graph.nodes].count("sigmoid") == 1
    assert graph.output.op == "sigmoid" and len(graph) == len(NEURON_NAMES) - 3
    back = graph.backward(POINT)
    assert back.ok
    for s in INPUTS:
        difference = (back[s.name].value - neuron_back[s.name].value).rewrite(sp.exp)
        assert sp.simplify(difference) == 0, s
    # the local derivative is sigma(1 - sigma), from the gate's own output
    (term,) = back["add2"].terms
    assert term.local == sg.sigmoid(1) * (1 - sg.sigmoid(1))


# ----------------------------------------------------------------- fan-out


def test_a_node_read_twice_sums_its_adjoints() -> None:
    graph = Graph.builder().input("x").add("m", "mul", "x", "x").add("s", "add", "m", "x")
    back = graph.backward({"x": 3})
    assert back["x"].value == 7  # d(x^2 + x)/dx = 2x + 1
    assert [(t.consumer, t.slot) for t in back["x"].terms] == [("m", 0), ("m", 1), ("s", 1)]
    assert back.ok
    symbolic = graph.backward()
    X = graph["x"].param
    assert sp.expand(symbolic["x"].value - sp.diff(X * X + X, X)) == 0 and symbolic.ok


def test_shared_subexpressions_share_a_node() -> None:
    s = sg.sigmoid(x)
    graph = Graph.from_expr(s * (1 - s))
    sigmoids = [n for n in graph.nodes if n.op == "sigmoid"]
    assert len(sigmoids) == 1
    assert len(graph.consumers(sigmoids[0].name)) == 2
    back = graph.backward({x: sp.Rational(1, 3)})
    oracle = sp.diff(s * (1 - s), x).subs(x, sp.Rational(1, 3))
    assert sp.simplify((back["x"].value - oracle).rewrite(sp.exp)) == 0
    assert back.ok
    assert len(back[sigmoids[0].name].terms) == 2


@pytest.mark.parametrize("expr", [
    x * y + sp.sin(x) * y,
    sp.exp(x * y) / (1 + x ** 2),
    sp.log(1 + x ** 2) * sp.tanh(y),
    (x + y) ** 3 - x,
    x ** y,
    2 ** x * sp.cos(y) - 3 * x,
    sp.sqrt(x ** 2 + y ** 2),
], ids=str)
def test_gradients_of_assorted_expressions_equal_sympy_diff(expr: sp.Expr) -> None:
    point = {x: sp.Rational(3, 2), y: sp.Rational(1, 2)}
    graph = Graph.from_expr(expr)
    assert sp.simplify(graph.expr - expr) == 0
    back = graph.backward(point, check=False)
    for s in (x, y):
        oracle = sp.diff(expr, s).subs(point)
        assert sp.N(back.gradient[s.name] - oracle, 30) == pytest.approx(0, abs=1e-25), s


def test_kernel_proves_the_backward_pass_of_an_expression_with_fan_out() -> None:
    expr = sp.exp(x * y) / (1 + x ** 2)
    back = Graph.from_expr(expr).backward({x: 1, y: 2})
    assert back.ok, [a.report for a in back.values() if not a.ok]


def test_a_wrong_local_derivative_rule_is_refuted_not_trusted() -> None:
    wrong = Op("wrong_exp", 1, lambda a, p: sp.exp(a[0]), lambda out, a, p: (2 * out,),
               lambda p: "exp?", lambda p: r"$\exp$", "d exp(a)/da = 2 exp(a) (wrong)")
    register_op(wrong)
    try:
        graph = Graph.builder().input("x").add("e", "wrong_exp", "x")
        back = graph.backward({"x": 1})
        assert back["e"].ok  # the seed is right
        assert back["x"].status is sg.Status.REFUTED
        assert not back.ok
    finally:
        del OPS["wrong_exp"]


# ----------------------------------------------------------------- construction


def test_node_by_node_construction_equals_from_expr(neuron: Graph) -> None:
    built = (Graph.builder()
             .input("w0", w0).input("x0", x0).add("mul1", "mul", "w0", "x0")
             .input("w1", w1).input("x1", x1).add("mul2", "mul", "w1", "x1")
             .add("add1", "add", "mul1", "mul2").input("w2", w2).add("add2", "add", "add1", "w2")
             .add("neg1", "neg", "add2").add("exp1", "exp", "neg1")
             .add("shift1", "shift", "exp1", param=1).add("recip1", "recip", "shift1"))
    assert built == neuron
    assert built.expr == NEURON
    assert built.gradient(POINT, check=False) == neuron.gradient(POINT, check=False)


def test_nodes_given_out_of_order_are_sorted_topologically() -> None:
    nodes = (Node("s", "add", ("m", "x")), Node("m", "mul", ("x", "x")), Node("x", "input", (), x))
    graph = Graph(nodes)
    assert [n.name for n in graph.nodes] == ["x", "m", "s"]
    assert graph.expr == x ** 2 + x


def test_unused_nodes_get_no_adjoint_and_unused_inputs_a_zero_gradient() -> None:
    graph = Graph.builder().input("x").input("y").add("e", "exp", "y").add("s", "sin", "x").with_output("s")
    back = graph.backward({"x": 0, "y": 1})
    assert set(back) == {"s", "x"}
    assert back.gradient == {"x": 1, "y": 0}


def test_from_expr_names_constants_and_powers() -> None:
    graph = Graph.from_expr(2 ** x + x ** 3 / 5)
    ops = [(n.name, n.op, n.param) for n in graph.nodes]
    assert ("c1", "const", 2) in ops
    assert any(op == "power" for _, op, _ in ops)
    assert any(op == "pow" and p == 3 for _, op, p in ops)
    assert any(op == "scale" and p == sp.Rational(1, 5) for _, op, p in ops)


# ----------------------------------------------------------------- errors


def test_unknown_op_names_the_node() -> None:
    with pytest.raises(sg.InputError, match=r"node 'q'.*unknown op 'frobnicate'"):
        Graph.builder().input("x").add("q", "frobnicate", "x")


def test_missing_input_value_names_the_input(neuron: Graph) -> None:
    partial = {s: v for s, v in POINT.items() if s != x1}
    with pytest.raises(sg.InputError, match=r"no value for input node 'x1'"):
        neuron.forward(partial)
    with pytest.raises(sg.InputError, match=r"'nope' is not an input"):
        neuron.forward({**POINT, "nope": 1})
    with pytest.raises(sg.InputError, match=r"'mul1' is not an input"):
        neuron.forward({**POINT, "mul1": 1})


def test_unknown_input_name_cycle_and_duplicates_are_input_errors() -> None:
    with pytest.raises(sg.InputError, match=r"node 'm': input 'z' is not a node"):
        Graph.builder().input("x").add("m", "mul", "x", "z")
    cycle = (Node("x", "input", (), x), Node("a", "add", ("x", "b")), Node("b", "exp", ("a",)))
    with pytest.raises(sg.InputError, match=r"cycle: .*a.*b"):
        Graph(cycle)
    with pytest.raises(sg.InputError, match=r"node 'x' is defined twice"):
        Graph.builder().input("x").input("x")
    with pytest.raises(sg.InputError, match=r"node 'e': op 'exp' takes 1 input, got 2"):
        Graph.builder().input("x").add("e", "exp", "x", "x")
    with pytest.raises(sg.InputError, match=r"node 's': op 'shift' needs a param"):
        Graph.builder().input("x").add("s", "shift", "x")
    with pytest.raises(sg.InputError, match=r"node 'bad name'"):
        Graph.builder().input("bad name", x)
    with pytest.raises(sg.InputError, match=r"the output 'q' is not a node"):
        Graph.builder().input("x").with_output("q")


def test_unsupported_expressions_are_named() -> None:
    with pytest.raises(sg.UnsupportedError, match=r"cannot trace Abs\(x\)"):
        Graph.from_expr(sp.Abs(x) + 1)
    with pytest.raises(sg.InputError, match="expected a SymPy expression"):
        Graph.from_expr("x + 1")  # type: ignore[arg-type]


# ----------------------------------------------------------------- rendering


def test_table_and_figure_of_the_neuron(neuron_back: sg.graph.Backward) -> None:
    table = neuron_back.table()
    assert isinstance(table, Table) and len(table.rows) == len(NEURON_NAMES)
    rows = {r[0]: r for r in table.rows}
    assert rows["recip1"][3:] == ("0.73", "shift1: -0.53", "1.00")
    assert rows["mul1"][4] == "w0: -1.00, x0: 2.00"
    figure = neuron_back.figure(caption="c")
    assert isinstance(figure, Figure)
    tikz, mermaid = figure.sources["latex"], figure.sources["markdown"]
    assert tikz.startswith(r"\begin{tikzpicture}") and tikz.endswith(r"\end{tikzpicture}")
    assert r"node[fwd] {$2.00$} node[bwd] {$-0.20$} (mul1)" in tikz
    assert "usetikzlibrary" not in tikz
    assert mermaid.startswith("```mermaid\nflowchart LR\n") and mermaid.endswith("\n```")
    assert 'n_w0 -- "2.00 / -0.20" --> n_mul1' in mermaid
    assert mermaid.count("-->") == 13  # 12 edges and the output's
    assert mermaid.isascii() and tikz.isascii()


def test_figure_needs_numbers(neuron: Graph) -> None:
    with pytest.raises(sg.InputError, match="needs numbers"):
        neuron.backward(check=False).figure()


def test_repr_lists_nodes_and_adjoints(neuron: Graph, neuron_back: sg.graph.Backward) -> None:
    text = repr(neuron)
    assert text.splitlines()[0] == "Graph(output=recip1)"
    assert "  shift1 = shift[1](exp1)" in text
    assert "drecip1/dw0 = -E/(1 + E)**2  [proved]" in repr(neuron_back)


# ----------------------------------------------------------------- the catalog entry


def test_catalog_entry_is_proved_and_reports_the_classic_numbers() -> None:
    document = sg.catalog.get("computational-graph")
    report = document.check()
    assert report.ok, [v.explain() for r in report.reports for v in r.steps if not v.ok]
    assert len(document.proofs) >= 13
    tables = [b for b in document.blocks if isinstance(b, Table)]
    gradient_table = next(t for t in tables if t.columns[0] == "input")
    assert [r[2] for r in gradient_table.rows] == ["-0.20", "0.39", "-0.39", "-0.59", "0.20"]
    assert [r[3] for r in gradient_table.rows] == ["-0.20", "0.39", "-0.39", "-0.59", "0.20"]
    for row in gradient_table.rows:
        exact, by_sympy, numeric = _float(row[1]), float(row[4]), float(row[5])
        assert exact == pytest.approx(by_sympy, abs=1e-12) and exact == pytest.approx(numeric, abs=1e-11)
    assert "f \\approx 0.73" in document.summary
    figures = [b for b in document.blocks if isinstance(b, Figure)]
    assert len(figures) == 3
    for figure in figures:  # each format's caption describes its own drawing
        assert "Mermaid" not in figure.caption["latex"] and "value / gradient" not in figure.caption["latex"]
        assert "value / gradient" in figure.caption["markdown"] and "green" not in figure.caption["markdown"]


def test_catalog_fan_out_adds_the_two_paths_and_matches_differences() -> None:
    """The SiLU neuron z sigma(z): z has two consumers; its adjoint is the sum of their gradients,
    equal to sympy's derivative of f in z, proved by the kernel, and every input's gradient
    agrees with Richardson differences of f."""
    from symgrad.catalog import graph as entry

    graph = entry.silu_graph()
    back = graph.backward(entry.POINT)
    z = graph["sigmoid1"].inputs[0]
    consumers = {t.consumer for t in back[z].terms}
    assert consumers == {"sigmoid1", graph.output.name}
    assert back[z].ok and back.ok
    zs = sp.Symbol("zs", real=True)
    silu = zs * sg.sigmoid(zs)
    total = sp.diff(silu, zs).subs(zs, 1)
    assert sp.simplify(back[z].value - total) == 0
    assert sp.simplify(sum((t.contribution for t in back[z].terms), sp.S.Zero) - back[z].value) == 0
    by_path = sorted(_float(t.contribution) for t in back[z].terms)
    sig1 = 1 / (1 + math.exp(-1))
    assert by_path == pytest.approx(sorted([sig1, sig1 * (1 - sig1)]), abs=1e-14)
    f = entry.NEURON_SILU
    for symbol in entry.INPUTS:
        others = {s: v for s, v in entry.POINT.items() if s != symbol}
        numeric = derivative(f.subs(others), entry.POINT[symbol], wrt=symbol)
        assert _float(back[symbol.name].value) == pytest.approx(float(numeric.value), abs=1e-10)
    document = sg.catalog.get("computational-graph")
    shown = [b.proof for b in document.blocks if isinstance(b, ProofBlock) and b.proof.title == entry.FAN_OUT_TITLE]
    assert len(shown) == 1 and shown[0].steps == back[z].proof.steps
    assert shown[0].check().ok


def test_an_edge_past_a_node_arcs_clear_of_it() -> None:
    """In the SiLU graph the edge z -> product passes the sigma gate at the same height: it arcs
    (further than a repeated edge does), and the straight edges do not."""
    from symgrad.catalog import graph as entry

    tikz = entry.silu_graph().backward(entry.POINT, check=False).tikz()
    arcs = [line for line in tikz.splitlines() if "bend" in line]
    assert arcs == [r"\draw[->, bend right=35] (add2) to node[fwd] {$1.00$} node[bwd] {$0.73$} (mul3);"]


def test_adjoint_titles_and_justifications_are_math_not_ascii(neuron_back: sg.graph.Backward) -> None:
    proof = neuron_back["mul1"].proof
    assert proof.title == r"Adjoint of $\mathrm{mul}_{1}$, the $\times$ gate"
    by = str(proof.links()[0][3])
    assert by.startswith(r"sum over the consumers of $\mathrm{mul}_{1}$: $(\partial f/\partial \mathrm{add}_{1})")
    assert "*" not in by and "df/d" not in by


@pytest.fixture(scope="module")
def fan_out_document() -> Document:
    back = Graph.from_expr(x * sp.exp(x) + sp.exp(x) + x * x).backward({x: 1})
    return Document(name="fan-out", title="Fan-out", summary="",
                    blocks=(back.figure(caption="A node read $3$ times."), back.table(),
                            *(ProofBlock(a.proof) for a in back.values())))


@pytest.mark.tools
def test_entry_markdown_renders_in_katex(fan_out_document: Document) -> None:
    for document in (sg.catalog.get("computational-graph"), fan_out_document):
        errors = tooling.katex_check(sg.render(document, "markdown"), source=document.name)
        assert not errors, "\n".join(map(str, errors))


@pytest.mark.tools
def test_entry_latex_compiles(tmp_path, fan_out_document: Document) -> None:
    for document in (sg.catalog.get("computational-graph"), fan_out_document):
        try:
            tooling.compile_latex(sg.render(document, "latex"), tmp_path / document.name)
        except tooling.LatexError as error:
            pytest.fail(str(error), pytrace=False)


def test_several_edges_past_nodes_run_in_lanes_with_labels_clear() -> None:
    """In the dense block six edges pass nodes: each runs level in a lane of its own; edges whose
    spans overlap run at different heights, and each edge's labels sit at least a label's width from
    where the diagonal ends of the deeper edges cross its level run (the overlap this replaced)."""
    import re

    from symgrad.catalog import dense

    tikz = dense.concrete_backward(check=False).tikz()
    assert "bend" not in tikz
    lane = re.compile(r"\\draw\[->, rounded corners=6pt\] \((\w+)\) -- \(([-\d.]+),([-\d.]+)\) -- "
                      r"node\[fwd, pos=([\d.]+)\].* \(([-\d.]+),([-\d.]+)\) -- \((\w+)\);")
    lanes = [lane.fullmatch(line) for line in tikz.splitlines() if "rounded corners" in line]
    assert len(lanes) == 6 and all(lanes)
    runs = [(float(m[2]), float(m[5]), float(m[3]), float(m[2]) + float(m[4]) * (float(m[5]) - float(m[2])))
            for m in lanes if m]
    for i, (a0, a1, ya, label) in enumerate(runs):
        for j, (b0, b1, yb, _) in enumerate(runs):
            if i != j and a0 < b1 and b0 < a1:
                assert ya != yb  # overlapping level runs never share a height
            if abs(yb) > abs(ya):  # a deeper edge's diagonal ends cross this run near b0 and b1
                for end in (b0 - 0.15, b1 + 0.15):
                    if a0 < end < a1:
                        assert abs(label - end) >= 0.4
