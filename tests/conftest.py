"""Test-suite configuration.

With ``CI`` set, Hypothesis runs derandomized (the same examples every run), so
a CI result does not depend on which random examples one run happened to draw.
Locally it explores new examples each run.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
    settings.load_profile("ci")

# The persistent verdict cache stays off in tests (a test that monkeypatches the
# kernel must see the kernel run); tests of the cache turn it on in a tmp dir.
os.environ["SYMGRAD_NO_CACHE"] = "1"


@pytest.fixture(scope="session")
def rendered_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``symgrad render --all --format md --format tex`` once per session (per xdist worker that asks).

    Run in-process through the command line's code (``symgrad.cli.main``), in
    one process (``--jobs 1``) so that the documents and reports it builds are
    the ones the other catalog tests on this worker reuse (tests that need it
    are in the xdist group ``catalog``). Returns the output directory.
    """
    from symgrad.cli import main

    out_dir = tmp_path_factory.mktemp("rendered")
    out, err = io.StringIO(), io.StringIO()
    code = main(["render", "--all", "--format", "md", "--format", "tex", "--jobs", "1", "--no-cache",
                 "--out", str(out_dir)], out=out, err=err)
    if code != 0:
        pytest.fail(f"symgrad render failed (exit {code}):\n{out.getvalue()[-3000:]}\n{err.getvalue()[-3000:]}",
                    pytrace=False)
    return out_dir
