"""Reads the lake's Iceberg tables the way an analyst does: pyiceberg through the catalog (SQL or Glue), and
DuckDB's iceberg extension (loaded from its wheel: nothing is downloaded). Prints one JSON object
per table: its rows as each reader counts them, the (partition, offset) positions held more than
once, each column's values that are not null (DuckDB), and its snapshots. Run with the stack's lake-readers venv:

  .stack/lake-readers/bin/python infra/python/read_lake_tables.py [--as-of-first] koo.reactions ...

Topics are named, and read from the table the lake worker keeps for each in the catalog.

--as-of-first also counts each table's rows as of its oldest snapshot (time travel), both ways.

Environment: LAKE_CATALOG_URL (postgres://... or glue://<database>), LAKE_CATALOG_NAME,
GLUE_ENDPOINT, S3_ENDPOINT, AWS_REGION (the lake worker's variables, with the local stack's defaults).
"""

import glob
import json
import os
import re
import sys
from urllib.parse import urlparse

import duckdb
from pyiceberg.catalog.glue import GlueCatalog
from pyiceberg.catalog.sql import SqlCatalog

catalog_url = os.environ.get("LAKE_CATALOG_URL", "postgres://koo@127.0.0.1:5432/koo_lake_catalog")
catalog_name = os.environ.get("LAKE_CATALOG_NAME", "koo")
s3_endpoint = os.environ.get("S3_ENDPOINT", "http://127.0.0.1:9000")
region = os.environ.get("AWS_REGION", "ap-south-1")
# The local stack's S3 takes any key; elsewhere the process's own credentials are used.
key_id = os.environ.get("AWS_ACCESS_KEY_ID", "local")
secret = os.environ.get("AWS_SECRET_ACCESS_KEY", "local")

s3 = {
    "s3.endpoint": s3_endpoint,
    "s3.region": region,
    "s3.access-key-id": key_id,
    "s3.secret-access-key": secret,
}
glue_database = catalog_url[len("glue://") :] if catalog_url.startswith("glue://") else None
if glue_database:
    glue = {"glue.region": region, "glue.access-key-id": key_id, "glue.secret-access-key": secret}
    glue_endpoint = os.environ.get("GLUE_ENDPOINT", "http://127.0.0.1:9000")
    if glue_endpoint:
        glue["glue.endpoint"] = glue_endpoint
    catalog = GlueCatalog(catalog_name, **glue, **s3)
else:
    catalog = SqlCatalog(
        catalog_name,
        uri=catalog_url.replace("postgres://", "postgresql+psycopg2://", 1),
        init_catalog_tables="false",
        **s3,
    )


def identifier_of(topic: str) -> str:
    """The topic's table, named as the lake worker names it (workers/lake/iceberg/*-catalog.ts)."""
    if glue_database:
        return f"{glue_database}.{re.sub('[^a-z0-9_]', '_', topic.lower())}"
    return topic


db = duckdb.connect()
site = os.path.dirname(os.path.dirname(duckdb.__file__))
for extension in ("httpfs", "avro", "iceberg"):
    (path,) = glob.glob(f"{site}/duckdb_extension_{extension}/extensions/*/{extension}.duckdb_extension")
    db.load_extension(path)
endpoint = urlparse(s3_endpoint)
db.execute(
    f"""create secret lake (type s3, key_id '{key_id}', secret '{secret}', region '{region}',
        endpoint '{endpoint.netloc}', url_style 'path', use_ssl {str(endpoint.scheme == 'https').lower()})"""
)

as_of_first = "--as-of-first" in sys.argv
for topic in [a for a in sys.argv[1:] if not a.startswith("--")]:
    table = catalog.load_table(identifier_of(topic))
    scanned = table.scan(selected_fields=("_partition", "_offset")).to_arrow()
    location = table.metadata_location
    columns = [f.name for f in table.schema().fields]
    counted = ", ".join(f'count("{c}")' for c in columns)
    duck_rows, duplicates, *non_null = db.execute(
        f"""select count(*), count(*) - count(distinct (_partition, _offset)), {counted}
              from iceberg_scan('{location}')"""
    ).fetchone()
    as_of = {}
    if as_of_first:
        first = table.metadata.snapshots[0].snapshot_id
        as_of = {
            "first_snapshot_pyiceberg_rows": table.scan(snapshot_id=first).to_arrow().num_rows,
            "first_snapshot_duckdb_rows": db.execute(
                f"select count(*) from iceberg_scan('{location}', snapshot_from_id => {first})"
            ).fetchone()[0],
        }
    print(
        json.dumps(
            {
                **as_of,
                "table": topic,
                "pyiceberg_rows": scanned.num_rows,
                "duckdb_rows": duck_rows,
                "duplicate_positions": duplicates,
                "non_null": dict(zip(columns, non_null)),
                "snapshots": len(table.metadata.snapshots),
                # Per Kafka partition, the offset the table holds it through (koo.next-offset.<p>).
                "next_offsets": {
                    k.rsplit(".", 1)[1]: int(v)
                    for k, v in table.current_snapshot().summary.additional_properties.items()
                    if k.startswith("koo.next-offset.")
                },
                "metadata_location": location,
            }
        )
    )
