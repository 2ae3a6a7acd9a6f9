//! Automation runs on both backends: a run starts once per (automation, member, occurrence),
//! however often a pass finds it; due runs come earliest first; a run moves on and reads back.

use jiff::{SignedDuration, Timestamp};
use loyalty_core::automation::{Automation, Run, RunStatus, Step, Trigger};
use loyalty_store::repo::automations;
use loyalty_store::{Db, DbOptions, on_both_backends};
use serde_json::json;

/// Opened, and so migrated.
fn open(db: &loyalty_store::testing::TestDb) -> Db {
    Db::open(&db.url, &DbOptions::for_backend(db.url.backend())).expect("open database")
}

fn thank_you(now: Timestamp) -> Automation {
    Automation {
        id: "aut_thanks".into(),
        name: "Cảm ơn sau mua hàng".into(),
        active: true,
        trigger: Trigger::OrderPaid {
            min_total: None,
            index: None,
        },
        steps: vec![
            Step::Wait {
                duration: "PT2H".into(),
            },
            Step::Tag {
                add: vec!["đã cảm ơn".into()],
                remove: vec![],
            },
        ],
        created_at: now,
        updated_at: now,
    }
}

on_both_backends! {
    async fn a_run_starts_once_per_occurrence_and_moves_on(db) {
        let db = open(&db);
        let now: Timestamp = "2026-12-06T03:00:00Z".parse().unwrap();
        let automation = thank_you(now);
        let stored = automation.clone();
        db.write(move |sql| automations::insert(sql, "t1", &stored, loyalty_core::event::Position { tx: 0, seq: 0 }))
        .await
        .unwrap();
        let run = |id: &str, member: &str, order: &str, at: Timestamp| {
            Run::start(id.into(), &automation, member, format!("order:{order}"), json!({"order_id": order}), at)
        };
        let first = vec![run("run_1", "mem_a", "ord_1", now), run("run_2", "mem_b", "ord_2", now - SignedDuration::from_mins(5))];
        let again = vec![run("run_3", "mem_a", "ord_1", now), run("run_4", "mem_a", "ord_9", now + SignedDuration::from_mins(1))];
        let started = db
            .write(move |sql| {
                let a = automations::start_runs(sql, "t1", &first)?;
                let b = automations::start_runs(sql, "t1", &again)?;
                Ok::<_, loyalty_store::DbError>((a, b))
            })
            .await
            .unwrap();
        assert_eq!(started, (2, 1), "the same order starts nothing the second time");

        let due = db.read(move |sql| automations::due_runs(sql, now, 10)).await.unwrap();
        let ids: Vec<&str> = due.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["run_2", "run_1"], "earliest first; not yet due left out");

        let later = now + SignedDuration::from_hours(2);
        let moved = db
            .write(move |sql| {
                let mut r = automations::get_run_for_update(sql, "t1", "run_1")?.unwrap();
                r.step = 1;
                r.next_at = Some(later);
                r.log.push(json!({"step": 0, "at": now.to_string(), "result": "waits 2 hours"}));
                r.updated_at = now;
                automations::save_run(sql, "t1", &r)?;
                automations::runs(sql, "t1", "aut_thanks", Some("mem_a"), 10)
            })
            .await
            .unwrap();
        assert_eq!(moved.len(), 2);
        let one = moved.iter().find(|r| r.id == "run_1").unwrap();
        assert_eq!((one.step, one.status, one.next_at), (1, RunStatus::Waiting, Some(later)));
        assert_eq!(one.steps.len(), 2, "the steps it started with");
        assert_eq!(one.context["order_id"], "ord_1");
        assert_eq!(one.log.len(), 1);
        let none = db.read(move |sql| automations::runs(sql, "t2", "aut_thanks", None, 10)).await.unwrap();
        assert!(none.is_empty(), "another tenant sees nothing");
        db.close();
    }
}
