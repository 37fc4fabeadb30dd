"""Whether an RSA private key's numbers fit together: the check both key loaders share.

Owns `rsa_members_fit`, which the secret sinks' key loading (`mpctl.secrets.keys`) and the
admin credential's (`mpctl.remote.credentials`) run in place of OpenSSL's own key check. It
reads the numbers it is given and keeps nothing: no key material is stored, logged or returned
here. Must not do I/O.
"""

from __future__ import annotations

import math
from typing import Protocol


class PublicNumbers(Protocol):
    @property
    def e(self) -> int: ...
    @property
    def n(self) -> int: ...


class PrivateNumbers(Protocol):
    """An RSA private key's members, as `cryptography`'s `RSAPrivateNumbers` holds them."""

    @property
    def p(self) -> int: ...
    @property
    def q(self) -> int: ...
    @property
    def d(self) -> int: ...
    @property
    def dmp1(self) -> int: ...
    @property
    def dmq1(self) -> int: ...
    @property
    def iqmp(self) -> int: ...
    @property
    def public_numbers(self) -> PublicNumbers: ...


def rsa_members_fit(numbers: PrivateNumbers) -> bool:
    """n = p·q, an odd e, e·d ≡ 1 (mod lcm(p−1, q−1)) and the CRT members derived from d, p and
    q. This stands in for OpenSSL's key check, which also proves p and q prime: about 0.1 s per
    3,072-bit key, holding the GIL. A key that passes here with a composite factor can only sign
    what its verifier refuses (OpenSSL checks each CRT signature against e before it leaves),
    and one written by someone who can write the key's file could as well be any other key."""
    p, q, d = numbers.p, numbers.q, numbers.d
    e, n = numbers.public_numbers.e, numbers.public_numbers.n
    if min(p, q) < 3 or p == q or p * q != n:  # the smallest odd prime is 3
        return False
    if not 1 < e < n or e % 2 == 0 or not 0 < d < n:
        return False
    if numbers.dmp1 != d % (p - 1) or numbers.dmq1 != d % (q - 1):
        return False
    return (numbers.iqmp * q) % p == 1 and (e * d) % math.lcm(p - 1, q - 1) == 1
