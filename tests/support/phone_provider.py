"""A local fake of the Aliyun and Tencent Cloud SMS/voice APIs for tests.

It recomputes each request's signature with the secret it was given and answers a wrong one
as the provider does (Aliyun `SignatureDoesNotMatch`, Tencent `AuthFailure.SignatureFailure`);
accepted messages are kept with the id it handed out. `delay_s` makes it answer late, and
the Aliyun actions named in `slow` hang and are never accepted, so a client's timeout can be
exercised.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from station.duty.alerting.provider_signing import (
    aliyun_rpc_signature,
    tc3_canonical_request,
    tc3_signature,
)

KEY_ID = "fake-key-id"
SECRET = "fake-provider-secret-0123456789"
TENCENT_SERVICES = {"SendSms": "sms", "SendTtsVoice": "vms"}


@dataclass
class Sent:
    """One accepted text or call."""

    provider: str
    action: str
    phone: str
    params: Any
    message_id: str
    at: float = field(default_factory=time.monotonic)


@dataclass
class FakeProvider:
    """State shared with the handler: what was accepted, refused, and how late to answer."""

    url: str = ""
    secret: str = SECRET
    delay_s: float = 0.0
    slow: set[str] = field(default_factory=set)
    sent: list[Sent] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self, prefix: str) -> str:
        """A fresh provider message id."""
        return f"{prefix}-{next(self._ids)}"


def _aliyun(fake: FakeProvider, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
    given = query.get("Signature", "")
    if query.get("AccessKeyId") != KEY_ID or given != aliyun_rpc_signature(
        "GET", query, fake.secret
    ):
        fake.refused.append(f"aliyun {query.get('Action')}")
        return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature not match"}
    action = query.get("Action", "")
    if action == "SendSms":
        message_id = fake.next_id("biz")
        phone, params = query["PhoneNumbers"], json.loads(query["TemplateParam"])
        answer = {"Code": "OK", "Message": "OK", "BizId": message_id, "RequestId": "r"}
    elif action == "SingleCallByTts":
        message_id = fake.next_id("call")
        phone, params = query["CalledNumber"], json.loads(query["TtsParam"])
        answer = {"Code": "OK", "Message": "OK", "CallId": message_id, "RequestId": "r"}
    else:
        return 400, {"Code": "InvalidAction", "Message": action}
    fake.sent.append(Sent("aliyun", action, phone, params, message_id))
    return 200, answer


def _tencent(fake: FakeProvider, headers: Any, body: bytes) -> tuple[int, dict[str, Any]]:
    action = headers.get("X-TC-Action", "")
    service = TENCENT_SERVICES.get(action)
    authorization = headers.get("Authorization", "")
    timestamp = int(headers.get("X-TC-Timestamp", "0"))
    canonical = tc3_canonical_request(headers.get("Host", ""), body, headers["Content-Type"])
    scope, signature = tc3_signature(fake.secret, service or "", timestamp, canonical)
    expected = (
        f"TC3-HMAC-SHA256 Credential={KEY_ID}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    if service is None or authorization != expected:
        fake.refused.append(f"tencent {action}")
        error = {"Code": "AuthFailure.SignatureFailure", "Message": "signature mismatch"}
        return 200, {"Response": {"Error": error, "RequestId": "r"}}
    request = json.loads(body)
    if action == "SendSms":
        message_id = fake.next_id("serial")
        phone = request["PhoneNumberSet"][0]
        status = {"SerialNo": message_id, "PhoneNumber": phone, "Code": "Ok", "Message": "ok"}
        answer: dict[str, Any] = {"Response": {"SendStatusSet": [status], "RequestId": "r"}}
    else:
        message_id = fake.next_id("callid")
        phone = request["CalledNumber"]
        answer = {"Response": {"SendStatus": {"CallId": message_id}, "RequestId": "r"}}
    fake.sent.append(Sent("tencent", action, phone, request["TemplateParamSet"], message_id))
    return 200, answer


def _handler(fake: FakeProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, answer: dict[str, Any], action: str = "") -> None:
            if fake.delay_s or action in fake.slow:
                time.sleep(fake.delay_s or 2.0)
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the client gave up waiting
                self.wfile.write(raw)

        def do_GET(self) -> None:
            query = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            action = query.get("Action", "")
            if action in fake.slow:
                self._answer(504, {"Code": "Timeout"}, action)
                return
            self._answer(*_aliyun(fake, query))

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._answer(*_tencent(fake, self.headers, body))

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


@contextmanager
def fake_provider() -> Iterator[FakeProvider]:
    """Run the fake on a free local port for the duration of the block."""
    fake = FakeProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
