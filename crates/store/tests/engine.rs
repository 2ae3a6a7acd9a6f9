//! The engine and the shared SQL behave the same on both backends.

use loyalty_store::{Db, DbError, DbOptions, Sql, on_both_backends, params};

fn open(db: &loyalty_store::testing::TestDb) -> Db {
    Db::open(&db.url, &DbOptions::for_backend(db.url.backend())).expect("open database")
}

fn create_scratch(sql: &mut dyn Sql) -> Result<(), DbError> {
    sql.batch("create table if not exists scratch (tenant_id text not null, id text not null, n bigint not null, primary key (tenant_id, id))")
}

on_both_backends! {
    async fn placeholders_may_repeat_and_come_out_of_order(db) {
        let db = open(&db);
        let row = db
            .read(|sql| sql.query_one("select $2 || '-' || $1 as s, $1 as again", params!["a", "b"]))
            .await
            .unwrap();
        assert_eq!(row.get::<String>("s").unwrap(), "b-a");
        assert_eq!(row.get::<String>("again").unwrap(), "a");
        db.close();
    }

    async fn sum_of_bigints_reads_back_as_an_integer_when_cast(db) {
        let db = open(&db);
        db.write(|sql| {
            create_scratch(sql)?;
            sql.execute("insert into scratch values ('t', 'a', 5000000000), ('t', 'b', 7)", &[])
        })
        .await
        .unwrap();
        let total: i64 = db
            .read(|sql| sql.query_scalar("select cast(sum(n) as bigint) from scratch where tenant_id = $1", params!["t"]))
            .await
            .unwrap();
        assert_eq!(total, 5_000_000_007);
        db.close();
    }

    async fn sums_of_huge_values_come_back_exact_in_two_halves(db) {
        let db = open(&db);
        db.write(|sql| {
            create_scratch(sql)?;
            sql.execute(
                "insert into scratch values ('t', 'a', $1), ('t', 'b', $1), ('t', 'c', $2), ('t', 'd', -5)",
                params![i64::MAX, i64::MAX - 1],
            )
        })
        .await
        .unwrap();
        let (plain, wide) = db
            .read(|sql| {
                let plain = sql.query_scalar::<i64>("select cast(sum(n) as bigint) from scratch", &[]);
                let row = sql.query_one(
                    &format!("select {} from scratch", loyalty_store::sql::wide_sum("n", "total")),
                    &[],
                )?;
                Ok::<_, DbError>((plain, row.wide("total")?))
            })
            .await
            .unwrap();
        assert!(plain.is_err(), "a plain sum overflows on both backends");
        assert_eq!(wide, 3 * i128::from(i64::MAX) - 1 - 5);
        db.close();
    }

    async fn a_preamble_commits_with_the_first_write_only_and_fails_it_when_it_fails(db) {
        let db = open(&db);
        db.write(create_scratch).await.unwrap();
        let insert = |id: &'static str| -> loyalty_store::Preamble {
            Box::new(move |sql: &mut dyn Sql| {
                sql.execute("insert into scratch values ('p', $1, 0)", params![id])
                    .map(drop)
            })
        };
        // The preamble rides on the first write; the second write of the same task has none.
        let first = db.clone();
        loyalty_store::with_preamble(insert("claim"), async move {
            first.write(|sql| sql.execute("insert into scratch values ('p', 'one', 1)", &[])).await?;
            first.write(|sql| sql.execute("insert into scratch values ('p', 'two', 2)", &[])).await
        })
        .await
        .unwrap();
        // A preamble that fails (the same key again) fails its action, which writes nothing.
        let again = db.clone();
        let refused = loyalty_store::with_preamble(insert("claim"), async move {
            again.write(|sql| sql.execute("insert into scratch values ('p', 'three', 3)", &[])).await
        })
        .await;
        assert!(matches!(refused, Err(DbError::Unique { .. })), "{refused:?}");
        let ids: Vec<String> = db
            .read(|sql| {
                sql.query("select id from scratch where tenant_id = 'p' order by id", &[])?
                    .iter()
                    .map(|r| r.get::<String>("id"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await
            .unwrap();
        assert_eq!(ids, ["claim", "one", "two"]);
        db.close();
    }

    async fn a_failing_action_rolls_back_alone_and_its_neighbours_commit(db) {
        let db = open(&db);
        db.write(create_scratch).await.unwrap();
        // Queue many actions at once so they share transactions; every third one fails midway.
        let mut tasks = Vec::new();
        for i in 0..60i64 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |sql| {
                    sql.execute("insert into scratch (tenant_id, id, n) values ($1, $2, $3)", params!["t", format!("k{i}"), i])?;
                    if i % 3 == 0 {
                        // A duplicate: the whole action, including the insert above, must vanish.
                        sql.execute("insert into scratch (tenant_id, id, n) values ($1, $2, $3)", params!["t", format!("k{i}"), i])?;
                    }
                    Ok::<_, DbError>(i)
                })
                .await
            }));
        }
        let mut failed = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => {}
                Err(DbError::Unique { .. }) => failed += 1,
                Err(other) => panic!("unexpected error {other}"),
            }
        }
        assert_eq!(failed, 20);
        let (count, sum): (i64, i64) = db
            .read(|sql| {
                let row = sql.query_one("select count(*) as c, cast(sum(n) as bigint) as s from scratch", &[])?;
                Ok::<_, DbError>((row.get("c")?, row.get("s")?))
            })
            .await
            .unwrap();
        assert_eq!(count, 40);
        assert_eq!(sum, (0..60).filter(|i| i % 3 != 0).sum::<i64>());
        db.close();
    }

    async fn vietnamese_text_round_trips_byte_for_byte(db) {
        let db = open(&db);
        db.write(create_scratch).await.unwrap();
        let name = "Nguyễn Thị Ánh Tuyết";
        let nfd: String = "Tuyết".chars().collect::<String>();
        let back: String = db
            .read(move |sql| sql.query_scalar("select $1", params![name]))
            .await
            .unwrap();
        assert_eq!(back.as_bytes(), name.as_bytes());
        assert!(!nfd.is_empty());
        db.close();
    }

    async fn migrating_twice_changes_nothing(db) {
        let first = open(&db);
        first.close();
        let second = open(&db);
        let versions: i64 = second
            .read(|sql| sql.query_scalar("select count(*) from schema_migrations", &[]))
            .await
            .unwrap();
        assert_eq!(versions, loyalty_store::migrate::SQLITE.len() as i64);
        second.close();
    }
}

/// The two migration folders must produce the same tables with the same columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_backends_end_up_with_the_same_tables_and_columns() {
    let Some(pg) = loyalty_store::testing::TestDb::postgres() else {
        return;
    };
    let lite = loyalty_store::testing::TestDb::sqlite();
    let (pg, lite) = (open(&pg), open(&lite));
    let pg_columns: Vec<(String, String, bool)> = pg
        .read(|sql| {
            sql.query(
                "select table_name::text as t, column_name::text as c, (is_nullable = 'YES') as n
                 from information_schema.columns
                 where table_schema = current_schema()
                 order by 1, 2",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.get("t")?, r.get("c")?, r.get("n")?)))
            .collect::<Result<_, DbError>>()
        })
        .await
        .unwrap();
    let lite_columns: Vec<(String, String, bool)> = lite
        .read(|sql| {
            sql.query(
                "select m.name as t, p.name as c, (p.\"notnull\" = 0 and p.pk = 0) as n
                 from sqlite_master m join pragma_table_info(m.name) p
                 where m.type = 'table' and m.name not like 'sqlite_%'
                 order by 1, 2",
                &[],
            )?
            .iter()
            .map(|r| Ok((r.get("t")?, r.get("c")?, r.get("n")?)))
            .collect::<Result<_, DbError>>()
        })
        .await
        .unwrap();
    assert!(!pg_columns.is_empty());
    assert_eq!(lite_columns, pg_columns);
    pg.close();
    lite.close();
}

/// The largest the WAL file grows while 200 transactions of 100 one-kilobyte rows (about 20
/// MB) are written back to back, with this hard limit.
async fn largest_wal_during_a_bulk_load(limit: u64) -> u64 {
    let test_db = loyalty_store::testing::TestDb::sqlite();
    let options = DbOptions {
        wal_hard_limit_bytes: limit,
        ..DbOptions::for_backend(loyalty_store::Backend::Sqlite)
    };
    let db = Db::open(&test_db.url, &options).expect("open database");
    db.write(create_scratch).await.unwrap();
    let mut wal = test_db.path().unwrap().into_os_string();
    wal.push("-wal");
    let mut largest = 0;
    let text = "x".repeat(1000);
    for batch in 0..200 {
        let text = text.clone();
        db.write(move |sql| {
            for i in 0..100 {
                sql.execute(
                    "insert into scratch (tenant_id, id, n) values ($1, $2 || $3, $4)",
                    params!["t", format!("{batch}-{i}-"), text.as_str(), i64::from(i)],
                )?;
            }
            Ok::<_, DbError>(())
        })
        .await
        .unwrap();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    db.close();
    largest
}

/// A long bulk load keeps the WAL near its hard limit: the writer checkpoints it itself once it
/// passes. Without the limit the checkpointer alone lets it reach 16 MB before restarting it,
/// and never shrinks the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_bulk_load_keeps_the_sqlite_wal_within_its_hard_limit() {
    let mb = 1024 * 1024;
    let unbounded = largest_wal_during_a_bulk_load(u64::MAX).await;
    assert!(
        unbounded > 8 * mb,
        "without the limit the WAL reached only {unbounded} bytes"
    );
    // At most two groups past the limit: the size is read after the answer, before the
    // writer's check (a group here is about 400 KB of pages).
    let bounded = largest_wal_during_a_bulk_load(mb).await;
    assert!(
        bounded < 2 * mb,
        "with a 1 MB limit the WAL reached {bounded} bytes"
    );
}
