-- The lake's Iceberg catalog, a database apart from the source one Debezium reads (the stack's
-- postgres service creates it too; LAKE_CATALOG_URL points at it). Run once, by docker-compose.
create database koo_lake_catalog;
