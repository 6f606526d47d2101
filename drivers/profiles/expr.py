"""Register expressions in profiles: ``"7000*c + 100*sa + 5"`` with the device's ``params``.

Only integer literals, parameter names, ``+ - * //`` and parentheses: a profile is data, not code.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Mapping

_OPS = {ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__, ast.FloorDiv: int.__floordiv__}


def evaluate(expr: int | str, params: Mapping[str, int]) -> int:
    """Evaluate a register expression; raises ValueError naming what is wrong."""
    if isinstance(expr, int):
        return expr
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse register expression {expr!r}: {exc.msg}") from None
    return _eval(tree.body, params, expr)


def names(expr: int | str) -> set[str]:
    """The names an expression uses; raises ValueError if it is not a valid expression (whatever the
    names' values): used to check a profile before any device gives its params."""
    if isinstance(expr, int):
        return set()
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"cannot parse register expression {expr!r}: {exc.msg}") from None
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    # a divisor that is 0 only for these stand-in values is no fault: the shape is what is checked here
    with contextlib.suppress(ZeroDivisionError):
        _eval(tree.body, dict.fromkeys(used, 1), expr)
    return used


def _eval(node: ast.AST, params: Mapping[str, int], expr: str) -> int:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in params:
            known = ", ".join(sorted(params)) or "none"
            raise ValueError(f"register expression {expr!r} uses {node.id!r}, not a device param ({known})")
        return params[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
        return _OPS[type(node.op)](_eval(node.left, params, expr), _eval(node.right, params, expr))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, params, expr)
    raise ValueError(f"register expression {expr!r}: only integers, params and + - * // are allowed")
