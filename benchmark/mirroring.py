"""Left/right keypoint pairs: which labels swap when a frame is mirrored horizontally.

A mirrored frame keeps its labels right only when every left keypoint trades places with
its right partner. Pairs come, in this order, from the run config's dataset entry
(``flip_pairs``), from the file when its format declares them (SLEAP skeleton symmetries),
else from the keypoint names by the rule below. Declared pairs are trusted as given; an
empty declaration (``flip_pairs: []``) means "never mirror".

The name rule:

1. A name is split into lowercase tokens at anything that is not a letter or a digit
   (``_ - . `` and spaces), at camelCase boundaries (``foreLeg`` -> fore, leg; ``LEye`` ->
   l, eye), and between letters and digits (``forelegR2`` -> foreleg, r, 2).
2. A token marks a side when it is ``left``, ``right``, ``l``, ``r``, ``lt`` or ``rt``;
   when it starts or ends with ``left``/``right`` (``leftear``, ``earright``); or when it
   is a two-letter cluster of a position letter and a side letter: ``FL``, ``FR``, ``HL``,
   ``HR``, ``BL``, ``ML``, ``TL``, ``AL``, ``PL``, ... (front, hind, back, middle, top,
   anterior, posterior + side), ``RL``/``RR`` (rear + side) and the side-first ``LF``,
   ``RH``, ``LM``, ... ``LR`` and ``LL`` are not clusters.
3. Two keypoints pair when their token lists are equal except for the side at one place:
   ``left_ear``/``right_ear``, ``eyeL``/``eyeR``, ``paw_FL``/``paw_FR``, ``L1``/``R1``.
   A keypoint with two possible partners pairs with neither.
4. An ``l``/``r`` glued to the front of a word of three or more letters (``Lforepaw``/
   ``Rforepaw``, ``lhindpaw``/``rhindpaw``) pairs only when both spellings are present.
   Such a letter marks a side only once the skeleton uses that style for at least one
   pair (otherwise ``lateral``, ``rostral`` or ``Rump`` would); then ``Rump`` does, and
   nothing mirrors unless it has a partner.

Safety: if any keypoint that marks a side has no partner, or no pair is found at all,
nothing mirrors, and the reason says why. Vertebra-style labels (``C7``, ``T1``, ``L1``,
``L2``) therefore switch mirroring off: ``L1`` reads as a left keypoint without a partner.
Names the rule cannot read are paired in the run config (``flip_pairs``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

Pairs = tuple[tuple[int, int], ...]

#: Whole-token side markers and their opposites.
SIDE_WORDS = {"left": "right", "right": "left", "l": "r", "r": "l", "lt": "rt", "rt": "lt"}
#: Position letters of two-letter clusters (front, hind, back, middle, top, anterior,
#: posterior); ``r`` (rear) only before the side letter.
POSITION_LETTERS = "fhbmtap"

_SEPARATORS = re.compile(r"[^A-Za-z0-9]+")
_BOUNDARIES = (
    re.compile(r"(?<=[a-z])(?=[A-Z])"),  # camelCase: eyeL -> eye L
    re.compile(r"(?<=[A-Z])(?=[A-Z][a-z])"),  # capitals then a word: LEye -> L Eye
    re.compile(r"(?<=[A-Za-z])(?=[0-9])"),  # letter -> digit: R2 -> R 2
    re.compile(r"(?<=[0-9])(?=[A-Za-z])"),  # digit -> letter
)
_GLUED = re.compile(r"[LRlr][a-z]{3,}")  # Lforepaw, lforepaw: a side letter glued to a word


@dataclass(frozen=True)
class Mirroring:
    """The left/right pairs a mirror swaps, or why nothing mirrors.

    Attributes:
        pairs: Keypoint index pairs to swap; empty when nothing may mirror.
        source: ``declared`` (config or file) or ``names`` (the name rule).
        reason: Why nothing mirrors; empty when ``pairs`` is not.
    """

    pairs: Pairs
    source: str
    reason: str = ""

    @property
    def on(self) -> bool:
        """Whether frames may be mirrored (with ``pairs`` swapped)."""
        return bool(self.pairs)

    def describe(self, keypoints: Sequence[str]) -> str:
        """One line: ``a<->b, c<->d (source)`` or ``none (reason)``."""
        if not self.on:
            return f"none ({self.reason})"
        shown = ", ".join(f"{keypoints[a]}<->{keypoints[b]}" for a, b in self.pairs)
        return f"{shown} ({'from names' if self.source == 'names' else 'declared'})"

    def note(self, keypoints: Sequence[str]) -> str:
        """The value of an adapter's ``mirroring`` note: ``on: ...`` or ``off: reason``."""
        return f"on: {self.describe(keypoints)}" if self.on else f"off: {self.reason}"


@dataclass(frozen=True)
class _Token:
    text: str
    glued: bool  # an l/r glued to the front of a lowercase word in the original name


def split_name(name: str) -> list[str]:
    """The lowercase tokens of a keypoint name (``foreLegR2`` -> fore, leg, r, 2)."""
    return [t.text for t in _tokens(name)]


def _tokens(name: str) -> list[_Token]:
    out: list[_Token] = []
    for chunk in _SEPARATORS.split(name):
        for boundary in _BOUNDARIES:
            chunk = boundary.sub(" ", chunk)
        out.extend(_Token(t.lower(), bool(_GLUED.fullmatch(t))) for t in chunk.split())
    return out


def _slots(token: _Token) -> list[tuple[int, int, bool]]:
    """Where ``token`` marks a side: ``(start, end, glued)`` character spans."""
    t = token.text
    if t in SIDE_WORDS:
        return [(0, len(t), False)]
    for word in ("left", "right"):
        if len(t) > len(word) and t.startswith(word):
            return [(0, len(word), False)]
        if len(t) > len(word) and t.endswith(word):
            return [(len(t) - len(word), len(t), False)]
    if len(t) == 2 and t[1] in "lr" and (t[0] in POSITION_LETTERS or t[0] == "r"):
        return [(1, 2, False)]
    if len(t) == 2 and t[0] in "lr" and t[1] in POSITION_LETTERS:
        return [(0, 1, False)]
    if token.glued:
        return [(0, 1, True)]
    return []


def _flipped(texts: tuple[str, ...], at: int, start: int, end: int) -> tuple[str, ...]:
    t = texts[at]
    return (*texts[:at], t[:start] + SIDE_WORDS[t[start:end]] + t[end:], *texts[at + 1 :])


def name_mirroring(keypoints: Sequence[str]) -> Mirroring:
    """Pairs found by the name rule (module docstring), or none with the reason."""
    tokens = [_tokens(k) for k in keypoints]
    texts = [tuple(t.text for t in ts) for ts in tokens]
    by_text: dict[tuple[str, ...], list[int]] = {}
    for i, t in enumerate(texts):
        by_text.setdefault(t, []).append(i)
    partners: list[set[int]] = []  # who each keypoint would pair with
    strong: list[bool] = []  # marks a side by a marker other than a glued letter
    glued: list[bool] = []  # marks a side only by a glued letter
    for i, ts in enumerate(tokens):
        found: set[int] = set()
        kinds: set[bool] = set()
        for at, token in enumerate(ts):
            for start, end, is_glued in _slots(token):
                kinds.add(is_glued)
                found.update(j for j in by_text.get(_flipped(texts[i], at, start, end), ()))
        partners.append(found - {i})
        strong.append(False in kinds)
        glued.append(kinds == {True})
    pairs = [
        (i, j)
        for i in range(len(keypoints))
        for j in partners[i]
        if i < j and partners[i] == {j} and partners[j] == {i}
    ]
    paired = {k for pair in pairs for k in pair}
    glued_style = any(glued[i] or glued[j] for i, j in pairs)
    sided = [s or (glued_style and g) for s, g in zip(strong, glued, strict=True)]
    lonely = [i for i in range(len(keypoints)) if sided[i] and i not in paired]
    if lonely:
        ambiguous = [i for i in lonely if len(partners[i]) > 1]
        i = (ambiguous or lonely)[0]
        if ambiguous:
            others = ", ".join(repr(keypoints[j]) for j in sorted(partners[i]))
            why = f"keypoint {keypoints[i]!r} marks a side but matches several ({others})"
        else:
            why = f"keypoint {keypoints[i]!r} marks a side but has no partner"
        more = len(lonely) - 1
        if more:
            why += f" (and {more} more keypoint{'s' * (more > 1)})"
        return Mirroring((), "names", why)
    if not pairs:
        return Mirroring((), "names", "no keypoint name marks a left/right side")
    ordered = tuple(sorted(_left_first(i, j, texts) for i, j in pairs))
    return Mirroring(ordered, "names")


def _left_first(i: int, j: int, texts: list[tuple[str, ...]]) -> tuple[int, int]:
    """The pair ordered left keypoint first (where the names first differ, one has ``l``)."""
    for a, b in zip("".join(texts[i]), "".join(texts[j]), strict=False):
        if a != b:
            return (i, j) if a == "l" else (j, i)
    return (i, j)


def check_pairs(pairs: Sequence[Sequence[int]], keypoints: Sequence[str]) -> Pairs:
    """Declared index pairs, checked: each names two different keypoints, none is in two pairs.

    Raises:
        ValueError: A pair is not two indices of ``keypoints``, pairs a keypoint with
            itself, or a keypoint is in two pairs; the message names the keypoints.
    """
    n = len(keypoints)
    out: list[tuple[int, int]] = []
    seen: dict[int, tuple[int, int]] = {}
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"a left/right pair must be two keypoints, not {list(pair)!r}")
        a, b = (int(x) for x in pair)
        for x in (a, b):
            if not 0 <= x < n:
                raise ValueError(f"left/right pair ({a}, {b}) has an index outside 0..{n - 1}")
        if a == b:
            raise ValueError(f"left/right pair pairs keypoint {keypoints[a]!r} with itself")
        for x in (a, b):
            if x in seen:
                first = ", ".join(keypoints[k] for k in seen[x])
                raise ValueError(
                    f"keypoint {keypoints[x]!r} is in two left/right pairs "
                    f"([{first}] and [{keypoints[a]}, {keypoints[b]}])"
                )
            seen[x] = (a, b)
        out.append((a, b))
    return tuple(out)


def pairs_from_names(pairs: Sequence[Sequence[str]], keypoints: Sequence[str]) -> Pairs:
    """Pairs given as keypoint names (``[[left_ear, right_ear], ...]``) as index pairs.

    Raises:
        ValueError: An entry is not two names, a name is not a keypoint, or as
            :func:`check_pairs`.
    """
    index = {k: i for i, k in enumerate(keypoints)}
    out: list[tuple[int, int]] = []
    for pair in pairs:
        if isinstance(pair, str) or len(pair) != 2:
            raise ValueError(f"a left/right pair must be two keypoint names, not {pair!r}")
        for name in pair:
            if name not in index:
                raise ValueError(
                    f"left/right pair names {name!r}, which is not a keypoint "
                    f"(keypoints: {', '.join(keypoints)})"
                )
        out.append((index[pair[0]], index[pair[1]]))
    return check_pairs(out, keypoints)


def mirroring(keypoints: Sequence[str], declared: Pairs | None) -> Mirroring:
    """The pairs to swap: ``declared`` when given (``()`` = never mirror), else by name."""
    if declared is None:
        return name_mirroring(keypoints)
    if not declared:
        return Mirroring((), "declared", "the dataset declares no left/right pairs")
    return Mirroring(tuple(declared), "declared")


__all__ = [
    "Mirroring",
    "check_pairs",
    "mirroring",
    "name_mirroring",
    "pairs_from_names",
    "split_name",
]
