"""Problems found in manifests, reported as `FILE:LINE: CODE message` with a hint.

Owns `ManifestFinding` (with its `FindingSeverity`) and the catalogue of `MPL` codes. Every code
names the Maskinporten failure it prevents, so `validate` output and docs stay in step. A finding
is located in a file; the planner's `mpctl.plan.Diagnostic` is located at a plan address and is a
different type. Must not print or decide exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FindingSeverity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class ManifestFinding:
    """One problem at one place. Sorts by file, line, code."""

    file: str
    line: int
    code: str
    message: str
    hint: str = ""
    severity: FindingSeverity = FindingSeverity.ERROR

    def format(self) -> str:
        level = "" if self.severity is FindingSeverity.ERROR else "warning: "
        text = f"{self.file}:{self.line}: {self.code} {level}{self.message}"
        return f"{text}\n    hint: {self.hint}" if self.hint else text


def internal_error(file: str, line: int, exc: Exception) -> ManifestFinding:
    """A located diagnostic for an error mpctl did not expect while checking `file`."""
    detail = str(exc)
    detail = detail if len(detail) <= 200 else detail[:200] + "…"
    return ManifestFinding(
        file,
        line,
        "MPL009",
        f"internal error while checking this file: {type(exc).__name__}: {detail}",
        "the other files were still checked; please report this with the file attached",
    )


CODES: dict[str, tuple[str, str]] = {
    # code: (what it catches, what it prevents at Digdir or Maskinporten)
    "MPL001": ("YAML syntax error", "a manifest that cannot be read"),
    "MPL002": ("duplicate mapping key", "a silently ignored value (YAML keeps the last one)"),
    "MPL003": ("unsafe or unknown YAML tag", "code execution through !!python tags"),
    "MPL004": ("alias expansion or nesting too large", "memory exhaustion (billion laughs)"),
    "MPL005": ("schema violation (unknown field, wrong type)", "a typo silently ignored"),
    "MPL006": ("template error (syntax or undefined variable)", "a half-rendered manifest"),
    "MPL007": ("file not found or unreadable", "a resource silently left out"),
    "MPL008": ("unknown environment name", "a resource missing from an environment"),
    "MPL009": (
        "internal error while checking one file (a bug in mpctl: please report it)",
        "one file's crash hiding every other file's problems",
    ),
    "MPL101": ("organisation number fails format or mod-11", "400 on access grants; MP-250"),
    "MPL102": (
        "consumer_org equals the client's own organisation",
        "invalid_request: 'The combination consumer_org in claim and delegation scope on "
        "client is invalid'",
    ),
    "MPL103": ("delegation through a scope without delegation source", "MP-250 / MP-251"),
    "MPL104": ("scope name invalid or prefix not owned", "400 on POST /scopes"),
    "MPL105": (
        "scope's allowed integration types exclude the client's type",
        "MP-201 'Token request contains scopes with integration types only allowed for user login'",
    ),
    "MPL106": ("client without scopes", "400 on POST /clients (a client needs a scope)"),
    "MPL107": ("more than 5 keys could be registered", "400 on POST /jwks (max 5 keys)"),
    "MPL108": (
        "issuer without trailing slash, wrong environment or retired host",
        "MP-110 'Invalid JWT claim aud' and MP-100 'Client not found'",
    ),
    "MPL109": ("grant lifetime above 120 s", "MP-130 / 400 'exp - iat must be <= 120'"),
    "MPL110": ("duplicate resource name", "two documents fighting over one client"),
    "MPL111": (
        "own scope used by a client but not declared",
        "MP-200 'Token request contains invalid scopes for client'",
    ),
    "MPL112": (
        "delegated scope not registered on the client",
        "MP-200 (the supplier must register the delegated scope on its own client, seed 003)",
    ),
    "MPL113": (
        "delegation source from another environment",
        "MP-251 (delegations in Altinn production do not apply in TT02)",
    ),
    "MPL114": (
        "client_orgno equals the project's own organisation",
        "nothing (it is the default): the field only misleads readers into supplier mode",
    ),
    "MPL115": (
        "client for another organisation without an admin holding idporten:dcr.supplier",
        "403 on POST /clients with client_orgno (and customers' clients invisible to plan)",
    ),
}
