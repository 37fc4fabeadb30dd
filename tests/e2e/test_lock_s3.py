"""The environment lock on S3, as laptops and CI runners share it (Terraform's `use_lockfile`).

Real boto3 against moto's real S3 server on 127.0.0.1 (conditional writes: If-None-Match on
PutObject, If-Match on DeleteObject). Locks are opened through `open_lock`, as `mpctl apply`
opens them; runners with fresh checkouts are child processes (`tests.e2e.lock_runner`) that
race for the lock, hold it, release it, or are killed holding it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import pytest
from botocore.awsrequest import AWSResponse  # type: ignore[import-untyped]

from mpctl.apply.lock import EnvironmentLock, Lock
from mpctl.apply.lock_s3 import LockBackendError, S3EnvironmentLock
from mpctl.cli.environment import open_workspace
from mpctl.cli.locking import open_lock
from mpctl.errors import LockedError
from tests.e2e.lock_runner import PROJECT, s3_project
from tests.e2e.processes import SAFETY_TIMEOUT, environ, mpctl
from tests.sinks.aws_server import REGION, moto_url, use_dummy_credentials

__all__ = ["moto_url"]

SECRET_ACCESS_KEY = "lock-test-secret-7f3a9c"
"""A dummy secret key that no message may quote."""


@pytest.fixture
def bucket(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket on the session's moto server; boto3 sees only dummy credentials."""
    use_dummy_credentials(monkeypatch, str(tmp_path))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
    name = f"mpctl-locks-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name=REGION, endpoint_url=moto_url).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    return name


Checkout = Callable[[], Path]


@pytest.fixture
def checkout(moto_url: str, bucket: str, tmp_path: Path) -> Checkout:
    """A fresh checkout of one project whose lock is in `bucket` (a new directory each call)."""
    made = iter(range(100))

    def fresh() -> Path:
        directory = tmp_path / f"checkout-{next(made)}"
        (directory / "resources").mkdir(parents=True)
        (directory / "mpctl.yaml").write_text(s3_project(moto_url, bucket, REGION))
        return directory

    return fresh


def s3_lock(directory: Path, env: str = "test") -> S3EnvironmentLock:
    lock = open_lock(open_workspace(directory, env), on_takeover=None)
    assert isinstance(lock, S3EnvironmentLock)
    return lock


def raw_object(moto_url: str, bucket: str, key: str) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


# In one process, through open_lock


def test_the_lock_is_an_object_per_environment_holding_the_lock_info(
    checkout: Checkout, moto_url: str, bucket: str
) -> None:
    test, prod = s3_lock(checkout(), "test"), s3_lock(checkout(), "prod")
    assert (test.key, prod.key) == (f"mpctl/{PROJECT}/test.lock", f"mpctl/{PROJECT}/prod.lock")
    with test.held("mpctl apply -e test") as mine, prod.held("mpctl apply -e prod"):
        recorded = raw_object(moto_url, bucket, test.key)
        assert recorded["id"] == mine.id
        assert recorded["command"] == "mpctl apply -e test"
        assert {"who", "host", "pid", "created"} <= recorded.keys()
    assert (test.holder(), prod.holder()) == (None, None)


def test_a_second_holder_gets_the_holder_its_start_and_the_force_unlock_command(
    checkout: Checkout,
) -> None:
    first, second = s3_lock(checkout()), s3_lock(checkout())
    with first.held("mpctl apply -e test") as held, pytest.raises(LockedError) as refused:
        second.acquire("mpctl apply -e test")
    assert "the environment lock is held" in refused.value.message
    assert f"lock id {held.id}" in refused.value.message
    assert f"since {held.created}" in refused.value.message
    assert refused.value.hint == (
        f"wait for it, or if it is dead: mpctl apply --force-unlock {held.id}"
    )


def test_release_only_deletes_our_own_lock(checkout: Checkout) -> None:
    lock = s3_lock(checkout())
    first = lock.acquire("first")
    lock.force_unlock(first.id)
    second = lock.acquire("second")
    lock.release(first)  # a holder whose lock was broken must not free the new holder's
    assert lock.holder() == second
    lock.release(second)
    assert lock.holder() is None


def test_held_releases_when_the_block_fails(checkout: Checkout) -> None:
    lock = s3_lock(checkout())
    with pytest.raises(RuntimeError), lock.held("apply"):
        raise RuntimeError("boom")
    assert lock.holder() is None


def test_force_unlock_needs_the_exact_id(checkout: Checkout) -> None:
    lock = s3_lock(checkout())
    held = lock.acquire("apply")
    with pytest.raises(LockedError, match="does not match"):
        lock.force_unlock("not-the-id")
    assert lock.holder() == held
    lock.force_unlock(held.id)
    assert lock.holder() is None
    with pytest.raises(LockedError, match="is not locked"):
        lock.force_unlock(held.id)


def test_an_unreadable_lock_object_blocks_and_is_broken_by_its_id(
    checkout: Checkout, moto_url: str, bucket: str
) -> None:
    lock = s3_lock(checkout())
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    s3.put_object(Bucket=bucket, Key=lock.key, Body=b"{not json")
    with pytest.raises(LockedError, match="unreadable") as refused:
        lock.acquire("apply")
    assert "--force-unlock unreadable" in (refused.value.hint or "")
    lock.force_unlock("unreadable")
    assert lock.holder() is None


class _LostAnswer:
    """A `before-send` handler: the first PutObject reaches S3, but its answer is lost (a
    500 instead), so botocore's retry meets the lock that request created."""

    def __init__(self) -> None:
        self.lost = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        if self.lost:
            return None
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        sent = urllib.request.Request(
            request.url, data=body, headers=dict(request.headers), method=request.method
        )
        with urllib.request.urlopen(sent, timeout=10) as answer:
            assert answer.status == 200
        self.lost += 1
        if hasattr(request.body, "seek"):
            request.body.seek(0)
        return AWSResponse(
            request.url, 500, {}, _Body(b"<Error><Code>InternalError</Code></Error>")
        )


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def test_a_retried_create_that_had_succeeded_holds_the_lock(checkout: Checkout) -> None:
    lock = s3_lock(checkout())
    lost = _LostAnswer()
    lock.client.meta.events.register("before-send.s3.PutObject", lost)
    held = lock.acquire("apply")
    assert lost.lost == 1
    assert lock.holder() == held
    lock.release(held)
    assert lock.holder() is None


def test_a_missing_bucket_is_explained_without_credentials(
    checkout: Checkout, moto_url: str, bucket: str
) -> None:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto_url)
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(LockBackendError) as failed:
        s3_lock(checkout()).acquire("apply")
    assert "NoSuchBucket" in failed.value.message
    assert bucket in (failed.value.hint or "")
    assert SECRET_ACCESS_KEY not in f"{failed.value.message} {failed.value.hint}"


def test_the_local_file_lock_stays_the_default(tmp_path: Path) -> None:
    (tmp_path / "resources").mkdir()
    text = s3_project("http://127.0.0.1:1", "unused-bucket", REGION)
    without_lock = [line for line in text.splitlines() if "lock:" not in line]
    (tmp_path / "mpctl.yaml").write_text("\n".join(without_lock) + "\n")
    lock: Lock = open_lock(open_workspace(tmp_path, "test"), on_takeover=None)
    assert isinstance(lock, EnvironmentLock)
    assert lock.path == tmp_path / ".mpctl" / "test" / "apply.lock"


# Runners with fresh checkouts, as child processes


class Runner:
    """`python -m tests.e2e.lock_runner` on one checkout, ready to take the lock."""

    def __init__(self, directory: Path, env: str = "test") -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.lock_runner", str(directory), env],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environ(),
        )
        assert self.line() == "READY", self.finish()

    def line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def tell(self) -> None:
        """The next line on its stdin: start (take the lock), then release."""
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=SAFETY_TIMEOUT)
        return self.process.returncode, out, err

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=SAFETY_TIMEOUT)


def test_two_runners_race_one_wins_the_other_is_told_who_and_how_to_break_it(
    checkout: Checkout,
) -> None:
    runners = [Runner(checkout()), Runner(checkout())]
    for runner in runners:
        runner.tell()
    answers = [runner.line() for runner in runners]
    held = [n for n, answer in enumerate(answers) if answer.startswith("HELD ")]
    assert len(held) == 1, answers
    winner, loser = runners[held[0]], runners[1 - held[0]]
    lock_id = answers[held[0]].removeprefix("HELD ")
    code, _, err = loser.finish()
    assert code == 1
    assert "the environment lock is held: 'mpctl apply -e test' by " in err
    assert f"(lock id {lock_id})" in err
    assert f"mpctl apply --force-unlock {lock_id}" in err

    winner.tell()
    assert winner.finish()[:2] == (0, "RELEASED\n")
    following = Runner(checkout())
    following.tell()
    assert following.line().startswith("HELD ")
    following.tell()
    assert following.finish()[0] == 0


def test_a_killed_holder_leaves_the_lock_until_it_is_broken_by_its_id(
    checkout: Checkout,
) -> None:
    holder = Runner(checkout())
    holder.tell()
    dead_id = holder.line().removeprefix("HELD ")
    holder.kill()

    blocked = Runner(checkout())
    blocked.tell()
    code, _, err = blocked.finish()
    assert code == 1
    assert "the environment lock is stale (its process is gone)" in err  # never taken over
    assert f"mpctl apply --force-unlock {dead_id}" in err

    lock = s3_lock(checkout())
    with pytest.raises(LockedError, match="does not match"):
        lock.force_unlock(str(uuid.uuid4()))
    dead = lock.holder()
    assert dead is not None
    assert dead.id == dead_id
    lock.force_unlock(dead_id)
    after = Runner(checkout())
    after.tell()
    assert after.line().startswith("HELD ")
    after.tell()
    assert after.finish()[0] == 0


def test_mpctl_apply_is_refused_by_the_s3_lock_and_force_unlock_frees_it(
    checkout: Checkout,
) -> None:
    holder = Runner(checkout())
    holder.tell()
    lock_id = holder.line().removeprefix("HELD ")
    holder.kill()

    refused = mpctl(checkout(), "apply", "-e", "test", "--auto-approve")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert f"mpctl apply --force-unlock {lock_id}" in refused.stderr

    wrong = mpctl(checkout(), "apply", "-e", "test", "--force-unlock", str(uuid.uuid4()))
    assert wrong.returncode == 1
    assert "does not match" in wrong.stderr
    freed = mpctl(checkout(), "apply", "-e", "test", "--force-unlock", lock_id)
    assert freed.returncode == 0, freed.stdout + freed.stderr
    assert s3_lock(checkout()).holder() is None
