//! The consent history (Decree 13/2023) on SQLite and PostgreSQL: every consent change made
//! through the API is recorded with its channel, value, source and actor, newest first; a
//! change that moves nothing records nothing.

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn entries(body: &Value) -> Vec<(String, bool, String)> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"]["kind"], "api_key", "{e}");
            assert!(e["at"].as_str().is_some(), "{e}");
            (
                e["channel"].as_str().unwrap().to_string(),
                e["granted"].as_bool().unwrap(),
                e["source"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn entry(channel: &str, granted: bool) -> (String, bool, String) {
    (channel.to_string(), granted, "api".to_string())
}

on_both_backends! {
    async fn every_consent_change_is_recorded_with_its_source_and_actor(db) {
        let app = spawn_app(db).await;
        let created = app.post("/api/v1/members", json!({"phone": "0901234567", "consent": {"sms": true, "zalo": true}})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        let history = app.get(&format!("/api/v1/members/{id}/consent-history")).await;
        assert_eq!(history.status, StatusCode::OK, "{:?}", history.body);
        let mut first = entries(&history.body);
        first.sort();
        assert_eq!(first, vec![entry("sms", true), entry("zalo", true)]);

        // Withdrawn on one channel, given on another; then the same again: nothing new.
        let changed = app.patch(&format!("/api/v1/members/{id}"), json!({"consent": {"sms": false, "email": true}})).await;
        assert_eq!(changed.status, StatusCode::OK, "{:?}", changed.body);
        app.patch(&format!("/api/v1/members/{id}"), json!({"consent": {"sms": false}})).await;
        app.patch(&format!("/api/v1/members/{id}"), json!({"name": "Lan"})).await;
        let history = app.get(&format!("/api/v1/members/{id}/consent-history?limit=2")).await;
        let mut newest = entries(&history.body);
        newest.sort();
        assert_eq!(newest, vec![entry("email", true), entry("sms", false)]);
        let cursor = history.body["next_cursor"].as_str().expect("a second page").to_string();
        let older = app.get(&format!("/api/v1/members/{id}/consent-history?limit=2&cursor={cursor}")).await;
        let mut older = entries(&older.body);
        older.sort();
        assert_eq!(older, vec![entry("sms", true), entry("zalo", true)]);
        assert_eq!(app.count("consent_history").await, 4);

        // A member without consent given has no history; an unknown one is not found.
        let quiet = app.post("/api/v1/members", json!({"phone": "0912345678"})).await;
        let quiet_id = quiet.body["id"].as_str().unwrap();
        let none = app.get(&format!("/api/v1/members/{quiet_id}/consent-history")).await;
        assert_eq!(none.body["items"], json!([]));
        let unknown = app.get("/api/v1/members/mem_00000000000000000000000000000000/consent-history").await;
        assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    }
}
