"""`Loaders` (api/dataloaders.py): each loader is made on first use and kept; read on the class
(as introspection and documentation tools do) it is the descriptor, not an error."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from gqlorders.api.dataloaders import Loader, Loaders, lazy, pending, ready


async def test_a_loader_is_made_once_per_instance_and_is_its_descriptor_on_the_class() -> None:
    loaders = Loaders(organization_id=1)

    assert isinstance(Loaders.customer, lazy)
    assert isinstance(loaders.customer, DataLoader)
    assert loaders.customer is loaders.customer
    assert Loaders(organization_id=1).customer is not loaders.customer


def _recording_loader(calls: list[list[int]]) -> Loader[int, str]:
    async def load(keys: list[int]) -> list[str]:
        calls.append(keys)
        return [f"loaded {key}" for key in keys]

    return Loader(load)


async def test_a_primed_value_is_ready_without_a_future_and_load_gives_it_too() -> None:
    calls: list[list[int]] = []
    loader = _recording_loader(calls)

    loader.prime_many({1: "primed 1", 2: "primed 2"})

    assert not loader.cache_map.futures
    assert ready(loader, 1) == "primed 1"
    assert await loader.load(2) == "primed 2"
    assert await loader.load_many([1, 3]) == ["primed 1", "loaded 3"]
    assert calls == [[3]]


async def test_priming_keeps_what_is_held_unless_forced() -> None:
    calls: list[list[int]] = []
    loader = _recording_loader(calls)
    assert await loader.load(1) == "loaded 1"
    loader.prime_many({2: "primed 2"})

    loader.prime_many({1: "primed 1", 2: "primed again 2", 3: "primed 3"})
    assert [ready(loader, key) for key in (1, 2, 3)] == ["loaded 1", "primed 2", "primed 3"]

    loader.prime_many({1: "forced 1", 2: "forced 2"}, force=True)
    assert [ready(loader, key) for key in (1, 2)] == ["forced 1", "forced 2"]
    assert await loader.load(1) == "forced 1"
    assert calls == [[1]]


async def test_priming_a_key_waiting_in_an_unsent_batch_answers_it_without_loading_it() -> None:
    calls: list[list[int]] = []
    loader = _recording_loader(calls)

    waiting = loader.load_many([1, 2])
    first = ready(loader, 3)
    assert pending(first)
    loader.prime_many({1: "primed 1"})

    assert await waiting == ["primed 1", "loaded 2"]
    assert await first == "loaded 3"
    assert calls == [[2, 3]]
    assert not loader.holds(4) and loader.holds(1) and loader.holds(2)


async def test_a_cleared_key_is_loaded_again() -> None:
    calls: list[list[int]] = []
    loader = _recording_loader(calls)
    loader.prime_many({1: "primed 1"})
    assert await loader.load(1) == "primed 1"

    loader.clear(1)

    assert not loader.holds(1)
    assert await loader.load(1) == "loaded 1"
    loader.clear_all()
    assert not loader.holds(1)
    assert calls == [[1]]


async def test_load_all_loads_what_is_not_held_in_one_call_without_futures() -> None:
    calls: list[list[int]] = []
    loader = _recording_loader(calls)
    loader.prime_many({2: "primed 2"})

    assert await loader.load_all([1, 2, 3, 1]) == ["loaded 1", "primed 2", "loaded 3", "loaded 1"]
    assert await loader.load_all([3, 2]) == ["loaded 3", "primed 2"]

    assert calls == [[1, 3]]
    assert not loader.cache_map.futures


async def test_load_all_waits_for_a_key_on_its_way_from_another_load() -> None:
    calls: list[list[int]] = []
    loader = _recording_loader(calls)
    elsewhere = loader.load(1)  # in a batch not sent yet

    assert await loader.load_all([1, 2]) == ["loaded 1", "loaded 2"]
    assert await elsewhere == "loaded 1"
    assert calls == [[2], [1]]


async def test_load_all_raises_a_value_that_is_an_exception_and_keeps_nothing_of_the_call() -> None:
    async def load(keys: list[int]) -> list[str | BaseException]:
        return [ValueError(f"no {key}") if key == 2 else f"loaded {key}" for key in keys]

    loader: Loader[int, str] = Loader(load)  # type: ignore[arg-type]  # (exceptions as values)

    try:
        await loader.load_all([1, 2])
    except ValueError as error:
        assert str(error) == "no 2"
    else:
        raise AssertionError("load_all gave a value that was an exception")
    assert not loader.holds(1) and not loader.holds(2)
