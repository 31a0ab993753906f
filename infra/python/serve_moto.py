"""moto_server, made fit for many concurrent workers.

- Werkzeug logs every request at INFO; at a few thousand requests per second that costs throughput
  and fills .stack/logs. Set MOTO_ACCESS_LOG=1 to get the lines back when debugging.
- TransactWriteItems deep-copies a whole table for every item of the transaction that names it,
  as its rollback point: ~250 ms and ~11 MB that were never given back per transaction on a
  table of 10,000 items, so memory went to tens of GB and the process was OOM-killed. The
  rollback point is taken of the items the transaction names instead (all it can change).
Arguments are moto_server's: -H HOST -p PORT.
"""

import copy
import logging
import os
import threading

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.server import main

if os.environ.get("MOTO_ACCESS_LOG") != "1":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


class _TablesNotCopied:
    """Stands in for the copy module inside a transaction: tables are not copied (see below)."""

    @staticmethod
    def deepcopy(value, *args, **kwargs):
        if isinstance(value, Table):
            return value
        return copy.deepcopy(value, *args, **kwargs)


def _named_items(backend, transact_items):
    """(table, hash key, range key) of every item a transaction names."""
    named = []
    for entry in transact_items:
        ((_, op),) = entry.items()
        table = backend.tables.get(op.get("TableName"))
        key = op.get("Key") or op.get("Item")
        if table is None or not key or table.hash_key_attr not in key:
            continue
        range_key = None
        if table.range_key_attr:
            if table.range_key_attr not in key:
                continue
            range_key = DynamoType(key[table.range_key_attr])
        named.append((table, DynamoType(key[table.hash_key_attr]), range_key))
    return named


def _restore(table, hash_key, range_key, item):
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items
# The module's `copy` is swapped for the length of a transaction: one transaction at a time.
_one_transaction_at_a_time = threading.Lock()


def transact_write_items(self, transact_items):
    with _one_transaction_at_a_time:
        named = _named_items(self, transact_items)
        before = [(t, h, r, copy.deepcopy(t.get_item(h, r))) for t, h, r in named]
        dynamodb_models.copy = _TablesNotCopied
        try:
            return _transact_write_items(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(before):
                _restore(table, hash_key, range_key, item)
            raise
        finally:
            dynamodb_models.copy = copy


dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items

main()
