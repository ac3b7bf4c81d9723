"""Entry tokens: sign, verify offline, and each reason to refuse."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from station.tokens import (
    MAX_TOKEN_CHARS,
    EnrolmentVerifier,
    MemberCredentialVerifier,
    RefusalReason,
    TokenRefusedError,
    TokenSigner,
    TokenVerifier,
    key_id,
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


def test_tokens_name_their_key_and_verify_across_a_rotation() -> None:
    old, new = new_private_key(), new_private_key()
    old_token, _ = TokenSigner(old).issue("m-1", ["st-1"], NOW)
    new_token, _ = TokenSigner(new).issue("m-1", ["st-1"], NOW)
    claims = json.loads(base64.urlsafe_b64decode(new_token.split(".")[1] + "=="))
    assert claims["k"] == key_id(public_key_of(new)) == TokenSigner(new).key_id
    both = TokenVerifier([public_key_of(new), public_key_of(old)], "st-1")
    assert both.verify(old_token, NOW).member_id == "m-1"
    assert both.verify(new_token, NOW).member_id == "m-1"
    with pytest.raises(TokenRefusedError) as caught:
        TokenVerifier(public_key_of(new), "st-1").verify(old_token, NOW)
    assert caught.value.reason is RefusalReason.FORGED  # a retired key signs nothing


def test_a_token_without_a_key_id_still_verifies() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    body = json.dumps({"m": "m-1", "s": ["st-1"], "i": 1, "e": 2**33, "n": "abc"}).encode()
    signature = Ed25519PrivateKey.from_private_bytes(PRIVATE).sign(body)
    legacy = f"UWS1.{_b64(body)}.{_b64(signature)}"
    assert _verifier().verify(legacy, NOW).member_id == "m-1"


def test_member_credentials_and_entry_tokens_cannot_stand_in_for_each_other() -> None:
    signer = TokenSigner(PRIVATE)
    credential, claims = signer.issue_member_credential("m-1", ["st-1"], NOW, 3600)
    members = MemberCredentialVerifier([public_key_of(PRIVATE)])
    assert members.verify(credential, NOW) == claims
    entry, _ = signer.issue("m-1", ["st-1"], NOW)
    _, body, signature = entry.split(".")
    for bad in (entry, f"UWM1.{body}.{signature}"):
        with pytest.raises(TokenRefusedError):
            members.verify(bad, NOW)
    _, body, signature = credential.split(".")
    assert _refusal(f"UWS1.{body}.{signature}") is RefusalReason.MALFORMED
    with pytest.raises(TokenRefusedError) as caught:
        members.verify(credential, NOW + timedelta(hours=2))
    assert caught.value.reason is RefusalReason.EXPIRED


def test_an_enrolment_code_asks_for_enrolment_only_and_nothing_else_stands_in_for_it() -> None:
    signer = TokenSigner(PRIVATE)
    code, claims = signer.issue_enrolment("m-1", ["st-1"], NOW, 120)
    assert code.startswith("UWE1.")
    door = EnrolmentVerifier([public_key_of(PRIVATE)], "st-1")
    assert door.verify(code, NOW) == claims
    _, body, signature = code.split(".")
    # Relabelled as an entry token or a member credential, it opens and reaches nothing.
    assert _refusal(f"UWS1.{body}.{signature}") is RefusalReason.MALFORMED
    with pytest.raises(TokenRefusedError):
        MemberCredentialVerifier([public_key_of(PRIVATE)]).verify(f"UWM1.{body}.{signature}", NOW)
    entry, _ = signer.issue("m-1", ["st-1"], NOW)
    credential, _ = signer.issue_member_credential("m-1", ["st-1"], NOW, 3600)
    stranger, _ = TokenSigner(new_private_key()).issue_enrolment("m-1", ["st-1"], NOW)
    cases = [
        (entry, NOW, door, RefusalReason.MALFORMED),
        (f"UWE1.{entry.split('.', 1)[1]}", NOW, door, RefusalReason.MALFORMED),
        (f"UWE1.{credential.split('.', 1)[1]}", NOW, door, RefusalReason.MALFORMED),
        (stranger, NOW, door, RefusalReason.FORGED),
        (code, NOW + timedelta(minutes=3), door, RefusalReason.EXPIRED),
        (
            code,
            NOW,
            EnrolmentVerifier([public_key_of(PRIVATE)], "st-2"),
            RefusalReason.WRONG_STATION,
        ),
    ]
    for token, at, verifier, reason in cases:
        with pytest.raises(TokenRefusedError) as caught:
            verifier.verify(token, at)
        assert caught.value.reason is reason, token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
