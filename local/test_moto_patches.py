"""The emulator's transactions (moto_patches.py) keep moto's semantics at the cost of the
items they touch, and the patches hold only for the moto they were written for. Run by `make test-emulator` (stdlib unittest, the .venv's moto)."""

import copy
import json
import pathlib
import random
import re
import unittest
from typing import Any

from moto.dynamodb.exceptions import (
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

import moto_patches

TABLE = "users"
STREAMED = "streamed"


def new_backend() -> DynamoDBBackend:
    backend = DynamoDBBackend("us-east-1", "123456789012")
    for name, streams in ((TABLE, None), (STREAMED, {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})):
        backend.create_table(
            name,
            schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            throughput=None,
            attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            global_indexes=None,
            indexes=None,
            streams=streams,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
    return backend


def key(pk: str, sk: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def put(pk: str, sk: str, n: int = 0, condition: str | None = None, table: str = TABLE) -> dict:
    op = {"TableName": table, "Item": {**key(pk, sk), "n": {"N": str(n)}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def bump(pk: str, sk: str, expected: int | None = None, table: str = TABLE) -> dict:
    op = {
        "TableName": table,
        "Key": key(pk, sk),
        "UpdateExpression": "ADD n :one",
        "ExpressionAttributeValues": {":one": {"N": "1"}},
    }
    if expected is not None:
        op["ConditionExpression"] = "n = :expected"
        op["ExpressionAttributeValues"][":expected"] = {"N": str(expected)}
    return {"Update": op}


def delete(pk: str, sk: str, must_exist: bool = False) -> dict:
    op = {"TableName": TABLE, "Key": key(pk, sk)}
    if must_exist:
        op["ConditionExpression"] = "attribute_exists(pk)"
    return {"Delete": op}


def check(pk: str, sk: str, exists: bool) -> dict:
    condition = "attribute_exists(pk)" if exists else "attribute_not_exists(pk)"
    return {"ConditionCheck": {"TableName": TABLE, "Key": key(pk, sk), "ConditionExpression": condition}}


def state(backend: DynamoDBBackend, name: str = TABLE) -> dict:
    """Every item of the table as plain data, and its non-empty partitions."""
    table = backend.tables[name]
    return {
        (h.value, r.value): item.to_json()["Attributes"]
        for h, bucket in table.items.items()
        for r, item in bucket.items()
    }


def reasons(error: TransactionCanceledException) -> list:
    """The cancellation reasons' codes, as the client receives them ("None": that item passed)."""
    return [reason["Code"] for reason in json.loads(error.description)["CancellationReasons"]]


class PatchedTransactions(unittest.TestCase):
    def setUp(self) -> None:
        self.backend = new_backend()
        self.write = lambda items: moto_patches.transact_write_items(self.backend, items)
        self.write([put("a", "1", 1), put("a", "2", 2), put("b", "1", 3)])

    def test_a_transaction_whose_conditions_hold_writes_every_item(self) -> None:
        self.write([bump("a", "1", expected=1), delete("a", "2"), put("c", "1", 9, "attribute_not_exists(pk)")])
        self.assertEqual(
            state(self.backend),
            {("a", "1"): {**key("a", "1"), "n": {"N": "2"}}, ("b", "1"): {**key("b", "1"), "n": {"N": "3"}},
             ("c", "1"): {**key("c", "1"), "n": {"N": "9"}}},
        )

    def test_a_failed_condition_leaves_every_item_as_it_was(self) -> None:
        before = state(self.backend)
        with self.assertRaises(TransactionCanceledException) as failed:
            self.write([
                bump("a", "1"),  # an update in place, before the failure
                delete("a", "2"),  # a delete
                put("new", "1", 5),  # a new item, in a new partition
                bump("b", "1", expected=99),  # fails
            ])
        self.assertEqual(state(self.backend), before)
        self.assertNotIn(moto_patches.DynamoType({"S": "new"}), self.backend.tables[TABLE].items)

    def test_the_cancellation_reasons_name_the_failed_items_in_order(self) -> None:
        with self.assertRaises(TransactionCanceledException) as failed:
            self.write([check("a", "1", exists=False), bump("a", "2", expected=2), delete("zz", "1", must_exist=True)])
        self.assertEqual(reasons(failed.exception), ["ConditionalCheckFailed", "None", "ConditionalCheckFailed"])

    def test_two_operations_on_one_item_are_refused_and_write_nothing(self) -> None:
        before = state(self.backend)
        with self.assertRaises(MultipleTransactionsException):
            self.write([bump("a", "1"), put("x", "1"), bump("a", "1")])
        self.assertEqual(state(self.backend), before)

    def test_more_than_a_hundred_items_are_refused_and_write_nothing(self) -> None:
        before = state(self.backend)
        with self.assertRaises(TooManyTransactionsException):
            self.write([put("many", str(n)) for n in range(101)])
        self.assertEqual(state(self.backend), before)

    def test_a_rollback_leaves_the_table_and_the_items_it_did_not_touch_in_place(self) -> None:
        table = self.backend.tables[TABLE]
        untouched = table.items[moto_patches.DynamoType({"S": "b"})][moto_patches.DynamoType({"S": "1"})]
        with self.assertRaises(TransactionCanceledException):
            self.write([bump("a", "1"), check("a", "2", exists=False)])
        self.assertIs(self.backend.tables[TABLE], table)
        self.assertIs(table.items[moto_patches.DynamoType({"S": "b"})][moto_patches.DynamoType({"S": "1"})], untouched)

    def test_no_transaction_copies_a_table(self) -> None:
        def refuse(table: Table, memo: dict) -> Table:
            raise AssertionError("a table was deep-copied")

        Table.__deepcopy__ = refuse  # type: ignore[attr-defined]
        try:
            self.write([bump("a", "1"), put("d", "1")])
            with self.assertRaises(TransactionCanceledException):
                self.write([bump("a", "1"), check("b", "1", exists=False)])
        finally:
            del Table.__deepcopy__  # type: ignore[attr-defined]

    def test_a_failed_transaction_leaves_no_stream_records(self) -> None:
        self.write([put("s", "1", 1, table=STREAMED)])
        shard = self.backend.tables[STREAMED].stream_shard
        recorded = len(shard.items)
        with self.assertRaises(TransactionCanceledException):
            self.write([put("s", "2", table=STREAMED), bump("s", "1", expected=7, table=STREAMED)])
        self.assertEqual(len(shard.items), recorded)
        self.write([put("s", "2", table=STREAMED)])
        self.assertEqual(len(shard.items), recorded + 1)


class SameOutcomesAsMoto(unittest.TestCase):
    """Random transactions on two backends, one with moto's whole-table rollback and one
    patched: after each, the same error (or none) and the same items."""

    def test_random_transactions_end_as_they_do_in_moto(self) -> None:
        rng = random.Random(7)
        ours, theirs = new_backend(), new_backend()
        keys = [(pk, sk) for pk in "abc" for sk in "123"]

        def random_operation(pk: str, sk: str) -> dict:
            kind = rng.choice(["put", "put_new", "bump", "bump_expected", "delete", "delete_existing", "check"])
            if kind == "put":
                return put(pk, sk, rng.randint(0, 3))
            if kind == "put_new":
                return put(pk, sk, rng.randint(0, 3), "attribute_not_exists(pk)")
            if kind == "bump":
                return bump(pk, sk)
            if kind == "bump_expected":
                return bump(pk, sk, expected=rng.randint(0, 3))
            if kind == "delete":
                return delete(pk, sk)
            if kind == "delete_existing":
                return delete(pk, sk, must_exist=True)
            return check(pk, sk, exists=rng.random() < 0.5)

        def outcome(write, backend: DynamoDBBackend, items: list) -> tuple:
            try:
                write(backend, copy.deepcopy(items))
                return ("ok",)
            except TransactionCanceledException as e:
                return ("cancelled", reasons(e))
            except Exception as e:  # noqa: BLE001 - the kind of error is what is compared
                return (type(e).__name__,)

        failures = 0
        for _ in range(400):
            chosen = rng.sample(keys, rng.randint(1, 5))
            if rng.random() < 0.05:
                chosen.append(chosen[0])  # one item twice
            items = [random_operation(pk, sk) for pk, sk in chosen]
            expected = outcome(moto_patches.ORIGINAL_TRANSACT_WRITE_ITEMS, theirs, items)
            found = outcome(moto_patches.transact_write_items, ours, items)
            self.assertEqual(found, expected, items)
            self.assertEqual(state(ours), state(theirs), items)
            failures += expected[0] != "ok"
        self.assertGreater(failures, 50, "the sequence exercises rollbacks")


class PartitionQueries(unittest.TestCase):
    """Queries of the table on a backend with moto's whole-table query and with the
    partition's items only: the same pages, in the same order, with the same next key."""

    def test_random_queries_answer_as_they_do_in_moto(self) -> None:
        rng = random.Random(11)
        backend = new_backend()
        writes = [put(pk, f"{sk:03}", rng.randint(0, 9)) for pk in "abcde" for sk in rng.sample(range(200), 40)]
        for start in range(0, len(writes), 25):
            moto_patches.transact_write_items(backend, writes[start : start + 25])

        def page(query, **asked: Any) -> tuple:
            original = Table.query
            Table.query = query
            try:
                items, scanned, next_key = backend.query(TABLE, projection_expressions=None, **asked)
            finally:
                Table.query = original
            return [item.to_json() for item in items], scanned, next_key

        comparisons = [
            None,
            ("BETWEEN", ["050", "150"]),
            ("BEGINS_WITH", ["1"]),
            ("BEGINS_WITH", ["19"]),
            ("GT", ["100"]),
            ("GE", ["190"]),
            ("LE", ["020"]),
            ("LT", ["005"]),
            ("EQ", ["042"]),
            ("BETWEEN", ["300", "400"]),
        ]
        for _ in range(200):
            comparison = rng.choice(comparisons)
            asked = {
                "hash_key_dict": {"S": rng.choice("abcdez")},
                "range_comparison": comparison[0] if comparison else None,
                "range_value_dicts": [{"S": v} for v in comparison[1]] if comparison else [],
                "limit": rng.choice([1, 5, 25, 1000]),
                "exclusive_start_key": None,
                "scan_index_forward": rng.random() < 0.5,
            }
            for _ in range(3):  # the first pages, each from the last one's next key
                expected = page(moto_patches.ORIGINAL_QUERY, **asked)
                self.assertEqual(page(moto_patches.query, **asked), expected, asked)
                if expected[2] is None:
                    break
                asked["exclusive_start_key"] = expected[2]
        self.assertFalse(hasattr(backend.tables[TABLE], "__dict__") and "all_items" in vars(backend.tables[TABLE]))

    def test_a_query_of_the_table_reads_only_its_partition(self) -> None:
        backend = new_backend()
        moto_patches.transact_write_items(backend, [put("a", "1"), put("b", "1")])
        table = backend.tables[TABLE]
        table.items[moto_patches.DynamoType({"S": "b"})][moto_patches.DynamoType({"S": "1"})] = None  # unreadable
        original = Table.query
        Table.query = moto_patches.query
        try:
            items, _, _ = backend.query(TABLE, {"S": "a"}, None, [], 10, None, True, None)
        finally:
            Table.query = original
        self.assertEqual([item.hash_key.value for item in items], ["a"])


class SortedScans(unittest.TestCase):
    """Scans page by page with moto's own and with the string-keyed sort: the same pages,
    in the same order, with the same next keys."""

    def test_paging_through_a_table_answers_as_it_does_in_moto(self) -> None:
        rng = random.Random(5)
        backend = new_backend()
        writes = [put(pk, f"{sk:03}", rng.randint(0, 9)) for pk in ["a", "b", "ab", "b0", "z"] for sk in rng.sample(range(500), 60)]
        for start in range(0, len(writes), 25):
            moto_patches.transact_write_items(backend, writes[start : start + 25])
        table = backend.tables[TABLE]

        def pages(scan, limit: int) -> list:
            original = Table.scan
            Table.scan = scan
            try:
                found, start = [], None
                while True:
                    items, scanned, start = table.scan({}, limit, start)
                    found.append(([item.to_json() for item in items], scanned, start))
                    if start is None:
                        return found
                    start = {name: value.to_json() for name, value in start.items()}
            finally:
                Table.scan = original

        for limit in [1, 7, 50, 1000]:
            expected = pages(moto_patches.ORIGINAL_SCAN, limit)
            self.assertGreater(len(expected), 0)
            self.assertEqual(pages(moto_patches.scan, limit), expected, limit)


class ThePatchedFunctions(unittest.TestCase):
    def test_are_the_ones_the_pinned_moto_has(self) -> None:
        moto_patches.check_patched_functions()

    def test_pin_in_the_requirements_is_the_version_the_patches_were_written_for(self) -> None:
        requirements = (pathlib.Path(__file__).parent.parent / "requirements-dev.txt").read_text()
        pinned = re.search(r"^moto\[server\]==(\S+)$", requirements, re.M)
        self.assertIsNotNone(pinned, "requirements-dev.txt pins moto[server] exactly")
        self.assertEqual(pinned.group(1), moto_patches.MOTO_VERSION)

    def test_another_text_of_any_of_them_is_refused(self) -> None:
        for name, (function, recorded) in list(moto_patches.PATCHED_FUNCTIONS.items()):
            moto_patches.PATCHED_FUNCTIONS[name] = (function, "0" * 64)
            try:
                with self.assertRaisesRegex(RuntimeError, f"{name} is not the text"):
                    moto_patches.check_patched_functions()
            finally:
                moto_patches.PATCHED_FUNCTIONS[name] = (function, recorded)

    def test_the_lookups_made_once_answer_as_moto_does(self) -> None:
        import moto.backends
        import moto.core.responses
        from moto.dynamodb.responses import DynamoHandler

        list_modules, _ = moto_patches.PATCHED_FUNCTIONS["backends.list_of_moto_modules"]
        method_names, _ = moto_patches.PATCHED_FUNCTIONS["core.utils.method_names_from_class"]
        moto_patches.apply()
        self.assertEqual(tuple(moto.backends.list_of_moto_modules()), tuple(list_modules()))
        self.assertIn("cognitoidp", moto.backends.list_of_moto_modules())
        for _ in range(2):
            self.assertEqual(
                moto.core.responses.method_names_from_class(DynamoHandler), method_names(DynamoHandler)
            )
        self.assertIn("transact_write_items", moto.core.responses.method_names_from_class(DynamoHandler))


if __name__ == "__main__":
    unittest.main()
