"""The one redaction of mpctl: what counts as secret-looking, and how it is hidden.

Owns the patterns (PEM blocks of every kind, JWTs and other dotted tokens, `Authorization`
headers, `Bearer`/`Basic` credentials, named secret fields such as `client_secret=` or
`"private_key": "…"`, private JWK members, passwords in URLs, base64 DER key blobs and other
long mixed base64 runs) and the single marker that replaces them. Every caller uses it: the
renderers (plan text, markdown, json), remote errors and their body excerpts, and logs.
It errs on the side of hiding too much: a hidden public modulus costs nothing, a leaked admin
token costs the organisation. Pure: imports nothing from mpctl (only pydantic's JSON type),
does no I/O, never logs.
"""

from __future__ import annotations

import re

from pydantic import JsonValue

SENSITIVE = "(sensitive)"
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k", "oth"})
SECRET_FIELD_NAMES = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "assertion",
        "authorization",
        "client_assertion",
        "client_secret",
        "id_token",
        "passphrase",
        "password",
        "private_key",
        "refresh_token",
        "secret",
    }
)

_SECRET_NAME = (
    r"access_token|refresh_token|id_token|client_assertion|assertion|client_secret"
    r"|private_key|privatekey|passphrase|password|passwd|pwd|api_key|apikey"
)
_GENERIC_NAME = r"secret|token"  # words in prose too: only `token=…` or a quoted `"token": …`
_QUOTE = r"(?:\\?[\"'])"
_VALUE = (
    r"(?:\\\"(?:[^\\]|\\[^\"])*(?:\\\")?"  # a string inside JSON-escaped JSON: \"...\"
    r"|\"(?:[^\"\\]|\\.)*\"?"  # a JSON string
    r"|'[^']*'?"  # a single-quoted string
    r"|[^\s\"'&,;}\]\\]+)"  # a bare word
)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks of any label (PRIVATE KEY, RSA/EC/DSA/OPENSSH/ENCRYPTED PRIVATE KEY,
    # CERTIFICATE, ...), also when cut off before the END line.
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*-----|\Z)", re.DOTALL),
        SENSITIVE,
    ),
    # `Authorization: <scheme> <credential>` up to the end of the line or the quoted value.
    (
        re.compile(
            rf"(?i)(\b(?:proxy-)?authorization{_QUOTE}?\s*[:=]\s*{_QUOTE}?)[^\s\"'\\][^\"'\r\n\\]*"
        ),
        rf"\1{SENSITIVE}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[^\s\"',;]+"), rf"\1\2{SENSITIVE}"),
    # JWTs (header `eyJ…`) and other dotted three-part tokens.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?"), SENSITIVE),
    (
        re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}"),
        SENSITIVE,
    ),
    # `client_secret=…`, `"password": "…"`, `private_key: …`, `token=…` (not `token_type`,
    # not "no admin token: …").
    (
        re.compile(rf"(?i)({_QUOTE}?\b(?:{_SECRET_NAME}){_QUOTE}?\s*[:=]\s*){_VALUE}"),
        rf"\1{SENSITIVE}",
    ),
    (
        re.compile(
            rf"(?i)((?:\b(?:{_GENERIC_NAME})\s*=|{_QUOTE}(?:{_GENERIC_NAME}){_QUOTE}\s*[:=])\s*)"
            rf"{_VALUE}"
        ),
        rf"\1{SENSITIVE}",
    ),
    # Private JWK members in JSON or a Python repr: "d": "…", 'qi': '…'.
    (
        re.compile(rf"({_QUOTE}(?:d|p|q|dp|dq|qi|k){_QUOTE}\s*:\s*){_VALUE}"),
        rf"\1{SENSITIVE}",
    ),
    # user:password@ in URLs.
    (
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*):[^\s/@]*@"),
        rf"\1:{SENSITIVE}@",
    ),
    # Base64 DER (an ASN.1 SEQUENCE starts `MI`/`MH`): keys and certificates without PEM lines.
    (re.compile(r"\bM[IH][A-Za-z0-9+/]{30,}={0,2}"), SENSITIVE),
)
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{40,}={0,2}")
_SCAN_LIMIT = 256 * 1024


def redact_text(text: str) -> str:
    """`text` with every secret-looking part replaced by `SENSITIVE`; the rest is kept.

    Text longer than the scan limit is cut there first (nothing past it is ever shown).
    """
    text = text[:_SCAN_LIMIT]
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return _LONG_BASE64.sub(_long_run, text)


def is_sensitive_text(text: str) -> bool:
    """True when `redact_text` would hide something in `text`."""
    return redact_text(text) != text


def is_sensitive_name(name: str) -> bool:
    """True for a field whose value is secret whatever it looks like (`d`, `client_secret`)."""
    return name in PRIVATE_JWK_MEMBERS or name.lower() in SECRET_FIELD_NAMES


def redact_value(value: JsonValue, *, name: str | None = None) -> JsonValue:
    """A copy of a JSON-like `value` with every sensitive part replaced; input is not changed.

    Mappings: values under a sensitive name become `SENSITIVE` whole; strings anywhere go
    through `redact_text`. The planner can call this on remote free text before keeping it.
    """
    if name is not None and value is not None and is_sensitive_name(name):
        return SENSITIVE
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {str(k): redact_value(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _long_run(match: re.Match[str]) -> str:
    """A long base64 run is hidden when it mixes upper, lower and digits (hex stays), unless
    it is a file path."""
    run = match.group(0)
    if _is_path(match):
        return run
    mixed = (
        any(c.isupper() for c in run)
        and any(c.islower() for c in run)
        and any(c.isdigit() for c in run)
    )
    return SENSITIVE if mixed else run


def _is_path(match: re.Match[str]) -> bool:
    """True for `/tmp/x/keys/svc/TEST` in "file /tmp/x/keys/svc/TEST.pem": an absolute path
    after a space, quote or '=', with at least two parts and none of them a long run."""
    run, start = match.group(0), match.start()
    before = match.string[start - 1] if start else " "
    parts = run.split("/")
    return (
        run.startswith("/")
        and before in " \t\n'\"(=:"
        and len(parts) > 2
        and all(len(part) < 40 for part in parts)
    )
