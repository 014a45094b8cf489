"""A limit on HTTP request bodies, before anything reads them.

One request must not be able to hold up every agency's publishing (a body of tens of megabytes
made ingest, and on PostgreSQL the store, wait on it). A body larger than the limit is refused
with 413 (RFC 9457 problem details, `hub.api.problems`) without being read: at once when its
`Content-Length` says so, else as soon as more than the limit has arrived (chunked). Within the
limit the body is passed on unchanged.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.api.problems import PROBLEM_MEDIA_TYPE, new_instance, problem_body


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self._max:
            await self._refuse(scope, send)
            return
        if length is not None:
            await self._app(scope, receive, send)  # the server enforces a declared length
            return
        chunks: list[Message] = []
        received = 0
        while True:
            message = await receive()
            chunks.append(message)
            received += len(message.get("body", b""))
            if received > self._max:
                await self._refuse(scope, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self._app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = problem_body(
            413,
            f"the request body is larger than {self._max:,} bytes; send fewer events per "
            "request (each event is at most the hub's message limit)",
            new_instance(scope),
        )
        encoded = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                    (b"content-length", str(len(encoded)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": encoded})
