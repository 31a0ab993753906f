"""moto_server for the stack's S3 and Glue (and the CloudFormation template test), quiet.

Werkzeug logs every request at INFO; at a few thousand requests per second that costs throughput
and fills .stack/logs. Set MOTO_ACCESS_LOG=1 to get the lines back when debugging.

moto's Glue ignores UpdateTable's VersionId; AWS refuses an update naming a version that is no
longer the table's (ConcurrentModificationException), and the lake's Iceberg commits on a Glue
catalog are a compare-and-swap built on that. So it is emulated here, as AWS does it.
Arguments are moto_server's: -H HOST -p PORT.
"""

import logging
import os
import threading

from moto.glue.exceptions import GlueClientError
from moto.glue.responses import GlueResponse
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

main()
