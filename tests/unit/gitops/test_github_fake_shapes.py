"""The GitHub REST fake against GitHub's documentation: it answers in the documented shapes
(tests/fakes/cassettes/github_rest_examples.json, the documented examples), with the documented
headers, and it records as a violation every call the documentation does not allow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.github_rest import API_VERSION, MEDIA_TYPE, FakeGitHubRest, serving

CASSETTE = Path(__file__).resolve().parents[2] / "fakes" / "cassettes" / "github_rest_examples.json"
TOKEN = "ghs_" + "ShapeToken" * 4
REPO = "acme/manifests"
HEADERS = {
    "Accept": MEDIA_TYPE,
    "X-GitHub-Api-Version": API_VERSION,
    "Authorization": f"Bearer {TOKEN}",
    "User-Agent": "mpctl-tests",
}


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CASSETTE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def served() -> Iterator[FakeGitHubRest]:
    """One server per module (starting and stopping one costs ~0.2 s); `fake` empties it."""
    github = FakeGitHubRest(TOKEN)
    with serving(github):
        yield github


@pytest.fixture
def fake(served: FakeGitHubRest) -> FakeGitHubRest:
    served.reset()
    served.add_repo(REPO)
    return served


@pytest.fixture
def http(fake: FakeGitHubRest) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.url, headers=HEADERS) as client:
        yield client


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape_mismatches(expected: Any, actual: Any, nullable: set[str], path: str = "") -> list[str]:
    """Where `actual` lacks a documented field or has another JSON type (null only where the
    schema allows it)."""
    if expected is None or actual is None:
        return [] if expected is actual or path in nullable else [f"{path}: null"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: not an object"]
        found: list[str] = []
        for key, value in expected.items():
            where = f"{path}.{key}" if path else key
            if key not in actual:
                found.append(f"{where}: missing")
            else:
                found += shape_mismatches(value, actual[key], nullable, where)
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: not a list"]
        if expected and actual:
            return shape_mismatches(expected[0], actual[0], nullable, f"{path}[]")
        return []
    if _json_type(expected) != _json_type(actual):
        return [f"{path}: {_json_type(actual)}, documented {_json_type(expected)}"]
    return []


def _exercise(fake: FakeGitHubRest, http: httpx.Client) -> dict[str, httpx.Response]:
    """One answer of every documented operation, each with non-empty lists where it can, and
    every list longer than its page (so the documented `Link` header is due)."""
    root = f"/repos/{REPO}"
    number = fake.add_pull(
        REPO, head_sha="a" * 40, labels=["bug"], merged=True, merge_commit_sha="b" * 40
    )
    issue = fake.add_issue(REPO, title="drift", labels=["bug"])
    for n in range(3):
        fake.add_comment(REPO, number, f"c{n}", "octocat")
    artifact = fake.add_artifact(REPO, run_id=9, name="plan", content=b"PK\x05\x06" + b"\0" * 18)
    fake.add_artifact(REPO, run_id=9, name="audit", content=b"PK")
    fake.add_pull(REPO, head_sha="b" * 40)
    comment = http.post(f"{root}/issues/{number}/comments", json={"body": "Me too"})
    return {
        "pulls/get": http.get(f"{root}/pulls/{number}"),
        "repos/list-pull-requests-associated-with-commit": http.get(
            f"{root}/commits/{'b' * 40}/pulls?per_page=1"
        ),
        "issues/list-comments": http.get(f"{root}/issues/{number}/comments?per_page=2"),
        "issues/create-comment": comment,
        "issues/update-comment": http.patch(
            f"{root}/issues/comments/{comment.json()['id']}", json={"body": "Me three"}
        ),
        "issues/list-for-repo": http.get(f"{root}/issues", params={"state": "all", "per_page": 1}),
        "issues/create": http.post(
            f"{root}/issues", json={"title": "Found a bug", "body": "x", "labels": ["bug"]}
        ),
        "issues/update": http.patch(
            f"{root}/issues/{issue}", json={"state": "closed", "state_reason": "completed"}
        ),
        "issues/get-label": http.get(f"{root}/labels/bug"),
        "issues/create-label": http.post(
            f"{root}/labels", json={"name": "mpctl:drift", "color": "f29513", "description": "d"}
        ),
        "actions/list-workflow-run-artifacts": http.get(
            f"{root}/actions/runs/9/artifacts?per_page=1"
        ),
        "actions/download-artifact": http.get(f"{root}/actions/artifacts/{artifact}/zip"),
    }


def test_the_fake_answers_every_operation_in_the_documented_shape(
    fake: FakeGitHubRest, http: httpx.Client, documented: dict[str, Any]
) -> None:
    answers = _exercise(fake, http)

    mismatches: list[str] = []
    for interaction in documented["interactions"]:
        answer = answers[interaction["operation"]]
        assert answer.status_code == interaction["status"], interaction["operation"]
        for header in interaction["documented_headers"]:
            assert header in answer.headers, (interaction["operation"], header)
        if interaction["body"] is not None:
            nullable = set(interaction["nullable"])
            found = shape_mismatches(interaction["body"], answer.json(), nullable)
            mismatches += [f"{interaction['operation']}: {m}" for m in found]
    assert mismatches == []
    assert {i["operation"] for i in documented["interactions"]} == set(answers)
    assert fake.violations == []


def test_the_fakes_link_header_reads_as_the_documented_one(
    fake: FakeGitHubRest, http: httpx.Client, documented: dict[str, Any]
) -> None:
    number = fake.add_issue(REPO, title="busy")
    for n in range(7):
        fake.add_comment(REPO, number, f"c{n}", "octocat")
    sample = httpx.Response(200, headers={"Link": documented["pagination_link_example"]})

    middle = http.get(f"/repos/{REPO}/issues/{number}/comments", params={"per_page": 3, "page": 2})

    assert set(middle.links) == set(sample.links) == {"first", "prev", "next", "last"}
    assert middle.links["next"]["url"].endswith("page=3")
    assert middle.links["last"]["url"].endswith("page=3")
    assert [c["body"] for c in middle.json()] == ["c3", "c4", "c5"]


def test_error_bodies_have_the_documented_shape(
    fake: FakeGitHubRest, http: httpx.Client, documented: dict[str, Any]
) -> None:
    fake.add_label(REPO, "bug")

    missing = http.get(f"/repos/{REPO}/pulls/99")
    duplicate = http.post(f"/repos/{REPO}/labels", json={"name": "BUG", "color": "ffffff"})

    examples = documented["error_examples"]
    assert missing.status_code == 404
    assert shape_mismatches(examples["basic-error"], missing.json(), set()) == []
    assert duplicate.status_code == 422
    assert shape_mismatches(examples["validation-error"], duplicate.json(), set()) == []
    assert duplicate.json()["errors"][0]["code"] == "already_exists"


# --- what the fake refuses ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "kwargs", "violation"),
    [
        ("GET /repos/acme/manifests/pulls", {}, "undocumented endpoint"),
        ("DELETE /repos/acme/manifests/issues/comments/1", {}, "undocumented endpoint"),
        ("GET /repos/acme/manifests/issues?per_page=101", {}, "per_page=101"),
        ("GET /repos/acme/manifests/issues?label=x", {}, "undocumented query parameter"),
        ("GET /repos/acme/manifests/issues?state=opened", {}, "state='opened'"),
        ("POST /repos/acme/manifests/issues", {"json": {"title": "t", "lables": []}},
         "undocumented body field 'lables'"),
        ("POST /repos/acme/manifests/issues", {"json": {"body": "no title"}},
         "title is required"),
        ("POST /repos/acme/manifests/labels", {"json": {"name": "x", "color": "#ffffff"}},
         "is not 6 hex digits"),
        ("PATCH /repos/acme/manifests/issues/1", {"json": {"state": True}},
         "state has the wrong type"),
        ("GET /repos/acme/manifests/actions/artifacts/1/tar", {}, "archive_format"),
    ],
)  # fmt: skip
def test_an_undocumented_call_is_refused_and_recorded(
    fake: FakeGitHubRest,
    http: httpx.Client,
    call: str,
    kwargs: dict[str, Any],
    violation: str,
) -> None:
    fake.add_issue(REPO, title="one")
    method, path = call.split(" ")

    answer = http.request(method, path, **kwargs)

    assert answer.status_code in (200, 201, 404, 422)
    assert len(fake.violations) == 1
    assert violation in fake.violations[0]


def test_missing_headers_are_violations_and_a_wrong_version_is_refused(
    fake: FakeGitHubRest,
) -> None:
    bare = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=fake.url) as http:
        http.get(f"/repos/{REPO}/issues", headers=bare)
        wrong = http.get(
            f"/repos/{REPO}/issues", headers={**HEADERS, "X-GitHub-Api-Version": "2020-01-01"}
        )
        no_agent = http.get(f"/repos/{REPO}/issues", headers={**HEADERS, "User-Agent": ""})
        anonymous = http.get(f"/repos/{REPO}/issues", headers={"User-Agent": "x"})

    assert (wrong.status_code, no_agent.status_code, anonymous.status_code) == (400, 403, 401)
    assert any("Accept" in v for v in fake.violations)
    assert any("no X-GitHub-Api-Version" in v for v in fake.violations)
    assert any("2020-01-01" in v for v in fake.violations)
    assert any("User-Agent" in v for v in fake.violations)


def test_the_token_sent_to_the_signed_download_url_is_a_violation(
    fake: FakeGitHubRest, http: httpx.Client
) -> None:
    artifact = fake.add_artifact(REPO, run_id=1, name="plan", content=b"PK")
    redirect = http.get(f"/repos/{REPO}/actions/artifacts/{artifact}/zip")

    leaked = http.get(redirect.headers["location"])
    clean = httpx.get(redirect.headers["location"])

    assert (redirect.status_code, leaked.status_code, clean.status_code) == (302, 403, 200)
    assert clean.content == b"PK"
    assert fake.violations == [
        f"GET /_signed/{artifact}: the GitHub token was sent to the signed download URL"
    ]
