from idpbuilder.store.watch import Event, WatchHub

GR = ("", "configmaps")


def _event(rv: int, size: int) -> Event:
    return Event("ADDED", rv, GR, "default", f"cm{rv}", b'{"x":"' + b"a" * size + b'"}', {})


def test_history_is_bounded_by_bytes_and_compacts_in_order() -> None:
    hub = WatchHub(window=1000, max_bytes=10_000)
    for rv in range(1, 101):
        hub.publish(_event(rv, 1000))
    assert hub.history_bytes <= 10_000
    assert len(hub.history) < 100
    assert hub.compacted_rv == hub.history[0].rv - 1
    assert [e.rv for e in hub.since(GR, 0)] == list(range(hub.compacted_rv + 1, 101))


def test_history_is_bounded_by_count() -> None:
    hub = WatchHub(window=5)
    for rv in range(1, 11):
        hub.publish(_event(rv, 10))
    assert [e.rv for e in hub.history] == [6, 7, 8, 9, 10]
    assert hub.compacted_rv == 5


def test_one_event_larger_than_the_budget_is_kept() -> None:
    hub = WatchHub(window=10, max_bytes=100)
    hub.publish(_event(1, 5000))
    assert [e.rv for e in hub.history] == [1]


def test_parsed_objects_are_not_kept_in_history() -> None:
    hub = WatchHub()
    ev = _event(1, 10)
    assert ev.obj()["x"] == "a" * 10
    hub.publish(ev)
    assert hub.history[0]._obj is None
    assert hub.history[0].obj()["x"] == "a" * 10
