"""The AWS Secrets Manager sink beyond the shared suite: spec → boto3 client wiring, a missing
boto3, errors that name the IAM action, and the paths only this store has (the placeholder
first version, a secret mpctl did not make, a client_id change, a promote or a republish cut
short). Real boto3 against moto's server on 127.0.0.1; failures come from botocore's events.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from pydantic import ValidationError

from mpctl.errors import SecretSinkError
from mpctl.model import AwsSecretsManagerSink
from mpctl.secrets import SINKS, SinkContext, open_sink, to_pem
from mpctl.secrets.aws import AwsSecretsManagerSecretSink, open_aws_sink
from tests.sinks.aws_server import (
    REGION,
    WriteFailures,
    aws_spec,
    injected,
    moto_url,
    use_dummy_credentials,
)
from tests.sinks.suite import CLIENT, CLIENT_ID, T0, key, rotated

__all__ = ["moto_url"]

NEW_CLIENT_ID = "7c1d2e3f-0000-4000-8000-00000000beef"
CONTEXT = SinkContext("test", Path("."), "https://test.maskinporten.no/", "https://t/token")


@pytest.fixture
def credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    use_dummy_credentials(monkeypatch, str(tmp_path))
    return tmp_path


@pytest.fixture
def name(credentials: Path) -> str:
    """This test's secret (a fresh store)."""
    return f"mpctl/{uuid.uuid4().hex[:12]}/test/{CLIENT}"


@pytest.fixture
def opened(moto_url: str, name: str) -> Callable[..., AwsSecretsManagerSecretSink]:
    def sink(failures: WriteFailures | None = None) -> AwsSecretsManagerSecretSink:
        opened = open_aws_sink(
            aws_spec(moto_url, name.rsplit("/", 2)[0] + "/{env}/{client}"), CONTEXT
        )
        if failures is not None:
            opened.client.meta.events.register("before-send.secrets-manager", failures)
        return opened

    return sink


@pytest.fixture
def plain(moto_url: str, credentials: Path) -> Any:
    """A boto3 client as a workload or an operator would use it."""
    return boto3.client("secretsmanager", region_name=REGION, endpoint_url=moto_url)


def current_document(plain: Any, name: str) -> dict[str, Any]:
    answer = plain.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
    document: dict[str, Any] = json.loads(answer["SecretString"])
    return document


def labels(plain: Any, name: str) -> list[list[str]]:
    stages = plain.describe_secret(SecretId=name)["VersionIdsToStages"]
    return sorted(sorted(found) for found in stages.values() if found)


# --- spec → client --------------------------------------------------------------------------


def test_region_and_endpoint_of_the_spec_reach_the_client(credentials: Path) -> None:
    spec = AwsSecretsManagerSink(
        type="aws-secrets-manager", region="eu-west-1", endpoint_url="http://127.0.0.1:9"
    )
    sink = open_aws_sink(spec, CONTEXT)
    assert sink.client.meta.region_name == "eu-west-1"
    assert sink.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert "eu-west-1" in repr(sink)


def test_without_region_boto3s_own_chain_decides(credentials: Path) -> None:
    sink = open_aws_sink(AwsSecretsManagerSink(type="aws-secrets-manager"), CONTEXT)
    assert sink.client.meta.region_name == REGION  # AWS_DEFAULT_REGION
    assert sink.client.meta.endpoint_url == f"https://secretsmanager.{REGION}.amazonaws.com"


def test_a_named_profile_is_read_from_the_aws_config(
    credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")  # it would win over the profile's region
    (credentials / "aws-config").write_text("[profile mpctl-ci]\nregion = ap-south-1\n")
    spec = AwsSecretsManagerSink(type="aws-secrets-manager", profile="mpctl-ci")
    assert open_aws_sink(spec, CONTEXT).client.meta.region_name == "ap-south-1"


def test_an_unknown_profile_is_named_in_the_error(credentials: Path) -> None:
    spec = AwsSecretsManagerSink(type="aws-secrets-manager", profile="nope")
    with pytest.raises(SecretSinkError, match="profile 'nope'") as raised:
        open_aws_sink(spec, CONTEXT)
    assert raised.value.hint is not None


def test_no_region_anywhere_says_where_to_set_one(
    credentials: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(SecretSinkError, match="no AWS region") as raised:
        open_aws_sink(AwsSecretsManagerSink(type="aws-secrets-manager"), CONTEXT)
    assert "region:" in str(raised.value.hint)


def test_a_missing_boto3_is_an_error_when_the_sink_opens_not_at_import(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    monkeypatch.delitem(sys.modules, "mpctl.secrets.aws")
    monkeypatch.delitem(SINKS, "aws-secrets-manager")
    spec = AwsSecretsManagerSink(type="aws-secrets-manager", region=REGION)
    with pytest.raises(SecretSinkError, match=r"needs boto3: pip install 'mpctl\[aws\]'"):
        open_sink(spec, CONTEXT)
    assert "aws-secrets-manager" in SINKS  # the module itself imported without boto3


# --- errors ---------------------------------------------------------------------------------


def test_access_denied_names_the_missing_iam_action_and_the_secret(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    sink = opened()
    rotated(sink)
    refusal = WriteFailures(
        400,
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: "
        "secretsmanager:PutSecretValue",
        frozenset({"PutSecretValue"}),
    )
    refusal.budget = 0
    with pytest.raises(SecretSinkError) as raised:
        opened(refusal).stage(CLIENT, key("k3"))
    error = raised.value
    assert f"PutSecretValue on secret {name!r}" in str(error)
    assert "AccessDeniedException (HTTP 400)" in str(error)
    assert f"secretsmanager:PutSecretValue on arn:aws:secretsmanager:{REGION}:" in str(error.hint)
    assert f"secret:{name}-*" in str(error.hint)
    assert error.__cause__ is None
    assert error.__context__ is None
    assert current_document(plain, name)["MASKINPORTEN_KID"] == "k2"


def test_a_secret_mpctl_did_not_make_is_never_written(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    plain.create_secret(Name=name, SecretString='{"MASKINPORTEN_KID": "theirs"}')
    with pytest.raises(SecretSinkError, match="not mpctl's secret") as raised:
        opened().stage(CLIENT, key("k1"))
    assert "mpctl:client=billing" in str(raised.value.hint)
    assert labels(plain, name) == [["AWSCURRENT"]]
    assert current_document(plain, name) == {"MASKINPORTEN_KID": "theirs"}


def test_a_secret_scheduled_for_deletion_says_how_to_restore_it(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    opened().set_client_id(CLIENT, CLIENT_ID)
    plain.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    with pytest.raises(SecretSinkError, match="scheduled for deletion") as raised:
        opened().read_state(CLIENT)
    assert f"restore-secret --secret-id {name}" in str(raised.value.hint)


# --- what only this store has ---------------------------------------------------------------


def test_the_first_key_is_pending_and_no_untested_key_is_current(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    """Secrets Manager makes a secret's first version AWSCURRENT whatever label is asked for:
    the placeholder takes that, so the first staged key is only AWSPENDING."""
    sink = opened()
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    state = opened().read_state(CLIENT)
    assert (state.current, state.pending and state.pending.kid) == (None, "k1")
    placeholder = current_document(plain, name)
    assert set(placeholder) == {"mpctl"}
    assert placeholder["mpctl"]["kid"] is None
    assert labels(plain, name) == [["AWSCURRENT"], ["AWSPENDING"]]


def test_a_kms_key_is_used_for_a_new_secret(
    moto_url: str, name: str, plain: Any, credentials: Path
) -> None:
    kms = boto3.client("kms", region_name=REGION, endpoint_url=moto_url)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    spec = AwsSecretsManagerSink.model_validate(
        {
            "type": "aws-secrets-manager",
            "secret_name": name.rsplit("/", 2)[0] + "/{env}/{client}",
            "region": REGION,
            "endpoint_url": moto_url,
            "kms_key_id": key_id,
        }
    )
    open_aws_sink(spec, CONTEXT).stage(CLIENT, key("k1"))
    assert plain.describe_secret(SecretId=name)["KmsKeyId"] == key_id


def test_a_new_client_id_reaches_the_workload_and_keeps_every_label(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    sink = opened()
    rotated(sink)
    before = sink.read_state(CLIENT)
    sink.set_client_id(CLIENT, NEW_CLIENT_ID)
    sink.set_client_id(CLIENT, NEW_CLIENT_ID)
    after = opened().read_state(CLIENT)
    assert after.client_id == NEW_CLIENT_ID
    assert (after.current, after.previous) == (before.current, before.previous)
    document = current_document(plain, name)
    assert (document["MASKINPORTEN_CLIENT_ID"], document["MASKINPORTEN_KID"]) == (
        NEW_CLIENT_ID,
        "k2",
    )
    assert opened().load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint


@pytest.mark.parametrize("writes", range(8))
def test_a_republish_cut_short_keeps_the_previous_key_and_heals(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any, writes: int
) -> None:
    """Moving AWSCURRENT makes AWS move AWSPREVIOUS too: a run that dies after any of the
    republish's writes (client-id tag, previous tag, new version, AWSCURRENT move, AWSPREVIOUS
    back, working label off, tag off, stale promoted-at tag off) still reports the real
    labels, and the next run heals."""
    rotated(opened())
    before = opened().read_state(CLIENT)
    cut = WriteFailures()
    cut.budget = writes
    with pytest.raises(SecretSinkError):
        opened(cut).set_client_id(CLIENT, NEW_CLIENT_ID)
    assert cut.failed > 0
    state = opened().read_state(CLIENT)
    assert (state.current, state.previous) == (before.current, before.previous)
    opened().set_client_id(CLIENT, NEW_CLIENT_ID)
    described = plain.describe_secret(SecretId=name)
    found = {label for stages in described["VersionIdsToStages"].values() for label in stages}
    assert found == {"AWSCURRENT", "AWSPREVIOUS"}
    previous = next(v for v, s in described["VersionIdsToStages"].items() if "AWSPREVIOUS" in s)
    answer = plain.get_secret_value(SecretId=name, VersionId=previous)
    assert json.loads(answer["SecretString"])["MASKINPORTEN_KID"] == "k1"
    assert "mpctl:previous-version" not in {tag["Key"] for tag in described["Tags"]}
    assert current_document(plain, name)["MASKINPORTEN_CLIENT_ID"] == NEW_CLIENT_ID
    assert opened().read_state(CLIENT).current == before.current


def test_a_promote_cut_before_its_last_call_is_promoted_and_finishes_on_rerun(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    sink = opened()
    sink.stage(CLIENT, key("k1"))
    cut = WriteFailures()
    cut.budget = 2  # the promoted-at tag and the AWSCURRENT move; removing AWSPENDING fails
    with pytest.raises(SecretSinkError):
        opened(cut).promote(CLIENT, "k1", T0)
    state = opened().read_state(CLIENT)
    assert (state.current and state.current.kid, state.pending) == ("k1", None)
    assert state.current is not None
    assert state.current.promoted_at == T0
    opened().promote(CLIENT, "k1", T0 + timedelta(hours=1))
    assert ["AWSCURRENT"] in labels(plain, name)
    assert not any("AWSPENDING" in found for found in labels(plain, name))


def test_a_discarded_key_staged_again_is_pending_again(
    opened: Callable[..., AwsSecretsManagerSecretSink],
) -> None:
    """The same key is the same version (its token): Secrets Manager ignores the repeated put,
    so the sink moves the label itself."""
    sink = opened()
    sink.stage(CLIENT, key("k1"))
    sink.discard_pending(CLIENT, "k1")
    assert sink.read_state(CLIENT).pending is None
    sink.stage(CLIENT, key("k1"))
    pending = opened().read_state(CLIENT).pending
    assert pending is not None
    assert pending.kid == "k1"


# --- the spec -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("endpoint_url", "https://attacker.example", "not a loopback address"),
        ("endpoint_url", "http://127.0.0.1.attacker.example:80", "not a loopback address"),
        ("secret_name", "mpctl/{env}/shared", "has no {client}"),
        ("secret_name", "mpctl/{env}/{client} x", "may hold only"),
    ],
)
def test_the_spec_refuses_a_foreign_endpoint_and_a_shared_secret(
    field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        AwsSecretsManagerSink.model_validate({"type": "aws-secrets-manager", field: value})


def test_a_loopback_endpoint_is_allowed() -> None:
    for url in ("http://127.0.0.1:5000", "http://localhost:4566", "http://[::1]:9"):
        spec = AwsSecretsManagerSink(type="aws-secrets-manager", endpoint_url=url)
        assert spec.endpoint_url == url


def test_labels_are_read_with_describe_secret_alone(
    opened: Callable[..., AwsSecretsManagerSecretSink],
) -> None:
    """`plan` needs no secretsmanager:GetSecretValue (and no kms:Decrypt): a role refused
    every read of key material still reads the labels."""
    rotated(opened())
    reads = WriteFailures(
        400,
        "AccessDeniedException",
        "denied",
        frozenset({"GetSecretValue", "ListSecretVersionIds"}),
    )
    reads.budget = 0
    state = opened(reads).read_state(CLIENT)
    assert (state.client_id, state.current and state.current.kid) == (CLIENT_ID, "k2")
    assert state.previous is not None
    assert state.previous.thumbprint == key("k1").thumbprint
    assert reads.failed == 0


def test_versions_without_their_key_tag_are_read_from_their_content(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any
) -> None:
    rotated(opened())
    before = opened().read_state(CLIENT)
    tags = plain.describe_secret(SecretId=name)["Tags"]
    key_tags = [tag["Key"] for tag in tags if tag["Key"].startswith("mpctl:key:")]
    assert key_tags
    plain.untag_resource(SecretId=name, TagKeys=key_tags)
    assert opened().read_state(CLIENT) == before


ROTATION_WRITES = 8
"""key tag, new version, promoted-at tag, AWSCURRENT move, AWSPENDING off, stale tags off,
AWSPREVIOUS off, its tags off: the writes of stage + promote + forget_previous."""


def _workload_is_consistent(plain: Any, name: str) -> str:
    """The workload's AWSCURRENT holds a key whose kid is the one it is told; returns the kid."""
    document = current_document(plain, name)
    kid = str(document["MASKINPORTEN_KID"])
    pem = document["MASKINPORTEN_PRIVATE_KEY"]
    assert pem == to_pem(key(kid)), f"AWSCURRENT's key is not {kid}'s"
    return kid


@pytest.mark.parametrize("writes", range(ROTATION_WRITES + 1))
def test_a_rotation_cut_after_any_write_keeps_the_current_working_and_finishes(
    opened: Callable[..., AwsSecretsManagerSecretSink], name: str, plain: Any, writes: int
) -> None:
    sink = opened()
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    cut = WriteFailures()
    cut.budget = writes
    cut_sink = opened(cut)

    def rotate(target: AwsSecretsManagerSecretSink) -> None:
        target.stage(CLIENT, key("k2"))
        target.promote(CLIENT, "k2", T0 + timedelta(days=90))
        target.forget_previous(CLIENT, "k1")

    if writes < ROTATION_WRITES:
        with pytest.raises(SecretSinkError):
            rotate(cut_sink)
    else:
        rotate(cut_sink)
    assert (cut.failed > 0) == (writes < ROTATION_WRITES)
    state = opened().read_state(CLIENT)
    assert state.current is not None
    assert state.current.kid == _workload_is_consistent(plain, name)
    loaded = opened().load_private_key(CLIENT, state.current.kid)
    assert loaded.thumbprint == state.current.thumbprint
    rotate(opened())  # the next run finishes the rotation
    final = opened().read_state(CLIENT)
    assert (final.current and final.current.kid, final.previous, final.pending) == (
        "k2",
        None,
        None,
    )
    assert final.current is not None
    assert final.current.promoted_at == T0 + timedelta(days=90)
    assert _workload_is_consistent(plain, name) == "k2"
    assert labels(plain, name) == [["AWSCURRENT"]]
    tags = {tag["Key"] for tag in plain.describe_secret(SecretId=name)["Tags"]}
    assert len([t for t in tags if t.startswith(("mpctl:key:", "mpctl:promoted-at:"))]) == 2


def test_no_credentials_says_how_to_give_them(
    opened: Callable[..., AwsSecretsManagerSecretSink], monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(variable)
    with pytest.raises(SecretSinkError, match=r"DescribeSecret .* NoCredentialsError") as raised:
        opened().read_state(CLIENT)
    assert "AWS_PROFILE" in str(raised.value.hint)
    assert "configure-aws-credentials" in str(raised.value.hint)


class Acknowledged(WriteFailures):
    """The store answers 200 to `operations` and does nothing: only a read-back can tell."""

    def __call__(self, request: Any, event_name: str, **_: Any) -> Any:
        if event_name.rsplit(".", 1)[-1] not in self.operations:
            return None
        self.failed += 1
        return injected(request.url, 200, "", "")


@pytest.mark.parametrize(
    ("operation", "k3_promoted", "call"),
    [
        ("UpdateSecretVersionStage", False, lambda sink: sink.promote(CLIENT, "k3", T0)),
        ("UpdateSecretVersionStage", False, lambda sink: sink.discard_pending(CLIENT, "k3")),
        ("UpdateSecretVersionStage", True, lambda sink: sink.forget_previous(CLIENT, "k2")),
        ("TagResource", False, lambda sink: sink.set_client_id(CLIENT, NEW_CLIENT_ID)),
    ],
)
def test_a_write_the_store_acknowledged_but_did_not_make_is_caught_by_the_read_back(
    opened: Callable[..., AwsSecretsManagerSecretSink],
    operation: str,
    k3_promoted: bool,
    call: Callable[[AwsSecretsManagerSecretSink], None],
) -> None:
    sink = opened()
    rotated(sink)
    sink.forget_previous(CLIENT, "k1")
    sink.stage(CLIENT, key("k3"))
    if k3_promoted:
        sink.promote(CLIENT, "k3", T0)  # k2 is previous now
    lying = Acknowledged(operations=frozenset({operation}))
    with pytest.raises(SecretSinkError, match="did not read back as written"):
        call(opened(lying))
    assert lying.failed > 0


def test_the_spec_names_the_variables_and_a_rename_still_reads_older_versions(
    moto_url: str, name: str, plain: Any
) -> None:
    base = {
        "type": "aws-secrets-manager",
        "secret_name": name.rsplit("/", 2)[0] + "/{env}/{client}",
        "region": REGION,
        "endpoint_url": moto_url,
    }
    renamed = {"private_key": "MP_KEY", "client_id": "MP_CLIENT", "kid": "MP_KID"}
    first = AwsSecretsManagerSink.model_validate({**base, "variables": renamed})
    sink = open_aws_sink(first, CONTEXT)
    sink.set_client_id(CLIENT, CLIENT_ID)
    sink.stage(CLIENT, key("k1"))
    sink.promote(CLIENT, "k1", T0)
    document = current_document(plain, name)
    assert (document["MP_CLIENT"], document["MP_KID"]) == (CLIENT_ID, "k1")
    assert document["MP_KEY"] == to_pem(key("k1"))
    assert "MASKINPORTEN_PRIVATE_KEY" not in document
    default = open_aws_sink(AwsSecretsManagerSink.model_validate(base), CONTEXT)
    assert default.load_private_key(CLIENT, "k1").thumbprint == key("k1").thumbprint
    default.set_client_id(CLIENT, CLIENT_ID)  # the same client_id: nothing is republished
    assert current_document(plain, name) == document
