"""Reads the lake's Iceberg tables the way an analyst does: pyiceberg through the catalog (SQL or
Glue), DuckDB's iceberg extension (loaded from its wheel: nothing is downloaded), and with --spark
Spark SQL. Prints one JSON object per table: its rows as each reader counts them, the (partition,
offset) positions held more than once, each column's values that are not null, and its snapshots.
Run with the stack's lake-readers venv:

  .stack/lake-readers/bin/python infra/python/read_lake_tables.py [--as-of-first] koo.reactions ...

Topics are named, and read from the table the lake worker keeps for each in the catalog.

--as-of-first also counts each table's rows as of its oldest snapshot (time travel), both ways.
--spark also counts them with Spark SQL (pyspark, Iceberg's Spark runtime from .stack/lake-readers/spark-jars).
--where=COLUMN=VALUE also counts the rows where COLUMN = 'VALUE', and the data files planned for it.

Environment: LAKE_CATALOG_URL (postgres://... or glue://<database>), LAKE_CATALOG_NAME,
GLUE_ENDPOINT, S3_ENDPOINT, AWS_REGION, LAKE_BUCKET, LAKE_PREFIX (the lake worker's variables, with
the local stack's defaults).
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


def spark_session():
    """Spark 3.5 on one local core, with the catalog as `catalog_name` (Iceberg's JdbcCatalog
    reads the SQL catalog's rows of that catalog name; GlueCatalog a Glue database) and S3FileIO."""
    from pyspark.sql import SparkSession

    jars = sorted(glob.glob(os.path.join(sys.prefix, "spark-jars", "*.jar")))
    if glue_database:
        # The Glue client takes the SDK's credential chain: these variables, when none are set.
        os.environ.setdefault("AWS_ACCESS_KEY_ID", key_id)
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", secret)
        properties = {"catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog"}
        if glue.get("glue.endpoint"):
            properties["glue.endpoint"] = glue["glue.endpoint"]
    else:
        url = urlparse(catalog_url)
        properties = {
            "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            "uri": f"jdbc:postgresql://{url.hostname}:{url.port or 5432}{url.path}",
            "jdbc.user": url.username or "",
            "jdbc.password": url.password or "",
            "jdbc.schema-version": "V1",
        }
    properties.update(
        {
            "warehouse": f"s3://{os.environ.get('LAKE_BUCKET', 'koo-lake')}/{os.environ.get('LAKE_PREFIX', '')}_iceberg",
            "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
            "client.region": region,
            "s3.endpoint": s3_endpoint,
            "s3.path-style-access": "true",
            "s3.access-key-id": key_id,
            "s3.secret-access-key": secret,
        }
    )
    builder = (
        SparkSession.builder.master("local[1]")
        .appName("koo-lake-reader")
        .config("spark.jars", ",".join(jars))
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        # A reader that runs for seconds: C1-compiled code and the serial collector cost its JVM far
        # less CPU than tiered compilation and G1's threads, and one shuffle partition serves a count.
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config(f"spark.sql.catalog.{catalog_name}", "org.apache.iceberg.spark.SparkCatalog")
    )
    for key, value in properties.items():
        builder = builder.config(f"spark.sql.catalog.{catalog_name}.{key}", value)
    return builder.getOrCreate()


def spark_name(topic: str) -> str:
    """The topic's table in Spark SQL, each part quoted (a Debezium server name may hold a `-`)."""
    return ".".join(f"`{part}`" for part in [catalog_name, *identifier_of(topic).split(".")])


def spark_counts(spark, topic: str, columns: list[str], first_snapshot: int | None) -> dict:
    """The table counted by Spark SQL, as an analyst would query it (and AS OF its first snapshot)."""
    name = spark_name(topic)
    counted = ", ".join(f"count(`{c}`)" for c in columns)
    rows, duplicates, *non_null = spark.sql(
        f"select count(*), count(*) - count(distinct _kafka_partition, _kafka_offset), {counted} from {name}"
    ).first()
    counts = {
        "spark_rows": rows,
        "spark_duplicate_positions": duplicates,
        "spark_non_null": dict(zip(columns, non_null)),
    }
    if first_snapshot is not None:
        counts["first_snapshot_spark_rows"] = spark.sql(
            f"select count(*) from {name} version as of {first_snapshot}"
        ).first()[0]
    return counts


def where_counts(table, topic: str, location: str, spark) -> dict:
    """With --where=COLUMN=VALUE: the data files a reader plans for that filter (the rest are
    skipped by the manifests' column bounds) and the rows it matches, by each reader."""
    from pyiceberg.expressions import EqualTo

    column, value = where.split("=", 1)
    scan = table.scan(row_filter=EqualTo(column, value))
    literal = value.replace("'", "''")
    counts = {
        "files": len(list(table.scan().plan_files())),
        "where_files": len(list(scan.plan_files())),
        "where_pyiceberg_rows": scan.to_arrow().num_rows,
        "where_duckdb_rows": db.execute(
            f"""select count(*) from iceberg_scan('{location}') where "{column}" = '{literal}'"""
        ).fetchone()[0],
    }
    if spark:
        name = spark_name(topic)
        counts["where_spark_rows"] = spark.sql(
            f"select count(*) from {name} where `{column}` = '{literal}'"
        ).first()[0]
    return counts


where = next((a[len("--where=") :] for a in sys.argv if a.startswith("--where=")), None)
as_of_first = "--as-of-first" in sys.argv
spark = spark_session() if "--spark" in sys.argv else None
for topic in [a for a in sys.argv[1:] if not a.startswith("--")]:
    table = catalog.load_table(identifier_of(topic))
    scanned = table.scan(selected_fields=("_kafka_partition", "_kafka_offset")).to_arrow()
    location = table.metadata_location
    columns = [f.name for f in table.schema().fields]
    counted = ", ".join(f'count("{c}")' for c in columns)
    duck_rows, duplicates, *non_null = db.execute(
        f"""select count(*), count(*) - count(distinct (_kafka_partition, _kafka_offset)), {counted}
              from iceberg_scan('{location}')"""
    ).fetchone()
    as_of = {}
    first = table.metadata.snapshots[0].snapshot_id if as_of_first else None
    if as_of_first:
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
                **(spark_counts(spark, topic, columns, first) if spark else {}),
                **(where_counts(table, topic, location, spark) if where else {}),
                "table": topic,
                "pyiceberg_rows": scanned.num_rows,
                "duckdb_rows": duck_rows,
                "duplicate_positions": duplicates,
                "non_null": dict(zip(columns, non_null)),
                "snapshots": len(table.metadata.snapshots),
                "manifests": len(table.current_snapshot().manifests(table.io)),
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
