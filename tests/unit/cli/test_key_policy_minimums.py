"""`keys.grace`, `keys.rotate_after` and `keys.renew_before_expiry` have sane bounds, located.

`grace: 0s` used to pass: every apply then rotated every key and retired the old one with no
overlap. `mpctl validate` reports each violation at the FILE:LINE of the offending value, in
the defaults of `mpctl.yaml` or in a client's own `keys:`, with the value to set.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mpctl.cli.main import main

PROJECT = """\
organisation: {orgno: "313367002", name: ACME AS, scope_prefixes: [acme]}
default_env: test
environments:
  test:
    api_base_url: http://127.0.0.1:8080/api/v1
    issuer: http://127.0.0.1:8080/
    token_endpoint: http://127.0.0.1:8080/token
defaults:
  client:
    keys:
      rotate_after: @ROTATE@
      grace: @GRACE@
      renew_before_expiry: @RENEW@
"""
CLIENT = """\
kind: Client
name: billing
description: Billing reads invoices
keys:
  grace: @CLIENT_GRACE@
scopes: [acme:invoices.read]
---
kind: Scope
name: acme:invoices.read
description: Invoices
"""


def validate(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    *,
    rotate_after: str = "90d",
    grace: str = "1d",
    renew: str = "30d",
    client_grace: str = "1d",
) -> tuple[int, str]:
    project = PROJECT.replace("@ROTATE@", rotate_after).replace("@GRACE@", grace)
    (tmp_path / "mpctl.yaml").write_text(project.replace("@RENEW@", renew))
    (tmp_path / "resources").mkdir(exist_ok=True)
    (tmp_path / "resources" / "billing.yaml").write_text(
        CLIENT.replace("@CLIENT_GRACE@", client_grace)
    )
    code = main(["validate", "--manifests", str(tmp_path)])
    return code, capsys.readouterr().out


def test_sane_values_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = validate(
        tmp_path, capsys, rotate_after="1d", grace="1h", renew="7d", client_grace="1h"
    )
    assert code == 0, out


@pytest.mark.parametrize(
    ("values", "line", "message"),
    [
        ({"client_grace": "0s"}, "resources/billing.yaml:5", "grace 0s is below the minimum 1h"),
        ({"grace": "59m", "client_grace": "2h"}, "mpctl.yaml:12", "grace 59m is below"),
        ({"grace": "0s", "client_grace": "2h"}, "mpctl.yaml:12", "set grace: 1h or more"),
        ({"rotate_after": "12h", "client_grace": "1h"}, "mpctl.yaml:11", "below the minimum 1d"),
        (
            {"rotate_after": "2d", "client_grace": "2d"},
            "resources/billing.yaml:5",
            "grace (2d) must be shorter than rotate_after (2d)",
        ),
        ({"renew": "1d"}, "mpctl.yaml:13", "renew_before_expiry 1d is below the minimum 1w"),
        ({"renew": "400d"}, "mpctl.yaml:13", "is over the maximum"),
        (
            {"renew": "8d", "client_grace": "9d"},
            "mpctl.yaml:13",
            "renew_before_expiry (8d) must be longer than grace (9d)",
        ),
    ],
)
def test_violations_are_located(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    values: dict[str, str],
    line: str,
    message: str,
) -> None:
    code, out = validate(tmp_path, capsys, **values)
    assert code == 1
    located = [row for row in out.splitlines() if re.match(r"\S+:\d+: MPL005 ", row)]
    assert any(
        row.startswith(f"{tmp_path}/{line}: MPL005") and message in row for row in located
    ), out
