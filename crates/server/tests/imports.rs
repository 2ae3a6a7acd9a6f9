//! Member imports and exports over HTTP, on SQLite and PostgreSQL alike.

mod common;

use std::time::Duration;

use common::{TestApp, spawn_app};
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

const HEADER: &str = "phone,email,name,gender,birthday,province,district,tags,points,lifetime_spend,tier,member_since,external_id";

async fn ladder(app: &TestApp) {
    for (name, rank, threshold) in [
        ("Đồng", 1, 0),
        ("Bạc", 2, 2_000_000),
        ("Vàng", 3, 5_000_000),
    ] {
        let reply = app
            .post(
                "/api/v1/tiers",
                json!({"name": name, "rank": rank, "threshold": threshold}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
}

/// Posts a file with `key` and waits for the import to finish.
async fn import_with(app: &TestApp, key: &str, csv: Vec<u8>) -> Value {
    let response = app
        .client
        .post(format!("{}/api/v1/imports/members", app.base))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["status"], "running");
    for _ in 0..600 {
        let job = app
            .request(reqwest::Method::GET, &location, Some(key), None)
            .await
            .body;
        if job["status"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the import did not finish");
}

async fn import(app: &TestApp, csv: Vec<u8>) -> Value {
    import_with(app, &app.key, csv).await
}

async fn export_with(app: &TestApp, key: &str) -> String {
    let response = app
        .client
        .get(format!("{}/api/v1/members/export", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// 1,000 rows, five of them bad in the ways a real list is: rows 101 (bad phone), 202 (the
/// phone of row 2 again), 303 (31 February), 404 (negative points), 505 (no such tier).
fn thousand_rows() -> Vec<u8> {
    let mut csv = format!("{HEADER}\n");
    for i in 0..1000 {
        let row = i + 2;
        let phone = match row {
            101 => "012345".to_string(),
            202 => "0912000000".to_string(),
            _ => format!("0912{:06}", i),
        };
        let birthday = if row == 303 {
            "1990-02-31".to_string()
        } else {
            format!("19{}-0{}-1{}", 60 + i % 40, 1 + i % 9, i % 10)
        };
        let points = if row == 404 {
            "-5".to_string()
        } else {
            (i * 10).to_string()
        };
        let tier = match row {
            505 => "Kim Cương",
            _ if i % 3 == 0 => "Vàng",
            _ if i % 3 == 1 => "Bạc",
            _ => "",
        };
        csv.push_str(&format!(
            "{phone},kh{i}@example.vn,Khách {i},{},{birthday},Hà Nội,,{},{points},{},{tier},2024-03-0{},KV-{i}\n",
            if i % 2 == 0 { "nữ" } else { "nam" },
            if i % 5 == 0 { "vip|cafe" } else { "" },
            i * 1000,
            1 + i % 9,
        ));
    }
    csv.into_bytes()
}

/// The sum of every member's points in the export, after checking balances against the ledger.
async fn points_total(app: &TestApp) -> i64 {
    let report = app.app.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let export = export_with(app, &app.key).await;
    csv::Reader::from_reader(export.as_bytes())
        .records()
        .map(|r| r.unwrap()[8].parse::<i64>().unwrap())
        .sum()
}

on_both_backends! {
    async fn a_thousand_rows_with_five_bad_import_995_and_name_the_five(db) {
        let app = spawn_app(db).await;
        ladder(&app).await;
        let job = import(&app, thousand_rows()).await;
        assert_eq!(job["status"], "done", "{job}");
        assert_eq!((job["total"].as_i64(), job["imported"].as_i64(), job["failed"].as_i64()), (Some(1000), Some(995), Some(5)));
        let errors: Vec<(i64, &str)> = job["errors"].as_array().unwrap().iter()
            .map(|e| (e["row"].as_i64().unwrap(), e["field"].as_str().unwrap())).collect();
        assert_eq!(errors, [(101, "phone"), (202, "phone"), (303, "birthday"), (404, "points"), (505, "tier")], "{job}");
        assert_eq!(job["errors"][1]["message"], "is also on row 2 of this file");
        assert_eq!(app.count("members").await, 995);
        let events = app.event_types().await;
        let kept = |i: &i64| ![99, 200, 301, 402, 503].contains(i);
        let tally = |kind: &str| events.iter().filter(|t| *t == kind).count();
        assert_eq!(tally("member.created"), 995);
        assert_eq!(tally("points.adjusted"), (1..1000).filter(kept).count(), "an opening balance is an adjustment (row 2 has none)");
        assert_eq!(tally("tier.changed"), (0..1000).filter(kept).filter(|i| i % 3 != 2).count());
        assert_eq!(events.len(), tally("member.created") + tally("points.adjusted") + tally("tier.changed"), "{events:?}");

        // Opening balances are ledger entries; tiers came with a history row; verify is clean.
        let sum: i64 = (0..1000).filter(|i| ![99, 200, 301, 402, 503].contains(i)).map(|i| i * 10).sum();
        assert_eq!(points_total(&app).await, sum);
        let member = app.get("/api/v1/members?phone=0912000003").await.body["items"][0].clone();
        assert_eq!(member["points"]["available"], 30);
        assert_eq!(member["lifetime_spend"], 3000);
        assert_eq!(member["tier"]["name"], "Vàng");
        assert_eq!(member["status"], "member");
        assert_eq!(member["tags"], json!([]));
        assert_eq!(member["external_ids"], json!({"import": "KV-3"}));
        assert_eq!(member["member_since"], "2024-03-03T17:00:00Z", "a date is that day's start in Vietnam");
        let id = member["id"].as_str().unwrap();
        let ledger = app.get(&format!("/api/v1/members/{id}/ledger")).await.body;
        assert_eq!(ledger["items"][0]["kind"], "adjust");
        assert_eq!(ledger["items"][0]["reason"], "import");
        let history = app.get(&format!("/api/v1/members/{id}/tier-history")).await.body;
        assert_eq!(history["items"][0]["reason"], "import");

        // The same file again changes nothing.
        let (entries, activity) = (app.count("ledger_entries").await, app.count("tier_history").await);
        let before = export_with(&app, &app.key).await;
        let again = import(&app, thousand_rows()).await;
        assert_eq!((again["imported"].as_i64(), again["failed"].as_i64()), (Some(995), Some(5)));
        assert_eq!(app.count("members").await, 995);
        assert_eq!(app.count("ledger_entries").await, entries);
        assert_eq!(app.event_types().await, events, "the same file again raises nothing");
        assert_eq!(app.count("tier_history").await, activity);
        assert_eq!(export_with(&app, &app.key).await, before, "every member is as it was");
        app.stop().await;
    }

    async fn an_excel_file_imports_and_other_encodings_are_refused(db) {
        let app = spawn_app(db).await;
        // Excel on Windows: a byte-order mark, CRLF, quoted cells with commas and line breaks,
        // dates as DD/MM/YYYY, amounts with thousands separators, Vietnamese genders.
        let excel = "\u{feff}Phone,Name,Gender,Birthday,Province,Tags,Points\r\n\
                     0901234567,\"Nguyễn Văn A, con\",Nam,17/05/1990,\"Hà Nội\",vip|cafe,\"1,500\"\r\n\
                     \"0901234568\",\"Trần Thị\r\nBình\",Nữ,,Huế,,0\r\n\
                     ,,,,,,\r\n";
        let job = import(&app, excel.as_bytes().to_vec()).await;
        assert_eq!((job["imported"].as_i64(), job["failed"].as_i64()), (Some(2), Some(0)), "{job}");
        let a = app.get("/api/v1/members?phone=0901234567").await.body["items"][0].clone();
        assert_eq!(a["name"], "Nguyễn Văn A, con");
        assert_eq!(a["gender"], "male");
        assert_eq!(a["birthday"], "1990-05-17");
        assert_eq!(a["tags"], json!(["vip", "cafe"]));
        assert_eq!(a["points"]["available"], 1500);
        let b = app.get("/api/v1/members?phone=0901234568").await.body["items"][0].clone();
        assert_eq!(b["name"], "Trần Thị Bình", "a line break inside a cell is a space");

        // "Nguyễn" in Windows-1258 is not UTF-8: refused before anything is written.
        let legacy = b"phone,name\r\n0901234569,Nguy\xD2n\r\n".to_vec();
        let refused = app.post_raw("/api/v1/imports/members", "text/csv", legacy).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.error_field(), "file");
        assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("CSV UTF-8"), "{:?}", refused.body);
        let utf16 = b"\xFF\xFEp\x00h\x00".to_vec();
        let refused = app.post_raw("/api/v1/imports/members", "text/csv", utf16).await;
        assert!(refused.body["errors"][0]["message"].as_str().unwrap().contains("UTF-16"));
        let misspelt = app.post_raw("/api/v1/imports/members", "text/csv", b"phnoe,name\n0901,A\n".to_vec()).await;
        assert_eq!(misspelt.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(misspelt.body["errors"][0]["message"].as_str().unwrap().contains("unknown column \"phnoe\""));
        let json_body = app.post_raw("/api/v1/imports/members", "application/json", b"{}".to_vec()).await;
        assert_eq!(json_body.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(app.count("imports").await, 1, "refused files leave no job behind");
        assert_eq!(app.count("members").await, 2);

        // Semicolons, as Excel writes CSV where the decimal mark is a comma.
        let job = import(&app, "phone;name\n0901234570;Lê C\n".as_bytes().to_vec()).await;
        assert_eq!(job["imported"], 1, "{job}");
        app.stop().await;
    }

    async fn export_then_import_round_trips_and_reimport_into_the_same_tenant_changes_nothing(db) {
        let app = spawn_app(db).await;
        ladder(&app).await;
        let csv = format!("{HEADER}\n\
            0912000001,a@example.vn,\"Nguyễn, An\",nữ,1990-05-17,Hà Nội,Cầu Giấy,vip|cafe,1500,2500000,Bạc,2024-01-02,KV-1\n\
            0912000002,,=cmd|' /C calc'!A0,nam,--12-24,TP.HCM,,,0,0,,,\n\
            ,b@example.vn,Trần Bình,,,,,,,,,,KV-3\n");
        let job = import(&app, csv.into_bytes()).await;
        assert_eq!(job["imported"], 3, "{job}");
        // Creating the ladder re-evaluates the members in the background, which may run before
        // or after the import; settle it here so the export does not depend on that race.
        app.app.reevaluate_tenant(&app.tenant_id).await.unwrap();
        // A member who earns after the import: the export carries their balance as it is.
        let an = app.get("/api/v1/members?phone=0912000001").await.body["items"][0]["id"].as_str().unwrap().to_string();
        let order = json!({"source": "pos", "external_id": "O-1", "member_id": an, "total": 200000});
        assert_eq!(app.post("/api/v1/orders", order).await.status, StatusCode::CREATED);
        let exported = export_with(&app, &app.key).await;
        assert!(exported.contains("'=cmd"), "a formula is made inert for spreadsheets:\n{exported}");

        // Into the same tenant: profiles rewritten as they are, no points given twice.
        let entries = app.count("ledger_entries").await;
        let again = import(&app, exported.clone().into_bytes()).await;
        assert_eq!((again["imported"].as_i64(), again["failed"].as_i64()), (Some(3), Some(0)), "{again}");
        assert_eq!(app.count("ledger_entries").await, entries);
        assert_eq!(export_with(&app, &app.key).await, exported);

        // Into another tenant with the same tiers: the same members, balances and tiers.
        let (other_id, other_key) = common::create_tenant(&app.app, "Chi nhánh mới").await;
        for (name, rank, threshold) in [("Đồng", 1, 0), ("Bạc", 2, 2_000_000), ("Vàng", 3, 5_000_000)] {
            let reply = app.request(reqwest::Method::POST, "/api/v1/tiers", Some(&other_key),
                Some(json!({"name": name, "rank": rank, "threshold": threshold}))).await;
            assert_eq!(reply.status, StatusCode::CREATED);
        }
        let moved = import_with(&app, &other_key, exported.clone().into_bytes()).await;
        assert_eq!(moved["imported"], 3, "{moved}");
        app.app.reevaluate_tenant(&other_id).await.unwrap();
        let copy = export_with(&app, &other_key).await;
        // The platform's own columns (status on, member_code, counts, id) differ by nature.
        let columns = |text: &str| -> Vec<Vec<String>> {
            let mut rows: Vec<Vec<String>> = csv::Reader::from_reader(text.as_bytes()).records()
                .map(|r| r.unwrap().iter().take(14).map(str::to_string).collect()).collect();
            rows.sort();
            rows
        };
        assert_eq!(columns(&copy), columns(&exported));
        assert!(copy.contains(",1520,2700000,Bạc,"), "An's balance and spend moved with her:\n{copy}");
        app.stop().await;
    }

    async fn a_first_link_brings_the_old_balance_once(db) {
        let app = spawn_app(db).await;
        // She signed up at the till before the old program's balances were moved.
        let created = app.post("/api/v1/members", json!({"phone": "0933000001", "name": "Chị Hoa"})).await;
        let id = created.body["id"].as_str().unwrap().to_string();
        let file = format!("{HEADER}\n0933000001,,,,,,,,800,1200000,,,OLD-77\n").into_bytes();
        let job = import(&app, file.clone()).await;
        assert_eq!(job["imported"], 1, "{job}");
        let member = app.get(&format!("/api/v1/members/{id}")).await.body;
        assert_eq!(member["points"]["available"], 800);
        assert_eq!(member["lifetime_spend"], 1_200_000);
        assert_eq!(member["name"], "Chị Hoa", "blank cells keep what is there");
        assert_eq!(member["external_ids"]["import"], "OLD-77");
        import(&app, file).await;
        let member = app.get(&format!("/api/v1/members/{id}")).await.body;
        assert_eq!(member["points"]["available"], 800, "linked once, given once");
        // A row whose phone and external id name two different members is refused.
        app.post("/api/v1/members", json!({"phone": "0933000002"})).await;
        let clash = import(&app, format!("{HEADER}\n0933000002,,,,,,,,,,,,OLD-77\n").into_bytes()).await;
        assert_eq!(clash["failed"], 1);
        assert_eq!(clash["errors"][0]["field"], "phone");
        app.stop().await;
    }

    async fn imports_and_exports_need_an_admin_key(db) {
        let app = spawn_app(db).await;
        let pos = app.key_with(&["pos"]).await;
        let reply = app.request(reqwest::Method::GET, "/api/v1/members/export", Some(&pos), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        let response = app.client.post(format!("{}/api/v1/imports/members", app.base))
            .bearer_auth(&pos).header("content-type", "text/csv").body("phone\n0901234567\n").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        app.stop().await;
    }
}
