"""IA rules that depend on the performance year (../shared/RULES.md).

Each rule is one function keyed by performance year, so a change in CMS policy is a change
in one place.
"""

from __future__ import annotations

FIRST_PERFORMANCE_YEAR = 2017
LAST_WEIGHTED_YEAR = 2024


def uses_weights(year: int) -> bool:
    """PY2017-2024 score activities by weight (medium/high); from PY2025 on they are unweighted."""
    return year <= LAST_WEIGHTED_YEAR
