//! Local doubles of the providers for tests: one HTTP server that answers as SendGrid,
//! Mailgun, eSMS, Vietguys and Zalo ZNS do (their paths, their answers, their error codes, their
//! idempotency references), and an SMTP listener. Each records what reached it, so a test
//! counts what a member really received. Never a real provider.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message a double took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// `sendgrid`, `mailgun`, `esms`, `vietguys`, `zns` or `smtp`.
    pub provider: &'static str,
    /// The address as the provider got it (`0901234567`, `84901234567`, an e-mail).
    pub to: String,
    /// Our reference, when the request carried it.
    pub reference: Option<String>,
    /// The text, subject or template data, for assertions.
    pub content: String,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// Requests to answer with a temporary failure before accepting again.
    fail_next: usize,
    /// Addresses refused for good (an invalid number, a ZNS user who rejects messages).
    refuse: Vec<String>,
    /// How long each answer takes.
    delay: Duration,
    /// References already taken, with the provider's id (eSMS, Vietguys, ZNS dedupe on them).
    taken: HashMap<String, String>,
    /// The ZNS access token the double accepts, and the refresh token it trades.
    zns_token: Option<String>,
    zns_refresh: Option<String>,
    requests: usize,
    /// Messages taken (kept or not).
    taken_count: usize,
    /// Only count what is taken, keeping neither the messages nor their references: a
    /// benchmark's million messages would otherwise weigh on the memory it measures.
    counting: bool,
}

/// The HTTP providers' double.
#[derive(Clone)]
pub struct ProviderDouble {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl ProviderDouble {
    pub async fn start() -> ProviderDouble {
        Self::start_with(Inner::default()).await
    }

    /// A double that only counts the messages it takes (for benchmarks): it keeps no record
    /// of them and does not recognise a repeated reference.
    pub async fn start_counting() -> ProviderDouble {
        Self::start_with(Inner {
            counting: true,
            ..Inner::default()
        })
        .await
    }

    async fn start_with(inner: Inner) -> ProviderDouble {
        let inner = Arc::new(Mutex::new(inner));
        let app = Router::new()
            .route("/v3/mail/send", post(sendgrid))
            .route("/v3/{domain}/messages", post(mailgun))
            .route(crate::provider::esms::SEND_PATH, post(esms))
            .route("/api/index.php", post(vietguys))
            .route("/message/template", post(zns))
            .route("/v4/oa/access_token", post(zns_refresh))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ProviderDouble { addr, inner }
    }

    /// `http://127.0.0.1:port`, the `api_base` to give a channel.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("double").received.clone()
    }

    /// How many messages were taken, without copying them.
    pub fn taken(&self) -> usize {
        self.inner.lock().expect("double").taken_count
    }

    /// Every request, accepted or not.
    pub fn requests(&self) -> usize {
        self.inner.lock().expect("double").requests
    }

    /// Answers the next `n` sends with the provider's temporary failure.
    pub fn fail_next(&self, n: usize) {
        self.inner.lock().expect("double").fail_next = n;
    }

    /// Refuses sends to `address` (as the provider writes it) for good.
    pub fn refuse(&self, address: &str) {
        self.inner
            .lock()
            .expect("double")
            .refuse
            .push(address.to_string());
    }

    pub fn delay(&self, each: Duration) {
        self.inner.lock().expect("double").delay = each;
    }

    /// From now on ZNS accepts only `access` and trades `refresh` for a new pair.
    pub fn zns_tokens(&self, access: &str, refresh: &str) {
        let mut inner = self.inner.lock().expect("double");
        inner.zns_token = Some(access.to_string());
        inner.zns_refresh = Some(refresh.to_string());
    }

    /// How many messages reached each address.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for r in self.received() {
            *counts.entry(r.to).or_insert(0) += 1;
        }
        counts
    }
}

/// What the double decides for one request.
enum Verdict {
    Fail,
    Refuse,
    /// Already taken under this reference: the provider's id of the first.
    Again(String),
    Take(String),
}

async fn judge(
    inner: &Arc<Mutex<Inner>>,
    provider: &'static str,
    to: &str,
    reference: Option<&str>,
    content: String,
) -> Verdict {
    let delay = inner.lock().expect("double").delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut inner = inner.lock().expect("double");
    inner.requests += 1;
    if inner.fail_next > 0 {
        inner.fail_next -= 1;
        return Verdict::Fail;
    }
    if inner.refuse.iter().any(|r| r == to) {
        return Verdict::Refuse;
    }
    if let Some(reference) = reference
        && let Some(id) = inner.taken.get(reference)
    {
        return Verdict::Again(id.clone());
    }
    inner.taken_count += 1;
    let id = format!("{provider}-{}", inner.taken_count);
    if inner.counting {
        return Verdict::Take(id);
    }
    if let Some(reference) = reference {
        inner.taken.insert(reference.to_string(), id.clone());
    }
    inner.received.push(Received {
        provider,
        to: to.to_string(),
        reference: reference.map(str::to_string),
        content,
    });
    Verdict::Take(id)
}

async fn sendgrid(State(inner): State<Arc<Mutex<Inner>>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let to = body["personalizations"][0]["to"][0]["email"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The subject, then each part of the body.
    let mut content = body["subject"].as_str().unwrap_or_default().to_string();
    for part in body["content"].as_array().into_iter().flatten() {
        content.push('\n');
        content.push_str(part["value"].as_str().unwrap_or_default());
    }
    // SendGrid has no idempotency reference: every request is a new e-mail.
    match judge(&inner, "sendgrid", &to, None, content).await {
        Verdict::Fail => (StatusCode::SERVICE_UNAVAILABLE, "").into_response(),
        Verdict::Refuse => (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": [{"message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email"}]})),
        )
            .into_response(),
        Verdict::Again(id) | Verdict::Take(id) => {
            (StatusCode::ACCEPTED, [("x-message-id", id)], "").into_response()
        }
    }
}

use axum::Json;

async fn mailgun(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(domain): Path<String>,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let to = form.get("to").cloned().unwrap_or_default();
    let to = to
        .rsplit_once('<')
        .map(|(_, rest)| rest.trim_end_matches('>').to_string())
        .unwrap_or(to);
    let subject = form.get("subject").cloned().unwrap_or_default();
    match judge(&inner, "mailgun", &to, None, subject).await {
        Verdict::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "").into_response(),
        Verdict::Refuse => (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "to parameter is not a valid address. please check documentation"})),
        )
            .into_response(),
        Verdict::Again(id) | Verdict::Take(id) => Json(json!({
            "id": format!("<{id}@{domain}>"), "message": "Queued. Thank you."
        }))
        .into_response(),
    }
}

async fn esms(State(inner): State<Arc<Mutex<Inner>>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let to = body["Phone"].as_str().unwrap_or_default().to_string();
    let reference = body["RequestId"].as_str().map(str::to_string);
    let text = body["Content"].as_str().unwrap_or_default().to_string();
    let answer = match judge(&inner, "esms", &to, reference.as_deref(), text).await {
        Verdict::Fail => json!({"CodeResult": "103", "ErrorMessage": "Balance not enough"}),
        Verdict::Refuse => json!({"CodeResult": "99", "ErrorMessage": "Phone invalid"}),
        Verdict::Again(id) => {
            json!({"CodeResult": "124", "SMSID": id, "ErrorMessage": "Duplicate RequestId"})
        }
        Verdict::Take(id) => json!({"CodeResult": "100", "CountRegenerate": 0, "SMSID": id}),
    };
    Json(answer).into_response()
}

async fn vietguys(State(inner): State<Arc<Mutex<Inner>>>, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let to = form.get("phone").cloned().unwrap_or_default();
    let reference = form.get("bid").cloned();
    let text = form.get("sms").cloned().unwrap_or_default();
    match judge(&inner, "vietguys", &to, reference.as_deref(), text).await {
        Verdict::Fail => (StatusCode::BAD_GATEWAY, "").into_response(),
        Verdict::Refuse => Json(json!({"error": -3, "log": "invalid phone"})).into_response(),
        Verdict::Again(id) | Verdict::Take(id) => {
            Json(json!({"error": 0, "msgid": id, "log": "ok"})).into_response()
        }
    }
}

async fn zns(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let expected = inner.lock().expect("double").zns_token.clone();
    let given = headers.get("access_token").and_then(|v| v.to_str().ok());
    if let Some(expected) = expected
        && given != Some(expected.as_str())
    {
        return Json(json!({"error": -124, "message": "Access token invalid"})).into_response();
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let to = body["phone"].as_str().unwrap_or_default().to_string();
    let reference = body["tracking_id"].as_str().map(str::to_string);
    let data = body["template_data"].to_string();
    let answer = match judge(&inner, "zns", &to, reference.as_deref(), data).await {
        Verdict::Fail => json!({"error": -100, "message": "Unknown error"}),
        Verdict::Refuse => {
            json!({"error": -114, "message": "User is inactive, or reject the message, or using an outdated Zalo version, or other internal errors"})
        }
        Verdict::Again(id) | Verdict::Take(id) => json!({
            "error": 0, "message": "Success",
            "data": {"msg_id": id, "sent_time": "1626926503958",
                     "quota": {"dailyQuota": "500", "remainingQuota": "499"}}
        }),
    };
    Json(answer).into_response()
}

async fn zns_refresh(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let mut inner = inner.lock().expect("double");
    let fresh = inner.zns_refresh.is_some()
        && form.get("refresh_token") == inner.zns_refresh.as_ref()
        && headers.contains_key("secret_key");
    if !fresh {
        return Json(json!({"error": -14014, "error_name": "Invalid refresh token"}))
            .into_response();
    }
    // A refresh token works once; the double hands out the next pair.
    let n = inner.requests + 1;
    inner.requests = n;
    let (access, refresh) = (format!("access-{n}"), format!("refresh-{n}"));
    inner.zns_token = Some(access.clone());
    inner.zns_refresh = Some(refresh.clone());
    Json(json!({"access_token": access, "refresh_token": refresh, "expires_in": "90000"}))
        .into_response()
}

/// A local SMTP listener that accepts every message (or refuses recipients it is told to).
#[derive(Clone)]
pub struct SmtpDouble {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<Mutex<Vec<String>>>,
}

impl SmtpDouble {
    pub async fn start() -> SmtpDouble {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let double = SmtpDouble {
            addr,
            received: Arc::default(),
            refuse: Arc::default(),
        };
        let serving = double.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = serving.clone();
                tokio::spawn(async move {
                    let _ = session.serve(stream).await;
                });
            }
        });
        double
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("double").clone()
    }

    /// Answers `RCPT TO` for `address` with 550 (no such mailbox).
    pub fn refuse(&self, address: &str) {
        self.refuse
            .lock()
            .expect("double")
            .push(address.to_string());
    }

    async fn serve(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 double ESMTP ready\r\n").await?;
        let mut recipients: Vec<String> = Vec::new();
        while let Some(line) = lines.next_line().await? {
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-double\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if upper.starts_with("HELO") || upper.starts_with("NOOP") {
                b"250 ok\r\n"
            } else if upper.starts_with("MAIL FROM") || upper.starts_with("RSET") {
                recipients.clear();
                b"250 ok\r\n"
            } else if upper.starts_with("RCPT TO") {
                let address = line
                    .split_once('<')
                    .and_then(|(_, rest)| rest.split_once('>'))
                    .map(|(a, _)| a.to_string())
                    .unwrap_or_default();
                if self.refuse.lock().expect("double").contains(&address) {
                    b"550 5.1.1 no such mailbox\r\n"
                } else {
                    recipients.push(address);
                    b"250 ok\r\n"
                }
            } else if upper.starts_with("DATA") {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = String::new();
                while let Some(line) = lines.next_line().await? {
                    if line == "." {
                        break;
                    }
                    data.push_str(&line);
                    data.push('\n');
                }
                let reference = data
                    .lines()
                    .find_map(|l| l.strip_prefix("Message-ID: <"))
                    .and_then(|rest| rest.split('@').next())
                    .map(str::to_string);
                let subject = data
                    .lines()
                    .find_map(|l| l.strip_prefix("Subject: "))
                    .unwrap_or_default()
                    .to_string();
                let mut received = self.received.lock().expect("double");
                for to in recipients.drain(..) {
                    received.push(Received {
                        provider: "smtp",
                        to,
                        reference: reference.clone(),
                        content: subject.clone(),
                    });
                }
                b"250 ok queued\r\n"
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                b"502 not implemented\r\n"
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }
}
