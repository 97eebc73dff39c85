"""Errors raised on *misuse* of symgrad.

A false step is never an exception: the kernel returns a ``refuted`` verdict
for it. Exceptions are for malformed input, unknown names and unsupported
constructs, and each one says what was wrong and where.
"""

from __future__ import annotations

__all__ = [
    "SymgradError",
    "ChainError",
    "UnknownRuleError",
    "UnknownEntryError",
    "InputError",
    "UnsupportedError",
    "TemplateError",
    "ProofError",
    "GradientError",
]


class SymgradError(Exception):
    """Base class of every error symgrad raises on purpose."""


class ChainError(SymgradError, ValueError):
    """A calc chain that cannot be composed, e.g. mixing ``<=`` and ``>=``."""


class UnknownRuleError(SymgradError, KeyError):
    """A rule name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownEntryError(SymgradError, KeyError):
    """A catalog entry name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InputError(SymgradError, ValueError):
    """Malformed input: a value of the wrong type or shape, named with where."""


class UnsupportedError(SymgradError, NotImplementedError):
    """Valid input that symgrad does not support (yet)."""


class TemplateError(SymgradError):
    """A template could not be found or failed to render."""


class ProofError(SymgradError, AssertionError):
    """A proof that was asserted to hold but has a step that is not proved.

    ``report`` is the full :class:`~symgrad.model.Report`; ``verdict`` the
    first step that failed.
    """

    def __init__(self, message: str, report: object = None, verdict: object = None) -> None:
        super().__init__(message)
        self.report = report
        self.verdict = verdict


class GradientError(SymgradError, AssertionError):
    """A gradient that was asserted to be right but whose check did not pass.

    ``report`` is the full gradient report (``symgrad.GradientReport``).
    """

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report
