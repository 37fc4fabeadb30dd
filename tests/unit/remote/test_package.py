"""The package's public surface and its layering."""

from __future__ import annotations

import ast
from pathlib import Path

import mpctl.remote

PACKAGE = Path(mpctl.remote.__file__).parent
FORBIDDEN = ("mpctl.plan", "mpctl.apply", "mpctl.emulator", "mpctl.cli", "mpctl.verify")


def test_exported_names() -> None:
    assert sorted(mpctl.remote.__all__) == sorted(
        [
            "UNSET_HINT",
            "admin_credential_for",
            "unset_variables",
            "CallEvent",
            "CallObserver",
            "DEFAULT_CONCURRENCY",
            "GRANT_LIFETIME",
            "GRANT_TYPE",
            "TOKEN_REQUEST_TIMEOUT",
            "TOKEN_RETRY",
            "GrantError",
            "GrantFactory",
            "GrantRequest",
            "IssuedToken",
            "Outcome",
            "ReasonCode",
            "SigningKey",
            "TokenEvent",
            "TokenExchange",
            "TokenObserver",
            "TokenRefusedError",
            "TokenTimeoutError",
            "admin_grants",
            "fresh_grants",
            "grant_claims",
            "network_transport",
            "new_jti",
            "null_observer",
            "outcome_of",
            "parse_retry_after",
            "reason_code",
            "watch_calls",
            "sign_grant",
            "AdminAuth",
            "AdminCredentialError",
            "AdminKey",
            "AdminTokenError",
            "AdminTokenSource",
            "AmbiguousWriteError",
            "BadRequest",
            "Conflict",
            "Forbidden",
            "HttpRemote",
            "HttpStatusError",
            "NotFound",
            "PreconditionRequired",
            "RateLimited",
            "RemoteApi",
            "RemoteCallError",
            "ResponseFormatError",
            "RetryNotice",
            "RetryPolicy",
            "ServerError",
            "TransportError",
            "Unauthorized",
            "UnsafeRequestError",
            "WireBody",
            "effective_environment",
            "fetch",
            "load_admin_credential",
            "open_http",
            "open_remote",
        ]
    )
    for name in mpctl.remote.__all__:
        assert getattr(mpctl.remote, name) is not None


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_remote_imports_no_higher_layer_and_not_the_emulator() -> None:
    for module in sorted(PACKAGE.glob("*.py")):
        bad = {name for name in _imports(module) if name.startswith(FORBIDDEN)}
        assert not bad, f"{module.name} imports {sorted(bad)}"


def test_every_module_says_what_it_owns() -> None:
    for module in sorted(PACKAGE.glob("*.py")):
        docstring = ast.get_docstring(ast.parse(module.read_text(encoding="utf-8")))
        assert docstring, f"{module.name} has no module docstring"
