"""Start-up and ``render --all`` timings, as ratios against anchors measured in the same run.

    python benchmarks/startup_and_render.py [--runs 5] [--render-runs 1] [--jobs N] [--no-render] [--no-exact]

Every figure is the wall time of a whole process (start-up included), the
median of ``--runs``. Machines differ, so each is printed beside the anchor it
is meant to be read against:

- ``python -c "import symgrad"``, ``symgrad --help`` and ``symgrad list``
  against ``python -c "import sympy"`` (symgrad imports SymPy; the ratio says
  what symgrad adds);
- ``symgrad render --all --format md --format tex`` with warm caches (verdicts
  and rendered entries) against the same render uncached (``--no-cache``), both
  with ``--jobs``; the goal for the warm render is under 5 s;
- exact BatchNorm verification (``verify_exact``, symbolic setup included) at
  m = 32, 64, ... against m = 16 in the same process: linear growth means the
  ratio equals m / 16 (a size the library refused would be reported as refused).

The verdict cache used is a fresh temporary directory (``SYMGRAD_CACHE_DIR``),
filled by one untimed render before the warm runs; nothing of the user's cache
is read or written. The rendered files of every run must be byte-identical.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def symgrad_command(*args: str) -> list[str]:
    script = BIN / "symgrad"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "symgrad", *args]


def timed(command: list[str], env: dict[str, str], runs: int, ok: tuple[int, ...] = (0, 1)) -> float:
    """The median wall time of ``runs`` runs of ``command`` (seconds); another exit code stops the benchmark."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        times.append(time.perf_counter() - start)
        if proc.returncode not in ok:  # 1: some step not proved; still a full render
            sys.exit(f"{' '.join(command)} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return statistics.median(times)


def row(label: str, seconds: float, anchor_label: str, anchor: float) -> None:
    print(f"  {label:<44} {seconds:8.2f} s   {seconds / anchor:6.2f} x {anchor_label}")


def exact_rows(runs: int) -> None:
    """Seconds of ``verify_exact("batchnorm", m)`` (setup included), beside m = 16 as the anchor."""
    from symgrad.catalog.support.normalization import layers, verify_exact
    from symgrad.core.errors import SymgradError

    def seconds(m: int) -> float:
        times = []
        for _ in range(runs):
            layers.setup.cache_clear()
            start = time.perf_counter()
            result = verify_exact("batchnorm", m)
            times.append(time.perf_counter() - start)
            if not result.ok:
                sys.exit(f"verify_exact at m = {m} found mismatches: {result.mismatches[:3]}")
        return statistics.median(times)

    print("exact BatchNorm verification (verify_exact, setup included; linear growth: ratio = m/16)")
    anchor = seconds(16)
    row("m = 16  (anchor)", anchor, "m = 16", anchor)
    for m in (32, 64, 128, 256, 1024):
        try:
            row(f"m = {m}", seconds(m), "m = 16", anchor)
        except SymgradError as exc:
            print(f"  m = {m:<42} refused: {exc}")
            break


def same_tree(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    if names != sorted(p.name for p in b.iterdir()):
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return not mismatch and not errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each start-up command (median)")
    parser.add_argument("--render-runs", type=int, default=1, help="runs of each render (median)")
    parser.add_argument("--jobs", type=int, default=None, help="render --jobs (default: symgrad's, the cores)")
    parser.add_argument("--no-render", action="store_true", help="no render figures")
    parser.add_argument("--no-exact", action="store_true", help="no exact BatchNorm figures")
    args = parser.parse_args()

    env = dict(os.environ)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; median of {args.runs} runs, "
          f"renders: median of {args.render_runs}")
    print("start-up")
    sympy = timed([sys.executable, "-c", "import sympy"], env, args.runs)
    row('python -c "import sympy"  (anchor)', sympy, "import sympy", sympy)
    row('python -c "import symgrad"', timed([sys.executable, "-c", "import symgrad"], env, args.runs),
        "import sympy", sympy)
    row("symgrad --help", timed(symgrad_command("--help"), env, args.runs), "import sympy", sympy)
    row("symgrad list", timed(symgrad_command("list"), env, args.runs), "import sympy", sympy)
    row("symgrad render NAME (a usage error)", timed(symgrad_command("render", "no-such-entry"), env, args.runs,
                                                     ok=(2,)), "import sympy", sympy)
    if not args.no_exact:
        exact_rows(args.runs)
    if args.no_render:
        return 0

    work = Path(tempfile.mkdtemp(prefix="symgrad-bench-"))
    try:
        env["SYMGRAD_CACHE_DIR"] = str(work / "cache")
        env.pop("SYMGRAD_NO_CACHE", None)
        jobs = [] if args.jobs is None else ["--jobs", str(args.jobs)]

        def render(out: str, *extra: str) -> list[str]:
            return symgrad_command("render", "--all", "--format", "md", "--format", "tex", "--out",
                                   str(work / out), *jobs, *extra)

        print(f"render --all --format md --format tex{' --jobs ' + str(args.jobs) if jobs else ''}")
        uncached = timed(render("uncached", "--no-cache"), env, args.render_runs)
        row("uncached (--no-cache)  (anchor)", uncached, "uncached", uncached)
        cold = timed(render("cold"), env, 1)
        row("cold cache (first run, fills it)", cold, "uncached", uncached)
        warm = timed(render("warm"), env, args.render_runs)
        row("warm cache (goal: under 5 s)", warm, "uncached", uncached)
        identical = same_tree(work / "uncached", work / "cold") and same_tree(work / "uncached", work / "warm")
        print(f"  rendered files identical uncached / cold / warm: {'yes' if identical else 'NO'}")
        return 0 if identical else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
