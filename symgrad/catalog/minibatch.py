"""Catalog entry ``minibatch-gradient``: the minibatch gradient is unbiased and its variance falls as 1/|B|."""

from __future__ import annotations

import itertools
from typing import Iterator, Sequence

import sympy as sp

from ..proofs.proof import check
from ..proofs.documents import Document, Equation, Prose, ProofBlock, Section, Table
from ..proofs.proof import Proof, calc

NAME = "minibatch-gradient"

gbar = sp.Symbol(r"\bar{g}", real=True)
sigma2 = sp.Symbol("sigma^2", nonnegative=True)
#: (N, |B|) pairs for which every statement is checked by exact enumeration of all batches.
CASES: tuple[tuple[int, int], ...] = tuple((n, b) for n in (2, 3, 4, 5) for b in range(1, n + 1))
#: With replacement there are N^|B| ordered batches; cases with more are left to the formula.
MAX_SEQUENCES = 32
#: The case shown in full.
SHOWN = (3, 2)
#: Data-set and batch sizes for the cost table (ImageNet-1k has 1,281,167 training images).
COST_N = 1_281_167
#: COST_N as math, its thousands separated by commas that are not list separators.
COST_N_MATH = f"{COST_N:,}".replace(",", "{,}")
COST_BATCHES = (1, 32, 256, 4096, COST_N)


def gradients(n: int) -> tuple[sp.Symbol, ...]:
    """Per-example gradients ``g_1 ... g_N`` (one coordinate; each coordinate behaves the same)."""
    return sp.symbols(f"g_1:{n + 1}", real=True)


def mean(values: Sequence[sp.Expr]) -> sp.Expr:
    """``(1/k) sum values``, shown unevaluated."""
    return sp.Mul(sp.Rational(1, len(values)), sp.Add(*values, evaluate=False), evaluate=False)


def definitions(n: int) -> dict[sp.Basic, sp.Expr]:
    """``gbar`` = the full-batch gradient, ``sigma^2`` = the per-example variance (divided by N)."""
    g = gradients(n)
    return {gbar: mean(g), sigma2: mean([(gi - gbar) ** 2 for gi in g])}


def batches(n: int, size: int, replacement: bool) -> Iterator[tuple[int, ...]]:
    """Every equally likely batch: ordered index sequences (with replacement) or subsets (without)."""
    if replacement:
        return itertools.product(range(n), repeat=size)
    return itertools.combinations(range(n), size)


def _average(terms: list[sp.Expr]) -> sp.Expr:
    return sp.Mul(sp.Rational(1, len(terms)), sp.Add(*terms, evaluate=False), evaluate=False)


def batch_means(n: int, size: int, replacement: bool) -> list[sp.Expr]:
    g = gradients(n)
    # each batch mean written in index order: (g_2, g_1) and (g_1, g_2) read (and print) alike
    return [mean([g[i] for i in sorted(batch)]) for batch in batches(n, size, replacement)]


def unbiased_proof(n: int, size: int, replacement: bool) -> Proof:
    """``E[g_B] = gbar``: the average of the batch gradient over every equally likely batch."""
    how = "with" if replacement else "without"
    return (calc(_average(batch_means(n, size, replacement)), where=definitions(n),
                 title=f"$N = {n}$, $|B| = {size}$, {how} replacement: $\\mathbb{{E}}[g_B] = \\bar g$")
            .eq(gbar, by="average over all equally likely batches, $\\bar g$ by its definition"))


def variance_formula(n: int, size: int, replacement: bool) -> sp.Expr:
    """``sigma^2/|B|`` with replacement; times ``(N - |B|)/(N - 1)`` without (``N > 1``)."""
    if replacement:
        return sigma2 / size
    return sp.Mul(sigma2 / size, sp.Rational(n - size, n - 1), evaluate=False)


def variance_proof(n: int, size: int, replacement: bool) -> Proof:
    """``E[(g_B - gbar)^2]`` over every equally likely batch equals the formula."""
    how = "with" if replacement else "without"
    deviations = [(m - gbar) ** 2 for m in batch_means(n, size, replacement)]
    return (calc(_average(deviations), where=definitions(n),
                 title=f"$N = {n}$, $|B| = {size}$, {how} replacement: the variance of $g_B$")
            .eq(variance_formula(n, size, replacement),
                by="average of the squared deviation over all equally likely batches"))


def case_rows() -> tuple[tuple[object, ...], ...]:
    """Kernel verdicts for every case: unbiasedness and variance, with and without replacement."""
    rows = []
    for n, size in CASES:
        cells: list[object] = [n, size]
        for replacement in (False, True):
            if replacement and n**size > MAX_SEQUENCES:
                cells += ["not enumerated", "not enumerated"]
                continue
            cells += [check(unbiased_proof(n, size, replacement)).status.value,
                      check(variance_proof(n, size, replacement)).status.value]
        rows.append(tuple(cells))
    return tuple(rows)


def inclusion_proofs() -> tuple[Proof, Proof, Proof]:
    """For all N and |B| = b (without replacement): P(i in B) = b/N, P(i, j in B) = b(b-1)/(N(N-1)),
    and E[g_B] = (1/N) sum_i g_i from the inclusion counts."""
    N = sp.Symbol("N", integer=True, positive=True)
    b = sp.Symbol("b", integer=True, positive=True)
    g = sp.IndexedBase("g")
    i = sp.Symbol("i", integer=True)
    single = (calc(sp.binomial(N - 1, b - 1) / sp.binomial(N, b), assume=[b <= N],
                   title="$\\Pr(i \\in B)$: the batches that contain $i$, out of all batches")
              .eq(b / N, by="$\\binom{N-1}{b-1} = \\frac{b}{N}\\binom{N}{b}$"))
    pair = (calc(sp.binomial(N - 2, b - 2) / sp.binomial(N, b), assume=[b <= N, b >= 2],
                 title="$\\Pr(i \\in B \\text{ and } j \\in B)$ for $i \\ne j$")
            .eq(b * (b - 1) / (N * (N - 1)), by="$\\binom{N-2}{b-2} = \\frac{b(b-1)}{N(N-1)}\\binom{N}{b}$"))
    unbiased = (calc(sp.Sum(g[i] * sp.binomial(N - 1, b - 1) / sp.binomial(N, b), (i, 1, N)) / b, assume=[b <= N],
                     title="$\\mathbb{E}[g_B] = \\bar g$ for every $N$ and $|B| = b$, without replacement")
                .eq(sp.Sum(g[i] * b / N, (i, 1, N)) / b,
                    by="the inclusion probability $\\binom{N-1}{b-1} / \\binom{N}{b} = b/N$")
                .eq(sp.Sum(g[i], (i, 1, N)) / N, by="$b/N$ does not depend on $i$; cancel $b$"))
    return single, pair, unbiased


def noise_halving_proof() -> Proof:
    """The standard deviation falls as 1/sqrt(|B|): a four times larger batch halves it."""
    b = sp.Symbol("b", positive=True)
    s2 = sp.Symbol("sigma^2", positive=True)
    half = sp.S.Half
    return (calc(sp.Pow(s2 / (4 * b), half, evaluate=False), title="Four times the batch, half the noise")
            .eq(sp.Mul(half, sp.Pow(s2 / b, half, evaluate=False), evaluate=False),
                by="$\\sqrt{xy} = \\sqrt{x}\\,\\sqrt{y}$ for $x, y \\ge 0$, and $\\sqrt{1/4} = 1/2$"))


def cost_rows() -> tuple[tuple[object, ...], ...]:
    """Per-step cost, steps per epoch and relative noise for a data set of ImageNet's size."""
    rows = []
    for size in COST_BATCHES:
        steps = -(-COST_N // size)
        noise = sp.sqrt(sp.Rational(COST_N - size, COST_N - 1) / size)
        label = f"{size} (full batch)" if size == COST_N else str(size)
        rows.append((label, f"{size:,}", f"{steps:,}", f"{float(noise):.3g}"))
    return tuple(rows)


def build() -> Document:
    n, size = SHOWN
    single, pair, unbiased = inclusion_proofs()
    return Document(
        name=NAME,
        title="Minibatch gradients: unbiased, with variance inversely proportional to the batch size",
        summary=("The training loss is an average over $N$ examples, so its gradient is the average of the "
                 "per-example gradients. A minibatch $B$ drawn uniformly at random gives an unbiased estimate of "
                 "it whose variance is $\\sigma^2/|B|$ when the examples are drawn with replacement, and "
                 "$\\frac{\\sigma^2}{|B|}\\frac{N - |B|}{N - 1}$ without. Below: both statements checked by "
                 "exact enumeration of every batch for $N \\le 5$ (for larger $N$ they are the standard results "
                 "of sampling theory), the inclusion probabilities proved for all $N$ and $|B|$, unbiasedness "
                 "derived from them, and what this means for the cost of a step."),
        blocks=(
            Section("Setting"),
            Prose("With per-example gradients $g_1, \\dots, g_N$ (of one coordinate of the parameters; every "
                  "coordinate behaves the same), the full-batch gradient, the per-example variance and the "
                  "minibatch gradient are"),
            Equation(r"\bar g = \nabla L = \frac1N \sum_{i=1}^N g_i, \qquad \sigma^2 = \frac1N \sum_{i=1}^N"
                     r" (g_i - \bar g)^2, \qquad g_B = \frac{1}{|B|} \sum_{i \in B} g_i."),
            Prose("Uniform sampling means: without replacement every subset of size $|B|$ is equally likely; "
                  "with replacement every ordered sequence of $|B|$ indices is."),
            Equation(r"\mathbb{E}[g_B] = \bar g, \qquad \operatorname{Var}[g_B] = \frac{\sigma^2}{|B|}"
                     r"\ \text{(with replacement)}, \qquad \operatorname{Var}[g_B] = \frac{\sigma^2}{|B|}\,"
                     r"\frac{N - |B|}{N - 1}\ \text{(without)}."),
            Prose("Without replacement the factor $(N - |B|)/(N - 1)$ (the finite-population correction) makes "
                  "the variance vanish at $|B| = N$: the full batch is the exact gradient."),
            Section("Checked by enumerating every batch"),
            Prose(f"For $N = {n}$ and $|B| = {size}$ the expectation and the variance are averages over all "
                  "equally likely batches, written out term by term; $\\bar g$ and $\\sigma^2$ are the "
                  "definitions above. The kernel checks each identity in exact arithmetic."),
            ProofBlock(unbiased_proof(n, size, replacement=False)),
            ProofBlock(unbiased_proof(n, size, replacement=True)),
            ProofBlock(variance_proof(n, size, replacement=False)),
            ProofBlock(variance_proof(n, size, replacement=True)),
            Prose("The same four identities for every case in the table, each built by enumerating all batches "
                  f"with itertools (with replacement only where there are at most {MAX_SEQUENCES} ordered "
                  "batches). These cases are what is checked; the formulas for all $N$ and $|B|$ are the "
                  "standard results of sampling theory, not proved here in general."),
            Table(columns=("$N$", "$|B|$", "unbiased (without)", "variance (without)", "unbiased (with)",
                           "variance (with)"),
                  rows=case_rows(), caption="Kernel verdicts, produced when this document was built."),
            Section("For every $N$ and $|B|$"),
            Prose("Unbiasedness without replacement holds in general because each example is in the batch with "
                  "the same probability $|B|/N$: of the $\\binom{N}{b}$ batches of size $b = |B|$, "
                  "$\\binom{N-1}{b-1}$ contain a given example. The kernel proves this ratio, and the one for "
                  "two given examples (the other ingredient of the variance formula without replacement), "
                  "for symbolic $N$ and $b$."),
            ProofBlock(single),
            ProofBlock(pair),
            Prose("Averaging $g_B = \\frac1b \\sum_{i \\in B} g_i$ over all batches and exchanging the two "
                  "finite sums counts each $g_i$ once for every batch that contains it:"),
            Equation(r"\mathbb{E}[g_B] = \frac{1}{\binom{N}{b}} \sum_{|B| = b} \frac1b \sum_{i \in B} g_i "
                     r"= \frac1b \sum_{i=1}^{N} g_i\, \frac{\binom{N-1}{b-1}}{\binom{N}{b}}."),
            Prose("This exchange of sums is the one step the kernel does not check for symbolic $N$ (every "
                  "enumerated case above checks the whole expectation batch by batch). From the right-hand "
                  "side the kernel proves the rest: the expectation is the full-batch gradient "
                  "$\\bar g = \\frac1N \\sum_i g_i$."),
            ProofBlock(unbiased),
            Section("Why full-batch gradient descent is rarely used"),
            Prose("A full-batch step costs $N$ per-example gradients; a minibatch step costs $|B|$, while the "
                  "noise it adds has standard deviation $\\sigma\\sqrt{(N - |B|)/(N - 1)} / \\sqrt{|B|}$. The "
                  "noise falls only as $1/\\sqrt{|B|}$, so beyond a moderate batch size more examples per step "
                  "buy little accuracy per unit of computation: for the same cost, many cheap noisy steps "
                  "usually make more progress than one exact step. The full batch also rarely fits in memory."),
            ProofBlock(noise_halving_proof()),
            Table(columns=("$|B|$", "per-example gradients per step", "steps per epoch",
                           "noise std / $\\sigma$"),
                  rows=cost_rows(), caption=f"$N = {COST_N_MATH}$ (the size of ImageNet-1k's training set)."),
            Section("What the noise buys"),
            Prose("Besides the cost, the noise itself is often useful, although the following are observations "
                  "and heuristics rather than statements checked here: it lets the iterates leave saddle points "
                  "and shallow local minima; its size (roughly the learning rate times $\\sigma^2/|B|$) "
                  "biases training towards flat minima, which tend to generalize better; and updates can "
                  "start before a full pass over the data, or on data that arrives as a stream. Because the "
                  "estimate is unbiased, the noise averages out over many steps when the learning rate "
                  "decays."),
        ),
    )


__all__ = ["build", "gradients", "definitions", "batches", "unbiased_proof", "variance_proof",
           "variance_formula", "inclusion_proofs", "case_rows", "CASES", "MAX_SEQUENCES"]
