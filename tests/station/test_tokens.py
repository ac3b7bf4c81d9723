"""Entry tokens: sign, verify offline, and each reason to refuse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from station.tokens import (
    MAX_TOKEN_CHARS,
    RefusalReason,
    TokenRefusedError,
    TokenSigner,
    TokenVerifier,
    new_private_key,
    public_key_of,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PRIVATE = new_private_key()


def _verifier(station: str = "st-1", region: str = "") -> TokenVerifier:
    return TokenVerifier(public_key_of(PRIVATE), station, region)


def _refusal(token: str, at: datetime = NOW, station: str = "st-1") -> RefusalReason:
    with pytest.raises(TokenRefusedError) as caught:
        _verifier(station).verify(token, at)
    return caught.value.reason


def test_a_fresh_token_verifies_with_its_claims() -> None:
    token, issued = TokenSigner(PRIVATE).issue("m-1", ["st-1", "region:pudong"], NOW, ttl_s=30)
    claims = _verifier().verify(token, NOW + timedelta(seconds=10))
    assert claims == issued
    assert claims.member_id == "m-1"
    assert claims.expires_at - claims.issued_at == timedelta(seconds=30)
    assert len(token) < 300  # fits a small QR code


def test_region_scope_opens_every_station_of_the_region() -> None:
    token, _ = TokenSigner(PRIVATE).issue("m-1", ["region:pudong"], NOW)
    assert _verifier("st-9", "pudong").verify(token, NOW).member_id == "m-1"
    with pytest.raises(TokenRefusedError):
        _verifier("st-9", "minhang").verify(token, NOW)


def test_each_kind_of_bad_token_is_refused_with_its_reason() -> None:
    signer = TokenSigner(PRIVATE)
    token, _ = signer.issue("m-1", ["st-1"], NOW, ttl_s=30)
    forged, _ = TokenSigner(new_private_key()).issue("m-1", ["st-1"], NOW)
    head, body, sig = token.split(".")
    other_body = signer.issue("m-2", ["st-1"], NOW)[0].split(".")[1]
    assert _refusal(token, NOW + timedelta(seconds=40)) is RefusalReason.EXPIRED
    assert _refusal(token, NOW - timedelta(seconds=40)) is RefusalReason.NOT_YET_VALID
    assert _refusal(token, station="st-2") is RefusalReason.WRONG_STATION
    assert _refusal(forged) is RefusalReason.FORGED
    assert _refusal(f"{head}.{other_body}.{sig}") is RefusalReason.FORGED
    for junk in (
        "",
        "hello",
        "UWS1.a.b",
        "UWS1.!!.??",
        f"UWS2.{body}.{sig}",
        "UWS1." + "A" * MAX_TOKEN_CHARS,
        "UWS1.e30.AA",
    ):
        assert _refusal(junk) is RefusalReason.MALFORMED


def test_issuing_refuses_bad_input() -> None:
    signer = TokenSigner(PRIVATE)
    for member, scopes, ttl in (
        ("", ["st-1"], 30),
        ("m 1", ["st-1"], 30),
        ("m-1", [], 30),
        ("m-1", ["st-1"] * 9, 30),
        ("m-1", ["st-1"], 0),
    ):
        with pytest.raises(ValueError, match=r"id|token needs|ttl_s"):
            signer.issue(member, scopes, NOW, ttl)
    with pytest.raises(ValueError, match="not a base64url Ed25519 key"):
        TokenVerifier("not a key", "st-1")
