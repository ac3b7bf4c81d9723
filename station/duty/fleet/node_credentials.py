"""Per-node credentials: the broker login in Mosquitto's password-file format
(PBKDF2-SHA512), and the node's own cloud-duty API credential (`uwsn_...`, kept as SHA-256),
both issued together, shown once, rotated together and revoked together; and the one-time
enrolment codes a node exchanges for them."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from station.contracts import NODE_CREDENTIAL_PREFIX
from station.duty.errors import NotFoundError, UnauthorizedError
from station.duty.fleet.models import Node, NodeCredential, NodeEnrolment

_ITERATIONS = 101  # what mosquitto_passwd writes for $7$ hashes
_SALT_BYTES = 12


class EnrolmentRefusedError(UnauthorizedError):
    """An enrolment code that is unknown, used or expired."""


class NoCredentialError(NotFoundError):
    """The node has no credentials to revoke."""


@dataclass(frozen=True)
class IssuedCredential:
    """What the installer of a node gets once; neither secret is ever stored."""

    username: str
    password: str
    password_line: str
    api_token: str = ""


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def mosquitto_password_line(username: str, password: str, salt: bytes | None = None) -> str:
    """Return `username:$7$...` as mosquitto_passwd would write it."""
    salt = salt or secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS, dklen=64)
    encoded = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"{username}:$7${_ITERATIONS}${encoded[0]}${encoded[1]}"


def issue_credential(session: Session, node_id: str, now: datetime) -> IssuedCredential:
    """Create or rotate a node's broker password and API credential together.

    The old API credential stops working at once; the old broker password on the broker's
    next password-file export.
    """
    password = secrets.token_urlsafe(24)
    api_token = NODE_CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    line = mosquitto_password_line(node_id, password)
    row = session.get(NodeCredential, node_id)
    if row is None:
        row = NodeCredential(node_id=node_id, password_line=line, rotated_at=now)
    row.password_line, row.rotated_at, row.api_key_hash = line, now, _sha256(api_token)
    session.add(row)
    return IssuedCredential(node_id, password, line, api_token)


def revoke_credential(session: Session, node_id: str) -> None:
    """Revoke a node's broker login and API credential (a lost or stolen box)."""
    row = session.get(NodeCredential, node_id)
    if row is None:
        raise NoCredentialError(f"node {node_id} has no credentials")
    session.delete(row)
    for code in session.exec(select(NodeEnrolment).where(NodeEnrolment.node_id == node_id)):
        session.delete(code)


def node_for_api_token(session: Session, token: str) -> Node | None:
    """The node this API credential belongs to, or None (unknown, rotated or revoked)."""
    if not token.startswith(NODE_CREDENTIAL_PREFIX):
        return None
    row = session.exec(
        select(NodeCredential).where(NodeCredential.api_key_hash == _sha256(token))
    ).first()
    return session.get(Node, row.node_id) if row is not None else None


def new_enrolment_code(
    session: Session, node_id: str, created_by: str, now: datetime, ttl: timedelta
) -> tuple[str, datetime]:
    """Make a one-time enrolment code for a node; only its hash is kept."""
    raw = base64.b32encode(secrets.token_bytes(15)).decode()  # 120 bits, 24 characters
    code = "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))
    expires = now + ttl
    session.add(
        NodeEnrolment(
            code_hash=_sha256(_normal(code)),
            node_id=node_id,
            created_by=created_by,
            created_at=now,
            expires_at=expires,
        )
    )
    return code, expires


def _normal(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def redeem_enrolment_code(
    session: Session, code: str, now: datetime
) -> tuple[Node, IssuedCredential]:
    """Exchange a one-time code for the node's credentials; the code is then spent."""
    row = session.get(NodeEnrolment, _sha256(_normal(code)))
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise EnrolmentRefusedError("unknown, used or expired enrolment code")
    node = session.get(Node, row.node_id)
    if node is None:
        raise EnrolmentRefusedError("unknown, used or expired enrolment code")
    row.used_at = now
    session.add(row)
    return node, issue_credential(session, node.id, now)


def password_file(session: Session) -> str:
    """The broker's password file for every node, one line each."""
    rows = session.exec(select(NodeCredential).order_by(col(NodeCredential.node_id))).all()
    return "".join(f"{r.password_line}\n" for r in rows)
