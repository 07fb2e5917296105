"""Kubernetes resource quantities ("250m", "16Gi", "1.5e3"), parsed exactly for comparison.

Only comparison and conversion to float are needed (property selectors and sorters), so a
quantity is a ``Fraction``: exact, totally ordered, and ``float()`` gives the value Go's
``Quantity.AsApproximateFloat64`` would. Serialisation back to canonical text is not needed.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}

_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exponent>[eE][+-]?[0-9]+)|(?P<suffix>[KMGTPE]i|[numkMGTPE])?)$"
)

# An exponent beyond this is not a quantity Kubernetes would accept, and would be slow here.
MAX_EXPONENT = 100


def parse(text: object) -> Fraction | None:
    """The exact value of a quantity, or None when ``text`` is not one."""
    if isinstance(text, bool):
        return None
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        return Fraction(repr(text)) if text == text and abs(text) != float("inf") else None
    if not isinstance(text, str):
        return None
    return _parse_text(text)


@functools.lru_cache(maxsize=4096)
def _parse_text(text: str) -> Fraction | None:
    """Cached: the scheduler reads the same property of every cluster in every round."""
    match = _QUANTITY.match(text.strip())
    if match is None:
        return None
    number = Fraction(match["number"])
    if match["exponent"]:
        exponent = int(match["exponent"][1:])
        if abs(exponent) > MAX_EXPONENT:
            return None
        return number * Fraction(10) ** exponent
    return number * _SUFFIXES[match["suffix"] or ""]
