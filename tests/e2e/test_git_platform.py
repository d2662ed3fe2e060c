"""The git server of a running `idp up`: `idp repo`, real `git` over HTTPS, and the push webhook."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import Platform
from tests.gitserver.gitutil import commit, git, git_env, work_repo

pytestmark = pytest.mark.slow


def idp_repo(platform: Platform, *args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "idpbuilder.cli.repo", "--data-dir",
                           str(data_dir or platform.data_dir), *args], capture_output=True, text=True, timeout=60)


def test_repo_commands_and_git_over_https(platform: Platform, tmp_path: Path):
    env = git_env(tmp_path / "home")
    ca = f"http.sslCAInfo={platform.ca}"

    created = idp_repo(platform, "create", "e2e/app", "--description", "end to end")
    assert created.returncode == 0, created.stderr
    url = f"{platform.url}/git/e2e/app.git"
    assert created.stdout.strip() == f"repository e2e/app created: {url}"
    again = idp_repo(platform, "create", "e2e/app")
    assert again.returncode == 1 and "repository e2e/app already exists" in again.stderr
    invalid = idp_repo(platform, "create", "E2E/app")
    assert invalid.returncode == 2 and "invalid repository" in invalid.stderr

    listed = json.loads(idp_repo(platform, "list", "-o", "json").stdout)
    [row] = [r for r in listed if r["repository"] == "e2e/app"]
    assert row == {"repository": "e2e/app", "name": "e2e.app", "defaultBranch": "main", "head": "",
                   "ready": "True", "url": url, "description": "end to end"}
    assert "e2e/app" in idp_repo(platform, "list").stdout

    shown = idp_repo(platform, "url", "e2e/app")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == url
    push_line = next(line for line in lines if line.startswith("push:"))

    # The printed push command works as printed (the token is read from the data dir by the shell).
    work = tmp_path / "work"
    sha = work_repo(env, work, {"deploy/cm.yaml": "kind: ConfigMap\n"})
    pushed = subprocess.run(["bash", "-c", push_line.removeprefix("push:").strip()], cwd=work, env=env,
                            capture_output=True, text=True, timeout=60)
    assert pushed.returncode == 0, pushed.stderr
    head = platform.kubectl("get", "gitrepository", "e2e.app", "-o", "jsonpath={.status.head}").stdout
    assert head == sha

    token_url = f"https://idp:{platform.admin_token}@127.0.0.1:{platform.port}/git/e2e/app.git"
    clone = tmp_path / "clone"
    git(env, "-c", ca, "clone", "-q", token_url, str(clone))
    assert (clone / "deploy" / "cm.yaml").read_text() == "kind: ConfigMap\n"
    second = commit(env, clone, {"deploy/cm.yaml": "kind: ConfigMap\nmetadata: {}\n"}, "second")
    git(env, "-c", ca, "push", "-q", token_url, "main", cwd=clone)
    assert git(env, "-c", ca, "ls-remote", token_url, "refs/heads/main").stdout.split()[0] == second
    without_ca = git(env, "clone", "-q", token_url, str(tmp_path / "untrusted"), check=False)
    assert without_ca.returncode != 0

    table = platform.kubectl("get", "gitrepositories").stdout
    assert "e2e.app" in table and url in table

    deleted = idp_repo(platform, "delete", "e2e/app")
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.strip() == "repository e2e/app deleted"
    assert not (platform.data_dir / "git" / "e2e" / "app.git").exists()
    gone = git(env, "-c", ca, "ls-remote", token_url, check=False)
    assert gone.returncode != 0 and "not found" in gone.stderr
    missing = idp_repo(platform, "delete", "e2e/app")
    assert missing.returncode == 1 and "repository e2e/app not found" in missing.stderr


def test_repo_commands_without_a_running_platform(platform: Platform, tmp_path: Path):
    result = idp_repo(platform, "list", data_dir=tmp_path / "nothing")
    assert result.returncode == 1
    assert "no platform is running" in result.stderr and "idp up" in result.stderr


def test_github_webhook_with_signature(platform: Platform):
    payload = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": "f" * 40,
                          "repository": {"html_url": "https://github.com/Example/Guestbook",
                                         "clone_url": "https://github.com/Example/Guestbook.git"}}).encode()
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    platform.kubectl("create", "secret", "generic", "idp-webhook", "-n", "idp-system",
                     "--from-literal=secret=e2e-secret")
    try:
        with platform.client(token=None) as http:
            unsigned = http.post("/api/webhook", content=payload, headers=headers)
            wrong = http.post("/api/webhook", content=payload,
                              headers={**headers, "X-Hub-Signature-256": "sha256=" + "ab" * 32})
            signature = "sha256=" + hmac.new(b"e2e-secret", payload, hashlib.sha256).hexdigest()
            signed = http.post("/api/webhook", content=payload, headers={**headers, "X-Hub-Signature-256": signature})
    finally:
        platform.kubectl("delete", "secret", "idp-webhook", "-n", "idp-system")
    assert unsigned.status_code == 401 and unsigned.json()["kind"] == "Status"
    assert wrong.status_code == 403
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert body["provider"] == "github" and body["event"] == "push"
    assert body["repositories"] == ["github.com/example/guestbook"]
    assert (body["ref"], body["after"]) == ("refs/heads/main", "f" * 40)
