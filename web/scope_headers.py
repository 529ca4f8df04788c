"""Reading a request header straight from the ASGI scope, for the pure-ASGI middleware that run before (or
without) a Starlette Request."""

from __future__ import annotations

from starlette.types import Scope


def scope_header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower-case bytes, as ASGI gives them), or None when it is absent."""
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None
