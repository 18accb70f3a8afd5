"""The shared input fields: integers the database can hold, strings without U+0000."""
from __future__ import annotations

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from cairn.fields import Integer, String
from cairn.pages import KeyValueLines, Lines


class Form(Schema):
    count = Integer(load_default=None, validate=validate.Range(min=1))
    sequence = Integer(bits=64, load_default=None)
    name = String(load_default="")
    names = fields.List(String(), load_default=list)
    attributes = KeyValueLines(load_default=dict)
    lines = Lines(load_default=list)


def test_integers_the_columns_hold_load_and_larger_ones_are_refused_naming_the_range() -> None:
    assert Form().load({"count": 2**31 - 1, "sequence": 2**63 - 1})["count"] == 2**31 - 1
    with pytest.raises(ValidationError) as refused:
        Form().load({"count": 2**31, "sequence": 2**63})
    assert refused.value.messages == {"count": ["must be a whole number from -2147483648 to 2147483647"],
                                      "sequence": ["must be a whole number from -9223372036854775808 to "
                                                   "9223372036854775807"]}
    with pytest.raises(ValidationError) as own_rule:  # the field's own validators still apply
        Form().load({"count": 0})
    assert own_rule.value.messages == {"count": ["Must be greater than or equal to 1."]}


def test_u0000_is_refused_in_strings_lists_and_textareas_and_other_text_loads() -> None:
    loaded = Form().load({"name": "Zoë 😀 <b>", "names": ["a"], "attributes": "team = A", "lines": "x\ny"})
    assert loaded == {"count": None, "sequence": None, "name": "Zoë 😀 <b>", "names": ["a"],
                      "attributes": {"team": "A"}, "lines": ["x", "y"]}
    with pytest.raises(ValidationError) as refused:
        Form().load({"name": "a\x00", "names": ["ok", "b\x00"], "attributes": "team = \x00",
                     "lines": ["c\x00"]})
    nul = ["must not contain the character U+0000"]
    assert refused.value.messages == {"name": nul, "names": {1: nul}, "attributes": nul, "lines": nul}
