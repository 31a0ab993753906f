-- The monolith's source schema (DESIGN.md, "Sources"). Idempotent: applied on every `stack up`.
-- Ids are 64-bit values written as 16 hex characters: text keeps them exact in JSON and JavaScript
-- (a bigint above 2^53 would not survive JSON.parse).
create table if not exists users (
  user_id      text primary key,
  handle       text not null unique,
  display_name text not null,
  is_eminent   boolean not null default false,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now()
);

create table if not exists koos (
  content_id text primary key,
  creator_id text not null,
  parent_id  text null,
  lang       text not null,
  body       text not null,
  media_url  text null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index if not exists koos_creator_idx on koos (creator_id, created_at desc);

create table if not exists follows (
  follower_id text not null,
  followee_id text not null,
  created_at  timestamptz not null default now(),
  primary key (follower_id, followee_id)
);

-- Debezium needs the old row on updates and deletes to emit full 'before' images.
alter table users replica identity full;
alter table koos replica identity full;
alter table follows replica identity full;

-- Debezium's own tables (infra/kafka/koo-postgres.json). The heartbeat row is rewritten every
-- heartbeat.interval.ms: a captured change, so the replication slot's confirmed position moves on
-- while the captured tables are quiet (else the primary keeps all WAL written meanwhile). The
-- signal table takes commands such as an incremental snapshot:
--   insert into debezium_signal values ('<id>', 'execute-snapshot', '{"data-collections": ["public.koos"], "type": "incremental"}');
create table if not exists debezium_heartbeat (
  id      int primary key,
  beat_at timestamptz not null
);
create table if not exists debezium_signal (
  id   text primary key,
  type text not null,
  data text null
);
