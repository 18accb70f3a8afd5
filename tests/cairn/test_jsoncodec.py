"""cairn.jsoncodec: orjson speed with the standard library's results (duplicate keys, big integers)."""
from __future__ import annotations

import json

import pytest

from cairn import jsoncodec

SAMPLES = [
    b'{"a": 1, "b": [1, 2.5, -0.0, true, false, null], "c": {"d": "x:y", "e:f": "\\u00e9"}}',
    b'[{"id": "http://example.org/a:b:c"}, {"id": "urn:x"}, "::::", {}]',
    b'"\\u00e9\\n\\"quoted\\""',
    b'123456789012345678901234567890',
    b'[18446744073709551616, -9223372036854775809, 9223372036854775807]',
    b'{"n": 1e400}',
    b'{"surrogate": "\\ud800"}',
    b'{"deep": ' + b"[" * 500 + b"]" * 500 + b"}",
]


@pytest.mark.parametrize("raw", SAMPLES)
def test_loads_strict_gives_what_the_standard_library_gives(raw: bytes) -> None:
    assert repr(jsoncodec.loads_strict(raw)) == repr(json.loads(raw))
    assert repr(jsoncodec.loads_strict(raw.decode())) == repr(json.loads(raw))
    assert repr(jsoncodec.loads(raw)) == repr(json.loads(raw))


@pytest.mark.parametrize("raw", [
    b'{"a": 1, "a": 2}',
    b'{"a": {"b": "x:y", "b": "x:y"}}',
    b'[{"k": 1}, {"ok": 1, "k": {"k": 1, "k": 1}}]',
    b'{"a:b": 1, "a:b": 1}',
    # An escaped colon must not hide a dropped member from the colon count.
    b'{"a": "\\u003a", "a": "\\u003A"}',
    b'{"x": "\\u003a", "x": 1}',
    '{"\u00e9": 1, "\\u00e9": 2}'.encode(),
])
def test_loads_strict_refuses_duplicate_keys_data_2_2(raw: bytes) -> None:
    with pytest.raises(ValueError, match="duplicate key"):
        jsoncodec.loads_strict(raw)


@pytest.mark.parametrize("raw", [b"[NaN]", b"[Infinity]", b"[-Infinity]", b"{", b"[1,]", b'"\x01"',
                                 b"\xef\xbb\xbf{}", b'{"a" 1}'])
def test_loads_strict_refuses_what_is_not_json(raw: bytes) -> None:
    with pytest.raises(ValueError):
        jsoncodec.loads_strict(raw)


def test_dumps_is_compact_utf8_and_keeps_big_integers() -> None:
    assert jsoncodec.dumps({"b": 1, "a": "é"}) == '{"b":1,"a":"é"}'.encode()
    assert jsoncodec.dumps({"b": 1, "a": [2**70]}, sort_keys=True) == b'{"a":[1180591620717411303424],"b":1}'
