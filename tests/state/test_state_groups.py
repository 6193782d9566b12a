"""``Collection.grouped``: an index kept current by every change, equal to a scan."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wakeful.state.collections import Collection
from wakeful.state.events import Change

KEYS = st.sampled_from(["a", "b", "c", "d", "e"])
GROUPS = st.sampled_from(["x", "y", "z"])
OPERATIONS = st.lists(
    st.tuples(st.sampled_from(["insert", "update", "delete"]), KEYS, GROUPS), max_size=60
)


def scan(collection: Collection[Any], value: str) -> list[tuple[str, Any]]:
    """The reference: filter every row, order by first appearance."""
    found = [(key, row) for key, row in collection.items() if row.get("group") == value]
    found.sort(key=lambda item: collection.first_seen(item[0]))
    return found


@given(OPERATIONS, st.integers(min_value=0, max_value=60))
def test_grouped_equals_a_scan_whenever_the_index_was_built(
    operations: list[tuple[str, str, str]], build_at: int
) -> None:
    collection: Collection[Any] = Collection("rows")
    for sequence, (operation, key, group) in enumerate(operations, start=1):
        if sequence == build_at:
            collection.grouped("group", "x")  # the index exists from here on
        value = None if operation == "delete" else {"key": key, "group": group}
        collection.apply(Change("rows", key, operation, value), sequence)  # type: ignore[arg-type]
        for wanted in ("x", "y", "z"):
            if sequence >= build_at:
                assert collection.grouped("group", wanted) == scan(collection, wanted)
    for wanted in ("x", "y", "z", "absent"):
        assert collection.grouped("group", wanted) == scan(collection, wanted)


def test_rows_restored_out_of_order_are_grouped_in_stream_order() -> None:
    collection: Collection[Any] = Collection("rows")
    collection.grouped("group", "x")
    for key, sequence in (("late", 9), ("early", 2), ("middle", 5)):
        collection.apply(Change("rows", key, "insert", {"group": "x"}), sequence)
    assert [key for key, _ in collection.grouped("group", "x")] == ["early", "middle", "late"]


def test_unhashable_values_are_found_by_a_scan() -> None:
    collection: Collection[Any] = Collection("rows")
    collection.apply(Change("rows", "a", "insert", {"group": ["x"]}), 1)
    collection.apply(Change("rows", "b", "insert", {"group": "x"}), 2)
    assert collection.grouped("group", ["x"]) == [("a", {"group": ["x"]})]
    assert collection.grouped("group", "x") == [("b", {"group": "x"})]


def test_clearing_drops_the_index_with_the_rows() -> None:
    collection: Collection[Any] = Collection("rows")
    collection.apply(Change("rows", "a", "insert", {"group": "x"}), 1)
    assert len(collection.grouped("group", "x")) == 1
    collection.clear()
    assert collection.grouped("group", "x") == []
    collection.apply(Change("rows", "b", "insert", {"group": "x"}), 2)
    assert collection.grouped("group", "x") == [("b", {"group": "x"})]
