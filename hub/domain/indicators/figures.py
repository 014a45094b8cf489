"""Figures, suppression ("c" for 1 to 4), direction of travel and RAG ratings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from hub.domain.indicators.common import SMALL, SUPPRESSED, Polarity, Rag, Unit


@dataclass(frozen=True)
class Figure:
    """A computed figure and the counts it rests on; `value` None means no data."""

    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    suppressed: bool = False

    def counts(self) -> tuple[int, ...]:
        return tuple(n for n in (self.numerator, self.denominator) if n is not None)

    def published(self, unit: Unit) -> dict[str, Any]:
        if self.suppressed:
            return {"value": SUPPRESSED, "numerator": SUPPRESSED, "denominator": SUPPRESSED}
        return {
            "value": published_value(self.value, unit),
            "numerator": self.numerator,
            "denominator": self.denominator,
        }


def published_value(value: float | None, unit: Unit) -> float | int | None:
    if value is None:
        return None
    return int(value) if unit == "count" else round(value, 1)


def rate(numerator: int, denominator: int) -> Figure:
    value = 100.0 * numerator / denominator if denominator else None
    return Figure(value, numerator, denominator)


def count(value: int) -> Figure:
    return Figure(float(value), numerator=value)


def suppress(figure: Figure) -> Figure:
    """Primary suppression: a numerator or denominator of 1 to 4."""
    if any(n in SMALL for n in figure.counts()):
        return replace(figure, suppressed=True)
    return figure


def suppress_group(total: Figure, parts: Mapping[str, Figure]) -> tuple[Figure, dict[str, Figure]]:
    """Primary suppression of a total and its parts, then secondary suppression: a published
    total with exactly one suppressed part would give that part away by subtraction, so the
    next smallest published non-zero part is suppressed too (repeated until safe)."""
    total = suppress(total)
    result = {name: suppress(part) for name, part in parts.items()}
    if total.suppressed:
        return total, result
    while sum(1 for p in result.values() if p.suppressed) == 1:
        candidates = [
            (_size(p), name) for name, p in result.items() if not p.suppressed and _size(p) > 0
        ]
        if not candidates:
            return replace(total, suppressed=True), result
        name = min(candidates)[1]
        result[name] = replace(result[name], suppressed=True)
    return total, result


def _size(figure: Figure) -> int:
    return max(figure.counts(), default=0)


@dataclass(frozen=True)
class Target:
    """`>` the value should be above (higher is better), `<` below; meeting it exactly
    counts as meeting it."""

    op: Literal[">", "<"]
    value: float

    @classmethod
    def parse(cls, text: str) -> Target:
        text = text.strip().rstrip("%").strip()
        if not text or text[0] not in "<>":
            raise ValueError(f"a target is '>' or '<' then a number, e.g. '>90.3', not {text!r}")
        op: Literal[">", "<"] = ">" if text[0] == ">" else "<"
        return cls(op, float(text[1:]))

    def meets(self, value: float) -> bool:
        return value >= self.value if self.op == ">" else value <= self.value

    def shortfall(self, value: float) -> float:
        return self.value - value if self.op == ">" else value - self.value

    def text(self, unit: Unit) -> str:
        suffix = {"percent": "%", "hours": " h", "count": ""}[unit]
        return f"{self.op}{self.value:g}{suffix}"


@dataclass(frozen=True)
class RagRule:
    """Green meets the target; amber misses it by at most `amber_within` of the target
    (relative); red otherwise. The default reproduces the Leicestershire dashboard."""

    amber_within: float = 0.20

    def rag(self, value: float, target: Target) -> Rag:
        if target.meets(value):
            return "G"
        if target.shortfall(value) <= self.amber_within * abs(target.value) + 1e-9:
            return "A"
        return "R"

    def describe(self) -> str:
        return (
            "G: meets the target (equal counts as meeting it); A: misses it by no more than "
            f"{self.amber_within:.0%} of the target; R: misses it by more"
        )


def direction_of_travel(
    latest: Figure, previous: Figure, unit: Unit, polarity: Polarity
) -> tuple[str | None, str | None]:
    """("up" | "down" | "same", "improving" | "worsening" | "no change" | None) from the
    published values; nothing when either is suppressed or missing."""
    a = None if latest.suppressed else published_value(latest.value, unit)
    b = None if previous.suppressed else published_value(previous.value, unit)
    if a is None or b is None:
        return None, None
    if a == b:
        return "same", "no change"
    moved = "up" if a > b else "down"
    if polarity == "neutral":
        return moved, None
    better = (moved == "up") == (polarity == "higher")
    return moved, "improving" if better else "worsening"
