"""cloud-duty's secret keys: the Ed25519 key entry tokens are signed with, and the key of
phone hashes. They live in a key file (mode 0600) or in the environment, never in the
database, so a copy of the database signs nothing and reverses no phone hash.

Each kind is a list, current key first: after a rotation the previous key still verifies
tokens it signed (nodes hold both public keys) and still matches phone hashes made with it
(a match re-hashes the row with the current key).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from station.tokens import (
    MemberCredentialVerifier,
    TokenSigner,
    key_id,
    new_private_key,
    public_key_of,
)

logger = logging.getLogger(__name__)

KEEP_PREVIOUS = 1  # a rotation keeps the current key and one previous key


class KeyFileError(RuntimeError):
    """The key file or key variables are missing, unreadable or malformed."""


@dataclass(frozen=True)
class KeyRing:
    """The signing keys and phone-hash keys, current first."""

    signing_keys: tuple[bytes, ...]
    phone_keys: tuple[bytes, ...]
    signer: TokenSigner = field(init=False, repr=False, compare=False)
    member_verifier: MemberCredentialVerifier = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.signing_keys or not self.phone_keys:
            raise KeyFileError("a key ring needs at least one signing and one phone-hash key")
        for key in (*self.signing_keys, *self.phone_keys):
            if len(key) != 32:
                raise KeyFileError("every key must be 32 bytes (64 hex digits)")
        object.__setattr__(self, "signer", TokenSigner(self.signing_keys[0]))
        object.__setattr__(self, "member_verifier", MemberCredentialVerifier(self.public_keys))

    @property
    def public_key(self) -> str:
        """The current public key that nodes verify entry tokens with."""
        return public_key_of(self.signing_keys[0])

    @property
    def public_keys(self) -> list[str]:
        """Every public key still accepted, current first."""
        return [public_key_of(k) for k in self.signing_keys]

    @property
    def key_ids(self) -> list[str]:
        """The ids of the public keys, current first."""
        return [key_id(k) for k in self.public_keys]

    def phone_hashes(self, phone: str) -> list[str]:
        """Keyed hashes of a phone number (digits only) under each key, current first."""
        digits = re.sub(r"[^0-9]", "", phone).encode()
        return [hmac.new(k, digits, hashlib.sha256).hexdigest() for k in self.phone_keys]

    def to_json(self) -> str:
        """The key file's text."""
        body = {
            "signing_keys": [k.hex() for k in self.signing_keys],
            "phone_hash_keys": [k.hex() for k in self.phone_keys],
        }
        return json.dumps(body, indent=2) + "\n"


def new_ring() -> KeyRing:
    """A fresh ring: one new signing key and one new phone-hash key."""
    return KeyRing((new_private_key(),), (secrets.token_bytes(32),))


def rotated(ring: KeyRing) -> KeyRing:
    """A new current signing key and phone-hash key; the old current ones become previous."""
    return KeyRing(
        (new_private_key(), *ring.signing_keys[:KEEP_PREVIOUS]),
        (secrets.token_bytes(32), *ring.phone_keys[:KEEP_PREVIOUS]),
    )


def with_previous(ring: KeyRing, signing_key: bytes, phone_key: bytes) -> KeyRing:
    """The ring with older keys appended as previous ones (e.g. keys once kept elsewhere)."""
    signing = (*ring.signing_keys, *([signing_key] if signing_key not in ring.signing_keys else []))
    phone = (*ring.phone_keys, *([phone_key] if phone_key not in ring.phone_keys else []))
    return KeyRing(signing, phone)


def _hex_list(text: str, what: str) -> tuple[bytes, ...]:
    try:
        keys = tuple(bytes.fromhex(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as err:
        raise KeyFileError(f"{what}: not hex") from err
    if not keys:
        raise KeyFileError(f"{what}: no key")
    return keys


def parse_ring(text: str, source: str) -> KeyRing:
    """Read a key file's JSON text."""
    try:
        body = json.loads(text)
        signing = ",".join(body["signing_keys"])
        phone = ",".join(body["phone_hash_keys"])
    except (ValueError, KeyError, TypeError) as err:
        raise KeyFileError(f"{source}: not a key file ({err})") from err
    return KeyRing(_hex_list(signing, source), _hex_list(phone, source))


def read_key_file(path: Path, *, strict: bool) -> KeyRing:
    """Read a key file; `strict` refuses one that others than its owner may read."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise KeyFileError(f"{path}: cannot read the key file: {err.strerror or err}") from err
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        if strict:
            raise KeyFileError(f"{path}: others may read the key file; chmod 600 it")
        logger.warning("%s: others may read the key file; chmod 600 it", path)
    return parse_ring(text, str(path))


def write_key_file(path: Path, ring: KeyRing, *, replace: bool = True) -> None:
    """Write a key file readable by its owner only, whole or not at all.

    `replace=False` never overwrites: FileExistsError when another process made one first.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(ring.to_json())
    try:
        if replace:
            temporary.replace(path)
        else:
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_keys(
    key_file: Path,
    signing_keys: str | None,
    phone_hash_keys: str | None,
    *,
    create: bool,
    strict: bool,
) -> KeyRing:
    """The key ring from the environment (both variables) or else from the key file.

    `create` makes a key file when there is none (development only); `strict` (production)
    refuses a key file that others may read.
    """
    if signing_keys or phone_hash_keys:
        if not (signing_keys and phone_hash_keys):
            raise KeyFileError("set both UWS_SIGNING_KEYS and UWS_PHONE_HASH_KEYS, or neither")
        return KeyRing(
            _hex_list(signing_keys, "UWS_SIGNING_KEYS"),
            _hex_list(phone_hash_keys, "UWS_PHONE_HASH_KEYS"),
        )
    if not key_file.exists():
        if not create:
            raise KeyFileError(
                f"no key file at {key_file}: make one with `station keys new --file {key_file}`"
            )
        logger.warning("made a new key file at %s (development)", key_file)
        with contextlib.suppress(FileExistsError):  # another replica made it first
            write_key_file(key_file, new_ring(), replace=False)
    return read_key_file(key_file, strict=strict)
