"""Agents as identities: the inverse functional identifier the LRS indexes and compares on."""
from __future__ import annotations

from typing import Any

from cairn.accounts.services import kind_and_value


def ifi_of(agent: Any) -> str | None:
    """``kind|value`` for an Agent or identified Group (``account|homePage|name``), None if anonymous."""
    if not isinstance(agent, dict):
        return None
    found = kind_and_value(agent)
    return f"{found[0]}|{found[1]}" if found else None


def same_identity(a: Any, b: Any) -> bool:
    ifi = ifi_of(a)
    return ifi is not None and ifi == ifi_of(b)
