"""Input the service refuses at the door: request bodies over the upload limit before they are read
(413, without buffering them), and NUL characters in the URL (400)."""

from __future__ import annotations

import json

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file


class BodySizeLimit:
    """ASGI middleware: checks Content-Length up front and counts streamed bytes as they arrive."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_body = max_bytes + MULTIPART_OVERHEAD
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await self.refuse(send)
            return
        received = 0
        too_large = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    too_large = True  # stop reading: the app sees the client go away
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if not too_large:
                await send(message)
            elif not refused:  # whatever the app answers (often a 400 for a cut body) becomes the 413
                refused = True
                await self.refuse(send)

        await self.app(scope, limited_receive, guarded_send)
        if too_large and not refused:
            await self.refuse(send)

    async def refuse(self, send: Send) -> None:
        from api.metrics import UPLOADS_REJECTED

        UPLOADS_REJECTED.labels("too_large").inc()
        body = json.dumps(
            {
                "detail": f"the file is too large: the limit is {self.max_bytes // (1024 * 1024)} MB "
                f"({self.max_bytes} bytes)"
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RejectNul:
    """ASGI middleware: 400 for a NUL character in the path or the query string. No name, slug or
    search of the service holds one, and PostgreSQL text cannot store or compare one."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]
        ):
            response = JSONResponse({"detail": "NUL characters are not allowed in a URL"}, status_code=400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
