"""Fast JSON for hot paths (orjson), with the exact results of the standard library.

orjson parses and serialises several times faster than ``json``, but differs from it in three
ways that matter here, each handled so callers see what ``json`` would give:

- duplicate object keys are silently merged: ``loads_strict`` detects them exactly (below) and
  then lets the strict standard-library parser produce the error;
- integers outside 64 bits become floats when parsed and cannot be serialised: any digit run of
  19 or more, or a serialisation error, falls back to ``json``;
- some inputs ``json`` accepts are refused (lone surrogate escapes, numbers overflowing a double,
  deep nesting): every orjson refusal is re-parsed by ``json``, so the outcome and its message stay
  ``json``'s.
"""
from __future__ import annotations

import json
from typing import Any

import orjson

# Maps every digit to "0", so a run of 19 digits (a number that may not fit 64 bits) is one search.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN = b"0" * 19
# The only ways a decoded string can hold a ":" the raw text does not show literally, and the
# prefix they share (looked for first: one scan of the text instead of two).
_ESCAPED_COLONS = (b"\\u003a", b"\\u003A")
_ESCAPED_COLON_PREFIX = b"\\u003"


def loads_strict(raw: str | bytes) -> Any:
    """Parse JSON, refusing duplicate keys (``ValueError``) and non-finite constants (xAPI 1.0.3 Data 2.2).

    Duplicate detection: orjson keeps one member per key, and its serialisation escapes no ":".
    Every member of the text has exactly one ":" outside strings, and every ":" inside a string
    is itself (no escaped colons, checked), so the text and the re-serialised value hold the same
    number of ":" exactly when no member was dropped. Anything unusual goes to the strict parser.
    """
    data = raw if isinstance(raw, bytes) else _utf8(raw)
    if data is None:
        return _loads_stdlib(raw)
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _loads_stdlib(raw)
    if _LONG_DIGIT_RUN in data.translate(_DIGITS_AS_ZERO) or (
            _ESCAPED_COLON_PREFIX in data and any(e in data for e in _ESCAPED_COLONS)):
        return _loads_stdlib(raw)
    try:
        members_kept = orjson.dumps(value).count(b":")
    except TypeError:  # nested deeper than orjson serialises
        return _loads_stdlib(raw)
    return value if members_kept == data.count(b":") else _loads_stdlib(raw)


def loads(raw: str | bytes) -> Any:
    """Parse trusted JSON (stored documents): like ``json.loads``, big integers kept exact."""
    data = raw if isinstance(raw, bytes) else _utf8(raw)
    if data is None or _LONG_DIGIT_RUN in data.translate(_DIGITS_AS_ZERO):
        return json.loads(raw)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(raw)


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact UTF-8 JSON bytes (keys sorted on request); integers beyond 64 bits fall back to ``json``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode()


def dumps_str(value: Any) -> str:
    """``dumps`` as text (the database drivers' JSON serialiser)."""
    return dumps(value).decode()


def _utf8(raw: str) -> bytes | None:
    try:
        return raw.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: only the standard library takes it
        return None


def _loads_stdlib(raw: str | bytes) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict:
        result: dict = {}
        for key, value in items:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    return json.loads(raw, object_pairs_hook=pairs, parse_constant=constant)
