"""The two sides of a blue/green target (ALB target groups, Route 53 records): which
are there, and the one that is not this one."""

from __future__ import annotations

COLOURS = ("blue", "green")


def other(colour: str | None) -> str:
    return "green" if colour == "blue" else "blue"
