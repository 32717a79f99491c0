"""Servers broken on purpose, for the conformance tests: an ASGI wrapper around the
reference app that rewrites the query string before it and the Bundles it answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


def tamper(
    app: App,
    query: Callable[[list[tuple[str, str]]], list[tuple[str, str]]] | None = None,
    bundle: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> App:
    """``app`` with its search parameters passed through ``query`` and each Bundle it
    answers through ``bundle``."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if query is not None:
            pairs = parse_qsl(scope["query_string"].decode(), keep_blank_values=True)
            scope = dict(scope, query_string=urlencode(query(pairs)).encode())
        if bundle is None:
            await app(scope, receive, send)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict) and data.get("resourceType") == "Bundle":
                body = json.dumps(bundle(data)).encode()
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, capture)

    return wrapped


def without_includes(bundle: dict[str, Any]) -> dict[str, Any]:
    entries = bundle.get("entry", [])
    bundle["entry"] = [e for e in entries if e.get("search", {}).get("mode") != "include"]
    return bundle


def collection(bundle: dict[str, Any]) -> dict[str, Any]:
    return {**bundle, "type": "collection"}


def without_chains(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A server ignoring chained parameters (``a.b=...``)."""
    return [(k, v) for k, v in pairs if "." not in k]
