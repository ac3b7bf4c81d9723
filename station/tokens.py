"""Compact signed tokens (Ed25519): entry tokens, verified offline by nodes, and member
credentials, verified by cloud-duty.

An entry token is `UWS1.<claims>.<signature>`, both parts base64url without padding. The
claims are compact JSON: pseudonymous member id, the stations (or `region:<name>`) it opens,
issue and expiry time in Unix seconds, a random nonce that makes each token single-use, and
the id of the signing key (`k`), so that nodes can hold the current and the previous key
while keys rotate. A key id is derived from the public key itself: nothing to configure.

A printed card is `UWC1.<claims>.<signature>`: a card id, the member, the station it opens,
the issue time and the key id, and no expiry: it stays good until cloud-duty revokes the card
(or its member), and a node limits its uses per door per minute instead of spending a nonce.

A member credential is `UWM1.<claims>.<signature>`: the same claims plus `"p": "member"`,
signed over its prefix too, so neither kind of token can be passed off as the other. It lets
a member's phone fetch their own entry code and data, and nothing else.

An enrolment code is `UWE1.<claims>.<signature>`: an entry token's claims plus
`"p": "enrol"`, signed over its prefix the same way. The member's phone shows it to ask the
door for face enrolment; it proves who they are there, and opens no door.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX: Final = "UWS1"
MEMBER_PREFIX: Final = "UWM1"
CARD_PREFIX: Final = "UWC1"
MEMBER_PURPOSE: Final = "member"
ENROL_PREFIX: Final = "UWE1"
ENROL_PURPOSE: Final = "enrol"
MAX_TOKEN_CHARS: Final = 600
MAX_SCOPES: Final = 8
DEFAULT_TTL_S: Final = 30
_ID_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:")


class RefusalReason(StrEnum):
    """Why a node refuses an entry token."""

    MALFORMED = "malformed"
    FORGED = "forged"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_STATION = "wrong_station"
    REPLAYED = "replayed"
    REVOKED = "revoked"


class TokenRefusedError(ValueError):
    """A token that does not open this door; `reason` says which check failed."""

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class EntryClaims:
    """What a valid token says."""

    member_id: str
    scopes: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    nonce: str

    def opens(self, station_id: str, region: str) -> bool:
        """Return whether the token is good for this station (by id or by region)."""
        return station_id in self.scopes or (bool(region) and f"region:{region}" in self.scopes)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_id(value: str, what: str) -> str:
    if not value or len(value) > 64 or not set(value) <= _ID_CHARS:
        raise ValueError(f"{what} {value[:80]!r} is not a plain id of up to 64 characters")
    return value


def new_private_key() -> bytes:
    """Return a fresh Ed25519 private key as its 32 raw bytes."""
    return Ed25519PrivateKey.generate().private_bytes_raw()


def public_key_of(private_key: bytes) -> str:
    """Return the base64url public key that nodes verify with."""
    return _b64(Ed25519PrivateKey.from_private_bytes(private_key).public_key().public_bytes_raw())


def key_id(public_key: str) -> str:
    """Return the short id tokens name their key by: a fingerprint of the public key."""
    try:
        raw = _unb64(public_key)
    except (binascii.Error, ValueError) as err:
        raise ValueError("the entry public key is not a base64url Ed25519 key") from err
    return _b64(hashlib.sha256(raw).digest())[:4]  # short: every byte enlarges the QR code


def _public_keys(keys: str | Sequence[str]) -> dict[str, Ed25519PublicKey]:
    """Map key id -> public key; the first key is the current one."""
    listed = [keys] if isinstance(keys, str) else list(keys)
    if not listed:
        raise ValueError("at least one entry public key is needed")
    ring: dict[str, Ed25519PublicKey] = {}
    for text in listed:
        try:
            ring[key_id(text)] = Ed25519PublicKey.from_public_bytes(_unb64(text))
        except (binascii.Error, ValueError) as err:
            raise ValueError("the entry public key is not a base64url Ed25519 key") from err
    return ring


class TokenSigner:
    """Issues tokens with cloud-duty's current private key, naming its key id."""

    def __init__(self, private_key: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(private_key)
        self.key_id = key_id(public_key_of(private_key))

    def _claims_for(
        self, member_id: str, scopes: list[str], now: datetime, ttl_s: int
    ) -> dict[str, Any]:
        if not scopes or len(scopes) > MAX_SCOPES:
            raise ValueError(f"a token needs 1 to {MAX_SCOPES} stations or regions")
        if not 1 <= ttl_s <= 7 * 24 * 3600:
            raise ValueError("ttl_s must be between 1 s and 7 days")
        start = int(now.timestamp())
        return {
            "m": _check_id(member_id, "member id"),
            "s": [_check_id(s, "scope") for s in scopes],
            "i": start,
            "e": start + ttl_s,
            "n": _b64(secrets.token_bytes(12)),
            "k": self.key_id,
        }

    def issue(
        self, member_id: str, scopes: list[str], now: datetime, ttl_s: int = DEFAULT_TTL_S
    ) -> tuple[str, EntryClaims]:
        """Sign an entry token for a member, good for `scopes` from now for `ttl_s` seconds."""
        claims = self._claims_for(member_id, scopes, now, ttl_s)
        body = json.dumps(claims, separators=(",", ":")).encode()
        token = f"{PREFIX}.{_b64(body)}.{_b64(self._key.sign(body))}"
        return token, _claims(claims)

    def sign(self, message: bytes) -> bytes:
        """Sign raw bytes with the current key (for token kinds built elsewhere here)."""
        return self._key.sign(message)

    def issue_member_credential(
        self, member_id: str, scopes: list[str], now: datetime, ttl_s: int
    ) -> tuple[str, EntryClaims]:
        """Sign a member credential: the member's own page and data, at `scopes` only."""
        return self._issue_purposed(MEMBER_PREFIX, MEMBER_PURPOSE, member_id, scopes, now, ttl_s)

    def issue_enrolment(
        self, member_id: str, scopes: list[str], now: datetime, ttl_s: int = DEFAULT_TTL_S
    ) -> tuple[str, EntryClaims]:
        """Sign an enrolment code: face enrolment at a door of `scopes`, once, opening none."""
        return self._issue_purposed(ENROL_PREFIX, ENROL_PURPOSE, member_id, scopes, now, ttl_s)

    def _issue_purposed(
        self, prefix: str, purpose: str, member_id: str, scopes: list[str], now: datetime, ttl: int
    ) -> tuple[str, EntryClaims]:
        # The prefix is signed too: no kind of token can be passed off as another.
        claims = {**self._claims_for(member_id, scopes, now, ttl), "p": purpose}
        body = json.dumps(claims, separators=(",", ":")).encode()
        signature = self._key.sign(prefix.encode() + b"." + body)
        return f"{prefix}.{_b64(body)}.{_b64(signature)}", _claims(claims)


def _claims(raw: dict[str, Any]) -> EntryClaims:
    return EntryClaims(
        member_id=raw["m"],
        scopes=tuple(raw["s"]),
        issued_at=datetime.fromtimestamp(raw["i"], UTC),
        expires_at=datetime.fromtimestamp(raw["e"], UTC),
        nonce=raw["n"],
    )


_ENTRY_CLAIMS: Final = frozenset({"m", "s", "i", "e", "n"})


def _decode(token: str, prefix: str) -> tuple[bytes, bytes, Any]:
    """Split a token and decode its parts; raise MALFORMED for anything that is not one."""
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenRefusedError(RefusalReason.MALFORMED, f"token of {len(token)} characters")
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != prefix:
        raise TokenRefusedError(RefusalReason.MALFORMED, f"not a {prefix} token")
    try:
        body, signature = _unb64(parts[1]), _unb64(parts[2])
        raw = json.loads(body)
    except (binascii.Error, ValueError) as err:
        raise TokenRefusedError(RefusalReason.MALFORMED, "undecodable token") from err
    return body, signature, raw


def _parse(
    token: str, prefix: str = PREFIX, extra: frozenset[str] = frozenset()
) -> tuple[bytes, bytes, dict[str, Any]]:
    """Split and decode a token and check the shape of its claims."""
    body, signature, raw = _decode(token, prefix)
    if not _well_formed(raw, extra):
        raise TokenRefusedError(RefusalReason.MALFORMED, "claims of the wrong shape")
    return body, signature, raw


def _well_formed(raw: Any, extra: frozenset[str]) -> bool:
    # `k` (key id) is optional: tokens signed before keys had ids still verify.
    if not isinstance(raw, dict) or set(raw) - {"k"} != _ENTRY_CLAIMS | extra:
        return False
    if "k" in raw and not (isinstance(raw["k"], str) and 0 < len(raw["k"]) <= 16):
        return False
    scopes = raw["s"]
    return (
        isinstance(raw["m"], str)
        and isinstance(scopes, list)
        and 0 < len(scopes) <= MAX_SCOPES
        and all(isinstance(s, str) for s in scopes)
        and all(isinstance(raw[k], int) and 0 <= raw[k] < 2**40 for k in ("i", "e"))
        and isinstance(raw["n"], str)
        and 0 < len(raw["n"]) <= 32
    )


def _check_signature(
    keys: dict[str, Ed25519PublicKey], raw: dict[str, Any], signed: bytes, signature: bytes
) -> None:
    """Verify with the key the token names, or (no key id) with any key held."""
    if "k" in raw:
        key = keys.get(raw["k"])
        if key is None:
            # Not a key this verifier holds: signed by a stranger, or by a key long retired.
            raise TokenRefusedError(RefusalReason.FORGED, f"unknown key id {raw['k']!r}")
        candidates = [key]
    else:
        candidates = list(keys.values())
    for candidate in candidates:
        try:
            candidate.verify(signature, signed)
        except InvalidSignature:
            continue
        return
    raise TokenRefusedError(RefusalReason.FORGED, "signature does not verify")


def _check_window(claims: EntryClaims, now: datetime, leeway: timedelta) -> None:
    if now + leeway < claims.issued_at:
        raise TokenRefusedError(RefusalReason.NOT_YET_VALID, f"valid from {claims.issued_at}")
    if now - leeway >= claims.expires_at:
        raise TokenRefusedError(RefusalReason.EXPIRED, f"expired at {claims.expires_at}")


class TokenVerifier:
    """Checks signature, validity window and scope, offline, with cloud-duty's public keys.

    `public_keys` is the current key, or a list of keys (current first, then the previous
    one while a rotation is under way); a token is checked with the key its id names.
    """

    def __init__(
        self,
        public_keys: str | Sequence[str],
        station_id: str,
        region: str = "",
        leeway_s: float = 5,
    ) -> None:
        self._keys = _public_keys(public_keys)
        self._station_id = station_id
        self._region = region
        self._leeway = timedelta(seconds=leeway_s)

    def verify(self, token: str, now: datetime) -> EntryClaims:
        """Return the claims of a good token or raise TokenRefusedError with the reason."""
        body, signature, raw = _parse(token)
        _check_signature(self._keys, raw, body, signature)
        claims = _claims(raw)
        _check_window(claims, now, self._leeway)
        return self._here(claims)

    def _here(self, claims: EntryClaims) -> EntryClaims:
        if not claims.opens(self._station_id, self._region):
            raise TokenRefusedError(
                RefusalReason.WRONG_STATION, f"good for {', '.join(claims.scopes)}"
            )
        return claims


class MemberCredentialVerifier:
    """Checks a member credential (cloud-duty side): signature, purpose and validity window."""

    def __init__(self, public_keys: str | Sequence[str], leeway_s: float = 5) -> None:
        self._keys = _public_keys(public_keys)
        self._leeway = timedelta(seconds=leeway_s)

    def verify(self, credential: str, now: datetime) -> EntryClaims:
        """Return the claims of a good credential or raise TokenRefusedError."""
        return _verify_purposed(
            self._keys, credential, MEMBER_PREFIX, MEMBER_PURPOSE, now, self._leeway
        )


class EnrolmentVerifier(TokenVerifier):
    """Checks an enrolment code at a door, offline: signature, purpose, window and scope."""

    def verify(self, token: str, now: datetime) -> EntryClaims:
        """Return the claims of a good enrolment code or raise TokenRefusedError."""
        return self._here(
            _verify_purposed(self._keys, token, ENROL_PREFIX, ENROL_PURPOSE, now, self._leeway)
        )


def _verify_purposed(
    keys: dict[str, Ed25519PublicKey],
    token: str,
    prefix: str,
    purpose: str,
    now: datetime,
    leeway: timedelta,
) -> EntryClaims:
    """Check a token of `prefix` that names `purpose` and its key id, signed over the prefix."""
    body, signature, raw = _parse(token, prefix, frozenset({"p"}))
    if raw["p"] != purpose or "k" not in raw:
        raise TokenRefusedError(RefusalReason.MALFORMED, f"not a {purpose} token")
    _check_signature(keys, raw, prefix.encode() + b"." + body, signature)
    claims = _claims(raw)
    _check_window(claims, now, leeway)
    return claims


@dataclass(frozen=True)
class CardClaims:
    """What a good printed card says."""

    card_id: str
    member_id: str
    station_id: str
    issued_at: datetime


def issue_card(signer: TokenSigner, claims: CardClaims) -> str:
    """Sign a printed card; the same claims and key always give the same token (a reprint)."""
    raw = {
        "c": _check_id(claims.card_id, "card id"),
        "m": _check_id(claims.member_id, "member id"),
        "s": _check_id(claims.station_id, "station id"),
        "i": int(claims.issued_at.timestamp()),
        "k": signer.key_id,
    }
    body = json.dumps(raw, separators=(",", ":")).encode()
    signature = signer.sign(CARD_PREFIX.encode() + b"." + body)
    return f"{CARD_PREFIX}.{_b64(body)}.{_b64(signature)}"


def _card_well_formed(raw: Any) -> bool:
    return (
        isinstance(raw, dict)
        and set(raw) == {"c", "m", "s", "i", "k"}
        and all(isinstance(raw[k], str) and 0 < len(raw[k]) <= 64 for k in ("c", "m", "s", "k"))
        and isinstance(raw["i"], int)
        and 0 <= raw["i"] < 2**40
    )


class CardVerifier:
    """Checks a printed card offline: its signature (by key id) and its station; whether it
    is revoked or used too often is the node's state, not the card's."""

    def __init__(
        self, public_keys: str | Sequence[str], station_id: str, leeway_s: float = 5
    ) -> None:
        self._keys = _public_keys(public_keys)
        self._station_id = station_id
        self._leeway = timedelta(seconds=leeway_s)

    def verify(self, token: str, now: datetime) -> CardClaims:
        """Return the claims of a good card or raise TokenRefusedError with the reason."""
        body, signature, raw = _decode(token, CARD_PREFIX)
        if not _card_well_formed(raw):
            raise TokenRefusedError(RefusalReason.MALFORMED, "card claims of the wrong shape")
        _check_signature(self._keys, raw, CARD_PREFIX.encode() + b"." + body, signature)
        claims = CardClaims(raw["c"], raw["m"], raw["s"], datetime.fromtimestamp(raw["i"], UTC))
        if now + self._leeway < claims.issued_at:
            raise TokenRefusedError(RefusalReason.NOT_YET_VALID, f"issued at {claims.issued_at}")
        if claims.station_id != self._station_id:
            raise TokenRefusedError(RefusalReason.WRONG_STATION, f"good for {claims.station_id}")
        return claims


def qr_png(token: str, scale: int = 8) -> bytes:
    """Render a token as a PNG QR code (medium error correction, quiet zone kept)."""
    buffer = io.BytesIO()
    segno.make_qr(token, error="m").save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
