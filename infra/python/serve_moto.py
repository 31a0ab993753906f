"""moto_server for the stack's S3 and Glue (and the CloudFormation template test), quiet.

Werkzeug logs every request at INFO; at a few thousand requests per second that costs throughput
and fills .stack/logs. Set MOTO_ACCESS_LOG=1 to get the lines back when debugging.

Two costs of moto's that grow with what the tests leave behind, found with py-spy while the lake
tests ran (moto at 80-90% of a core): ListObjects(V2) read every key of the bucket through the
versioned key store's Python __getitem__ before keeping those under the prefix (43% of the
server's time with the lake's tens of thousands of objects), and every request listed moto's
package directory (isdir on each module) under the dispatcher's lock (12%). Here the names are
filtered first, so only the keys under the prefix are read, and the module list is read once.

moto's Glue ignores UpdateTable's VersionId; AWS refuses an update naming a version that is no
longer the table's (ConcurrentModificationException), and the lake's Iceberg commits on a Glue
catalog are a compare-and-swap built on that. So it is emulated here, as AWS does it.
Arguments are moto_server's: -H HOST -p PORT.
"""

import logging
import os
import threading
from types import SimpleNamespace

import moto.backends
from moto.glue.exceptions import GlueClientError
from moto.glue.responses import GlueResponse
from moto.s3.models import FakeTableStorageBucket, S3Backend
from moto.s3.utils import _VersionedKeyStore
from moto.server import main

if os.environ.get("MOTO_ACCESS_LOG") != "1":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


class ConcurrentModificationException(GlueClientError):
    def __init__(self, message: str):
        super().__init__("ConcurrentModificationException", message)


# The server is threaded: the check and the update are one step.
glue_table_updates = threading.Lock()
moto_update_table = GlueResponse.update_table


def update_table(self: GlueResponse):
    version = self.parameters.get("VersionId")
    with glue_table_updates:
        if version is not None:
            database = self.parameters.get("DatabaseName")
            name = self.parameters["TableInput"]["Name"]
            current = self.glue_backend.get_table(database, name).as_dict()["VersionId"]
            if current != version:
                raise ConcurrentModificationException(
                    f"Update table failed due to concurrent modifications: {database}.{name} is at version {current}, not {version}"
                )
        return moto_update_table(self)


GlueResponse.update_table = update_table

moto_list_objects = S3Backend.list_objects


def list_objects(self: S3Backend, bucket, prefix, delimiter, marker, max_keys):
    if prefix and not isinstance(bucket, FakeTableStorageBucket):
        # moto's listing reads only bucket.keys; give it the versions of the names under the prefix.
        under = _VersionedKeyStore()
        dict.update(under, {n: v for n, v in list(dict.items(bucket.keys)) if n.startswith(prefix)})
        bucket = SimpleNamespace(keys=under)
    return moto_list_objects(self, bucket, prefix, delimiter, marker, max_keys)


S3Backend.list_objects = list_objects

moto_modules = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: moto_modules

main()
