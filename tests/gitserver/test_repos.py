"""Repository store, name validation, platform commits and push hooks."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from dulwich.object_store import tree_lookup_path
from dulwich.objects import Blob

from idpbuilder.core.errors import ApiError
from idpbuilder.gitserver import ZERO_SHA, PushHooks, RepoStore
from idpbuilder.gitserver.hooks import DulwichPostReceive


@pytest.fixture
def store(tmp_path: Path) -> RepoStore:
    return RepoStore.in_data_dir(tmp_path, hooks=PushHooks())


def read(store: RepoStore, org: str, name: str, ref: str, path: str) -> bytes:
    repo = store.open(org, name)
    try:
        tree = repo[repo.refs[ref.encode()]].tree
        _, sha = tree_lookup_path(repo.object_store.__getitem__, tree, path.encode())
        blob = repo[sha]
        assert isinstance(blob, Blob)
        return blob.data
    finally:
        repo.close()


@pytest.mark.parametrize(("org", "name"), [
    ("..", "app"), ("team", ".."), ("team", "a/b"), ("team", "../x"), ("Team", "app"), ("team", "App"),
    ("-team", "app"), ("team", "_app"), ("", "app"), ("team", ""), ("team", "app.git"), ("team", "a" * 101),
    ("team", "app\n"), ("te am", "app"),
])
def test_invalid_names_are_rejected(store: RepoStore, org: str, name: str):
    with pytest.raises(ApiError) as info:
        store.create(org, name)
    assert info.value.code == 422
    assert info.value.reason == "Invalid"
    assert not store.exists(org, name)
    assert not store.root.exists() or not any(store.root.rglob("*"))


def test_create_list_get_delete(store: RepoStore, tmp_path: Path):
    a = store.create("team", "app")
    assert a.path == tmp_path / "git" / "team" / "app.git"
    assert (a.path / "HEAD").read_text().strip() == "ref: refs/heads/main"
    store.create("team", "web-1.x_y", default_branch="trunk")
    store.create("infra", "cluster")
    assert [r.full_name for r in store.list()] == ["infra/cluster", "team/app", "team/web-1.x_y"]
    assert [r.full_name for r in store.list("team")] == ["team/app", "team/web-1.x_y"]
    assert store.list("nobody") == []
    assert (store.get("team", "web-1.x_y").path / "HEAD").read_text().strip() == "ref: refs/heads/trunk"

    with pytest.raises(ApiError) as dup:
        store.create("team", "app")
    assert (dup.value.code, dup.value.reason) == (409, "AlreadyExists")
    assert store.create("team", "app", exist_ok=True) == a

    store.delete("infra", "cluster")
    assert not (tmp_path / "git" / "infra").exists()
    assert not store.exists("infra", "cluster")
    for call in (lambda: store.get("infra", "cluster"), lambda: store.delete("infra", "cluster")):
        with pytest.raises(ApiError) as missing:
            call()
        assert missing.value.code == 404
        assert missing.value.message == 'repositories "infra/cluster" not found'


def test_commit_files_builds_history_and_notifies(store: RepoStore):
    events: list[tuple[str, ...]] = []
    assert store.hooks is not None
    store.hooks.add(lambda *e: events.append(e))
    store.create("team", "app")

    first = store.commit_files("team", "app", {"k8s/cm.yaml": "kind: ConfigMap\n", "README.md": b"hi\n"},
                               message="seed")
    assert read(store, "team", "app", "refs/heads/main", "k8s/cm.yaml") == b"kind: ConfigMap\n"
    second = store.commit_files("team", "app", {"README.md": None, "k8s/deep/x.json": "{}"}, message="two")
    assert read(store, "team", "app", "refs/heads/main", "k8s/cm.yaml") == b"kind: ConfigMap\n"
    assert read(store, "team", "app", "refs/heads/main", "k8s/deep/x.json") == b"{}"
    with pytest.raises(KeyError):
        read(store, "team", "app", "refs/heads/main", "README.md")
    # Nothing changed: no new commit, no notification.
    assert store.commit_files("team", "app", {"README.md": None}, message="noop") == second

    repo = store.open("team", "app")
    try:
        assert repo[second.encode()].parents == [first.encode()]
    finally:
        repo.close()
    assert events == [("team", "app", "refs/heads/main", ZERO_SHA, first),
                      ("team", "app", "refs/heads/main", first, second)]

    for bad in ("../x", "/abs", "a//b", ".git/config", ""):
        with pytest.raises(ApiError) as info:
            store.commit_files("team", "app", {bad: "x"}, message="bad")
        assert info.value.code == 400


def test_post_receive_reports_only_refs_that_moved(store: RepoStore):
    store.create("team", "app")
    sha = store.commit_files("team", "app", {"a": "1"}, message="one").encode()
    hooks = PushHooks()
    events: list[tuple[str, ...]] = []
    hooks.add(lambda *e: events.append(e))
    repo = store.open("team", "app")
    try:
        hook = DulwichPostReceive(hooks, "team", "app", repo.refs)
        hook.execute([(b"0" * 40, sha, b"refs/heads/main"),          # applied
                      (b"0" * 40, b"1" * 40, b"refs/heads/other"),   # not applied (ref missing)
                      (sha, b"0" * 40, b"refs/heads/gone")])         # a deletion that happened
    finally:
        repo.close()
    assert events == [("team", "app", "refs/heads/main", ZERO_SHA, sha.decode()),
                      ("team", "app", "refs/heads/gone", sha.decode(), ZERO_SHA)]


def test_failing_listener_does_not_stop_others():
    hooks = PushHooks()
    seen: list[str] = []

    def broken(*_: str) -> None:
        raise RuntimeError("boom")

    hooks.add(broken)
    remove = hooks.add(lambda *e: seen.append(e[2]))
    hooks.notify("o", "r", "refs/heads/main", ZERO_SHA, "a" * 40)
    assert seen == ["refs/heads/main"]
    remove()
    hooks.remove(broken)
    assert len(hooks) == 0


def test_async_listener_needs_a_loop():
    async def listener(*_: str) -> None:
        return None

    with pytest.raises(ValueError):
        PushHooks().add(listener)


def test_async_listener_from_another_thread():
    hooks = PushHooks()
    loop = asyncio.new_event_loop()
    heard: list[str] = []
    done = threading.Event()

    async def listener(org: str, repo: str, ref: str, old: str, new: str) -> None:
        heard.append(new)
        done.set()

    hooks.add(listener, loop=loop)
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        hooks.notify("o", "r", "refs/heads/main", ZERO_SHA, "b" * 40)
        assert done.wait(5)
        assert heard == ["b" * 40]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()
