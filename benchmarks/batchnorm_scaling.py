"""How the exact rational verifier of the BatchNorm backward scales with the batch size m,
beside plain ``sympy.simplify`` of (SymPy's derivative - compact form), measured in the same run.

    .venv/bin/python benchmarks/batchnorm_scaling.py [--timeout SECONDS] [--sizes 4 8 16 32 64]

For each m: the seconds ``symgrad.catalog.support.normalization.verify_exact`` takes (setup included) to check
dl/dx_i for every i, dl/dgamma, dl/dbeta and the paper's equations at one rational point; and the
seconds ``sympy.simplify`` takes to reduce dl/dx_1 - compact form to 0 (one index only), run in a
child process that is killed at the timeout, reported as "timed out" then.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import sympy as sp

from symgrad.catalog.support.normalization import _define_all, compact_form, setup, verify_exact


def _simplify_job(m: int, queue: "mp.Queue[tuple[float, bool]]") -> None:
    s = setup("batchnorm", m)
    started = time.perf_counter()
    difference = sp.diff(_define_all(s, s.loss), s.x[0]) - _define_all(s, compact_form(s, 0))
    zero = sp.simplify(difference) == 0
    queue.put((time.perf_counter() - started, zero))


def time_simplify(m: int, timeout: float) -> tuple[float | None, bool]:
    """Seconds sympy.simplify needs for m (None on timeout) and whether it reached 0."""
    context = mp.get_context("fork")
    queue: "mp.Queue[tuple[float, bool]]" = context.Queue()
    child = context.Process(target=_simplify_job, args=(m, queue))
    child.start()
    child.join(timeout)
    if child.is_alive():
        child.kill()
        child.join()
        return None, False
    seconds, zero = queue.get()
    return seconds, zero


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds allowed to sympy.simplify per m")
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    args = parser.parse_args()
    print(f"{'m':>4} {'verify_exact [s]':>17} {'ok':>4} {'simplify [s]':>16} {'simplify/verify':>16}")
    for m in args.sizes:
        started = time.perf_counter()
        result = verify_exact("batchnorm", m)
        exact_seconds = time.perf_counter() - started
        simp, zero = time_simplify(m, args.timeout)
        if simp is None:
            simp_text, ratio = f"timed out ({args.timeout:.0f})", f"> {args.timeout / exact_seconds:.0f}x"
        else:
            simp_text = f"{simp:.2f}" + ("" if zero else " (not 0)")
            ratio = f"{simp / exact_seconds:.0f}x"
        print(f"{m:>4} {exact_seconds:>17.3f} {str(result.ok):>4} {simp_text:>16} {ratio:>16}", flush=True)


if __name__ == "__main__":
    main()
