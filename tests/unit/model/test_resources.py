"""Manifest kinds: strict about unknown keys, inline secrets, weak keys and duplicates."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from mpctl.model.config import AdminCredential
from mpctl.model.resources import Client, KeyPolicy, Scope


def test_unknown_field_is_an_error() -> None:
    with pytest.raises(ValidationError, match="visibilty"):
        Scope.model_validate({"name": "acme:a", "description": "d", "visibilty": "PUBLIC"})


@pytest.mark.parametrize(
    "keys",
    [{"size": 1024}, {"size": 3000}, {"algorithm": "HS256"}, {"algorithm": "none"}],
)
def test_weak_or_wrong_keys_are_refused(keys: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KeyPolicy.model_validate(keys)


def test_key_defaults_follow_the_reliability_rules() -> None:
    policy = KeyPolicy()
    assert (policy.algorithm, policy.size) == ("RS256", 3072)
    assert policy.sink is None  # the environment's sink, a local file unless it names another


@pytest.mark.parametrize(
    ("block", "kind"),
    [
        ({"directory": "keys/{env}"}, "file"),
        ({"type": "aws-secrets-manager", "region": "eu-north-1"}, "aws-secrets-manager"),
        ({"type": "azure-key-vault", "vault_url": "https://v.vault.azure.net/"}, "azure-key-vault"),
        (
            {
                "type": "github-environment",
                "repository": "acme/app",
                "environment": "production",
                "token": {"env": "MPCTL_GITHUB_TOKEN"},
            },
            "github-environment",
        ),
        ({"type": "vercel", "project": "app", "token": {"env": "VERCEL_TOKEN"}}, "vercel"),
    ],
)
def test_a_sink_block_is_read_by_its_type(block: dict[str, object], kind: str) -> None:
    assert KeyPolicy.model_validate({"sink": block}).sink.type == kind  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "block",
    [
        {"type": "S3 bucket"},  # not a sink type at all (a plug-in's name is checked later)
        {"type": "github-environment", "repository": "acme/app", "environment": "p", "token": "t"},
        {"type": "vercel", "project": "app"},
    ],
)
def test_an_unknown_sink_or_an_inline_credential_is_refused(block: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        KeyPolicy.model_validate({"sink": block})


def test_duplicate_scopes_on_a_client_are_named() -> None:
    with pytest.raises(ValidationError, match="acme:a"):
        Client.model_validate({"name": "x", "description": "d", "scopes": ["acme:a", "acme:a"]})


def test_accessible_for_all_needs_a_real_boolean() -> None:
    with pytest.raises(ValidationError):
        Scope.model_validate({"name": "acme:a", "description": "d", "accessible_for_all": "yes"})


def test_inline_secret_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match=r"\{file: PATH\}"):
        AdminCredential.model_validate(
            {"client_id": "x", "private_key": "-----BEGIN PRIVATE KEY-----", "kid": "k"}
        )


def test_admin_credential_needs_certificate_or_kid() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        AdminCredential.model_validate({"client_id": "x", "private_key": {"env": "K"}})


def test_sink_directory_may_not_escape() -> None:
    with pytest.raises(ValidationError, match=r"\.\."):
        KeyPolicy.model_validate({"sink": {"type": "file", "directory": "../../etc"}})
