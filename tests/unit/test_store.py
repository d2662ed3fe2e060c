from __future__ import annotations

import pytest

from idpbuilder.core.errors import ApiError
from idpbuilder.core.selectors import parse_field_selector, parse_label_selector
from idpbuilder.store.store import Store
from idpbuilder.store.watch import Watcher

CM = ("", "configmaps")


def cm(name: str, ns: str = "default", labels: dict | None = None, data: dict | None = None) -> dict:
    meta = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data or {}}


def test_resource_versions_increase_and_survive_reopen(tmp_path):
    path = tmp_path / "state.db"
    store = Store(path)
    rvs = [int(store.put(CM, cm(f"c{i}"), event="ADDED")["metadata"]["resourceVersion"]) for i in range(5)]
    assert rvs == sorted(rvs) and len(set(rvs)) == 5
    store.remove(CM, "default", "c0")
    last = store.rv
    store.close()

    reopened = Store(path)
    assert reopened.rv == last
    assert reopened.get(CM, "default", "c0") is None
    assert reopened.get(CM, "default", "c4")["metadata"]["resourceVersion"] == str(rvs[-1])
    nxt = reopened.put(CM, cm("c9"), event="ADDED")
    assert int(nxt["metadata"]["resourceVersion"]) == last + 1


def test_pagination_with_continue_tokens():
    store = Store()
    for i in range(7):
        store.put(CM, cm(f"c{i}"), event="ADDED")
    names, token = [], ""
    while True:
        entries, _, token, remaining = store.list_page(CM, "default", limit=3, continue_token=token)
        names += [e.obj()["metadata"]["name"] for e in entries]
        if not token:
            assert remaining is None
            break
        assert remaining == 7 - len(names)
    assert names == [f"c{i}" for i in range(7)]


def test_garbage_continue_token_is_bad_request():
    store = Store()
    with pytest.raises(ApiError) as err:
        store.list_page(CM, None, continue_token="not-base64!!")
    assert err.value.code == 400


def test_continue_token_older_than_history_is_gone():
    store = Store(history=3)
    for i in range(4):
        store.put(CM, cm(f"c{i}"), event="ADDED")
    _, _, token, _ = store.list_page(CM, None, limit=1)
    for i in range(5):
        store.put(CM, cm(f"d{i}"), event="ADDED")
    with pytest.raises(ApiError) as err:
        store.list_page(CM, None, limit=1, continue_token=token)
    assert err.value.code == 410


def test_owner_index_tracks_dependents():
    store = Store()
    child = cm("child")
    child["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "p", "uid": "U1"}]
    store.put(CM, child, event="ADDED")
    assert store.dependents("U1") == [(CM, ("default", "child"))]
    del child["metadata"]["ownerReferences"]
    store.put(CM, child, event="MODIFIED")
    assert store.dependents("U1") == []


async def test_watcher_sees_objects_enter_and_leave_its_selector():
    store = Store()
    w = Watcher(CM, "default", parse_label_selector("app=web"), parse_field_selector("", lambda f: True))
    store.hub.add(w)
    store.put(CM, cm("a", labels={"app": "db"}), event="ADDED")        # not matching: nothing
    store.put(CM, cm("a", labels={"app": "web"}), event="MODIFIED")    # enters: ADDED
    store.put(CM, cm("a", labels={"app": "web"}, data={"k": "v"}), event="MODIFIED")  # MODIFIED
    store.put(CM, cm("a", labels={"app": "db"}), event="MODIFIED")     # leaves: DELETED
    store.put(CM, cm("b", ns="other", labels={"app": "web"}), event="ADDED")  # other namespace
    seen = []
    while not w.queue.empty():
        ev = w.queue.get_nowait()
        seen.append((ev.type, ev.name))
    assert seen == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_history_replay_and_compaction():
    store = Store(history=4)
    for i in range(3):
        store.put(CM, cm(f"c{i}"), event="ADDED")
    first = int(store.get(CM, "default", "c0")["metadata"]["resourceVersion"])
    replay = list(store.hub.since(CM, first))
    assert [e.name for e in replay] == ["c1", "c2"]
    for i in range(5):
        store.put(CM, cm(f"x{i}"), event="ADDED")
    assert store.hub.compacted_rv > first


def test_secrets_are_encrypted_at_rest_and_bound_to_their_key(tmp_path):
    import sqlite3

    from idpbuilder.store.encryption import Encryptor

    key_file = tmp_path / "auth" / "encryption.key"
    store = Store(tmp_path / "state.db", encryptor=Encryptor.from_file(key_file))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default", "uid": "u"},
              "data": {"password": "aHVudGVyMg=="}}
    store.put(("", "secrets"), secret, event="ADDED")
    store.put(CM, cm("plain", data={"visible": "yes"}), event="ADDED")
    store.close()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    db = sqlite3.connect(tmp_path / "state.db")
    rows = dict(db.execute("SELECT name, data FROM objects").fetchall())
    assert rows["s"].startswith(b"k8s:enc:aesgcm:v1:key1:") and b"aHVudGVyMg" not in rows["s"]
    assert b'"visible":"yes"' in rows["plain"]
    # A ciphertext moved to another row does not decrypt: the storage key is authenticated data.
    db.execute("INSERT INTO objects VALUES ('', 'secrets', 'other', 's', 99, ?)", (rows["s"],))
    db.commit()
    db.close()
    with pytest.raises(ValueError, match="failed authentication"):
        Store(tmp_path / "state.db", encryptor=Encryptor.from_file(key_file))

    db = sqlite3.connect(tmp_path / "state.db")
    db.execute("DELETE FROM objects WHERE ns='other'")
    db.commit()
    db.close()
    reopened = Store(tmp_path / "state.db", encryptor=Encryptor.from_file(key_file))
    assert reopened.get(("", "secrets"), "default", "s")["data"] == {"password": "aHVudGVyMg=="}
