"""What the `mpctl gitops` end-to-end tests share: a repository on the fake GitHub, projects
with two embedded-emulator environments, and the real CLI.

The project is the example trimmed to two clients (`billing-invoices` with ACME's own scope,
`reelle-supplier` acting for a customer through an Altinn delegation) and one scope, with a
second embedded-emulator environment `staging` beside `local` (each has its own emulator state).
Templates are made once per session (fresh, and `local` converged by `mpctl apply`); each test
works on a copy. GitHub is `tests/fakes/github_rest.py` on a free port; every test ends with
`fake.violations == []`. Pull requests are labelled and merged the way GitHub does it, by
changing the fake's records (the API has no endpoint for merging that mpctl would call).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mpctl.cli.environment import emulator_settings, open_workspace
from mpctl.cli.main import main
from mpctl.emulator import create_app
from mpctl.gitops import Marker, parse_marker
from tests.e2e.harness import build_project
from tests.fakes.github_rest import CommentRecord, FakeGitHubRest, IssueRecord, serving

TOKEN = "ghs_" + "GitOpsT0ken" * 3
REPO = "acme/maskinporten-manifests"
HEAD = "1" * 40
MERGE = "2" * 40
RUN_ID = "4242"
CLIENTS = ("billing-invoices", "reelle-supplier")
SCOPES = ("acme:invoices.read",)
PROJECT = "313367002/acme-platform"
DELEGATION = {
    "consumer_orgno": "910753614",
    "supplier_orgno": "313367002",
    "scope": "brreg:reelle/rapporteringspliktig",
}
_LOCAL_BLOCK_END = "      private_key: {file: ./.mpctl/local/admin-key.pem}\n"
_GITHUB_VARIABLES = (
    "GITHUB_SHA",
    "GITHUB_REF",
    "GITHUB_EVENT_NAME",
    "GITHUB_ACTOR",
    "GH_TOKEN",
    "MPCTL_ENV",
    "MPCTL_MANIFESTS",
    "MPCTL_GITHUB_AUTHOR",
    "MPCTL_ARTIFACT_NAME",
    "MPCTL_DELETE_LABEL",
    "MPCTL_REPLACE_LABEL",
    "MPCTL_PROTECTED_LABEL",
)


@dataclass(frozen=True)
class Templates:
    fresh: Path
    converged: Path


def with_staging(project: Path) -> Path:
    """Add `staging`, a second embedded-emulator environment, to the project's mpctl.yaml."""
    config = project / "mpctl.yaml"
    text = config.read_text(encoding="utf-8")
    start = text.index("  local:\n")
    end = text.index(_LOCAL_BLOCK_END) + len(_LOCAL_BLOCK_END)
    staging = text[start:end].replace("local", "staging")
    config.write_text(text[:end] + staging + text[end:], encoding="utf-8")
    return project


def make_templates(base: Path) -> Templates:
    fresh = with_staging(build_project(base / "fresh", clients=CLIENTS, scopes=SCOPES))
    converged = base / "converged"
    shutil.copytree(fresh, converged)
    code = main(["apply", "--manifests", str(converged), "-e", "local", "--auto-approve"])
    assert code == 0, "the converged template did not apply"
    return Templates(fresh, converged)


def copy_of(template: Path, target: Path) -> Path:
    shutil.copytree(template, target, symlinks=True)
    return target


@dataclass
class GitHub:
    """One repository on the fake, as the tests see it."""

    fake: FakeGitHubRest

    def open_pull(self, *labels: str) -> int:
        return self.fake.add_pull(REPO, head_sha=HEAD, labels=labels)

    def set_labels(self, number: int, *labels: str) -> None:
        for label in labels:
            self.fake.add_label(REPO, label)
        with self.fake.lock:
            self.fake.repos[REPO.lower()].issues[number].labels = list(labels)

    def merge(self, number: int, sha: str = MERGE) -> None:
        """Merge pull request `number` with merge commit `sha`, as GitHub records it."""
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.fake.lock:
            issue = self.fake.repos[REPO.lower()].issues[number]
            assert issue.pull is not None
            issue.pull.merged, issue.pull.merge_commit_sha, issue.pull.merged_at = True, sha, now
            issue.state, issue.closed_at = "closed", now

    def comments(self, number: int) -> list[CommentRecord]:
        return self.fake.comments(REPO, number)

    def marked(self, number: int, kind: str) -> dict[str, CommentRecord]:
        """mpctl's comments of `kind` on `number`, by environment (a second one fails)."""
        found: dict[str, CommentRecord] = {}
        for comment in self.comments(number):
            marker = parse_marker(comment.body)
            if marker is not None and marker.kind == kind:
                assert marker.env not in found, f"two {kind} comments for {marker.env}"
                found[marker.env] = comment
        return found

    def marker(self, number: int, kind: str, env: str) -> Marker:
        found = parse_marker(self.marked(number, kind)[env].body)
        assert found is not None
        return found

    def issues(self) -> list[IssueRecord]:
        return self.fake.issues(REPO)


@pytest.fixture(scope="session")
def gitops_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return make_templates(tmp_path_factory.mktemp("gitops-templates"))


@pytest.fixture(scope="module")
def github_server() -> Iterator[FakeGitHubRest]:
    fake = FakeGitHubRest(TOKEN)
    with serving(fake):
        yield fake


@pytest.fixture
def github(github_server: FakeGitHubRest, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHub]:
    """An empty repository on the fake and a CI job's environment pointing at it."""
    github_server.reset()
    github_server.add_repo(REPO)
    for name in _GITHUB_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", github_server.url)
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_RUN_ID", RUN_ID)
    yield GitHub(github_server)
    assert github_server.violations == []


def gitops(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    """`mpctl gitops ARGS --manifests PROJECT` through the CLI's entry point: code, output."""
    code = main(["gitops", *args, "--manifests", str(project)])
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert TOKEN not in output
    return code, output


def mpctl(capsys: pytest.CaptureFixture[str], project: Path, *args: str) -> tuple[int, str]:
    code = main([*args, "--manifests", str(project)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def change_delegation(project: Path, *, revoked: bool) -> None:
    """Revoke (or restore) the customer's Altinn delegation behind reelle-supplier in `local`,
    through the emulator's own control surface (`/_emulator/delegations`)."""
    workspace = open_workspace(project, "local")
    embedded = workspace.environment.emulator
    assert embedded is not None
    settings = emulator_settings(workspace, embedded).model_copy(update={"control_enabled": True})

    async def go() -> None:
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            method = "DELETE" if revoked else "POST"
            response = await client.request(method, "/_emulator/delegations", json=DELEGATION)
            response.raise_for_status()

    asyncio.run(go())


def edit(project: Path, relative: str, old: str, new: str) -> None:
    """Change one manifest the way a commit would."""
    path = project / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
