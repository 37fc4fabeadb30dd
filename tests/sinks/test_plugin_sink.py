"""A sink shipped as a separate package, found through the entry point group `mpctl.sinks`.

The example plug-in (`tests/plugins/example_sink`: the package `mpctl_example_sink` and its own
`*.dist-info`) is put on `sys.path` (in-process) or `PYTHONPATH` (the real CLI), so
importlib.metadata discovers it as it discovers an installed distribution. Checked here: the
shared sink suite on it, opened through the registry; the registry's listing, durability, name
clashes and its message when mpctl's own entry points are missing; the plug-in's block in
`mpctl validate` (valid, a bad field at its FILE:LINE with the plug-in's message, a type that is
not installed); and validate → plan → apply → verify of the example project with its keys in
the plug-in's store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import jsonschema
import pytest
from pydantic import TypeAdapter

from mpctl.cli.main import main
from mpctl.errors import SecretSinkError
from mpctl.model import BUILTIN_SINK_SPECS, DURABLE_SINK_TYPES, PluginSink, SinkSpec
from mpctl.secrets import SINKS, BlockingSecretSink, SinkContext, ThreadedSink, open_sink
from tests.conftest import REPO
from tests.sinks.suite import *  # noqa: F403 (the shared behaviour runs here)
from tests.sinks.suite import CLIENT, StoreUnderTest

EXAMPLE_DISTRIBUTION = REPO / "tests" / "plugins" / "example_sink"
SPEC = TypeAdapter[SinkSpec](SinkSpec)
BLOCK = {"type": "example-dir", "root": "shared-store", "prefix": "acme"}


def _forget_plugins() -> None:
    SINKS.rediscover()
    for name in [m for m in sys.modules if m.split(".")[0] == "mpctl_example_sink"]:
        del sys.modules[name]


@pytest.fixture
def installed() -> Iterator[Path]:
    """The example plug-in on `sys.path`, discovered afresh (and forgotten afterwards)."""
    sys.path.insert(0, str(EXAMPLE_DISTRIBUTION))
    _forget_plugins()
    try:
        yield EXAMPLE_DISTRIBUTION
    finally:
        sys.path.remove(str(EXAMPLE_DISTRIBUTION))
        _forget_plugins()


@pytest.fixture
def not_installed() -> Iterator[None]:
    _forget_plugins()
    yield
    _forget_plugins()


def _context(base: Path, environ: dict[str, str] | None = None) -> SinkContext:
    return SinkContext(
        "test", base, "https://test.maskinporten.no/", "https://t/token", environ=environ or {}
    )


def _opened(base: Path) -> BlockingSecretSink:
    """A sink on the example store, built from a manifest block the way apply builds it."""
    threaded = open_sink(SPEC.validate_python(BLOCK), _context(base))
    assert isinstance(threaded, ThreadedSink)
    return threaded.blocking


@pytest.fixture
def store(installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StoreUnderTest:
    _opened(tmp_path)  # loads the plug-in's modules through its entry point
    package: ModuleType = sys.modules["mpctl_example_sink"]
    documents: ModuleType = sys.modules["mpctl_example_sink.store"]
    budget: list[int | None] = [None]
    real_publish = documents.publish

    def publish(temporary: Path, final: Path) -> None:
        left = budget[0]
        if left is not None:
            if left <= 0:
                raise OSError(5, "Input/output error")
            budget[0] = left - 1
        real_publish(temporary, final)

    monkeypatch.setattr(documents, "publish", publish)

    def fail_writes(after: int) -> None:
        budget[0] = after

    def heal() -> None:
        budget[0] = None

    def workload() -> dict[str, str]:
        variables: dict[str, str] = package.workload_variables(_opened(tmp_path), CLIENT)
        return variables

    return StoreUnderTest(
        open=lambda: _opened(tmp_path),
        fail_writes=fail_writes,
        heal=heal,
        workload=workload,
        kind="example-dir",
    )


# --- the registry ---------------------------------------------------------------------------


def test_the_registry_lists_the_builtin_sinks_and_the_plugin(installed: Path) -> None:
    assert SINKS.types() == tuple(sorted([*BUILTIN_SINK_SPECS, "example-dir"]))
    assert "example-dir" in SINKS
    plugin = SINKS.plugin("example-dir")
    assert (plugin.type, plugin.spec.__name__, plugin.durable) == (
        "example-dir",
        "ExampleDirSink",
        True,
    )
    assert SINKS.durable_types() == tuple(sorted([*DURABLE_SINK_TYPES, "example-dir"]))
    for name in BUILTIN_SINK_SPECS:
        builtin = SINKS.plugin(name)
        assert builtin.spec is BUILTIN_SINK_SPECS[name]
        assert builtin.durable is (name in DURABLE_SINK_TYPES)


def test_without_the_package_its_type_is_not_installed(not_installed: None, tmp_path: Path) -> None:
    assert "example-dir" not in SINKS
    with pytest.raises(SecretSinkError) as raised:
        open_sink(SPEC.validate_python(BLOCK), _context(tmp_path))
    assert str(raised.value) == (
        "environment 'test', sink block of type 'example-dir': no secret sink of type "
        f"'example-dir' is installed; known: {', '.join(sorted(BUILTIN_SINK_SPECS))}; install "
        "the package that provides it (its entry point group is mpctl.sinks)"
    )


def test_a_bad_field_is_refused_with_the_plugins_message_before_opening(
    installed: Path, tmp_path: Path
) -> None:
    spec = SPEC.validate_python({**BLOCK, "prefix": "../escape"})
    assert isinstance(spec, PluginSink)  # the model keeps a plug-in's block as written
    with pytest.raises(SecretSinkError) as raised:
        open_sink(spec, _context(tmp_path))
    assert str(raised.value).startswith(
        "environment 'test', sink block of type 'example-dir': prefix: prefix '../escape' must "
        "be one folder name of letters, digits and '-'"
    )
    assert not list(tmp_path.iterdir()), "the sink was opened"


def test_loading_a_sink_imports_only_its_module() -> None:
    probe = (
        "import sys\n"
        "from mpctl.secrets import SINKS\n"
        "SINKS.plugin('aws-secrets-manager')\n"
        "heavy = ['boto3', 'botocore', 'mpctl.secrets.azure', 'mpctl.secrets.vault', "
        "'mpctl.secrets.kubernetes', 'mpctl.secrets.vercel', 'mpctl.secrets.github']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = _python("-c", probe)
    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr


def test_a_type_two_distributions_declare_names_both(tmp_path: Path) -> None:
    for name in ("acme_secrets-1.0", "other_secrets-2.0"):
        info = tmp_path / f"{name}.dist-info"
        info.mkdir()
        project = name.split("-")[0].replace("_", "-")
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project}\nVersion: 1.0\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[mpctl.sinks]\nvault-kv = {project.replace('-', '_')}:PLUGIN\n", encoding="utf-8"
        )
    sys.path.insert(0, str(tmp_path))
    SINKS.rediscover()
    try:
        with pytest.raises(SecretSinkError) as raised:
            SINKS.types()
    finally:
        sys.path.remove(str(tmp_path))
        SINKS.rediscover()
    message = str(raised.value)
    assert "the secret sink type 'vault-kv' is declared by more than one distribution" in message
    assert "acme-secrets (acme_secrets:PLUGIN)" in message
    assert "other-secrets (other_secrets:PLUGIN)" in message
    assert "mpctl (mpctl.secrets.vault:PLUGIN)" in message


# --- mpctl validate -------------------------------------------------------------------------


def _with_sink(project: Path, *lines: str) -> None:
    """Give the example's `local` environment a sink block of these (already indented) lines."""
    config = project / "mpctl.yaml"
    emulator = "    emulator:\n      world: emulator-world.yaml\n"
    text = config.read_text(encoding="utf-8")
    assert text.count(emulator) == 1
    block = "    sink:\n" + "".join(f"      {line}\n" for line in lines)
    config.write_text(text.replace(emulator, emulator + block), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if needle in line)


def test_validate_accepts_the_plugins_block(
    installed: Path, example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_sink(example_copy, "type: example-dir", "root: ../shared-store", "prefix: acme")
    assert main(["validate", "--manifests", str(example_copy)]) == 0, capsys.readouterr()
    assert "local: 6 clients, 3 scopes valid" in capsys.readouterr().out


def test_validate_places_the_plugins_message_at_the_field(
    installed: Path, example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_sink(example_copy, "type: example-dir", "root: store", "prefix: ../escape")
    client = example_copy / "resources" / "clients" / "altinn.yaml"
    text = client.read_text(encoding="utf-8")
    client.write_text(
        text.replace("keys:\n", "keys:\n  sink: {type: example-dir, prefix: acme, colour: blue}\n"),
        encoding="utf-8",
    )
    assert main(["validate", "--manifests", str(example_copy)]) == 1
    out = capsys.readouterr().out
    config_line = _line_of(example_copy / "mpctl.yaml", "prefix: ../escape")
    assert (
        f"mpctl.yaml:{config_line}: MPL005 environment 'local', sink.prefix (type "
        "'example-dir'): prefix '../escape' must be one folder name of letters, digits and '-'"
    ) in out
    client_line = _line_of(client, "colour: blue")
    assert (
        f"altinn.yaml:{client_line}: MPL005 client 'altinn-sync', sink.colour (type "
        "'example-dir'): unknown field\n    hint: fields of a example-dir block: prefix, root, type"
    ) in out
    assert (
        f"altinn.yaml:{client_line}: MPL005 client 'altinn-sync', sink.root (type "
        "'example-dir'): missing required field\n    hint: add 'root:' to the block"
    ) in out
    assert "3 error(s)" in out
    assert "scopes valid" not in out


def test_validate_names_a_type_that_is_not_installed(
    not_installed: None, example_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _with_sink(example_copy, "type: example-dir", "root: store")
    assert main(["validate", "--manifests", str(example_copy)]) == 1
    out = capsys.readouterr().out
    line = _line_of(example_copy / "mpctl.yaml", "type: example-dir")
    assert (
        f"mpctl.yaml:{line}: MPL005 environment 'local', sink.type (type 'example-dir'): no "
        "secret sink of type 'example-dir' is installed; known: aws-secrets-manager, "
    ) in out
    assert "(its entry point group is mpctl.sinks)\n    hint: check the spelling" in out


# --- the published JSON Schemas -------------------------------------------------------------


def _schema(name: str) -> dict[str, object]:
    schema: dict[str, object] = json.loads(
        (REPO / "schemas" / f"{name}.schema.json").read_text(encoding="utf-8")
    )
    return schema


def _environment(sink: dict[str, object]) -> dict[str, object]:
    return {
        "organisation": {"orgno": "313367002", "name": "ACME AS"},
        "default_env": "test",
        "environments": {"test": {"digdir": "test", "sink": sink}},
    }


def test_the_schemas_accept_a_plugin_block_and_keep_builtin_blocks_strict() -> None:
    project = _schema("mpctl")
    jsonschema.validate(_environment({**BLOCK, "any": {"member": [1, 2]}}), project)
    jsonschema.validate(_environment({"directory": ".mpctl/keys/{env}"}), project)
    refused: list[dict[str, object]] = [
        {"type": "file", "colour": "blue"},  # a built-in type stays strict
        {"type": "Example Dir"},  # not a plug-in's name
        {"root": "x", "type": 5},
    ]
    for block in refused:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(_environment(block), project)


# --- the real CLI in a child process --------------------------------------------------------


def _python(*args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    environ.pop("PYTHONPATH", None)
    if pythonpath is not None:
        environ["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=environ,
        cwd=REPO,
    )


@pytest.mark.slow
def test_the_cli_keeps_the_keys_in_the_plugins_store(example_copy: Path, tmp_path: Path) -> None:
    config = example_copy / "mpctl.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("size: 3072", "size: 2048"))
    shared = tmp_path / "shared-store"
    _with_sink(example_copy, "type: example-dir", f"root: {shared}", "prefix: acme")
    plugin_path = str(EXAMPLE_DISTRIBUTION)

    saved = tmp_path / "plan.json"
    for command in (
        ["validate"],
        ["plan", "--out", str(saved)],
        ["apply", "--plan", str(saved), "--auto-approve"],
        ["verify"],
    ):
        run = _python(
            "-m", "mpctl", *command, "--manifests", str(example_copy), pythonpath=plugin_path
        )
        assert run.returncode == 0, (command, run.stdout, run.stderr)
    plan = json.loads(saved.read_text(encoding="utf-8"))
    assert plan["sinks"], "the saved plan names no sink"
    assert all(
        plan["sink_specs"][sink] == {**BLOCK, "root": str(shared)}
        for sink in plan["sinks"].values()
    )
    jsonschema.validate(plan, _schema("plan"))

    clients = sorted(p.name for p in (shared / "acme" / "local").iterdir())
    assert len(clients) == 6
    for client in clients:
        assert (shared / "acme" / "local" / client / "labels").is_dir()
        assert len(list((shared / "acme" / "local" / client).glob("key-*"))) == 1
    assert not list((example_copy / ".mpctl").glob("secrets/**/*.json")), "a key went to a file"

    without = _python("-m", "mpctl", "validate", "--manifests", str(example_copy))
    assert without.returncode == 1
    assert "no secret sink of type 'example-dir' is installed" in without.stdout


def test_a_source_tree_without_entry_points_says_mpctl_is_not_installed(
    example_copy: Path, tmp_path: Path
) -> None:
    """`python -S` with the source tree and every dependency but mpctl's own dist-info on the
    path: what running a checkout that was never `pip install`ed looks like."""
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    shadow = tmp_path / "site"
    shadow.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().startswith(("mpctl", "_editable_impl_mpctl", "__editable__")):
            (shadow / entry.name).symlink_to(entry)
    run = _python(
        "-S", "-m", "mpctl", "validate", "--manifests", str(example_copy),
        pythonpath=os.pathsep.join([str(REPO), str(shadow)]),
    )  # fmt: skip
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "mpctl is not installed (pip install -e .)" in run.stdout
