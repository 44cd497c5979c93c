"""The operators that can make something big (``*``, ``+``, ``**``), checked before they run.
(``%`` on a string is in :mod:`.formatting`.)"""
from __future__ import annotations

import math
from typing import Any

from .budget import Budget
from .sizes import STRINGS, check_integer, check_sequence, check_string, check_weight, remember, weigh

_SEQUENCES = (list, tuple)


def multiply(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(right, int) and isinstance(left, STRINGS + _SEQUENCES):
        seq, times = left, right
    elif isinstance(left, int) and isinstance(right, STRINGS + _SEQUENCES):
        seq, times = right, left
    elif isinstance(left, int) and isinstance(right, int):
        check_integer(budget, left.bit_length() + right.bit_length(), "'*'")
        return left * right
    else:
        return left * right
    times = max(int(times), 0)
    if isinstance(seq, STRINGS):
        check_string(budget, len(seq) * times, "'*'")
        return seq * times
    check_sequence(budget, len(seq) * times, "'*'")
    items, chars, depth = weigh(budget, seq)
    weight = (1 + (items - 1) * times, 2 + (chars - 2) * times, depth)
    check_weight(budget, *weight)  # before making it
    return remember(budget, seq * times, *weight)


def add(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(left, STRINGS) and isinstance(right, STRINGS):
        check_string(budget, len(left) + len(right), "'+'")
        return left + right  # type: ignore[operator]  # str + bytes raises, as it would have
    if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        check_sequence(budget, len(left) + len(right), "'+'")
        li, lc, ld = weigh(budget, left)
        ri, rc, rd = weigh(budget, right)
        weight = (li + ri - 1, lc + rc - 2, max(ld, rd))
        check_weight(budget, *weight)
        return remember(budget, left + right, *weight)  # type: ignore[operator]  # list + tuple raises
    return left + right


def power(budget: Budget, left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        check_integer(budget, right * math.log2(abs(left)), "'**'")
    return left ** right
