//! Segments over HTTP on a known population, on SQLite and PostgreSQL alike: every field and
//! operator's count is checked exactly, with the negative blocks and year-wrapping birthdays.

mod common;

use common::{TestApp, spawn_app};
use loyalty_store::on_both_backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 10:00 on 25 November 2026 in Vietnam.
const NOW: &str = "2026-11-25T03:00:00Z";

struct People {
    an: String,
    binh: String,
    #[allow(dead_code, reason = "named for the reader of the population")]
    cuong: String,
    dung: String,
    em: String,
    giang: String,
}

/// Six people (ages on 25 November 2026 in brackets):
/// - An, male, 1990-12-25 (35), Hà Nội / Cầu Giấy, vip; bought bánh at HN01 in October (300k).
/// - Bình, female, 1985-01-05 (41), Hà Nội, vip + cafe; bánh in October (200k), coffee at HN02
///   on 10 November (100k).
/// - Cường, male, birthday 06-15 without a year, "TP.HCM" (the old name); never bought.
/// - Dung, female, 2000-07-01 (26), Đà Nẵng, cafe; coffee with a voucher on 20 November (50k).
/// - Em, 1995-12-31 (30), Hà Nội; never bought.
/// - Giang, e-mail only, nothing else known.
async fn population(app: &TestApp) -> People {
    app.clock.set(NOW.parse().unwrap());
    for (name, rank, threshold) in [("Đồng", 1, 0), ("Vàng", 2, 250_000)] {
        let reply = app
            .post(
                "/api/v1/tiers",
                json!({"name": name, "rank": rank, "threshold": threshold}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    let member = |body: Value| async move {
        let reply = app.post("/api/v1/members", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.body["id"].as_str().unwrap().to_string()
    };
    let people = People {
        an: member(json!({"phone": "0911100001", "name": "Nguyễn Văn An", "gender": "male", "birthday": "1990-12-25", "province": "Hà Nội", "district": "Cầu Giấy", "tags": ["vip"]})).await,
        binh: member(json!({"phone": "0911100002", "name": "Trần Thị Bình", "gender": "female", "birthday": "1985-01-05", "province": "Hà Nội", "district": "Ba Đình", "tags": ["vip", "cafe"]})).await,
        cuong: member(json!({"phone": "0911100003", "name": "Lê Văn Cường", "gender": "male", "birthday": "--06-15", "province": "TP.HCM"})).await,
        dung: member(json!({"phone": "0911100004", "name": "Phạm Thị Dung", "gender": "female", "birthday": "2000-07-01", "province": "Đà Nẵng", "tags": ["cafe"]})).await,
        em: member(json!({"phone": "0911100005", "name": "Hoàng Văn Em", "birthday": "1995-12-31", "province": "Hà Nội"})).await,
        giang: member(json!({"email": "giang@example.vn"})).await,
    };
    let order = |id: &str,
                 n: &str,
                 at: &str,
                 store: &str,
                 category: &str,
                 total: i64,
                 vouchers: Value| {
        json!({"source": "pos", "external_id": n, "member_id": id, "placed_at": at, "store": store,
               "lines": [{"sku": format!("{category}-1"), "category": category, "quantity": 1, "unit_price": total}],
               "total": total, "vouchers": vouchers})
    };
    let voucher = app
        .post(
            "/api/v1/voucher-programs",
            json!({"name": "Chào bạn", "type": "fixed", "value": 10000, "codes": {"kind": "shared", "code": "CHAO"}}),
        )
        .await;
    assert_eq!(voucher.status, StatusCode::CREATED, "{:?}", voucher.body);
    for body in [
        order(
            &people.an,
            "A1",
            "2026-10-10T09:00:00+07:00",
            "HN01",
            "banh",
            300_000,
            json!([]),
        ),
        order(
            &people.binh,
            "B1",
            "2026-10-15T09:00:00+07:00",
            "HN01",
            "banh",
            200_000,
            json!([]),
        ),
        order(
            &people.binh,
            "B2",
            "2026-11-10T09:00:00+07:00",
            "HN02",
            "cafe",
            100_000,
            json!([]),
        ),
        order(
            &people.dung,
            "D1",
            "2026-11-20T09:00:00+07:00",
            "HN01",
            "cafe",
            50_000,
            json!(["CHAO"]),
        ),
    ] {
        let reply = app.post("/api/v1/orders", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
    }
    people
}

async fn count(app: &TestApp, conditions: Value) -> i64 {
    let reply = app
        .post(
            "/api/v1/segments/preview",
            json!({"conditions": conditions}),
        )
        .await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "{conditions}: {:?}",
        reply.body
    );
    reply.body["count"].as_i64().unwrap()
}

fn leaf(field: &str, op: &str, value: Value) -> Value {
    json!({"field": format!("member.{field}"), "op": op, "value": value})
}

on_both_backends! {
    async fn every_field_and_operator_counts_exactly(db) {
        let app = spawn_app(db).await;
        population(&app).await;
        let cases = [
            (leaf("name", "contains", json!("văn")), 3, "An, Cường, Em (tone marks and case folded)"),
            (leaf("gender", "=", json!("female")), 2, "Bình, Dung"),
            (leaf("gender", "!=", json!("female")), 4, "unknown genders are not female"),
            (leaf("age", ">=", json!(30)), 3, "An 35, Bình 41, Em 30 (birthday still ahead)"),
            (leaf("age", "between", json!([26, 30])), 2, "Dung 26, Em 30"),
            (leaf("age", "=", json!(35)), 1, "An"),
            (leaf("age", "<", json!(30)), 1, "Dung; no year, no age"),
            (leaf("birthday_month", "=", json!(12)), 2, "An, Em"),
            (leaf("birthday_month", "in", json!([1, 6])), 2, "Bình, Cường"),
            (leaf("birthday", "between", json!(["12-20", "01-10"])), 3, "An, Em, Bình across New Year"),
            (leaf("birthday", "between", json!(["06-01", "07-01"])), 2, "Cường (no year), Dung"),
            (leaf("province", "=", json!("Hà Nội")), 3, "An, Bình, Em"),
            (leaf("province", "=", json!("Hồ Chí Minh")), 1, "Cường wrote TP.HCM"),
            (leaf("province", "in", json!(["Đà Nẵng", "TP HCM"])), 2, "Cường, Dung"),
            (leaf("district", "contains", json!("Giấy")), 1, "An"),
            (leaf("tags", "has", json!("vip")), 2, "An, Bình"),
            (leaf("tags", "has_not", json!("vip")), 4, "everyone else"),
            (leaf("tier", "=", json!("Vàng")), 2, "An 300k, Bình 300k"),
            (leaf("tier", "in", json!(["Đồng", "Vàng"])), 3, "Dung is Đồng"),
            (leaf("tier", "!=", json!("Vàng")), 4, "no tier is not Vàng"),
            (leaf("points", ">", json!(0)), 3, "the three buyers"),
            (leaf("lifetime_spend", ">=", json!(300_000)), 2, "An, Bình"),
            (leaf("order_count", ">=", json!(2)), 1, "Bình"),
            (leaf("avg_order_value", ">", json!(200_000)), 1, "An (Bình averages 150k)"),
            (leaf("last_order_at", "within_days", json!(10)), 1, "Dung on the 20th"),
            (leaf("last_order_at", "not_within_days", json!(10)), 5, "never bought counts as not within"),
            (leaf("last_order_at", "before", json!("2026-11-01")), 1, "An"),
            (leaf("last_order_at", "between", json!(["2026-11-01", "2026-11-15"])), 1, "Bình"),
            (leaf("member_since", "after", json!("2026-01-01")), 3, "buyers became members when they bought"),
            (json!({"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "banh"}}), 2, "An, Bình"),
            (json!({"purchased": {"store": "HN02"}}), 1, "Bình"),
            (json!({"purchased": {"sku": "cafe-1", "from": "2026-11-15"}}), 1, "Dung"),
            (json!({"not_purchased": {"from": "2026-11-01"}}), 4, "An, Cường, Em, Giang"),
            (json!({"not_purchased": {}}), 3, "never bought at all"),
            (json!({"used_voucher": {"from": "2026-11-01"}}), 1, "Dung"),
            (json!({"used_voucher": {"to": "2026-11-01"}}), 0, "no voucher before November"),
            (json!({"not": leaf("province", "=", json!("Hà Nội"))}), 3, "Cường, Dung and Giang, who has no province"),
            (json!({"not": leaf("tags", "has", json!("cafe"))}), 4, "tags are never unknown"),
            (json!({"any": [leaf("gender", "=", json!("female")), leaf("tags", "has", json!("vip"))]}), 3, "An, Bình, Dung"),
            (json!({"all": []}), 6, "everyone"),
            (json!({"any": []}), 0, "no one"),
            (json!({"all": [
                leaf("province", "=", json!("Hà Nội")),
                {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "banh"}},
                {"not_purchased": {"from": "2026-11-01"}},
                leaf("tier", "in", json!(["Vàng"])),
            ]}), 1, "the marketer's sentence: An"),
            (leaf("status", "=", json!("member")), 3, "the buyers were activated by their orders"),
        ];
        let mut wrong = Vec::new();
        for (conditions, expected, why) in cases {
            let got = count(&app, conditions.clone()).await;
            if got != expected {
                wrong.push(format!("{conditions}: {got}, expected {expected} ({why})"));
            }
        }
        assert!(wrong.is_empty(), "wrong counts:\n{}", wrong.join("\n"));
        app.stop().await;
    }

    async fn rfm_classes_are_scored_shown_and_segmentable(db) {
        let app = spawn_app(db).await;
        let people = population(&app).await;
        assert_eq!(count(&app, leaf("rfm", "in", json!(["Champions", "Loyal", "Potential", "New", "At risk", "Hibernating", "Lost"]))).await, 0);
        let scored = app.app.score_rfm_for(&app.tenant_id).await.unwrap();
        assert_eq!(scored, 3, "only buyers are scored");
        let binh = app.get(&format!("/api/v1/members/{}", people.binh)).await.body;
        assert!(binh["rfm"]["class"].is_string(), "{binh}");
        assert_eq!(binh["rfm"]["score"].as_str().unwrap().len(), 3);
        let class = binh["rfm"]["class"].clone();
        assert!(count(&app, leaf("rfm", "=", class)).await >= 1);
        assert_eq!(count(&app, leaf("rfm", "in", json!(["Champions", "Loyal", "Potential", "New", "At risk", "Hibernating", "Lost"]))).await, 3);
        let giang = app.get(&format!("/api/v1/members/{}", people.giang)).await.body;
        assert_eq!(giang["rfm"], Value::Null);
        app.stop().await;
    }

    async fn rfm_scores_from_the_databases_cuts_match_the_whole_tenants_ranking(db) {
        let app = spawn_app(db).await;
        // Ties on every measure: recency in five steps, most bought once, spend in seven steps.
        let values: Vec<(i64, i64, i64)> = (0..23i64)
            .map(|i| (1_790_000_000_000 + (i % 5) * 86_400_000, if i % 4 == 0 { 3 } else { 1 }, 100_000 * (i % 7 + 1)))
            .collect();
        let mut ids = Vec::new();
        for (i, &(r, f, m)) in values.iter().enumerate() {
            let id = app.new_member(&format!("09180000{i:02}")).await;
            let (tenant, member) = (app.tenant_id.clone(), id.clone());
            app.app.db().write(move |sql| sql.execute(
                "update members set last_order_at = $3, order_count = $4, lifetime_spend = $5 where tenant_id = $1 and id = $2",
                loyalty_store::params![tenant.as_str(), member.as_str(), r, f, m],
            )).await.unwrap();
            ids.push(id);
        }
        assert_eq!(app.app.score_rfm_for(&app.tenant_id).await.unwrap(), 23);
        let quintiles = |pick: fn(&(i64, i64, i64)) -> i64| {
            loyalty_core::rfm::quintiles(&values.iter().map(pick).collect::<Vec<_>>())
        };
        let (r, f, m) = (quintiles(|v| v.0), quintiles(|v| v.1), quintiles(|v| v.2));
        for (i, id) in ids.iter().enumerate() {
            let member = app.get(&format!("/api/v1/members/{id}")).await.body;
            let expected = format!("{}{}{}", r[i], f[i], m[i]);
            assert_eq!(member["rfm"]["score"].as_str(), Some(expected.as_str()), "member {i}: {member}");
            assert_eq!(member["rfm"]["class"].as_str(), Some(loyalty_core::rfm::class(r[i], f[i], m[i])));
        }
        // A second scoring writes nothing new and scores the same; a member who stops being a
        // buyer loses the class.
        let (tenant, first) = (app.tenant_id.clone(), ids[0].clone());
        app.app.db().write(move |sql| sql.execute(
            "update members set order_count = 0 where tenant_id = $1 and id = $2",
            loyalty_store::params![tenant.as_str(), first.as_str()],
        )).await.unwrap();
        assert_eq!(app.app.score_rfm_for(&app.tenant_id).await.unwrap(), 22);
        assert_eq!(app.get(&format!("/api/v1/members/{}", ids[0])).await.body["rfm"], Value::Null);
        app.stop().await;
    }

    async fn a_bad_tree_is_refused_naming_the_path(db) {
        let app = spawn_app(db).await;
        let reply = app.post("/api/v1/segments/preview", json!({"conditions": {"all": [
            leaf("province", "=", json!("Hà Nội")),
            leaf("tier", "has", json!("Vàng")),
            {"field": "member.shoe_size", "op": "=", "value": 42},
            leaf("age", ">=", json!("thirty")),
            {"purchased": {"from": "2026-13-01"}},
        ]}})).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = reply.body["errors"].as_array().unwrap().iter()
            .map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, [
            "conditions.all[1].op",
            "conditions.all[2].field",
            "conditions.all[3].value",
            "conditions.all[4].purchased.from",
        ], "{:?}", reply.body);
        let saved = app.post("/api/v1/segments", json!({"name": "", "conditions": {"all": [{"nope": 1}]}})).await;
        assert_eq!(saved.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(app.get("/api/v1/segments").await.body["items"], json!([]), "nothing was written");
        app.stop().await;
    }

    async fn saved_segments_list_their_members_export_and_report(db) {
        let app = spawn_app(db).await;
        let people = population(&app).await;
        let created = app.post("/api/v1/segments", json!({
            "name": "Mua bánh tháng 10", "description": "Khách mua bánh trong tháng 10",
            "conditions": {"purchased": {"from": "2026-10-01", "to": "2026-11-01", "category": "banh"}}
        })).await;
        assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
        assert_eq!(created.body["count"], 2);
        let id = created.body["id"].as_str().unwrap().to_string();

        // The count is as of reading: Em buys bánh in October (a late POS upload) and joins.
        let late = json!({"source": "pos", "external_id": "E1", "member_id": people.em, "placed_at": "2026-10-20T09:00:00+07:00",
                          "lines": [{"sku": "banh-1", "category": "banh", "quantity": 2, "unit_price": 50000}], "total": 100000});
        assert_eq!(app.post("/api/v1/orders", late).await.status, StatusCode::CREATED);
        assert_eq!(app.get(&format!("/api/v1/segments/{id}")).await.body["count"], 3);

        let first = app.get(&format!("/api/v1/segments/{id}/members?limit=2")).await;
        assert_eq!(first.status, StatusCode::OK);
        let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
        let second = app.get(&format!("/api/v1/segments/{id}/members?limit=2&cursor={cursor}")).await;
        let mut ids: Vec<String> = first.body["items"].as_array().unwrap().iter()
            .chain(second.body["items"].as_array().unwrap())
            .map(|m| m["id"].as_str().unwrap().to_string()).collect();
        ids.sort();
        let mut expected = vec![people.an.clone(), people.binh.clone(), people.em.clone()];
        expected.sort();
        assert_eq!(ids, expected);
        assert_eq!(second.body["next_cursor"], Value::Null);
        assert!(first.body["items"][0]["tier"]["name"].is_string(), "members come with their tier");

        let export = app.client.get(format!("{}/api/v1/segments/{id}/export", app.base))
            .bearer_auth(&app.key).send().await.unwrap();
        assert_eq!(export.status(), StatusCode::OK);
        assert!(export.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let text = export.text().await.unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("\u{feff}phone,email,name,"), "{}", lines[0]);
        assert_eq!(lines.len(), 4, "header and three members:\n{text}");
        assert!(text.contains("+84911100001,,Nguyễn Văn An,male,1990-12-25,Hà Nội,Cầu Giấy,vip,"), "{text}");

        // Report over October and November: An 300k (1 order), Bình 300k (2), Em 100k (1).
        let report = app.get(&format!("/api/v1/segments/{id}/report?from=2026-10-01T00:00:00%2B07:00&to=2026-12-01T00:00:00%2B07:00")).await;
        assert_eq!(report.status, StatusCode::OK, "{:?}", report.body);
        assert_eq!(report.body["size"], 3);
        assert_eq!(report.body["share"], 0.5);
        assert_eq!(report.body["revenue"], 700_000);
        assert_eq!(report.body["orders"], 4);
        assert_eq!(report.body["average_order_value"], 175_000);
        assert_eq!(report.body["buyers"], 3);
        assert!((report.body["repeat_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);

        let renamed = app.patch(&format!("/api/v1/segments/{id}"), json!({"name": "Bánh T10"})).await;
        assert_eq!(renamed.body["name"], "Bánh T10");
        assert_eq!(renamed.body["description"], "Khách mua bánh trong tháng 10");
        assert_eq!(app.get("/api/v1/segments").await.body["items"].as_array().unwrap().len(), 1);
        let deleted = app.request(reqwest::Method::DELETE, &format!("/api/v1/segments/{id}"), Some(&app.key), None).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        assert_eq!(app.get(&format!("/api/v1/segments/{id}")).await.status, StatusCode::NOT_FOUND);
        app.stop().await;
    }

    async fn segments_never_cross_tenants(db) {
        let app = spawn_app(db).await;
        population(&app).await;
        let (_, other_key) = common::create_tenant(&app.app, "Thời Trang Mộc").await;
        let reply = app.request(reqwest::Method::POST, "/api/v1/segments/preview", Some(&other_key),
                                Some(json!({"conditions": {"all": []}}))).await;
        assert_eq!(reply.body["count"], 0);
        let created = app.post("/api/v1/segments", json!({"name": "Tất cả", "conditions": {"all": []}})).await;
        let id = created.body["id"].as_str().unwrap();
        let foreign = app.request(reqwest::Method::GET, &format!("/api/v1/segments/{id}"), Some(&other_key), None).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND);
        app.stop().await;
    }
}
