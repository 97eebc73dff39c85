"""Test-suite configuration.

With ``CI`` set, Hypothesis runs derandomized (the same examples every run), so
a CI result does not depend on which random examples one run happened to draw.
Locally it explores new examples each run.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
    settings.load_profile("ci")

# The persistent verdict cache stays off in tests (a test that monkeypatches the
# kernel must see the kernel run); tests of the cache turn it on in a tmp dir.
os.environ["SYMGRAD_NO_CACHE"] = "1"
