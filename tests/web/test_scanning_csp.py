"""WebAssembly (zxing-wasm, for the live scan of the credential's back) may run only on the scanning pages:
their policy adds 'wasm-unsafe-eval' to script-src and nothing else; every other page keeps the strict one."""

from __future__ import annotations

from starlette.testclient import TestClient

from auth.roles import Role
from tests.conftest import SignInWithRole
from web.middleware import content_security_policy

WASM = "'wasm-unsafe-eval'"


def _directives(policy: str) -> dict[str, str]:
    return {name: value for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))}


def _policy(client: TestClient, path: str) -> dict[str, str]:
    return _directives(client.get(path, follow_redirects=False).headers["content-security-policy"])


def test_the_citizen_scanning_page_alone_may_compile_webassembly(
        client: TestClient, sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, Role.CITIZEN)
    scanning = _policy(client, "/ciudadano/codigo")
    strict = _policy(client, "/ciudadano")
    assert scanning["script-src"].split() == ["'self'", WASM]
    assert {name: value for name, value in scanning.items() if name != "script-src"} == \
        {name: value for name, value in strict.items() if name != "script-src"}
    for path in ("/ciudadano", "/ciudadano/apoyo", "/ciudadano/apoyos", "/", "/entrar"):
        assert WASM not in _policy(client, path)["script-src"], path
    assert "'unsafe-eval'" not in scanning["script-src"].split()


def test_the_field_capture_page_may_compile_webassembly(client: TestClient,
                                                        sign_in_with_role: SignInWithRole) -> None:
    sign_in_with_role(client, Role.AUXILIARY)
    assert _policy(client, "/campo/captura")["script-src"].split() == ["'self'", WASM]
    assert WASM not in _policy(client, "/campo")["script-src"]


def test_the_policies_differ_only_in_webassembly() -> None:
    strict = content_security_policy(["https://accounts.example"])
    scanning = content_security_policy(["https://accounts.example"], webassembly=True)
    assert scanning == strict.replace("script-src 'self';", f"script-src 'self' {WASM};")
    assert WASM not in strict
