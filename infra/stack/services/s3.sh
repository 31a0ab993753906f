# S3 API on 127.0.0.1:$S3_PORT: moto's server, in memory, path-style addressing (clients set
# forcePathStyle: true; virtual-host style would need <bucket>.127.0.0.1 to resolve). See
# infra/python/moto.sh.
source "$KOO_ROOT/infra/python/moto.sh"

# The lake's readers (pyiceberg, DuckDB with its iceberg extension, pyspark with Iceberg's Spark
# runtime from Maven Central) come with the lake's store.
LAKE_READERS_VENV="$STACK_DIR/lake-readers"
s3_install() {
  moto_install
  python_venv_install "lake readers" "$LAKE_READERS_VENV" "$KOO_ROOT/infra/python/lake-readers.txt"
  maven_classpath "$KOO_ROOT/infra/maven/spark/pom.xml" "$LAKE_READERS_VENV/spark-jars"
}
s3_check() { moto_check "$S3_PORT"; }
s3_start() { moto_start s3 "$S3_PORT"; }
