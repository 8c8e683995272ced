"""Transactions and queries in moto's DynamoDB that cost what they touch, not the whole
table, and two lookups moto repeats on every request, made once.

moto 5.2's `DynamoDBBackend.transact_write_items` takes its rollback snapshot by deep-copying
every table a transaction names, once per item of the transaction, and on failure puts the
copies back. Every write of this product is a transaction of 4 to 8 items, so each write
copied the whole table 4 to 8 times: O(items x table) per request, gigabytes of garbage
after a long run.

`apply()` wraps that function. Before it runs, the wrapper copies only the items the
transaction names (one deep copy each, absent ones as None) and each table's stream length.
While it runs, moto's own copies of the tables are handed the live table instead (its
rollback then puts back the table it already has). If moto ends the transaction with an
error (a failed condition, a repeated item, a validation error: every path on which it
rolls back), the wrapper restores the named items and cuts the stream records the
transaction appended. Everything else is moto's own code: the order of the cancellation
reasons, one operation per item, the 100-item limit.

A Query of the table (not of an index) in moto sorts every item of the table and keeps
those of the partition asked for: O(table log table) per page. While a wrapped query of
the table runs, the table's `all_items` answers that partition's items only, and of a
partition with string sort keys only those the key condition can match (compared as
strings, as moto compares them); moto sorts them and applies the condition itself, so
the page, its order and its LastEvaluatedKey are the same. A Scan page in moto sorts the
whole table with key objects compared in Python, then walks past the pages before it;
while a wrapped scan of a table with string keys runs, `all_items` answers the items
after the start key, sorted by the same keys as plain strings.

On every request moto also lists its own package directory (`list_of_moto_modules`, to
route by host) and inspects the response class's methods (`method_names_from_class`):
about a sixth of its time when the product seeds users. Both answers are fixed for the
process (the installed package, a class), so `apply()` computes each once.

The patches rely on the exact text of the functions they replace: `apply()` refuses to run
on another moto version or another text of those functions (test_moto_patches.py checks
both), so an upgrade fails loudly instead of silently unpatching.
"""

import bisect
import copy
import functools
import hashlib
import inspect
from typing import Any

import moto
import moto.backends as moto_backends
import moto.core.responses as moto_responses
import moto.core.utils as moto_utils
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

# The version requirements-dev.txt pins, and the SHA-256 of the source of each function
# patched, in it. They change together, after reading the new functions.
MOTO_VERSION = "5.2.5"
ORIGINAL_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
PATCHED_FUNCTIONS = {
    "DynamoDBBackend.transact_write_items": (
        ORIGINAL_TRANSACT_WRITE_ITEMS,
        "81db2cb7d94e39c90b3a2077e1f4bb41a449c558ef9b1b1e2910fdaa39978ad4",
    ),
    "Table.query": (
        Table.query,
        "002b4d00be6df07cf37f6cbe0132e5eb89455ae12a8e79b23db3fb492450f21e",
    ),
    "Table.scan": (
        Table.scan,
        "5ef1ab21eef06a74d4d142aaf817f31c3147c39fd9aaaa5dd037cb62d64e4af3",
    ),
    "Table.all_items": (
        Table.all_items,
        "c80d2ee3c896acd0cab6ca35aaeae3ab3fb65858933f8a3403d4e027c240f31d",
    ),
    "backends.list_of_moto_modules": (moto_backends.list_of_moto_modules, "4f741a10b06500e840c3aaa1b4f02706e6f2bfbababc0e8a2a7b9c9d0e8957dc"),
    "core.utils.method_names_from_class": (moto_utils.method_names_from_class, "9dbac89d082b655fee902c450e69de9dbadf9699ad06411298494984b55138c3"),
}


def source_sha256(function: Any) -> str:
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()


def check_patched_functions() -> None:
    """Raises unless moto is the version and the functions the patches were written for."""
    if moto.__version__ != MOTO_VERSION:
        raise RuntimeError(
            f"moto {moto.__version__} is installed; local/moto_patches.py was written for "
            f"{MOTO_VERSION}: read the functions it patches and update the patch"
        )
    for name, (function, recorded) in PATCHED_FUNCTIONS.items():
        found = source_sha256(function)
        if found != recorded:
            raise RuntimeError(
                f"moto's {name} is not the text local/moto_patches.py patches "
                f"(sha256 {found}): read it and update the patch"
            )


class TouchedItems:
    """The items one transaction names, as they were before it, and its tables' stream
    lengths: all that its rollback has to put back."""

    def __init__(self, backend: DynamoDBBackend, transact_items: list[dict[str, Any]]):
        self.items: dict[tuple[str, DynamoType, DynamoType | None], Any] = {}
        self.buckets: set[tuple[str, DynamoType]] = set()
        self.streams: dict[str, int] = {}
        for entry in transact_items:
            if len(entry) != 1:
                continue  # moto refuses it before writing anything
            ((op_type, op),) = entry.items()
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue  # nothing of it can be written
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            place = key_of(table, key)
            if place is None:
                continue  # moto fails it on its key: nothing of it is written
            hash_key, range_key = place
            self.items.setdefault((table.name, hash_key, range_key), copy.deepcopy(stored(table, hash_key, range_key)))
            if range_key is not None and hash_key in table.items:
                self.buckets.add((table.name, hash_key))
            if table.stream_shard is not None:
                self.streams.setdefault(table.name, len(table.stream_shard.items))

    def restore(self, backend: DynamoDBBackend) -> None:
        for (table_name, hash_key, range_key), item in self.items.items():
            table = backend.tables[table_name]
            if range_key is None:
                if item is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = item
                continue
            bucket = table.items[hash_key]
            if item is None:
                bucket.pop(range_key, None)
            else:
                bucket[range_key] = item
            if not bucket and (table_name, hash_key) not in self.buckets:
                del table.items[hash_key]
        for table_name, length in self.streams.items():
            shard = backend.tables[table_name].stream_shard
            if shard is not None:
                del shard.items[length:]


def key_of(table: Table, attributes: Any) -> tuple[DynamoType, DynamoType | None] | None:
    """The stored key of the item with these attributes, or None where moto would refuse it."""
    if not isinstance(attributes, dict) or table.hash_key_attr not in attributes:
        return None
    hash_key = DynamoType(attributes[table.hash_key_attr])
    if table.range_key_attr is None:
        return hash_key, None
    if table.range_key_attr not in attributes:
        return None
    return hash_key, DynamoType(attributes[table.range_key_attr])


def stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Any:
    # Not table.get_item: on a table with a range key it adds an empty bucket for a new
    # hash key, which the rollback would then have to tell from one that was there.
    if range_key is None:
        return table.items.get(hash_key)
    return table.items.get(hash_key, {}).get(range_key)


class TablesNotCopied:
    """`copy` as moto's DynamoDB backend module sees it while a wrapped transaction runs:
    a table's "copy" is the table itself, anything else is copied as usual."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    touched = TouchedItems(self, transact_items)
    dynamodb_models.copy = TablesNotCopied  # type: ignore[assignment]
    try:
        ORIGINAL_TRANSACT_WRITE_ITEMS(self, transact_items)
    except BaseException:
        touched.restore(self)
        raise
    finally:
        dynamodb_models.copy = copy


ORIGINAL_QUERY = Table.query
QUERY_SIGNATURE = inspect.signature(ORIGINAL_QUERY)


def query(self: Table, *args: Any, **kwargs: Any) -> Any:
    arguments = QUERY_SIGNATURE.bind(self, *args, **kwargs).arguments
    hash_key = arguments.get("hash_key")
    if arguments.get("index_name") is not None or hash_key is None:
        return ORIGINAL_QUERY(self, *args, **kwargs)
    partition = self.items.get(hash_key)
    if partition is None:
        items = []
    elif self.range_key_attr is None:
        items = [partition]
    else:
        items = matching(
            list(partition.values()),
            arguments.get("range_comparison"),
            arguments.get("range_objs") or [],
        )
    self.all_items = lambda: items  # type: ignore[method-assign]
    try:
        return ORIGINAL_QUERY(self, *args, **kwargs)
    finally:
        del self.all_items


# Each comparison of a key condition on a string sort key, as a test of the key string.
STRING_CONDITIONS = {
    "EQ": lambda key, v: key == v[0],
    "=": lambda key, v: key == v[0],
    "LT": lambda key, v: key < v[0],
    "<": lambda key, v: key < v[0],
    "LE": lambda key, v: key <= v[0],
    "<=": lambda key, v: key <= v[0],
    "GT": lambda key, v: key > v[0],
    ">": lambda key, v: key > v[0],
    "GE": lambda key, v: key >= v[0],
    ">=": lambda key, v: key >= v[0],
    "BETWEEN": lambda key, v: v[0] <= key <= v[1],
    "BEGINS_WITH": lambda key, v: key.startswith(v[0]),
}


def matching(items: list, comparison: str | None, values: list[DynamoType]) -> list:
    """The items whose string sort key meets the key condition, and the nearest item on
    either side of them; all of them when the condition or a key is not a string
    comparison this knows (moto then decides).

    Each condition selects one run of sort keys. moto walks the sorted items, skipping
    those that fail the condition, and once it holds `limit` results it ends the page at
    the next item, matching or not: with the neighbours, its pages and LastEvaluatedKey
    are the ones it gives with the whole partition."""
    condition = STRING_CONDITIONS.get((comparison or "").upper())
    if condition is None or any(value.type != "S" for value in values):
        return items
    if any(item.range_key is None or item.range_key.type != "S" for item in items):
        return items
    wanted = [value.value for value in values]
    hits = [item for item in items if condition(item.range_key.value, wanted)]
    if not hits:
        return []
    low = min(item.range_key.value for item in hits)
    high = max(item.range_key.value for item in hits)
    below = [item for item in items if item.range_key.value < low]
    above = [item for item in items if item.range_key.value > high]
    neighbours = [max(below, key=lambda item: item.range_key.value)] if below else []
    neighbours += [min(above, key=lambda item: item.range_key.value)] if above else []
    return hits + neighbours


ORIGINAL_SCAN = Table.scan
SCAN_SIGNATURE = inspect.signature(ORIGINAL_SCAN)


def scan(self: Table, *args: Any, **kwargs: Any) -> Any:
    arguments = SCAN_SIGNATURE.bind(self, *args, **kwargs).arguments
    string_keys = self.hash_key_type == "S" and (
        self.range_key_attr is None or self.range_key_type == "S"
    )
    if arguments.get("index_name") or not string_keys:
        return ORIGINAL_SCAN(self, *args, **kwargs)

    def key(item: Any) -> tuple[str, str]:
        return item.hash_key.value, item.range_key.value if item.range_key is not None else ""

    items = sorted(
        (item for bucket in self.items.values() for item in (bucket.values() if self.range_key_attr else [bucket])),
        key=key,
    )
    start = arguments.get("exclusive_start_key")
    if start:
        after = (
            start[self.hash_key_attr]["S"],
            start[self.range_key_attr]["S"] if self.range_key_attr else "",
        )
        items = items[bisect.bisect_right([key(item) for item in items], after) :]
    self.all_items = lambda: items  # type: ignore[method-assign]
    try:
        return ORIGINAL_SCAN(self, *args, **kwargs)
    finally:
        del self.all_items


MOTO_MODULES = tuple(moto_backends.list_of_moto_modules())


def apply() -> None:
    check_patched_functions()
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.scan = scan  # type: ignore[method-assign]
    # werkzeug_app calls it through the module; responses imported the function itself.
    moto_backends.list_of_moto_modules = lambda: MOTO_MODULES
    moto_responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        moto_utils.method_names_from_class
    )
