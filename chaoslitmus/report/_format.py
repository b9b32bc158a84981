"""How numbers and times read in the report, the same in every renderer."""

from __future__ import annotations

from chaoslitmus.report._read import parse_time

__all__ = ["fmt_ms", "fmt_pct", "fmt_s", "fmt_time"]


def fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def fmt_pct(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio * 100:.1f} %"


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 120:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def fmt_time(value: str) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM:SS UTC' (the text as given if unparsable)."""
    moment = parse_time(value)
    if moment is None:
        return value or "–"
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
