"""How the catalog prints numbers that come from floating-point arithmetic."""

from __future__ import annotations

__all__ = ["ROUNDING_FLOOR", "agreement"]

#: Below this, a relative difference between double-precision results is rounding noise
#: whose digits depend on the platform's libm: it is printed as a bound, not a value.
ROUNDING_FLOOR = 1e-12


def agreement(relative_error: float) -> str:
    """A relative error for a table: ``< 1e-12`` at rounding level, else two significant digits.

    Printing the bound keeps rendered documents identical from one machine to the next.
    """
    if relative_error < ROUNDING_FLOOR:
        return f"< {ROUNDING_FLOOR:.0e}"
    return f"{relative_error:.1e}"
