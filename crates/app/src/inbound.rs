//! Webhooks the platforms send: checked (the signature, on the raw bytes) before anything is
//! read or written; `loyalty_connect` reads them and plans what each means for our order; the
//! plan's steps are the use-cases the API offers (post, cancel, refund), each idempotent on its
//! own. The connection's log keeps one row per message with what was done, and a platform's
//! retry of a delivery already handled only counts the receipt.

use std::collections::BTreeMap;

use loyalty_connect::sync::{self, Ours, Step};
use loyalty_connect::{Customer, Message, OrderSnapshot, Platform, RefundNote};
use loyalty_core::id::{MemberId, OrderId, TenantId, new_id};
use loyalty_core::input::member::{MemberIn, MemberPatchIn};
use loyalty_core::tenancy::{Actor, ActorKind, Scope};
use loyalty_store::repo::connections::{self as store, ConnectionRow, InboundRow};
use loyalty_store::repo::members::{self, Contact};
use loyalty_store::repo::orders;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{App, AppError, AppResult, Ctx};

/// A webhook as it arrived: the raw body and the headers that matter.
#[derive(Debug, Clone, Default)]
pub struct Hook {
    pub signature: Option<String>,
    pub topic: Option<String>,
    pub delivery_id: Option<String>,
    pub body: Vec<u8>,
}

/// Why a webhook was turned away.
#[derive(Debug)]
pub enum HookRefusal {
    /// 404: no such connection for this platform (or switched off).
    NotFound,
    /// 401: the signature is missing or wrong; nothing was read or written.
    BadSignature,
    /// 403: Haravan's handshake with a verify token that does not match.
    BadVerifyToken,
    /// 503: could not be handled now; the platform will retry.
    Failed(AppError),
}

impl From<AppError> for HookRefusal {
    fn from(e: AppError) -> Self {
        HookRefusal::Failed(e)
    }
}

/// What one message led to, for the log.
struct Handled {
    topic: String,
    order_ref: Option<String>,
    order_id: Option<String>,
    result: &'static str,
    /// Why nothing was done, when the plan said so.
    reason: Option<&'static str>,
    detail: Vec<String>,
    error: Option<String>,
    /// The failure may pass (the database could not be reached): worth the platform's retry.
    retry: bool,
}

impl Handled {
    fn new(topic: String) -> Handled {
        Handled {
            topic,
            order_ref: None,
            order_id: None,
            result: "ignored",
            reason: None,
            detail: Vec::new(),
            error: None,
            retry: false,
        }
    }

    fn failed(&mut self, error: &AppError) {
        self.result = "error";
        self.error = Some(error.to_string());
        self.retry = matches!(error, AppError::Unavailable(_) | AppError::Internal(_));
    }
}

impl App {
    /// The connection a hook URL names, if it is this platform's and switched on.
    async fn hook_connection(
        &self,
        platform: &str,
        id: &str,
    ) -> Result<(Platform, TenantId, ConnectionRow), HookRefusal> {
        let platform = Platform::parse(platform).ok_or(HookRefusal::NotFound)?;
        let id = id.to_string();
        let found = self
            .db
            .read(move |sql| store::find_by_id(sql, &id))
            .await
            .map_err(AppError::from)?;
        match found {
            Some((tenant, c)) if c.active && c.platform == platform.as_str() => {
                Ok((platform, TenantId::from(tenant.as_str()), c))
            }
            _ => Err(HookRefusal::NotFound),
        }
    }

    /// Haravan's subscription handshake: the challenge back when the verify token matches.
    pub async fn hook_handshake(
        &self,
        platform: &str,
        id: &str,
        token: &str,
        challenge: String,
    ) -> Result<String, HookRefusal> {
        let (_, _, c) = self.hook_connection(platform, id).await?;
        let expected = match &c.verify_token_sealed {
            Some(sealed) => self.open_secret(sealed)?,
            None => return Err(HookRefusal::BadVerifyToken),
        };
        if bool::from(expected.as_bytes().ct_eq(token.as_bytes())) {
            Ok(challenge)
        } else {
            Err(HookRefusal::BadVerifyToken)
        }
    }

    /// Receives a platform's webhook: signature first, then once per delivery.
    #[tracing::instrument(skip_all, fields(connection = %id))]
    pub async fn receive_hook(
        &self,
        platform: &str,
        id: &str,
        hook: Hook,
    ) -> Result<(), HookRefusal> {
        let (platform, tenant_id, c) = self.hook_connection(platform, id).await?;
        let secret = self.open_secret(&c.secret_sealed)?;
        if !platform.verify(&secret, &hook.body, hook.signature.as_deref()) {
            return Err(HookRefusal::BadSignature);
        }
        let ctx = Ctx {
            tenant_id,
            actor: Actor {
                kind: ActorKind::System,
                id: Some(c.id.clone()),
                name: Some(format!("{} · {}", platform.label(), c.name)),
            },
            scopes: vec![Scope::Pos],
        };
        let now = self.now();
        let key = hook
            .delivery_id
            .clone()
            .filter(|k| !k.trim().is_empty() && k.len() <= 200)
            .unwrap_or_else(|| {
                // The topic too: Haravan and Sapo may send one body under two topics.
                let mut hash = Sha256::new();
                hash.update(hook.topic.as_deref().unwrap_or_default().as_bytes());
                hash.update(b"\n");
                hash.update(&hook.body);
                format!("sha256:{}", hex::encode(hash.finalize()))
            });
        let (tenant, conn_id, key2) = (ctx.tenant_id.clone(), c.id.clone(), key.clone());
        let seen = self
            .db
            .read(move |sql| store::inbound_of_delivery(sql, &tenant, &conn_id, &key2))
            .await
            .map_err(AppError::from)?;
        if !seen.is_empty() && seen.iter().all(|r| r.result != "error") {
            let (tenant, conn_id) = (ctx.tenant_id.clone(), c.id.clone());
            self.db
                .write(move |sql| store::count_receipt(sql, &tenant, &conn_id, &key, now))
                .await
                .map_err(AppError::from)?;
            return Ok(());
        }
        let topic = hook.topic.clone();
        let handled = match loyalty_connect::read(platform, topic.as_deref(), &hook.body) {
            Ok(messages) => {
                let mut all = Vec::new();
                for m in messages {
                    all.push(self.handle(&ctx, platform, &c, topic.as_deref(), m).await);
                }
                all
            }
            Err(e) => {
                let mut h = Handled::new(topic.unwrap_or_else(|| "?".into()));
                h.result = "error";
                h.error = Some(e.to_string());
                vec![h]
            }
        };
        // A database that could not be reached is worth the platform's retry; a refusal
        // (an order our rules reject) would be refused again, so it is logged and answered 200.
        let retry = handled.iter().any(|h| h.retry);
        let receipts = seen.first().map_or(1, |r| r.receipts + 1);
        let rows: Vec<InboundRow> = handled
            .into_iter()
            .enumerate()
            .map(|(part, h)| InboundRow {
                id: new_id("cdl"),
                connection_id: c.id.clone(),
                delivery_key: key.clone(),
                part: part as i64,
                topic: h.topic,
                order_ref: h.order_ref,
                order_id: h.order_id,
                result: h.result.to_string(),
                reason: h.reason.map(str::to_string),
                detail: (!h.detail.is_empty()).then(|| h.detail.join("; ")),
                error: h.error,
                receipts,
                received_at: seen.first().map_or(now, |r| r.received_at),
                last_received_at: now,
            })
            .collect();
        let tenant = ctx.tenant_id.clone();
        self.db
            .write(move |sql| {
                for row in &rows {
                    store::save_inbound(sql, &tenant, row)?;
                }
                Ok::<_, AppError>(())
            })
            .await?;
        if retry {
            return Err(HookRefusal::Failed(AppError::Internal(anyhow::anyhow!(
                "a message of the delivery could not be handled now"
            ))));
        }
        Ok(())
    }

    /// Handles one message; the log names it by the platform's topic (KiotViet's is in the
    /// message).
    async fn handle(
        &self,
        ctx: &Ctx,
        platform: Platform,
        c: &ConnectionRow,
        topic: Option<&str>,
        message: Message,
    ) -> Handled {
        let named = |kind: &str| topic.unwrap_or(kind).to_string();
        match message {
            Message::Ignored { topic } => {
                let mut h = Handled::new(topic);
                h.detail.push("topic not acted on".into());
                h
            }
            Message::Customer(customer) => {
                let mut h = Handled::new(named("customer.update"));
                match self.upsert_customer(ctx, platform, &customer).await {
                    Ok(Some(what)) => {
                        h.result = "applied";
                        h.detail.push(what);
                    }
                    Ok(None) => h.detail.push("customer without phone or e-mail".into()),
                    Err(e) => h.failed(&e),
                }
                h
            }
            Message::Order(snapshot) => {
                let mut h = Handled::new(named("invoice.update"));
                h.order_ref = Some(snapshot.id.clone());
                h.detail.extend(snapshot.notes.iter().cloned());
                if let Err(e) = self.sync_order(ctx, platform, c, &snapshot, &mut h).await {
                    h.failed(&e);
                }
                h
            }
            Message::Refund { order_id, refund } => {
                let mut h = Handled::new(named("refunds/create"));
                h.order_ref = Some(order_id.clone());
                if let Err(e) = self
                    .sync_refund(ctx, platform, &order_id, &refund, &mut h)
                    .await
                {
                    h.failed(&e);
                }
                h
            }
        }
    }

    /// Our order of the platform's order, as a plan needs it.
    async fn ours(
        &self,
        ctx: &Ctx,
        platform: Platform,
        order_ref: &str,
    ) -> AppResult<Option<(OrderId, Ours)>> {
        let (tenant, source, external) = (
            ctx.tenant_id.clone(),
            platform.as_str(),
            order_ref.to_string(),
        );
        let found = self
            .db
            .read(move |sql| orders::by_source(sql, &tenant, source, &external))
            .await?;
        Ok(found.map(|o| {
            (
                o.id.clone(),
                Ours {
                    status: o.status,
                    refunded_amount: o.refunded_amount,
                },
            )
        }))
    }

    async fn sync_order(
        &self,
        ctx: &Ctx,
        platform: Platform,
        c: &ConnectionRow,
        snapshot: &OrderSnapshot,
        h: &mut Handled,
    ) -> AppResult<()> {
        let mut ours = self.ours(ctx, platform, &snapshot.id).await?;
        let cancelled_unpaid = if ours.is_none() {
            let (tenant, conn_id, order_ref) =
                (ctx.tenant_id.clone(), c.id.clone(), snapshot.id.clone());
            self.db
                .read(move |sql| {
                    store::cancelled_unpaid(
                        sql,
                        &tenant,
                        &conn_id,
                        &order_ref,
                        sync::CANCELLED_UNPAID,
                    )
                })
                .await?
        } else {
            false
        };
        let plan = sync::order(snapshot, ours.as_ref().map(|(_, o)| o), cancelled_unpaid);
        if let Some(reason) = plan.reason {
            h.detail.push(reason.to_string());
            h.reason = Some(reason);
        }
        if let Some((id, _)) = &ours {
            h.order_id = Some(id.to_string());
        }
        for step in plan.steps {
            match step {
                Step::Post => {
                    let mut input =
                        snapshot.order_input(platform, c.store.as_deref(), c.brand.as_deref());
                    if input.customer.is_none() {
                        input.member_id = self
                            .member_by_platform_id(ctx, platform, snapshot.customer.as_ref())
                            .await?
                            .map(String::from);
                    }
                    let posted = self.post_order(ctx, input).await?;
                    let r = &posted.receipt;
                    h.detail.push(match &r.member_id {
                        Some(_) => format!("order posted: {} points earned", r.points.earned),
                        None => "order posted for a guest: no points".to_string(),
                    });
                    ours = Some((
                        OrderId::from(r.id.as_str()),
                        Ours {
                            status: r.status,
                            refunded_amount: 0,
                        },
                    ));
                    h.order_id = Some(r.id.to_string());
                }
                Step::Cancel => {
                    let (id, _) = ours.clone().expect("a cancel step follows our order");
                    let view = self.cancel_order(ctx, id).await?;
                    h.detail.push(format!(
                        "order cancelled: {} points reversed",
                        view.points.reversed
                    ));
                }
                Step::Refund {
                    external_id,
                    amount,
                } => {
                    let (id, _) = ours.clone().expect("a refund step follows our order");
                    self.refund_order(ctx, id, external_id, amount).await?;
                    h.detail.push(format!("refund of {amount} recorded"));
                }
            }
            h.result = "applied";
        }
        Ok(())
    }

    async fn sync_refund(
        &self,
        ctx: &Ctx,
        platform: Platform,
        order_ref: &str,
        refund: &RefundNote,
        h: &mut Handled,
    ) -> AppResult<()> {
        let ours = self.ours(ctx, platform, order_ref).await?;
        let plan = sync::refund(refund, ours.as_ref().map(|(_, o)| o));
        if let Some(reason) = plan.reason {
            h.detail.push(reason.to_string());
            h.reason = Some(reason);
        }
        for step in plan.steps {
            if let (
                Step::Refund {
                    external_id,
                    amount,
                },
                Some((id, _)),
            ) = (step, &ours)
            {
                h.order_id = Some(id.to_string());
                self.refund_order(ctx, id.clone(), external_id, amount)
                    .await?;
                h.detail.push(format!("refund of {amount} recorded"));
                h.result = "applied";
            }
        }
        Ok(())
    }

    /// The member a platform's customer id was linked to (by an earlier customer webhook).
    async fn member_by_platform_id(
        &self,
        ctx: &Ctx,
        platform: Platform,
        customer: Option<&Customer>,
    ) -> AppResult<Option<MemberId>> {
        let Some(id) = customer.and_then(|c| c.id.clone()) else {
            return Ok(None);
        };
        let tenant = ctx.tenant_id.clone();
        let system = platform.as_str();
        Ok(self
            .db
            .read(move |sql| members::id_by_external_id(sql, &tenant, system, &id))
            .await?
            .map(|m| MemberId::from(m.as_str())))
    }

    /// Registers the platform's customer, or links them to the member with their phone or
    /// e-mail: a customer record does not make anyone a member (no activation).
    async fn upsert_customer(
        &self,
        ctx: &Ctx,
        platform: Platform,
        customer: &Customer,
    ) -> AppResult<Option<String>> {
        let by_id = self
            .member_by_platform_id(ctx, platform, Some(customer))
            .await?;
        let found = match by_id {
            Some(id) => Some(id),
            None => {
                let (tenant, phone, email) = (
                    ctx.tenant_id.clone(),
                    customer.phone.clone(),
                    customer.email.clone(),
                );
                self.db
                    .read(move |sql| {
                        if let Some(p) = &phone
                            && let Some(id) =
                                members::id_by_contact(sql, &tenant, Contact::Phone, p)?
                        {
                            return Ok(Some(id));
                        }
                        match &email {
                            Some(e) => members::id_by_contact(sql, &tenant, Contact::Email, e),
                            None => Ok(None),
                        }
                    })
                    .await?
                    .map(|id| MemberId::from(id.as_str()))
            }
        };
        let external = customer
            .id
            .clone()
            .map(|id| (platform.as_str().to_string(), id));
        match found {
            Some(member_id) => {
                let patch = MemberPatchIn {
                    external_ids: external.map(|(k, v)| BTreeMap::from([(k, Some(v))])),
                    ..MemberPatchIn::default()
                };
                let m = self.update_member(ctx, member_id, patch).await?;
                Ok(Some(format!("linked to member {}", m.id)))
            }
            None if customer.has_contact() => {
                let input = MemberIn {
                    phone: customer.phone.clone(),
                    email: customer.email.clone(),
                    name: customer.name.clone(),
                    external_ids: external.map(|(k, v)| BTreeMap::from([(k, v)])),
                    source: Some(platform.as_str().to_string()),
                    ..MemberIn::default()
                };
                let m = self.create_member(ctx, input).await?;
                Ok(Some(format!("registered as {}", m.id)))
            }
            None => Ok(None),
        }
    }
}
