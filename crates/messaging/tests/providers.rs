//! Each adapter against its local double: what the provider receives, how its answers are
//! read (sent, temporary, permanent, the same reference twice), Zalo's token refresh, and the
//! delivery reports with good and bad signatures.

use loyalty_messaging::doubles::{ProviderDouble, SmtpDouble};
use loyalty_messaging::provider::{
    self, Callback, CallbackRefusal, ChannelType, Outcome, Outgoing, ReportEvent, Secrets,
};
use loyalty_messaging::sms;
use loyalty_messaging::template::Rendered;
use serde_json::json;

fn secrets(pairs: &[(&str, &str)]) -> Secrets {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sms_to(phone: &str, reference: &str) -> Outgoing {
    let text = "Cảm ơn bạn đã mua hàng".to_string();
    Outgoing {
        reference: reference.into(),
        to: phone.into(),
        name: None,
        content: Rendered::Sms {
            length: sms::length(&text),
            text,
        },
        callback_url: Some("http://loyalty.local/hooks/messages/ch1?k=s3cret".into()),
    }
}

fn email_to(address: &str, reference: &str) -> Outgoing {
    Outgoing {
        reference: reference.into(),
        to: address.into(),
        name: Some("Nguyễn An".into()),
        content: Rendered::Email {
            subject: "Tri ân tháng 12".into(),
            html: "<p>Xin chào</p>".into(),
            text: Some("Xin chào".into()),
        },
        callback_url: None,
    }
}

fn zns_to(phone: &str, reference: &str) -> Outgoing {
    Outgoing {
        reference: reference.into(),
        to: phone.into(),
        name: None,
        content: Rendered::Zns {
            template_id: "7895417a7d3f9461cd2e".into(),
            params: [("customer_name".to_string(), "Nguyễn An".to_string())].into(),
        },
        callback_url: None,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn esms_sends_once_per_request_id() {
    let double = ProviderDouble::start().await;
    let settings = json!({"brandname": "SHOP", "api_base": double.base()});
    let keys = secrets(&[("api_key", "k"), ("secret_key", "s")]);
    provider::validate(ChannelType::SmsEsms, &settings, &keys).unwrap();
    let esms = provider::build(ChannelType::SmsEsms, &settings, &keys, &http()).unwrap();

    let first = esms.send(&sms_to("+84901234567", "msg_1")).await;
    assert!(
        matches!(
            first,
            Outcome::Sent {
                provider_id: Some(_)
            }
        ),
        "{first:?}"
    );
    // The same RequestId again (a retry after a lost answer): eSMS says 124, nothing is sent.
    let again = esms.send(&sms_to("+84901234567", "msg_1")).await;
    assert_eq!(first, again);
    assert_eq!(double.counts().get("0901234567"), Some(&1));

    double.fail_next(1);
    assert!(matches!(
        esms.send(&sms_to("+84901234568", "msg_2")).await,
        Outcome::Temporary(_)
    ));
    double.refuse("0901234569");
    assert!(matches!(
        esms.send(&sms_to("+84901234569", "msg_3")).await,
        Outcome::Permanent(_)
    ));
    assert_eq!(double.received().len(), 1);
}

#[tokio::test]
async fn vietguys_and_zns_take_the_international_form() {
    let double = ProviderDouble::start().await;
    let vg = provider::build(
        ChannelType::SmsVietguys,
        &json!({"from": "SHOP", "api_base": double.base()}),
        &secrets(&[("username", "u"), ("password", "p")]),
        &http(),
    )
    .unwrap();
    assert!(matches!(
        vg.send(&sms_to("+84901234567", "msg_v")).await,
        Outcome::Sent { .. }
    ));
    vg.send(&sms_to("+84901234567", "msg_v")).await;
    double.refuse("84901234568");
    assert!(matches!(
        vg.send(&sms_to("+84901234568", "msg_w")).await,
        Outcome::Permanent(_)
    ));

    let zns = provider::build(
        ChannelType::ZaloZns,
        &json!({"app_id": "app", "api_base": double.base()}),
        &secrets(&[("access_token", "t")]),
        &http(),
    )
    .unwrap();
    assert!(matches!(
        zns.send(&zns_to("+84901234570", "msg_z")).await,
        Outcome::Sent { .. }
    ));
    double.refuse("84901234571");
    match zns.send(&zns_to("+84901234571", "msg_y")).await {
        Outcome::Permanent(why) => assert!(why.contains("-114"), "{why}"),
        other => panic!("{other:?}"),
    }
    let counts = double.counts();
    assert_eq!(counts.get("84901234567"), Some(&1));
    assert_eq!(counts.get("84901234570"), Some(&1));
    assert_eq!(double.received().len(), 2);
}

#[tokio::test]
async fn zns_asks_for_a_refresh_and_the_refresh_token_works_once() {
    let double = ProviderDouble::start().await;
    double.zns_tokens("current", "refresh-0");
    let settings = json!({"app_id": "app", "api_base": double.base(), "oauth_base": double.base()});
    let stale = provider::build(
        ChannelType::ZaloZns,
        &settings,
        &secrets(&[("access_token", "old")]),
        &http(),
    )
    .unwrap();
    assert!(matches!(
        stale.send(&zns_to("+84901234567", "m")).await,
        Outcome::TokenExpired(_)
    ));
    let parsed: provider::zns::Settings = serde_json::from_value(settings.clone()).unwrap();
    let tokens = provider::zns::refresh(&http(), &parsed, "app-secret", "refresh-0")
        .await
        .unwrap();
    assert!(
        provider::zns::refresh(&http(), &parsed, "app-secret", "refresh-0")
            .await
            .is_err(),
        "a refresh token is single-use"
    );
    let fresh = provider::build(
        ChannelType::ZaloZns,
        &settings,
        &secrets(&[("access_token", &tokens.access_token)]),
        &http(),
    )
    .unwrap();
    assert!(matches!(
        fresh.send(&zns_to("+84901234567", "m")).await,
        Outcome::Sent { .. }
    ));
}

#[tokio::test]
async fn email_providers_send_and_classify() {
    let double = ProviderDouble::start().await;
    let sendgrid = provider::build(
        ChannelType::EmailSendgrid,
        &json!({"from": "loyalty@shop.vn", "api_base": double.base()}),
        &secrets(&[("api_key", "SG.x")]),
        &http(),
    )
    .unwrap();
    assert_eq!(
        sendgrid.send(&email_to("an@example.vn", "m1")).await,
        Outcome::Sent {
            provider_id: Some("sendgrid-1".into())
        }
    );
    double.refuse("bad@example.vn");
    assert!(matches!(
        sendgrid.send(&email_to("bad@example.vn", "m2")).await,
        Outcome::Permanent(_)
    ));
    let mailgun = provider::build(
        ChannelType::EmailMailgun,
        &json!({"domain": "mg.shop.vn", "from": "Shop <loyalty@shop.vn>", "api_base": double.base()}),
        &secrets(&[("api_key", "key")]),
        &http(),
    )
    .unwrap();
    double.fail_next(1);
    assert!(matches!(
        mailgun.send(&email_to("binh@example.vn", "m3")).await,
        Outcome::Temporary(_)
    ));
    assert_eq!(
        mailgun.send(&email_to("binh@example.vn", "m3")).await,
        Outcome::Sent {
            provider_id: Some("mailgun-2@mg.shop.vn".into())
        }
    );

    let smtp_double = SmtpDouble::start().await;
    smtp_double.refuse("nobody@example.vn");
    let smtp = provider::build(
        ChannelType::EmailSmtp,
        &json!({"host": "127.0.0.1", "port": smtp_double.addr.port(), "tls": "none",
                "from": "Shop <loyalty@shop.vn>"}),
        &Secrets::new(),
        &http(),
    )
    .unwrap();
    assert!(matches!(
        smtp.send(&email_to("an@example.vn", "msg_smtp")).await,
        Outcome::Sent { .. }
    ));
    assert!(matches!(
        smtp.send(&email_to("nobody@example.vn", "msg_x")).await,
        Outcome::Permanent(_)
    ));
    let got = smtp_double.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, "an@example.vn");
    assert_eq!(got[0].reference.as_deref(), Some("msg_smtp"));
}

#[test]
fn delivery_reports_are_verified_each_providers_way() {
    // Mailgun: HMAC of timestamp + token.
    let token = "e0b5477167110d68991efc6b9f89f0a11066af27834600e123";
    let body = json!({
        "signature": {"timestamp": "1770920772", "token": token,
                      "signature": provider::mailgun::signature("key-signing", "1770920772", token)},
        "event-data": {"event": "delivered", "timestamp": 1770920772.5,
                       "message": {"headers": {"message-id": "20240101.1.ABC@mg.brand.vn"}},
                       "user-variables": {"message_id": "msg_1"}}
    });
    let mut callback = Callback {
        body: serde_json::to_vec(&body).unwrap(),
        now_s: 1770920800,
        ..Default::default()
    };
    let mailgun = json!({"domain": "mg", "from": "a@b.vn"});
    let keys = secrets(&[("api_key", "k"), ("webhook_signing_key", "key-signing")]);
    let reports =
        provider::read_callback(ChannelType::EmailMailgun, &mailgun, &keys, "", &callback).unwrap();
    assert_eq!(reports[0].reference.as_deref(), Some("msg_1"));
    assert_eq!(reports[0].event, ReportEvent::Delivered);
    callback.now_s += 3600;
    assert_eq!(
        provider::read_callback(ChannelType::EmailMailgun, &mailgun, &keys, "", &callback),
        Err(CallbackRefusal::BadSignature),
        "an old signature is a replay"
    );
    let wrong = secrets(&[("webhook_signing_key", "other")]);
    callback.now_s -= 3600;
    assert_eq!(
        provider::read_callback(ChannelType::EmailMailgun, &mailgun, &wrong, "", &callback),
        Err(CallbackRefusal::BadSignature)
    );

    // Zalo: sha256(appId + body + timestamp + OA secret).
    let body = br#"{"app_id":"2074138120372622546","event_name":"user_received_message","message":{"delivery_time":"1602960467432","msg_id":"zns-1","tracking_id":"msg_2"},"timestamp":"1602560967477"}"#;
    let mac = provider::zns::mac("2074138120372622546", body, "1602560967477", "oasecret");
    let zalo = json!({"app_id": "2074138120372622546"});
    let keys = secrets(&[("access_token", "t"), ("oa_secret", "oasecret")]);
    let mut callback = Callback {
        body: body.to_vec(),
        headers: [("x-zevent-signature".to_string(), format!("mac={mac}"))].into(),
        ..Default::default()
    };
    let reports =
        provider::read_callback(ChannelType::ZaloZns, &zalo, &keys, "", &callback).unwrap();
    assert_eq!(reports[0].reference.as_deref(), Some("msg_2"));
    callback.body = String::from_utf8(callback.body)
        .unwrap()
        .replace("zns-1", "zns-2")
        .into_bytes();
    assert_eq!(
        provider::read_callback(ChannelType::ZaloZns, &zalo, &keys, "", &callback),
        Err(CallbackRefusal::BadSignature)
    );

    // eSMS: unsigned, the channel's secret in the URL.
    let esms = json!({"brandname": "SHOP"});
    let callback = Callback {
        query: "k=s3cret&SMSID=esms-1&SendStatus=5&RequestId=msg_3&phonenumber=0901888484".into(),
        ..Default::default()
    };
    let reports = provider::read_callback(
        ChannelType::SmsEsms,
        &esms,
        &Secrets::new(),
        "s3cret",
        &callback,
    )
    .unwrap();
    assert_eq!(reports[0].reference.as_deref(), Some("msg_3"));
    assert_eq!(
        provider::read_callback(
            ChannelType::SmsEsms,
            &esms,
            &Secrets::new(),
            "other",
            &callback
        ),
        Err(CallbackRefusal::BadSignature)
    );
}

#[test]
fn sendgrid_events_are_verified_with_ecdsa() {
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::EncodePublicKey;
    let b64 = base64::engine::general_purpose::STANDARD;
    let signing = SigningKey::from_slice(&[7u8; 32]).unwrap();
    let public = signing
        .verifying_key()
        .to_public_key_der()
        .unwrap()
        .into_vec();
    let body = br#"[{"email":"an@example.vn","event":"delivered","sg_message_id":"sendgrid-1.filter0001","message_id":"msg_4","timestamp":1700000000},{"event":"open","sg_message_id":"sendgrid-1.x","message_id":"msg_4"}]"#;
    let timestamp = "1700000000";
    let mut signed = timestamp.as_bytes().to_vec();
    signed.extend_from_slice(body);
    let signature: Signature = signing.sign(&signed);
    let keys = secrets(&[
        ("api_key", "k"),
        ("webhook_verification_key", &b64.encode(public)),
    ]);
    let mut callback = Callback {
        body: body.to_vec(),
        headers: [
            (
                "x-twilio-email-event-webhook-signature".to_string(),
                b64.encode(signature.to_der().as_bytes()),
            ),
            (
                "x-twilio-email-event-webhook-timestamp".to_string(),
                timestamp.to_string(),
            ),
        ]
        .into(),
        ..Default::default()
    };
    let settings = json!({"from": "a@b.vn"});
    let reports =
        provider::read_callback(ChannelType::EmailSendgrid, &settings, &keys, "", &callback)
            .unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].provider_id.as_deref(), Some("sendgrid-1"));
    assert_eq!(reports[1].event, ReportEvent::Opened);
    callback.body.push(b' ');
    assert_eq!(
        provider::read_callback(ChannelType::EmailSendgrid, &settings, &keys, "", &callback),
        Err(CallbackRefusal::BadSignature)
    );
}
