"""Request signatures of the phone providers, exactly as they document them.

Aliyun's RPC APIs (Dysms, Dyvms) sign the sorted query with HMAC-SHA1 ("签名机制", signature
version 1.0); Tencent Cloud's APIs (SMS, VMS) sign with TC3-HMAC-SHA256 (signature v3). Both
are pure functions of their inputs, so the documented worked examples pin them in tests, and
the fake provider in the tests recomputes them to refuse a wrong one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

TC3_ALGORITHM = "TC3-HMAC-SHA256"
TC3_CONTENT_TYPE = "application/json; charset=utf-8"


def aliyun_percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun wants it: only A-Z a-z 0-9 - _ . ~ stay as they are."""
    return quote(value, safe="~")


def aliyun_string_to_sign(method: str, params: Mapping[str, str]) -> str:
    """`METHOD&%2F&<encoded canonical query>`; the Signature parameter itself is left out."""
    canonical = "&".join(
        f"{aliyun_percent_encode(key)}={aliyun_percent_encode(params[key])}"
        for key in sorted(params)
        if key != "Signature"
    )
    return f"{method.upper()}&{aliyun_percent_encode('/')}&{aliyun_percent_encode(canonical)}"


def aliyun_rpc_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """Base64 HMAC-SHA1 of the string to sign, keyed with the secret and a trailing `&`."""
    message = aliyun_string_to_sign(method, params).encode()
    digest = hmac.new(f"{secret}&".encode(), message, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_canonical_request(host: str, payload: bytes, content_type: str = TC3_CONTENT_TYPE) -> str:
    """The canonical request of a JSON POST to `/`, signing content-type and host."""
    headers = f"content-type:{content_type}\nhost:{host}\n"
    return f"POST\n/\n\n{headers}\ncontent-type;host\n{_sha256_hex(payload)}"


def tc3_date(timestamp: int) -> str:
    """The UTC date of the timestamp, as the credential scope names it."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def tc3_signature(
    secret_key: str, service: str, timestamp: int, canonical_request: str
) -> tuple[str, str]:
    """Return (credential scope, hex signature) of a canonical request."""
    date = tc3_date(timestamp)
    scope = f"{date}/{service}/tc3_request"
    hashed = _sha256_hex(canonical_request.encode())
    string_to_sign = f"{TC3_ALGORITHM}\n{timestamp}\n{scope}\n{hashed}"
    key = _hmac_sha256(f"TC3{secret_key}".encode(), date)
    key = _hmac_sha256(key, service)
    key = _hmac_sha256(key, "tc3_request")
    return scope, hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def tc3_authorization(
    secret_id: str, secret_key: str, service: str, host: str, payload: bytes, timestamp: int
) -> str:
    """The Authorization header of a signed TC3 JSON POST."""
    canonical = tc3_canonical_request(host, payload)
    scope, signature = tc3_signature(secret_key, service, timestamp, canonical)
    return (
        f"{TC3_ALGORITHM} Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
