"""Fuzzing the wire: whatever arrives, decoding either yields a valid message or ContractError."""

from __future__ import annotations

import contextlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from station.contracts import TOPIC_MODELS, ContractError, decode, decode_for_topic

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
_FIELDS = sorted({name for model in TOPIC_MODELS.values() for name in model.model_fields})


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=256))
def test_raw_bytes_never_escape_as_anything_but_contract_error(payload: bytes) -> None:
    for model in TOPIC_MODELS.values():
        with contextlib.suppress(ContractError):
            decode(model, payload)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(sorted(TOPIC_MODELS)),
    body=st.dictionaries(st.sampled_from(_FIELDS), _JSON, max_size=8),
)
def test_objects_near_the_schema_decode_or_are_refused(
    kind: object, body: dict[str, object]
) -> None:
    topic = f"uws/v1/node-1/{kind}"
    payload = json.dumps({"schema": 1, **body}).encode()
    try:
        _node, message = decode_for_topic(topic, payload)
    except ContractError:
        return
    # What decodes round-trips: the bytes it would send decode to the same message.
    assert decode(type(message), message.to_payload()) == message
