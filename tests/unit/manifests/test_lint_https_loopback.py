"""MPL108 and https on loopback: an `mpctl emulator serve --tls` environment with its
`ca_bundle` lints clean, plain http elsewhere does not, and a Digdir environment cannot
swap its trust store."""

from __future__ import annotations

import pytest

from mpctl.manifests import load
from tests.conftest import BASE_PROJECT, ProjectFactory

LOOPBACK = """\
  local:
    api_base_url: {scheme}://127.0.0.1:8443/api/v1
    issuer: {scheme}://127.0.0.1:8443/
    token_endpoint: {scheme}://127.0.0.1:8443/token
    ca_bundle: .mpctl/local/tls-ca.pem
"""


def _mpl108(make_project: ProjectFactory, project: str, env: str) -> list[str]:
    result = load(make_project({}, project), env)
    return [d.format() for d in result.errors if d.code == "MPL108"]


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_loopback_environment_may_use_https_with_a_ca_bundle(
    make_project: ProjectFactory, scheme: str
) -> None:
    project = BASE_PROJECT.replace("variables:", LOOPBACK.format(scheme=scheme) + "variables:")
    assert _mpl108(make_project, project, "local") == []


def test_a_digdir_environment_cannot_name_a_ca_bundle(make_project: ProjectFactory) -> None:
    project = BASE_PROJECT.replace(
        "    delegation_sources: {altinn: https://tt02.altinn.no/}\n",
        "    delegation_sources: {altinn: https://tt02.altinn.no/}\n    ca_bundle: evil-ca.pem\n",
    )
    problems = _mpl108(make_project, project, "test")
    assert len(problems) == 1
    assert "MPL108 test: a Digdir environment cannot name a ca_bundle" in problems[0]
    assert "mpctl.yaml:" in problems[0]
