"""Revision resolution and reading files at a commit: local store, file:// and http(s) via dulwich."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from idpbuilder.gitops.sources import SourceError, SourceFetcher
from idpbuilder.gitserver import GitHTTPApp
from tests.gitserver.gitutil import git, serve

from .conftest import RepoFactory, Symlink


@pytest.fixture
def history(repos: RepoFactory) -> dict[str, str]:
    """A repository with main, a branch, lightweight and annotated tags, and a tag named like a branch."""
    work = repos.work("app", {"version.txt": "1\n"})
    first = repos.head(work)
    git(repos.env, "tag", "v1", cwd=work)
    git(repos.env, "tag", "-a", "v1-annotated", "-m", "release", cwd=work)
    git(repos.env, "tag", "dev", cwd=work)  # same name as the branch below; the branch wins
    second = repos.write(work, {"version.txt": "2\n"})
    git(repos.env, "branch", "dev", cwd=work)
    third = repos.write(work, {"version.txt": "3\n"})
    url = repos.publish(work, "app")
    return {"url": url, "first": first, "second": second, "third": third, "work": str(work)}


@pytest.mark.parametrize(("revision", "expected"), [
    ("", "third"), ("HEAD", "third"), ("main", "third"), ("refs/heads/main", "third"), ("dev", "second"),
    ("refs/tags/dev", "first"), ("v1", "first"), ("v1-annotated", "first"),
    ("refs/tags/v1-annotated", "first"),
])
def test_revisions_resolve_like_argo_cd(fetcher: SourceFetcher, history: dict[str, str], revision: str,
                                        expected: str):
    assert fetcher.resolve(history["url"], revision) == history[expected]


def test_commit_shas_full_and_abbreviated(fetcher: SourceFetcher, history: dict[str, str]):
    first = history["first"]
    assert fetcher.resolve(history["url"], first) == first
    assert fetcher.resolve(history["url"], first.upper()) == first
    assert fetcher.resolve(history["url"], first[:8]) == first
    with fetcher.snapshot(history["url"], first[:7]) as snap:
        assert snap.read("version.txt") == b"1\n"
        assert snap.revision == first[:7]


def test_unknown_revisions_name_repo_and_revision(fetcher: SourceFetcher, history: dict[str, str]):
    url = history["url"]
    for revision in ("nope", "refs/heads/nope", "main2", "deadbeef1"):
        with pytest.raises(SourceError) as info:
            fetcher.resolve(url, revision)
        assert info.value.message == f"unable to resolve '{revision}' to a commit SHA in repository {url}"
        assert (info.value.repo_url, info.value.revision) == (url, revision)
    with pytest.raises(SourceError) as missing:
        fetcher.resolve(url, "f" * 40)
    assert missing.value.message == f"commit {'f' * 40} not found in repository {url}"


def test_unknown_repositories(fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path):
    for url in ("https://git.idp.test/git/team/missing.git", "https://git.idp.test/git/team/../x.git",
                f"file://{tmp_path}/nowhere"):
        with pytest.raises(SourceError) as info:
            fetcher.resolve(url, "main")
        assert info.value.message == f"repository not found: {url}"
    empty = repos.store.create("team", "empty")
    assert empty
    with pytest.raises(SourceError, match="unable to resolve 'HEAD' to a commit SHA in repository"):
        fetcher.resolve("https://git.idp.test/git/team/empty.git", "")
    with pytest.raises(SourceError, match="source has no repoURL"):
        fetcher.resolve("", "main")
    for url in ("ssh://git@example.com/x/y.git", "git@example.com:x/y.git", "/srv/repo.git"):
        with pytest.raises(SourceError) as bad:
            fetcher.resolve(url, "main")
        assert bad.value.message.startswith("unsupported repository URL (use http, https or file): ")


def test_file_urls_are_fetched_into_the_cache(repos: RepoFactory, history: dict[str, str], tmp_path: Path):
    fetcher = SourceFetcher(tmp_path / "cache")
    url = f"file://{history['work']}"
    assert fetcher.resolve(url, "dev") == history["second"]
    assert fetcher.resolve(url, "v1-annotated") == history["first"]
    cached = list((tmp_path / "cache").glob("*.git"))
    assert len(cached) == 1
    # A new commit upstream is seen on the next resolve.
    newer = repos.write(Path(history["work"]), {"version.txt": "4\n"})
    assert fetcher.resolve(url, "main") == newer
    with fetcher.snapshot(url, "main") as snap:
        assert snap.read("version.txt") == b"4\n"


def test_http_urls_through_the_embedded_server(repos: RepoFactory, history: dict[str, str], tmp_path: Path):
    app = GitHTTPApp(repos.store, {"tok": "u"}.get, anonymous_read=True)
    server, thread, port = serve(app)
    try:
        fetcher = SourceFetcher(tmp_path / "cache")
        url = f"http://127.0.0.1:{port}/git/team/app.git"
        assert fetcher.resolve(url, "main") == history["third"]
        with fetcher.snapshot(url, "v1") as snap:
            assert snap.read("version.txt") == b"1\n"
        with pytest.raises(SourceError) as info:
            fetcher.resolve(f"http://127.0.0.1:{port}/git/team/missing.git", "main")
        assert info.value.message == f"repository not found: http://127.0.0.1:{port}/git/team/missing.git"
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()
    # The server is gone: a commit SHA already in the cache still resolves, anything else fails clearly.
    assert fetcher.resolve(url, history["second"]) == history["second"]
    with pytest.raises(SourceError) as down:
        fetcher.resolve(url, "main")
    assert down.value.message.startswith(f"failed to fetch {url}: ")


def test_http_credentials_are_required_when_the_server_wants_them(repos: RepoFactory, history: dict[str, str],
                                                                  tmp_path: Path):
    app = GitHTTPApp(repos.store, {"tok": "u"}.get)
    server, thread, port = serve(app)
    try:
        fetcher = SourceFetcher(tmp_path / "cache")
        with pytest.raises(SourceError, match="authentication required to fetch"):
            fetcher.resolve(f"http://127.0.0.1:{port}/git/team/app.git", "main")
        with_token = f"http://x:tok@127.0.0.1:{port}/git/team/app.git"
        assert fetcher.resolve(with_token, "main") == history["third"]
        with pytest.raises(SourceError) as info:
            fetcher.resolve(with_token, "nope")
        assert info.value.message == ("unable to resolve 'nope' to a commit SHA in repository "
                                      f"http://127.0.0.1:{port}/git/team/app.git")
        assert info.value.repo_url == f"http://127.0.0.1:{port}/git/team/app.git"
    finally:
        server.should_exit = True
        thread.join(10)
        app.close()


def test_snapshot_reads_trees_without_a_checkout(fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path):
    url, sha = repos.make("files", {"bin/run.sh": "#!/bin/sh\n",
                                    "link.yaml": Symlink("manifests/sub/namespace.yaml"),
                                    "dirlink": Symlink("manifests/sub"), "dangling": Symlink("nowhere")})
    (repos.tmp / "work" / "files" / "bin" / "run.sh").chmod(0o755)
    sha = repos.write(repos.tmp / "work" / "files", {})
    repos.publish(repos.tmp / "work" / "files", "files")
    with fetcher.snapshot(url, "main") as snap:
        assert snap.sha == sha
        assert snap.read("link.yaml") == snap.read("manifests/sub/namespace.yaml")
        assert [e.name for e in snap.listdir("dirlink")] == ["deeper", "namespace.yaml"]
        assert snap.resolve("dangling") is None
        assert snap.lookup("link.yaml").is_symlink
        assert [e.path for e in snap.walk("manifests/sub")] == ["manifests/sub/deeper/secret.yml",
                                                                 "manifests/sub/namespace.yaml"]
        assert [e.path for e in snap.walk("manifests/sub", recurse=False)] == ["manifests/sub/namespace.yaml"]
        with pytest.raises(SourceError, match="no such file"):
            snap.read("manifests")
        out = snap.checkout(tmp_path / "checkout")
        assert (out / "chart" / "Chart.yaml").read_text().startswith("apiVersion: v2")
        assert (out / "bin" / "run.sh").stat().st_mode & stat.S_IXUSR
        assert (out / "link.yaml").is_symlink() and (out / "link.yaml").read_text().startswith("apiVersion")


@pytest.mark.parametrize("target", ["../../outside", "/etc/passwd", "sub/../../../x",
                                    "manifests/../../../etc"])
def test_out_of_bounds_symlinks_are_refused(fetcher: SourceFetcher, repos: RepoFactory, tmp_path: Path,
                                            target: str):
    url, _ = repos.make("links", {"manifests/evil.yaml": Symlink(target)})
    with fetcher.snapshot(url, "main") as snap, pytest.raises(SourceError) as info:
        snap.check_symlinks()
    assert info.value.message == "repository contains out-of-bounds symlinks. file: manifests/evil.yaml"
    with fetcher.snapshot(url, "main") as snap, pytest.raises(SourceError):
        snap.checkout(tmp_path / "never")
    assert not (tmp_path / "never" / "chart").exists()


def test_in_bounds_symlinks_are_fine(fetcher: SourceFetcher, repos: RepoFactory):
    url, _ = repos.make("links", {"a/b/up.yaml": Symlink("../../manifests/02-service.json"),
                                  "a/here": Symlink(".")})
    with fetcher.snapshot(url, "main") as snap:
        snap.check_symlinks()
        assert snap.read("a/b/up.yaml").startswith(b"{")


def test_fetches_are_incremental(repos: RepoFactory, tmp_path: Path):
    work = repos.work("big", {"blob.bin": os.urandom(1_000_000)}, fixtures=False)
    fetcher = SourceFetcher(tmp_path / "cache")
    url = f"file://{work}"
    fetcher.resolve(url, "main")
    newer = repos.write(work, {"small.txt": "x\n"})
    assert fetcher.resolve(url, "main") == newer
    packs = sorted(p.stat().st_size for p in (tmp_path / "cache").rglob("*.pack"))
    assert len(packs) == 2
    assert packs[0] < 10_000 < 1_000_000 < packs[1]  # the second fetch only brought the new commit
