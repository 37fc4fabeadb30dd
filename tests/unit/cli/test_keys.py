"""`mpctl keys create|export` through the CLI entry point: files, refusals, what may be printed."""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
import typer

from mpctl.cli import main as cli_main
from mpctl.cli.app import app as real_app
from mpctl.cli.commands import keys as keys_command
from mpctl.cli.main import main
from mpctl.model.keys import jwk_thumbprint
from mpctl.secrets import (
    PrivateKey,
    from_pem,
    from_private_jwk_base64,
    private_jwk,
    public_jwk,
    to_pem,
)

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi"}

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(autouse=True)
def _registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Use the real app once `keys` is wired into it; until then a small app with it alone."""
    monkeypatch.setattr(keys_command, "_now", lambda: NOW)
    command = typer.main.get_command(real_app)
    if isinstance(command, click.Group) and "keys" in command.commands:
        return
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.callback()(lambda: None)
    app.add_typer(keys_command.app, name="keys")
    monkeypatch.setattr(cli_main, "app", app)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "keys"


@pytest.fixture
def run(store: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """`mpctl keys ARGS --dir STORE`: exit code, stdout, stderr (2048-bit keys to stay fast)."""

    def run_keys(*args: str) -> tuple[int, str, str]:
        extra = ["--size", "2048"] if args[0] == "create" else []
        code = main(["keys", *args, "--dir", str(store), *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_keys


@pytest.fixture
def created(run: Run, store: Path) -> dict[str, PrivateKey]:
    """`keys create billing` done; the keys read back from disk by environment."""
    assert run("create", "billing")[0] == 0
    return {env: stored_key(store, env) for env in ("TEST", "PROD")}


def stored_key(store: Path, env: str) -> PrivateKey:
    metadata = json.loads((store / "billing" / f"{env}.json").read_text())
    pem = (store / "billing" / f"{env}.pem").read_text()
    return from_pem(pem, kid=metadata["kid"], created_at=NOW)


def secrets_of(key: PrivateKey) -> list[str]:
    """Strings that must never appear in public output: private members and PEM body lines."""
    members = private_jwk(key)
    pem_lines = to_pem(key).splitlines()[1:-1]
    return [members[name] for name in sorted(PRIVATE_MEMBERS)] + pem_lines


def test_create_makes_one_key_per_environment_and_prints_only_kids(run: Run, store: Path) -> None:
    code, out, _ = run("create", "billing")
    assert code == 0
    for env in ("TEST", "PROD"):
        key = stored_key(store, env)
        metadata = json.loads((store / "billing" / f"{env}.json").read_text())
        assert metadata["kid"] == f"billing-{env}.2026-11-21"
        assert metadata["thumbprint"] == key.thumbprint
        assert (metadata["size"], metadata["algorithm"]) == (2048, "RS256")
        assert f"Generated key billing-{env}.2026-11-21  thumbprint {key.thumbprint}" in out
        assert not [s for s in secrets_of(key) if s in out]


def test_key_files_are_owner_only(run: Run, store: Path) -> None:
    assert run("create", "billing", "--environments", "test")[0] == 0
    files = sorted(p.name for p in (store / "billing").iterdir())
    assert files == ["TEST.json", "TEST.pem"]
    for path in (store / "billing").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((store / "billing").stat().st_mode) == 0o700


def test_create_refuses_to_overwrite(run: Run, store: Path, created: dict[str, PrivateKey]) -> None:
    before = {p.name: p.read_bytes() for p in (store / "billing").iterdir()}
    code, _, err = run("create", "billing", "--environments", "PROD,ACC")
    assert code == 1
    assert "already exists" in err
    assert "--force" in err
    assert {p.name: p.read_bytes() for p in (store / "billing").iterdir()} == before


def test_force_replaces_with_a_new_kid(
    run: Run, store: Path, created: dict[str, PrivateKey]
) -> None:
    code, _, err = run("create", "billing", "--environments", "TEST", "--force")
    assert code == 0
    assert "replacing 1 existing key" in err
    replaced = stored_key(store, "TEST")
    assert replaced.kid == "billing-TEST.2026-11-21.2"
    assert replaced.thumbprint != created["TEST"].thumbprint
    assert stored_key(store, "PROD").thumbprint == created["PROD"].thumbprint


@pytest.mark.parametrize(
    "args",
    [
        ("create", "../escape"),
        ("create", ".hidden"),
        ("create", "billing", "--environments", "TEST,TEST"),
        ("create", "billing", "--environments", "te st"),
        ("create", "billing", "--algorithm", "HS256"),
    ],
)
def test_create_rejects_bad_input_without_writing(run: Run, store: Path, args: list[str]) -> None:
    assert run(*args)[0] != 0
    assert not store.exists()


def test_create_refuses_small_keys(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "billing", "--dir", str(store), "--size", "1024"]) == 1
    assert "2048" in capsys.readouterr().err
    assert not store.exists()


def test_exported_jwks_is_public_and_keeps_the_thumbprint(
    run: Run, created: dict[str, PrivateKey]
) -> None:
    for env in ("TEST", "PROD"):
        code, out, _ = run("export", "billing", "--environment", env.lower())
        assert code == 0
        document = json.loads(out)
        assert list(document) == ["keys"]
        [jwk] = document["keys"]
        assert set(jwk) == {"kty", "kid", "alg", "use", "e", "n"}
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk == public_jwk(created[env])
        assert jwk_thumbprint(jwk) == created[env].thumbprint


def test_jwks_refuses_private(run: Run, created: dict[str, PrivateKey]) -> None:
    code, out, err = run("export", "billing", "--format", "jwks", "--private")
    assert (code, out) == (1, "")
    assert "public only" in err


def test_pem_is_public_unless_private(run: Run, created: dict[str, PrivateKey]) -> None:
    code, out, _ = run("export", "billing", "--format", "pem")
    assert code == 0
    assert out.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert "PRIVATE" not in out
    assert not [s for s in secrets_of(created["TEST"]) if s in out]
    code, out, _ = run("export", "billing", "--format", "pem", "--private")
    assert code == 0
    assert out.startswith("-----BEGIN PRIVATE KEY-----\n")
    assert from_pem(out, kid="x", created_at=NOW).thumbprint == created["TEST"].thumbprint


def test_base64_requires_private(run: Run, created: dict[str, PrivateKey]) -> None:
    code, out, err = run("export", "billing", "--format", "base64")
    assert (code, out) == (1, "")
    assert "needs --private" in err
    code, out, _ = run(
        "export", "billing", "--format", "base64", "--private", "--environment", "PROD"
    )
    assert code == 0
    restored = from_private_jwk_base64(out, created_at=NOW)
    assert (restored.kid, restored.thumbprint) == (
        "billing-PROD.2026-11-21",
        created["PROD"].thumbprint,
    )


def test_private_output_on_a_terminal_warns_on_stderr(
    run: Run, created: dict[str, PrivateKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, err = run("export", "billing", "--format", "base64", "--private")
    assert "warning" not in err
    monkeypatch.setattr(keys_command, "_stdout_is_terminal", lambda: True)
    _, out, err = run("export", "billing", "--format", "base64", "--private")
    assert "warning: private key on a terminal" in err
    assert out.strip() not in err
    _, _, err = run("export", "billing", "--format", "jwks")
    assert "warning" not in err


def test_no_private_material_without_private(
    run: Run, store: Path, created: dict[str, PrivateKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys_command, "_stdout_is_terminal", lambda: True)
    printed = ""
    for env in ("TEST", "PROD"):
        for output in ("jwks", "pem", "base64"):
            _, out, err = run("export", "billing", "--environment", env, "--format", output)
            printed += out + err
    _, out, err = run("create", "billing")
    printed += out + err
    for key in created.values():
        assert not [s for s in secrets_of(key) if s in printed]
    assert "PRIVATE KEY" not in printed


def test_export_of_a_missing_key_says_how_to_create_it(run: Run) -> None:
    code, out, err = run("export", "billing", "--environment", "PROD")
    assert (code, out) == (1, "")
    assert "mpctl keys create billing --environments PROD" in err


def test_export_refuses_a_pem_that_does_not_match_its_metadata(
    run: Run, store: Path, created: dict[str, PrivateKey]
) -> None:
    (store / "billing" / "TEST.pem").write_bytes((store / "billing" / "PROD.pem").read_bytes())
    code, out, err = run("export", "billing")
    assert (code, out) == (1, "")
    assert "does not match the thumbprint" in err


def test_export_takes_one_environment(run: Run, created: dict[str, PrivateKey]) -> None:
    code, _, err = run("export", "billing", "--environment", "TEST,PROD")
    assert code == 1
    assert "one environment" in err


# --- the project's store and environment names, altinn-jwks' bare array ----------------------


@pytest.fixture
def project_keys(
    example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    """`mpctl keys ARGS --manifests PROJECT` (no --dir): the project's store and names."""

    def run_in_project(*args: str) -> tuple[int, str, str]:
        extra = ["--size", "2048"] if args[0] == "create" else []
        code = main(["keys", *args, "--manifests", str(example_copy), *extra])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run_in_project


def test_in_a_project_keys_live_beside_applys_state_for_its_environments(
    project_keys: Run, example_copy: Path
) -> None:
    code, out, _ = project_keys("create", "billing")
    assert code == 0
    folder = example_copy / ".mpctl" / "keys" / "billing"
    # every environment of mpctl.yaml except the embedded emulator's `local`
    assert sorted(p.name for p in folder.iterdir()) == [
        "PROD.json",
        "PROD.pem",
        "TEST.json",
        "TEST.pem",
    ]
    assert "billing-TEST.2026-11-21" in out
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for spelling in ("test", "TEST", "Test"):
        code, out, err = project_keys("export", "billing", "-e", spelling)
        assert code == 0, err
        assert json.loads(out)["keys"][0]["kid"] == "billing-TEST.2026-11-21"
    code, out, _ = project_keys("export", "billing")  # the project's first keyed environment
    assert json.loads(out)["keys"][0]["kid"] == "billing-TEST.2026-11-21"


def test_in_a_project_unknown_environments_are_refused_with_the_known_ones(
    project_keys: Run, example_copy: Path
) -> None:
    code, _, err = project_keys("create", "billing", "--environments", "test,staging")
    assert code == 1
    assert "STAGING are not in mpctl.yaml" in err
    assert "local, test, prod" in err
    assert not (example_copy / ".mpctl" / "keys").exists()
    assert project_keys("create", "billing", "--environments", "prod")[0] == 0
    code, _, err = project_keys("export", "billing", "--env", "acc")
    assert code == 1
    assert "ACC are not in mpctl.yaml" in err


@pytest.mark.parametrize("flags", [["--format", "jwks", "--bare"], ["--format", "jwks-array"]])
def test_the_bare_array_is_what_altinn_jwks_prints(
    run: Run, created: dict[str, PrivateKey], flags: list[str]
) -> None:
    code, out, _ = run("export", "billing", "--environment", "PROD", *flags)
    assert code == 0
    assert out.startswith('[{"alg":"RS256","e":"AQAB",')
    assert "\n" not in out.strip()
    assert json.loads(out) == [public_jwk(created["PROD"])]
    assert not [s for s in secrets_of(created["PROD"]) if s in out]


def test_the_bare_array_is_public_only_and_bare_goes_with_jwks(
    run: Run, created: dict[str, PrivateKey]
) -> None:
    code, out, err = run("export", "billing", "--format", "jwks-array", "--private")
    assert (code, out) == (1, "")
    assert "public only" in err
    code, out, err = run("export", "billing", "--format", "pem", "--bare")
    assert (code, out) == (1, "")
    assert "--bare goes with --format jwks" in err
