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
