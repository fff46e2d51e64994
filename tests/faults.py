"""Inject AWS failures the way AWS sends them: a botocore `before-send` handler answers a
seeded share of requests with throttling (in each service's own protocol: Lambda 429
TooManyRequestsException, ELBv2/SNS query Throttling, CloudWatch/DynamoDB/ECS JSON
ThrottlingException), an HTTP 500/503, a dropped connection or a read timeout, before
they reach moto. Used by the transient-fault tests and the soak."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError


def _cbor_text_map(entries: dict[str, str]) -> bytes:
    """A CBOR map of short text strings (enough for a smithy-rpc-v2-cbor error body)."""
    out = bytes([0xA0 + len(entries)])
    for key, value in entries.items():
        for text in (key, value):
            raw = text.encode()
            assert len(raw) < 24
            out += bytes([0x60 + len(raw)]) + raw
    return out


_QUERY_THROTTLE = (b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
                  b"<Message>Rate exceeded</Message></Error></ErrorResponse>")

# botocore protocol -> (status, body, headers) of a throttling answer in that protocol
THROTTLE: dict[str, tuple[int, bytes, dict[str, str]]] = {
    "rest-json": (429, b'{"Type":"User","message":"Rate exceeded"}',
                  {"x-amzn-ErrorType": "TooManyRequestsException"}),
    "json": (400, b'{"__type":"ThrottlingException","message":"Rate exceeded"}', {}),
    "query": (400, _QUERY_THROTTLE, {}),
    "smithy-rpc-v2-cbor": (400, _cbor_text_map({"__type": "ThrottlingException",
                                                "message": "Rate exceeded"}),
                           {"smithy-protocol": "rpc-v2-cbor"}),
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


class FaultInjector:
    def __init__(self, rate: float, seed: int = 0) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.seen = 0

    def attach(self, client: Any) -> None:
        protocol = client.meta.service_model.resolved_protocol

        def before_send(request: Any, **_: Any) -> AWSResponse | None:
            return self._maybe_fail(request, protocol)

        client.meta.events.register_first("before-send", before_send)

    def _maybe_fail(self, request: Any, protocol: str) -> AWSResponse | None:
        self.seen += 1
        if self.random.random() >= self.rate:
            return None
        kind = self.random.choice(["throttle", "throttle", "500", "503", "dropped", "timeout"])
        self.injected[kind] += 1
        if kind == "dropped":
            raise ConnectionClosedError(endpoint_url=request.url)
        if kind == "timeout":
            raise ReadTimeoutError(endpoint_url=request.url)
        if kind == "throttle":
            status, body, headers = THROTTLE[protocol]
        else:
            status, body, headers = int(kind), b"", {}
        return AWSResponse(request.url, status, headers, _Raw(body))
