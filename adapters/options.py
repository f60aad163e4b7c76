"""Adapter options: the values each option accepts, checked in one place before any job runs.

An adapter lists its options and defaults in ``default_config`` and, where the default's type
says too little, a rule in ``option_rules``. :func:`check_options` applies both: every option
must have its default's type (an ``int`` default takes integers, a ``float`` default any
number, a ``bool`` default only true/false, a ``str`` default only text, and so on), and an
option with a rule must satisfy it. Rules are small frozen dataclasses with a ``problem``
method that says what is wrong with a value, or None. The resolved options remember which
of them the user gave (:class:`ResolvedOptions`), for adapters that fill the others from the
data rather than from their defaults.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from benchmark.errors import KpbenchError


class ConfigError(KpbenchError, ValueError):
    """An adapter's configuration has unknown keys or invalid values (user input: exit 2)."""


class ResolvedOptions(dict[str, Any]):
    """An adapter's resolved options, and which of them were given (the rest are defaults).

    Attributes:
        given: The options the user's config set; by default every key (a plain mapping's
            options all count as given).
    """

    def __init__(self, values: Any = (), given: Iterable[str] | None = None) -> None:
        super().__init__(values)
        self.given = frozenset(self if given is None else given)


def given_options(config: Mapping[str, Any] | None) -> frozenset[str]:
    """The options ``config`` sets: a resolved config's ``given``, else all its keys."""
    if isinstance(config, ResolvedOptions):
        return config.given
    return frozenset(config or {})


class Rule(Protocol):
    """What one option accepts."""

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not accepted (``"must be ..."``), or None when it is."""
        ...


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True)
class Number:
    """A number in a range (bounds inclusive unless ``above``/``below``).

    Attributes:
        integer: Only whole numbers (ints) are accepted.
        min: Smallest value accepted.
        max: Largest value accepted.
        above: Values must be larger than this.
        below: Values must be smaller than this.
        nullable: ``null`` (None) is accepted too.
    """

    integer: bool = False
    min: float | None = None
    max: float | None = None
    above: float | None = None
    below: float | None = None
    nullable: bool = False

    def describe(self) -> str:
        """``an integer >= 1``, ``a number in (0, 1)`` and the like."""
        words = "an integer" if self.integer else "a number"
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.above is not None:
            bounds.append(f"> {self.above:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        if self.below is not None:
            bounds.append(f"< {self.below:g}")
        text = f"{words} {' and '.join(bounds)}" if bounds else words
        return f"{text} or null" if self.nullable else text

    def problem(self, value: Any) -> str | None:
        """See :class:`Rule`."""
        if value is None and self.nullable:
            return None
        ok = _is_int(value) if self.integer else _is_number(value)
        ok = ok and (self.min is None or value >= self.min)
        ok = ok and (self.max is None or value <= self.max)
        ok = ok and (self.above is None or value > self.above)
        ok = ok and (self.below is None or value < self.below)
        return None if ok else f"must be {self.describe()}"


#: Shorthands for the rules most options need.
POSITIVE_INT = Number(integer=True, min=1)
POSITIVE_INT_OR_NULL = Number(integer=True, min=1, nullable=True)
POSITIVE = Number(above=0)
NON_NEGATIVE = Number(min=0)
FRACTION = Number(min=0, max=1)


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of values (compared with ``==``, booleans only to booleans)."""

    values: tuple[Any, ...]

    def problem(self, value: Any) -> str | None:
        """See :class:`Rule`."""
        for allowed in self.values:
            if value == allowed and isinstance(value, bool) == isinstance(allowed, bool):
                return None
        return "must be one of " + ", ".join(_show(v) for v in self.values)


@dataclass(frozen=True)
class Pair:
    """Two numbers ``[a, b]``, each satisfying ``item``; ``ordered`` requires a <= b."""

    item: Number
    ordered: bool = False
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        """See :class:`Rule`."""
        if value is None and self.nullable:
            return None
        ok = (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and len(value) == 2
            and all(self.item.problem(v) is None for v in value)
            and (not self.ordered or value[0] <= value[1])
        )
        if ok:
            return None
        order = " with the first <= the second" if self.ordered else ""
        null = " or null" if self.nullable else ""
        return f"must be [a, b] of {self.item.describe()}{order}{null}"


@dataclass(frozen=True)
class Either:
    """Accepted when any of ``rules`` accepts it."""

    rules: tuple[Rule, ...]

    def problem(self, value: Any) -> str | None:
        """See :class:`Rule`."""
        problems = [rule.problem(value) for rule in self.rules]
        if any(p is None for p in problems):
            return None
        return "must be " + " or ".join(p.removeprefix("must be ") for p in problems if p)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _type_rule(default: Any) -> Rule | None:
    """The rule a default's type implies (None: the default says nothing, e.g. None)."""
    if isinstance(default, bool):
        return OneOf((True, False))
    if isinstance(default, int):
        return Number(integer=True)
    if isinstance(default, float):
        return Number()
    if isinstance(default, str):
        return _Type(str, "text")
    if isinstance(default, Mapping):
        return _Type(Mapping, "a mapping")
    if isinstance(default, list | tuple):
        return _Type((list, tuple), "a list")
    return None


@dataclass(frozen=True)
class _Type:
    kind: type | tuple[type, ...]
    words: str

    def problem(self, value: Any) -> str | None:
        return None if isinstance(value, self.kind) else f"must be {self.words}"


def check_options(
    adapter: str,
    defaults: Mapping[str, Any],
    rules: Mapping[str, Rule],
    config: Mapping[str, Any] | None,
) -> ResolvedOptions:
    """``defaults`` overlaid with ``config``, every value checked.

    Args:
        adapter: Adapter name, for messages.
        defaults: Every option and its default.
        rules: Rules for options whose default's type is not enough.
        config: The user's options (or options resolved before, whose ``given`` is kept).

    Returns:
        The resolved options; their ``given`` are the options the user set.

    Raises:
        ConfigError: An unknown option (with a did-you-mean) or a value an option does not
            accept; the message names the adapter, the option and the value.
    """
    given = given_options(config)
    config = {k: v for k, v in (config or {}).items() if k in given}
    for key in config:
        if key not in defaults:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            known = ", ".join(sorted(defaults))
            raise ConfigError(
                f"adapter {adapter!r}: unknown option {key!r}{hint}; known options: {known}"
            )
    for key, value in config.items():
        rule = rules.get(key) or _type_rule(defaults[key])
        problem = rule.problem(value) if rule is not None else None
        if problem is not None:
            raise ConfigError(f"adapter {adapter!r}: option {key!r} {problem}, not {value!r}")
    return ResolvedOptions({**defaults, **config}, given=config)
