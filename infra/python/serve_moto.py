"""moto_server for the stack's S3 (and the CloudFormation template test), quiet.

Werkzeug logs every request at INFO; at a few thousand requests per second that costs throughput
and fills .stack/logs. Set MOTO_ACCESS_LOG=1 to get the lines back when debugging.
Arguments are moto_server's: -H HOST -p PORT.
"""

import logging
import os

from moto.server import main

if os.environ.get("MOTO_ACCESS_LOG") != "1":
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

main()
