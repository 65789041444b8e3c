"""Numbers as the tables of every report show them: significant digits, sizes as ``1.3e9``,
intervals as ``[low, high]``."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["MISSING", "format_number", "format_p_value", "format_params", "hdi_text"]

MISSING = "—"
"""What an empty cell shows."""


def _sci(value: float, digits: int) -> str:
    """``1.3e9`` style: no ``+``, no leading zeros in the exponent, no trailing zeros."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def format_number(value: Any, digits: int = 3) -> str:
    """Format a number to ``digits`` significant digits for a table.

    Parameters
    ----------
    value
        A number (anything else is shown as text; None and NaN as ``—``).
    digits
        Significant digits.

    Returns
    -------
    str
        Fixed notation for magnitudes 1e-3 … 1e6 (``0.0123``, ``-1234``), else ``1.23e-5``.
    """
    if value is None or isinstance(value, str | bool):
        return MISSING if value is None else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return MISSING
    if number == 0 or math.isinf(number):
        return "0" if number == 0 else str(number).replace("inf", "∞")
    magnitude = math.floor(math.log10(abs(number)))
    if not -3 <= magnitude < 6:
        return _sci(number, digits)
    return f"{number:.{max(0, digits - 1 - magnitude)}f}"


def format_params(value: Any) -> str:
    """A parameter count in ``1.3e9`` style (plain below 10 000)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number) or abs(number) < 1e4:
        return format_number(number)
    return _sci(number, 3)


def hdi_text(low: Any, high: Any) -> str:
    """A 94% interval as ``[low, high]``."""
    return f"[{format_number(low)}, {format_number(high)}]"


def format_p_value(value: Any, floor: float) -> str:
    """A Monte Carlo p-value: ``< floor`` where no replicate reached the observed value (0 is
    the resolution of the draws, not a probability of 0), else :func:`format_number`."""
    if value == 0:
        return f"< {floor:.1g}"
    return format_number(value)
