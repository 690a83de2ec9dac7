"""Terraform's meta-arguments, offline: count, for_each with each.key/each.value, dynamic blocks,
and references into them (a.b["k"].c).

A for_each instance is declared when any branch of its for_each conditional has it, so a stack
with the test functions switched off still declares them (disabled), as count = 0 did.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.stack.errors import StackError
from harness.stack.hclexpr import Unknown, evaluate, possible_values


def _unquote(key: str) -> str:
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == '"' else key


def single(body: dict, key: str, default=None):
    """A nested block given once (python-hcl2 gives a list of one)."""
    value = body.get(key, default)
    if isinstance(value, list) and value and isinstance(value[0], dict) and value[0].get("__is_block__"):
        return value[0]
    return value


_STEP = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+)\]|\["([^"]*)"\]')


class Key(str):
    """A ["key"] index in a reference, as opposed to an .attribute."""


def steps(ref: str) -> list[str | int]:
    """a.b["k"][0].c -> ['a', 'b', Key('k'), 0, 'c']"""
    out: list[str | int] = []
    pos = 0
    while pos < len(ref):
        m = _STEP.match(ref, pos)
        if not m:
            raise StackError(f"cannot read terraform reference {ref!r}")
        name, num, key = m.groups()
        out.append(int(num) if num is not None else (name if name is not None else Key(key)))
        pos = m.end()
    return out


def walk(value: object, path: list, ref: str) -> object:
    """Follow attribute and index steps into an evaluated value."""
    for step in path:
        if isinstance(value, Unknown):
            return value
        try:
            value = value[step]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            raise StackError(f"terraform reference {ref}: no {step!r} in {value!r}") from None
    return value


@dataclass(frozen=True)
class Instance:
    """One instance of a resource: its address, its `each` (for_each) and whether the switch enables it."""
    address: str
    key: str | None
    each: dict | None
    enabled: bool


def instances(address: str, body: dict, resolve: Callable[[str], object]) -> list[Instance]:
    """The instances a resource declares. A for_each instance is declared when any branch of the
    for_each conditional has it (`var.on ? local.map : {}` declares the map's keys), and enabled when
    the branch taken has it; a disabled instance is still checked offline, as a count = 0 one is."""
    if "for_each" not in body:
        count = evaluate(body.get("count", 1), resolve)
        return [Instance(address, None, None, True if isinstance(count, Unknown) else bool(count))]
    expr = body["for_each"]
    actual = evaluate(expr, resolve)
    declared: dict = {}
    for value in [*possible_values(expr, resolve), actual]:
        if isinstance(value, dict):
            declared.update({k: v for k, v in value.items() if k not in declared})
        elif isinstance(value, (list, tuple, set)):
            declared.update({str(v): v for v in value if str(v) not in declared})
    if not declared and isinstance(actual, Unknown):
        raise StackError(f"{address}: for_each {expr!r} cannot be resolved offline; use a map in locals")
    return [Instance(f'{address}["{key}"]', key, {"key": key, "value": value},
                     isinstance(actual, Unknown) or key in actual)   # type: ignore[operator]
            for key, value in declared.items()]


def blocks_of(body: dict, name: str, resolve: Callable[[str], object]) -> Iterator[tuple[dict, Callable]]:
    """Each nested block `name` of a body with the resolver for its content: static blocks, then
    the blocks a `dynamic "name"` generates (its iterator, `name` unless renamed, in scope)."""
    for block in body.get(name, []) if isinstance(body.get(name), list) else []:
        if isinstance(block, dict):
            yield block, resolve
    for dyn in body.get("dynamic", []):
        for label, spec in dyn.items():
            if _unquote(label) != name:
                continue
            iterator = str(evaluate(spec["iterator"], lambda ref: ref)) if "iterator" in spec else name
            items = evaluate(spec.get("for_each"), resolve)
            if isinstance(items, Unknown):
                raise StackError(f'dynamic "{name}": for_each {spec.get("for_each")!r} cannot be resolved offline')
            pairs = items.items() if isinstance(items, dict) else enumerate(items or [])
            content = single(spec, "content") or {}
            for key, value in pairs:
                yield content, scoped(resolve, {iterator: {"key": key, "value": value}})


def scoped(resolve: Callable[[str], object], scope: dict) -> Callable[[str], object]:
    """`resolve` with names bound (each, a dynamic block's iterator) that shadow everything else."""
    def bound(ref: str) -> object:
        parts = steps(ref)
        if parts[0] in scope:
            return walk(scope[parts[0]], parts[1:], ref)
        return resolve(ref)
    return bound
