"""`GitHubRepo` against the strict local fake of GitHub's REST API (tests/fakes/github_rest.py):
every method, pagination, errors and their hints, retries and waits, the body limit, the
environment, and that the token shows up nowhere."""

from __future__ import annotations

import io
import logging
import socket
import zipfile
from collections.abc import Iterator

import pytest

from mpctl.errors import ConfigError
from mpctl.gitops import (
    MAX_BODY_CHARS,
    BodyTooLongError,
    GitHubError,
    GitHubRepo,
    GitHubRetry,
)
from tests.fakes.github_rest import FakeGitHubRest, serving

TOKEN = "ghs_" + "T0kenValue" * 4
REPO = "acme/manifests"
HEAD = "a" * 40
MERGE = "b" * 40


@pytest.fixture(scope="module")
def served() -> Iterator[FakeGitHubRest]:
    """One server per module (starting and stopping one costs ~0.2 s); `fake` empties it."""
    github = FakeGitHubRest(TOKEN)
    with serving(github):
        yield github


@pytest.fixture
def fake(served: FakeGitHubRest) -> Iterator[FakeGitHubRest]:
    served.reset()
    served.add_repo(REPO)
    yield served
    assert served.violations == []


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def repo(fake: FakeGitHubRest, waits: list[float]) -> Iterator[GitHubRepo]:
    with GitHubRepo(
        repository=REPO,
        token=TOKEN,
        api_url=fake.url,
        retry=GitHubRetry(jitter=0.0),
        sleep=waits.append,
        clock=lambda: 1_000_000.0,
    ) as client:
        yield client


def assert_no_token(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert "T0kenValue" not in text


# --- pull requests ----------------------------------------------------------------------------


def test_a_pull_request_is_read_with_its_head_labels_and_author(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD, labels=["mpctl:allow-delete", "docs"])

    pull = repo.pull_request(number)

    assert (pull.number, pull.state, pull.merged, pull.head_sha) == (number, "open", False, HEAD)
    assert pull.merge_commit_sha is None
    assert pull.labels == ("docs", "mpctl:allow-delete")
    assert pull.author == "octocat"
    assert pull.html_url.endswith(f"/{REPO}/pull/{number}")


def test_the_pull_requests_of_a_merge_commit_are_found_and_known_as_merged(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    fake.add_pull(REPO, head_sha="c" * 40)
    merged = fake.add_pull(REPO, head_sha=HEAD, merged=True, merge_commit_sha=MERGE)

    (pull,) = repo.pulls_for_commit(MERGE)

    assert (pull.number, pull.merged, pull.state, pull.merge_commit_sha) == (
        merged, True, "closed", MERGE,
    )  # fmt: skip
    assert repo.pull_request(merged).merged is True
    assert repo.pulls_for_commit("d" * 40) == []
    with pytest.raises(ValueError, match="not a commit SHA"):
        repo.pulls_for_commit("main")


# --- comments ---------------------------------------------------------------------------------


def test_comments_are_read_over_three_pages_in_order(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)
    made = [fake.add_comment(REPO, number, f"comment {i}", "reviewer") for i in range(250)]

    comments = repo.comments(number)

    assert [c.id for c in comments] == made
    assert comments[249].body == "comment 249"
    assert {c.author for c in comments} == {"reviewer"}
    pages = [r for r in fake.requests if r.startswith("GET") and "/comments" in r]
    assert len(pages) == 3
    assert "page=2" in pages[1]
    assert "page=3" in pages[2]


def test_a_comment_is_created_then_updated_in_place(repo: GitHubRepo, fake: FakeGitHubRest) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)

    created = repo.create_comment(number, "<!-- mpctl:plan test -->\nfirst")
    updated = repo.update_comment(created.id, "<!-- mpctl:plan test -->\nsecond")

    assert created.author == "github-actions[bot]"
    assert (updated.id, updated.body) == (created.id, "<!-- mpctl:plan test -->\nsecond")
    assert [c.body for c in fake.comments(REPO, number)] == [updated.body]
    assert updated.html_url.endswith(f"#issuecomment-{created.id}")


def test_a_body_over_the_limit_is_refused_before_sending(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)
    at_limit = repo.create_comment(number, "x" * MAX_BODY_CHARS)
    sent = list(fake.requests)

    with pytest.raises(BodyTooLongError) as refused:
        repo.update_comment(at_limit.id, "x" * (MAX_BODY_CHARS + 1))
    with pytest.raises(BodyTooLongError):
        repo.create_issue(title="drift", body="y" * (MAX_BODY_CHARS + 1), labels=[])

    assert fake.requests == sent
    assert refused.value.length == MAX_BODY_CHARS + 1
    assert "65,536" in str(refused.value)
    assert refused.value.hint is not None


def test_a_next_page_on_another_host_is_not_followed(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    number = fake.add_issue(REPO, title="busy")
    for n in range(101):
        fake.add_comment(REPO, number, f"c{n}", "octocat")
    fake.link_root = "https://elsewhere.invalid"

    with pytest.raises(GitHubError, match="another host"):
        repo.comments(number)

    assert len(fake.requests) == 1


# --- issues -----------------------------------------------------------------------------------


def test_issues_are_filtered_by_every_label_and_state_and_leave_out_pull_requests(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    first = fake.add_issue(REPO, title="drift test", labels=["mpctl:drift", "env:test"])
    fake.add_issue(REPO, title="drift prod", labels=["mpctl:drift", "env:prod"])
    closed = fake.add_issue(REPO, title="old", labels=["mpctl:drift", "env:test"], state="closed")
    fake.add_pull(REPO, head_sha=HEAD, labels=["mpctl:drift", "env:test"])

    open_test = repo.issues(labels=["mpctl:drift", "env:test"])
    every_test = repo.issues(labels=["mpctl:drift", "env:test"], state="all")

    assert [(i.number, i.title, i.labels) for i in open_test] == [
        (first, "drift test", ("env:test", "mpctl:drift"))
    ]
    assert [i.number for i in every_test] == [first, closed]
    assert [i.number for i in repo.issues(labels=[], state="closed")] == [closed]


def test_an_issue_is_created_updated_and_closed_with_a_reason(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    issue = repo.create_issue(title="Drift in test", body="one", labels=["mpctl:drift"])
    assert (issue.title, issue.body, issue.state, issue.labels) == (
        "Drift in test", "one", "open", ("mpctl:drift",),
    )  # fmt: skip
    assert "mpctl:drift" in fake.labels(REPO)

    repo.update_issue(issue.number, body="two")
    closed = repo.update_issue(issue.number, state="closed", state_reason="completed")

    assert (closed.state, closed.body) == ("closed", "two")
    stored = fake.issue(REPO, issue.number)
    assert (stored.state, stored.state_reason, stored.author) == (
        "closed", "completed", "github-actions[bot]",
    )  # fmt: skip
    with pytest.raises(ValueError, match="needs a body"):
        repo.update_issue(issue.number)
    with pytest.raises(ValueError, match="state_reason"):
        repo.update_issue(issue.number, state="closed", state_reason="fixed")


# --- labels -----------------------------------------------------------------------------------


def test_a_label_is_created_once_and_an_existing_one_is_left_alone(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    repo.ensure_label("mpctl:allow-delete", color="b60205", description="approve deletes")
    repo.ensure_label("mpctl:allow-delete", color="000000", description="other")

    label = fake.labels(REPO)["mpctl:allow-delete"]
    assert (label.color, label.description) == ("b60205", "approve deletes")
    assert [r.split("?")[0] for r in fake.requests] == [
        f"GET /repos/{REPO}/labels/mpctl:allow-delete",
        f"POST /repos/{REPO}/labels",
        f"GET /repos/{REPO}/labels/mpctl:allow-delete",
    ]
    with pytest.raises(ValueError, match="6 hex digits"):
        repo.ensure_label("x", color="#b60205", description="")


def test_a_label_made_by_someone_else_meanwhile_counts_as_made(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    fake.add_label(REPO, "mpctl:drift", "0e8a16")
    fake.fail(1, status=404, method="GET", message="Not Found")  # it was missing a moment ago

    repo.ensure_label("mpctl:drift", color="d93f0b", description="drift")

    assert fake.labels(REPO)["mpctl:drift"].color == "0e8a16"
    assert [r.split(" ")[0] for r in fake.requests] == ["GET", "POST"]


# --- artifacts --------------------------------------------------------------------------------


def _zip(name: str, text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, text)
    return buffer.getvalue()


def test_a_runs_artifacts_are_listed_and_one_is_downloaded_without_the_token(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    archive = _zip("plan.json", '{"steps": []}')
    plan = fake.add_artifact(REPO, run_id=77, name="mpctl-plan-test", content=archive)
    fake.add_artifact(REPO, run_id=77, name="mpctl-plan-prod", content=b"PK", expired=True)
    fake.add_artifact(REPO, run_id=78, name="other", content=b"PK")

    artifacts = repo.run_artifacts(77)
    data = repo.download_artifact(plan)

    assert sorted((a.name, a.expired, a.run_id) for a in artifacts) == [
        ("mpctl-plan-prod", True, 77), ("mpctl-plan-test", False, 77),
    ]  # fmt: skip
    assert data == archive
    with zipfile.ZipFile(io.BytesIO(data)) as opened:
        assert opened.read("plan.json") == b'{"steps": []}'
    assert any(r.startswith("GET /_signed/") for r in fake.requests)


def test_an_expired_artifact_is_gone_with_a_hint(repo: GitHubRepo, fake: FakeGitHubRest) -> None:
    gone = fake.add_artifact(REPO, run_id=5, name="old", content=b"PK", expired=True)

    with pytest.raises(GitHubError) as failed:
        repo.download_artifact(gone)

    assert failed.value.status == 410
    assert failed.value.hint is not None
    assert "expired" in failed.value.hint


# --- errors -----------------------------------------------------------------------------------


def test_a_missing_pull_request_is_a_404_with_a_hint_and_no_token(repo: GitHubRepo) -> None:
    with pytest.raises(GitHubError) as failed:
        repo.pull_request(404)

    error = failed.value
    assert (error.status, error.github_message) == (404, "Not Found")
    assert f"GET /repos/{REPO}/pulls/404 → 404" in str(error)
    assert error.hint is not None
    assert "GITHUB_REPOSITORY" in error.hint
    assert_no_token(str(error), repr(error), error.hint)


def test_a_refused_token_is_a_401_that_says_how_to_pass_one(
    fake: FakeGitHubRest, waits: list[float]
) -> None:
    wrong = "ghp_" + "Wr0ngToken" * 4
    with GitHubRepo(repository=REPO, token=wrong, api_url=fake.url, sleep=waits.append) as bad:
        with pytest.raises(GitHubError) as failed:
            bad.issues(labels=["mpctl:drift"])
        shown = repr(bad)

    error = failed.value
    assert (error.status, error.github_message) == (401, "Bad credentials")
    assert error.hint is not None
    assert "GITHUB_TOKEN" in error.hint
    assert waits == []
    for text in (str(error), repr(error), error.hint, shown):
        assert "Wr0ngToken" not in text


def test_a_validation_failure_is_a_422_with_githubs_words(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)

    with pytest.raises(GitHubError) as failed:
        repo.create_comment(number, "   ")

    error = failed.value
    assert error.status == 422
    assert error.github_message == "Validation Failed; Body cannot be blank"
    assert error.hint is not None
    assert "refused the request's content" in error.hint
    assert_no_token(str(error), repr(error))


# --- retries ----------------------------------------------------------------------------------


def test_a_502_is_retried_after_a_backoff_and_then_succeeds(
    repo: GitHubRepo, fake: FakeGitHubRest, waits: list[float]
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)
    fake.fail(1, status=502, message="Bad Gateway")

    assert repo.pull_request(number).number == number
    assert waits == [1.0]
    assert len(fake.requests) == 2


def test_retry_after_is_honoured_on_a_429_and_a_secondary_rate_limit(
    repo: GitHubRepo, fake: FakeGitHubRest, waits: list[float]
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)
    fake.fail(1, status=429, headers={"Retry-After": "7"}, message="Too Many Requests")
    fake.fail(
        1,
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(1_000_000 + 12)},
        message="You have exceeded a secondary rate limit.",
    )

    assert repo.comments(number) == []
    assert waits == [7.0, 12.0]


def test_a_wait_longer_than_the_budget_fails_at_once_with_a_hint(
    repo: GitHubRepo, fake: FakeGitHubRest, waits: list[float]
) -> None:
    fake.fail(1, status=429, headers={"Retry-After": "3600"}, message="Too Many Requests")

    with pytest.raises(GitHubError) as failed:
        repo.issues(labels=["mpctl:drift"])

    assert waits == []
    assert failed.value.status == 429
    assert failed.value.hint is not None
    assert "rate limit" in failed.value.hint


def test_a_403_that_is_no_rate_limit_is_not_retried(
    repo: GitHubRepo, fake: FakeGitHubRest, waits: list[float]
) -> None:
    fake.fail(1, status=403, message="Resource not accessible by integration")

    with pytest.raises(GitHubError) as failed:
        repo.issues(labels=[])

    assert waits == []
    assert failed.value.hint is not None
    assert "issues: write" in failed.value.hint


def test_retries_stop_after_four_attempts(
    repo: GitHubRepo, fake: FakeGitHubRest, waits: list[float]
) -> None:
    fake.fail(10, status=503, message="Service Unavailable")

    with pytest.raises(GitHubError) as failed:
        repo.run_artifacts(1)

    assert failed.value.status == 503
    assert waits == [1.0, 2.0, 4.0]
    assert len(fake.requests) == 4


def test_a_create_is_not_sent_again_after_a_5xx(
    repo: GitHubRepo, fake: FakeGitHubRest, waits: list[float]
) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)
    fake.fail(1, status=502, method="POST", message="Bad Gateway")

    with pytest.raises(GitHubError) as failed:
        repo.create_comment(number, "plan")

    assert waits == []
    assert [r.split(" ")[0] for r in fake.requests] == ["POST"]
    assert failed.value.hint is not None
    assert "may have been created" in failed.value.hint


def test_retries_are_logged_without_the_token(
    repo: GitHubRepo,
    fake: FakeGitHubRest,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An in-process CLI run before this test may have left the `mpctl` logger at WARNING or
    # not propagating (mpctl.cli.logs): set what this test needs, whatever ran before.
    monkeypatch.setattr(logging.getLogger("mpctl"), "propagate", True)
    fake.fail(1, status=500)
    with caplog.at_level(logging.DEBUG, logger="mpctl.gitops"), caplog.at_level(logging.DEBUG):
        repo.issues(labels=["a"])

    assert any("retry: GitHub GET" in r.getMessage() for r in caplog.records)
    assert_no_token(caplog.text)


def test_an_unreachable_github_is_retried_then_named(waits: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api_url = f"http://127.0.0.1:{port}"
    retry = GitHubRetry(jitter=0.0)
    with (
        GitHubRepo(
            repository=REPO, token=TOKEN, api_url=api_url, retry=retry, sleep=waits.append
        ) as client,
        pytest.raises(GitHubError) as failed,
    ):
        client.pull_request(1)

    assert failed.value.status is None
    assert waits == [1.0, 2.0, 4.0]
    assert failed.value.hint is not None
    assert "could not be reached" in failed.value.hint
    assert_no_token(str(failed.value), repr(failed.value))


def test_an_answer_without_the_documented_fields_is_an_error(
    repo: GitHubRepo, fake: FakeGitHubRest
) -> None:
    fake.fail(1, status=200, message="not a pull request")

    with pytest.raises(GitHubError, match="documented shape"):
        repo.pull_request(1)


# --- construction -----------------------------------------------------------------------------


def test_from_environ_names_every_missing_variable_at_once() -> None:
    with pytest.raises(ConfigError) as failed:
        GitHubRepo.from_environ({"GITHUB_API_URL": "https://api.github.com"})

    assert "GITHUB_REPOSITORY" in str(failed.value)
    assert "GITHUB_TOKEN (or GH_TOKEN)" in str(failed.value)


def test_from_environ_reads_gh_token_and_the_api_url(fake: FakeGitHubRest) -> None:
    number = fake.add_pull(REPO, head_sha=HEAD)
    environ = {"GITHUB_REPOSITORY": REPO, "GH_TOKEN": TOKEN, "GITHUB_API_URL": fake.url}

    with GitHubRepo.from_environ(environ) as client:
        assert client.pull_request(number).head_sha == HEAD
        assert repr(client) == f"GitHubRepo(repository={REPO!r}, api_url={fake.url!r})"
        assert_no_token(repr(client), str(vars(client)))


def test_a_plain_http_api_url_off_this_machine_and_a_bad_repository_are_refused() -> None:
    with pytest.raises(ConfigError, match="not https"):
        GitHubRepo(repository=REPO, token=TOKEN, api_url="http://ghe.example/api/v3")
    with pytest.raises(ConfigError, match="not a GitHub repository"):
        GitHubRepo(repository="acme", token=TOKEN)
