"""Marshmallow fields shared by every package's input schemas."""
from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate

# The columns' integer types: INTEGER (ids, positions, counts, days) and BIGINT (sequence numbers).
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class Integer(fields.Integer):
    """An integer that the database can hold (32 bits unless ``bits=64``), else a validation error.

    marshmallow's own takes any size: 10**30 from a form or a JSON body then reached the database,
    where SQLite refuses to bind it (OverflowError) and PostgreSQL to store it ("integer out of
    range"): an answer of 500 where the client deserves a 400 naming the field.
    """

    def __init__(self, *, bits: int = 32, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        low, high = INT32 if bits == 32 else INT64
        self.validators.insert(0, validate.Range(min=low, max=high,
                                                 error="must be a whole number from {min} to {max}"))


def refuse_nul(value: str) -> None:
    """U+0000 is no character a person writes, and PostgreSQL's text cannot hold it."""
    if "\x00" in value:
        raise ValidationError("must not contain the character U+0000")


class String(fields.String):
    """A string without U+0000: PostgreSQL refuses it in any text column (an answer of 500 before).

    The xAPI resources keep their own rules for statements and documents (``lrs.validation``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators.insert(0, refuse_nul)
