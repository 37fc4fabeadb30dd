"""The real CLI with AWS Secrets Manager as the sink: `apply` then `verify` on the example project.

The example's `local` environment (the embedded emulator) gets `sink: {type:
aws-secrets-manager, endpoint_url: <moto>}`; moto's Secrets Manager server runs on 127.0.0.1
and boto3 signs with dummy credentials. After apply, every client's secret holds in AWSCURRENT
the kid Digdir has registered for that client_id, nothing is left pending, no key went to a local
file, and `verify` mints a token with each key read back from the store.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import boto3  # type: ignore[import-untyped]
import pytest

from mpctl.cli.environment import connect, open_workspace
from mpctl.cli.main import main
from tests.sinks.aws_server import REGION, moto_url, reset, use_dummy_credentials

__all__ = ["moto_url"]

_LOCAL_EMULATOR = "    emulator:\n      world: emulator-world.yaml\n"


def _with_aws_sink(project: Path, url: str) -> None:
    config = project / "mpctl.yaml"
    text = config.read_text()
    assert text.count(_LOCAL_EMULATOR) == 1
    sink = (
        "    sink:\n"
        "      type: aws-secrets-manager\n"
        f"      region: {REGION}\n"
        f"      endpoint_url: {url}\n"
    )
    config.write_text(text.replace(_LOCAL_EMULATOR, _LOCAL_EMULATOR + sink))


def _registered_kids(project: Path) -> dict[str, frozenset[str]]:
    """client_id → kids in its JWKS, read from Digdir (the embedded emulator)."""

    async def go() -> dict[str, frozenset[str]]:
        async with connect(open_workspace(project, None), access="read") as (api, _):
            return {
                client.client_id: (await api.get_jwks(client.client_id)).kids
                for client in await api.list_clients()
            }

    return asyncio.run(go())


def test_apply_then_verify_with_the_keys_in_aws_secrets_manager(
    project: Path,
    moto_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    reset(moto_url)
    use_dummy_credentials(monkeypatch, str(tmp_path))
    _with_aws_sink(project, moto_url)

    assert main(["apply", "--manifests", str(project), "--auto-approve"]) == 0, capsys.readouterr()
    assert main(["verify", "--manifests", str(project)]) == 0, capsys.readouterr()

    plain = boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)
    names = sorted(s["Name"] for s in plain.list_secrets()["SecretList"])
    assert names, "apply wrote no secret"
    assert all(name.startswith("mpctl/local/") for name in names)
    registered = _registered_kids(project)
    for name in names:
        stages = plain.describe_secret(SecretId=name)["VersionIdsToStages"]
        assert not any("AWSPENDING" in labels for labels in stages.values()), name
        current = json.loads(
            plain.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"]
        )
        client_id = current["MASKINPORTEN_CLIENT_ID"]
        assert current["MASKINPORTEN_KID"] in registered[client_id], name
        assert current["MASKINPORTEN_PRIVATE_KEY"].startswith("-----BEGIN PRIVATE KEY-----")
        assert current["mpctl"]["kid"] == current["MASKINPORTEN_KID"]
    assert not list((project / ".mpctl").glob("secrets/**/*.json")), "a key went to a file sink"
    assert main(["plan", "--manifests", str(project), "--detailed-exitcode"]) == 0
