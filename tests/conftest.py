"""Test-suite configuration.

With ``CI`` set, Hypothesis runs derandomized (the same examples every run), so
a CI result does not depend on which random examples one run happened to draw.
Locally it explores new examples each run.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
    settings.load_profile("ci")

# The library's default cache (and any command run in a subprocess) stays off in tests; tests of the
# cache turn it on in a tmp dir. Within this run the kernel's verdicts are shared (see _shared_verdicts).
os.environ["SYMGRAD_NO_CACHE"] = "1"


#: Modules that are long for their number of tests, collected first in this order (the rest follow, most
#: tests first). pytest-xdist hands whole modules to the workers in collection order (``scripts/test.sh``
#: passes ``--no-loadscope-reorder``): a long module handed out last would leave the other worker idle
#: at the end of the run. The catalog's render (test_tools_output) starts first, so that the modules
#: checking catalog entries, which come later, read its verdicts instead of deciding them again.
RUN_FIRST = ("test_tools_output.py", "test_kernel_corpus.py", "test_notes_everyday.py", "test_render_cache.py",
             "test_kernel_evaluation.py", "test_induction_constancy.py", "test_packaging.py", "test_cache.py")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules in :data:`RUN_FIRST` order, then the others by number of tests (a module's tests stay in order)."""
    rank = {name: position for position, name in enumerate(RUN_FIRST)}
    sizes: dict[str, int] = {}
    for item in items:
        sizes[item.path.name] = sizes.get(item.path.name, 0) + 1
    items.sort(key=lambda item: (rank.get(item.path.name, len(rank)), -sizes[item.path.name], item.path.name))


@contextlib.contextmanager
def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A directory shared by every pytest-xdist worker of this run, and whether this worker must fill it.

    The first worker to ask holds a file lock while it computes; the others wait, then reuse what it
    left (pytest-xdist's recipe for a session fixture that must run once, not once per worker).
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker else base  # pytest-of-user/pytest-N/: shared by the workers
    shared = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = shared / "done"
            must_fill = not done.exists()
            shared.mkdir(exist_ok=True)
            yield shared, must_fill
            if must_fill:
                done.write_text("ok", encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def run_once(tmp_path_factory: pytest.TempPathFactory):
    """``with run_once(name) as (directory, must_fill):`` -- see :func:`once_per_run`."""
    return lambda name: once_per_run(tmp_path_factory, name)


@pytest.fixture(scope="session")
def rendered_catalog(tmp_path_factory: pytest.TempPathFactory, _run_verdicts) -> Path:
    """``symgrad render --all --format md --format tex`` once per test run (shared by the xdist workers).

    Run in-process through the command line's code (``symgrad.cli.main``), in one process
    (``--jobs 1``), so that on the worker that renders, the documents and reports it builds are
    the ones the other catalog tests reuse; its verdicts go to the run's verdict cache (empty when
    the run started), which the tests on the other worker read. Returns the output directory.
    """
    from symgrad.cli import main
    from symgrad.core import cache

    with once_per_run(tmp_path_factory, "rendered-catalog") as (shared, must_fill):
        out_dir, failure = shared / "out", shared / "failure.txt"
        if must_fill:
            out_dir.mkdir(exist_ok=True)
            out, err = io.StringIO(), io.StringIO()
            with pytest.MonkeyPatch.context() as env:
                if _run_verdicts is not None:
                    env.delenv(cache.ENV_OFF, raising=False)
                    env.setenv(cache.ENV_DIR, str(_run_verdicts.directory))
                    options = []
                else:
                    options = ["--no-cache"]
                code = main(["render", "--all", "--format", "md", "--format", "tex", "--jobs", "1", *options,
                             "--out", str(out_dir)], out=out, err=err)
            if code != 0:
                failure.write_text(f"symgrad render failed (exit {code}):\n{out.getvalue()[-3000:]}\n"
                                   f"{err.getvalue()[-3000:]}", encoding="utf-8")
    if failure.exists():
        pytest.fail(failure.read_text(encoding="utf-8"), pytrace=False)
    return out_dir


@pytest.fixture(scope="session")
def _run_verdicts(tmp_path_factory: pytest.TempPathFactory):
    """One verdict cache for this test run, shared by the xdist workers: empty when the run starts.

    Every catalog entry is checked by several tests (its own, the catalog-wide ones, the rendering
    and staleness tests), on either worker. Each step is still decided by the kernel in this run, once;
    the other checks read that verdict back (the cache's own tests show a cached verdict is the same).
    """
    from symgrad.core import cache

    with once_per_run(tmp_path_factory, "verdict-cache") as (shared, _must_fill):
        store = cache.VerdictCache(shared / "verdicts")
        usable = store.probe()  # creates the file under the lock
    return store if usable else None


@pytest.fixture(autouse=True)
def _shared_verdicts(request: pytest.FixtureRequest, _run_verdicts) -> Iterator[None]:
    """The run's verdict cache in use during each test, except where the kernel must run afresh: a test
    that monkeypatches anything (it may change the kernel), or one marked ``fresh_kernel`` (it watches the
    kernel work: cutoffs, timing, the caches themselves)."""
    from symgrad.core import cache

    fresh = "monkeypatch" in request.fixturenames or request.node.get_closest_marker("fresh_kernel")
    if fresh or _run_verdicts is None:
        yield
        return
    previous = cache.active()
    cache.use(_run_verdicts)
    try:
        yield
    finally:
        if cache.active() is _run_verdicts:
            cache.use(previous)

