"""`Address`: the stable name of what a step changes or a diagnostic is about.

Owns the spellings and the only code that parses or formats them:

    client/<name>                    a client
    client/<name>/key                its keys (the rotation protocol's next step)
    client/<name>/key/<kid>          one of its keys (a retirement, a re-registration)
    scope/<name>                     a scope; the name may itself contain '/'
    scope/<name>/access/<orgno>      one consumer's access to it

and the question "which client or scope is this about" (`resource`). An `Address` is a `str`
subclass: plan files and JSON hold its spelling, and code reads its parts instead of splitting
strings again.
Must not know anything about steps or Digdir.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

ResourceKind = Literal["client", "scope"]
_KEY = "key"
_ACCESS = "access/"
_ORGNO = re.compile(r"\d{9}")
PATTERN = r"^(client/[^/]+(/key(/.+)?)?|scope/.+)$"


class Address(str):
    """One client, scope, client's keys or scope access grant: its string, parsed once.

    A `str` (it compares, sorts, hashes and serialises as its spelling), with the parts as
    attributes. Build one with the class methods, or `Address(text)` to parse.
    """

    resource_kind: ResourceKind
    name: str
    consumer_orgno: str | None
    keys: bool
    kid: str | None

    def __new__(cls, text: str) -> Address:
        address = super().__new__(cls, text)
        address._parse()
        return address

    @classmethod
    def client(cls, name: str) -> Address:
        if name and "/" not in name:  # nothing to parse: the parts are known (planner's hot path)
            return cls._of_parts(f"client/{name}", "client", name)
        return cls(f"client/{name}")

    @classmethod
    def key(cls, client: str, kid: str | None = None) -> Address:
        if client and "/" not in client and not kid:
            return cls._of_parts(f"client/{client}/{_KEY}", "client", client, keys=True)
        return cls(f"client/{client}/{_KEY}" + (f"/{kid}" if kid else ""))

    @classmethod
    def _of_parts(cls, text: str, kind: ResourceKind, name: str, *, keys: bool = False) -> Address:
        """An address whose parts are known, built without parsing `text` again."""
        address = super().__new__(cls, text)
        address.resource_kind, address.name, address.keys = kind, name, keys
        address.consumer_orgno = address.kid = None
        return address

    @classmethod
    def scope(cls, name: str) -> Address:
        return cls(f"scope/{name}")

    @classmethod
    def access(cls, scope: str, orgno: str) -> Address:
        return cls(f"scope/{scope}/{_ACCESS}{orgno}")

    def _parse(self) -> None:
        self.consumer_orgno = self.kid = None
        self.keys = False
        kind, _, rest = self.partition("/")
        if kind == "client" and rest:
            self.resource_kind, self.name = "client", rest
            name, slash, part = rest.partition("/")
            if not slash:
                return
            key, _, kid = part.partition("/")
            if key == _KEY and name and (kid or part == _KEY):
                self.name, self.keys, self.kid = name, True, kid or None
                return
        if kind == "scope" and rest:
            self.resource_kind, self.name = "scope", rest
            scope, found, orgno = rest.rpartition(f"/{_ACCESS}")
            if found and scope and _ORGNO.fullmatch(orgno):
                self.name, self.consumer_orgno = scope, orgno
            return
        raise ValueError(
            f"{str(self)!r} is not an address: expected client/<name>, "
            "client/<name>/key[/<kid>], scope/<name> or scope/<name>/access/<orgno>"
        )

    @property
    def resource(self) -> Address:
        """The client or scope this address is about ('client/x/key' → 'client/x'); made once."""
        found: Address | None = self.__dict__.get("_resource")
        if found is None:
            if self.keys or self.consumer_orgno is not None:
                found = (
                    Address.client(self.name)
                    if self.resource_kind == "client"
                    else Address.scope(self.name)
                )
            else:
                found = self
            self.__dict__["_resource"] = found
        return found

    def spells(self, target: str) -> bool:
        """True when `target` (an address or a bare name, as `--target` takes) names this."""
        return target in (self, self.name)


def _validate(value: object) -> Address:
    if isinstance(value, Address):
        return value
    if isinstance(value, str):
        return Address(value)
    raise ValueError("an address is a string")


AddressField = Annotated[
    Address,
    PlainValidator(_validate),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "pattern": PATTERN}),
]
"""`Address` as a pydantic field: a string on the wire, an `Address` in code."""
