"""Per-node broker credentials in Mosquitto's password-file format (PBKDF2-SHA512)."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from station.duty.fleet.models import NodeCredential

_ITERATIONS = 101  # what mosquitto_passwd writes for $7$ hashes
_SALT_BYTES = 12


@dataclass(frozen=True)
class IssuedCredential:
    """What the installer of a node gets once; the password is never stored."""

    username: str
    password: str
    password_line: str


def mosquitto_password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """Return `username:$7$...` as mosquitto_passwd would write it."""
    salt = salt or secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS, dklen=64)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{username}:$7${_ITERATIONS}${encoded[0]}${encoded[1]}"


def issue_credential(session: Session, node_id: str, now: datetime) -> IssuedCredential:
    """Create or rotate a node's password; the old one stops working on the next export."""
    password = secrets.token_urlsafe(24)
    line = mosquitto_password_line(node_id, password)
    row = session.get(NodeCredential, node_id)
    if row is None:
        row = NodeCredential(node_id=node_id, password_line=line, rotated_at=now)
    row.password_line, row.rotated_at = line, now
    session.add(row)
    return IssuedCredential(node_id, password, line)


def password_file(session: Session) -> str:
    """The broker's password file for every node, one line each."""
    rows = session.exec(select(NodeCredential).order_by(col(NodeCredential.node_id))).all()
    return "".join(f"{r.password_line}\n" for r in rows)
