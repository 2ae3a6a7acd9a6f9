//! Automations through the API, on SQLite and PostgreSQL: API.md's birthday journey saved and
//! read back, every mistake named by its field, switched off and edited. (Running them comes
//! with the rest of issue 16.)

mod common;

use common::spawn_app;
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::json;

on_both_backends! {
    async fn a_birthday_journey_is_saved_checked_switched_off_and_edited(db) {
        let app = spawn_app(db).await;
        let sms = app.post("/api/v1/channels", json!({"type": "sms_esms", "name": "eSMS",
            "settings": {"brandname": "CAPHE"}, "secrets": {"api_key": "k", "secret_key": "s"}})).await;
        assert_eq!(sms.status, StatusCode::CREATED, "{:?}", sms.body);
        let channel = sms.body["id"].as_str().unwrap();
        let program = app.post("/api/v1/voucher-programs", json!({"name": "Sinh nhật", "type": "fixed", "value": 50000,
            "codes": {"kind": "unique", "prefix": "SN-", "length": 8}})).await;
        assert_eq!(program.status, StatusCode::CREATED, "{:?}", program.body);
        let program = program.body["id"].as_str().unwrap();
        let send = |text: &str| json!({"type": "send", "channels": [{"channel_id": channel, "template": {"text": text}}]});

        let created = app.post("/api/v1/automations", json!({"name": "Chúc mừng sinh nhật",
            "trigger": {"type": "birthday", "days_before": 7},
            "steps": [{"type": "issue_voucher", "voucher_program_id": program},
                      send("Chúc mừng sinh nhật {{ member.first_name }}! Mã quà: {{ voucher.code }}"),
                      {"type": "wait", "duration": "P7D"},
                      {"type": "condition", "conditions": {"all": [{"field": "member.points", "op": ">=", "value": 0}]}},
                      send("Hôm nay là sinh nhật bạn, {{ member.first_name }}")]})).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(created.body["active"], true);
        assert_eq!(created.body["trigger"], json!({"type": "birthday", "days_before": 7}));
        assert_eq!(created.body["steps"].as_array().unwrap().len(), 5);
        let listed = app.get("/api/v1/automations").await;
        assert_eq!(listed.body.as_array().unwrap().len(), 1, "{:?}", listed.body);

        // Every mistake at once, each named.
        let bad = app.post("/api/v1/automations", json!({"name": "",
            "trigger": {"type": "no_purchase", "days": 0},
            "steps": [{"type": "issue_voucher", "voucher_program_id": "vpr_nope"},
                      {"type": "send", "channels": [{"channel_id": channel, "template": {"text": "{{ member.nickname }}"}}]},
                      {"type": "wait", "duration": "2 hours"},
                      {"type": "give_points", "points": -5},
                      {"type": "condition", "conditions": {"all": [{"field": "member.shoe_size", "op": "=", "value": 1}]}}]})).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", bad.body);
        let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        for wanted in ["name", "trigger.days", "steps[0].voucher_program_id", "steps[1].channels[0].template.text",
                       "steps[2].duration", "steps[3].points"] {
            assert!(fields.contains(&wanted), "{wanted} not in {fields:?}");
        }
        assert!(fields.iter().any(|f| f.starts_with("steps[4].conditions")), "{fields:?}");
        let unknown = app.post("/api/v1/automations", json!({"name": "x", "trigger": {"type": "full_moon"}, "steps": []})).await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", unknown.body);
        assert_eq!(app.get("/api/v1/automations").await.body.as_array().unwrap().len(), 1, "nothing written");

        // Off, then a shorter wait.
        let off = app.patch(&format!("/api/v1/automations/{id}"), json!({"active": false})).await;
        assert_eq!(off.status, StatusCode::OK, "{:?}", off.body);
        assert_eq!(off.body["active"], false);
        let mut steps = created.body["steps"].clone();
        steps[2]["duration"] = json!("P3D");
        let edited = app.patch(&format!("/api/v1/automations/{id}"), json!({"steps": steps})).await;
        assert_eq!(edited.status, StatusCode::OK, "{:?}", edited.body);
        assert_eq!(app.get(&format!("/api/v1/automations/{id}")).await.body["steps"][2]["duration"], "P3D");
        let missing = app.get("/api/v1/automations/aut_nope").await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
    }
}
