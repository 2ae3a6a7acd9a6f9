//! Every key of the schema starts with `tenant_id`: primary keys, unique indexes and foreign
//! keys. That is what lets a chain's database be distributed by tenant (Citus), and what keeps
//! one tenant's uniqueness from ever depending on another's rows (docs/scale.md).
//!
//! The few installation-wide keys are listed here with their reason; a new one must be added
//! on purpose.

use loyalty_store::{Backend, Db, DbOptions, on_both_backends};

/// Tables of the installation rather than of a tenant (reference or coordinator-local tables
/// under Citus).
const INSTALLATION_TABLES: &[(&str, &str)] = &[
    ("schema_migrations", "the schema's own version"),
    (
        "tenants",
        "the directory of tenants: its key is the tenant id, its portal slug finds one",
    ),
    (
        "jobs",
        "the installation's job queue, claimed by any instance",
    ),
    (
        "secret_key_check",
        "one row proving the server's secret key",
    ),
    (
        "sign_in_failures",
        "sign-in delays per e-mail and client, counted before a tenant is known",
    ),
];

/// Keys that find a tenant from what a request carries before the tenant is known. Under
/// Citus they move to a directory table; each is a random, unguessable value.
const ROUTING_KEYS: &[(&str, &str)] = &[
    (
        "admin_sessions",
        "a session cookie's hash finds its staff member",
    ),
    ("api_keys", "a key's prefix finds its key"),
    (
        "connections",
        "an inbound webhook's address names its connection",
    ),
    ("channels", "a delivery report's address names its channel"),
    (
        "events",
        "the outbox's sequence orders the feed across transactions",
    ),
];

/// (table, what, first column) of every key that does not start with `tenant_id`.
async fn keys_not_led_by_tenant(db: &Db) -> Vec<(String, String, String)> {
    let backend = db.backend();
    let query = match backend {
        Backend::Postgres => {
            "select c.conrelid::regclass::text as tbl,
                    (case c.contype when 'p' then 'primary key' when 'u' then 'unique' else 'foreign key' end)
                      || ' ' || c.conname as what,
                    coalesce(a.attname::text, '') as col
             from pg_constraint c
             join pg_namespace n on n.oid = c.connamespace and n.nspname = current_schema()
             left join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
             where c.contype in ('p', 'u', 'f')
             union all
             select t.relname::text, 'unique index ' || x.relname::text,
                    coalesce(a.attname::text, 'an expression')
             from pg_index i
             join pg_class x on x.oid = i.indexrelid
             join pg_class t on t.oid = i.indrelid
             join pg_namespace n on n.oid = t.relnamespace and n.nspname = current_schema()
             left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
             where i.indisunique and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)"
        }
        Backend::Sqlite => {
            "select m.name as tbl, 'primary key' as what, p.name as col
             from sqlite_master m join pragma_table_info(m.name) p on p.pk = 1
             where m.type = 'table' and m.name not like 'sqlite_%'
             union all
             select m.name, 'unique index ' || il.name, coalesce(ii.name, 'an expression')
             from sqlite_master m
             join pragma_index_list(m.name) il on il.\"unique\" = 1
             join pragma_index_info(il.name) ii on ii.seqno = 0
             where m.type = 'table' and m.name not like 'sqlite_%'
             union all
             select m.name, 'foreign key to ' || fk.\"table\", fk.\"from\"
             from sqlite_master m join pragma_foreign_key_list(m.name) fk on fk.seq = 0
             where m.type = 'table' and m.name not like 'sqlite_%'"
        }
    };
    let rows = db
        .read(move |sql| sql.query(query, &[]))
        .await
        .expect("read the catalog");
    rows.iter()
        .map(|r| {
            (
                r.get::<String>("tbl").unwrap(),
                r.get::<String>("what").unwrap(),
                r.get::<String>("col").unwrap(),
            )
        })
        .filter(|(_, _, col)| col != "tenant_id")
        .collect()
}

on_both_backends! {
    async fn every_primary_key_unique_index_and_foreign_key_starts_with_the_tenant(db) {
        let db = Db::open(&db.url, &DbOptions::for_backend(db.url.backend())).unwrap();
        let offenders: Vec<String> = keys_not_led_by_tenant(&db)
            .await
            .into_iter()
            .filter(|(table, _, _)| {
                !INSTALLATION_TABLES.iter().chain(ROUTING_KEYS).any(|(t, _)| t == table)
            })
            .map(|(table, what, col)| format!("{table}: {what} starts with {col}"))
            .collect();
        assert!(offenders.is_empty(), "keys not led by tenant_id:\n{}", offenders.join("\n"));
        // The lists name tables that exist (a rename must not leave a stale exception).
        let all = keys_not_led_by_tenant(&db).await;
        eprintln!("installation-wide and routing keys: {all:?}");
        for (table, _) in ROUTING_KEYS {
            assert!(all.iter().any(|(t, _, _)| t == table), "{table} is listed but has no such key");
        }
        db.close();
    }
}
