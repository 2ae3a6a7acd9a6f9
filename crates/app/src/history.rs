//! Importing history (nhập lịch sử): past orders with their lines, and the product catalogue,
//! from CSV files, through the same streaming reader and job reports as the member import.
//!
//! Past orders are kept for history — reports, segments (`purchased`), rule previews — and,
//! by default, earn nothing: they are written as paid orders under the source `import`, their
//! customers found by phone or e-mail (or registered as customers), and the customers' order
//! count, lifetime spend and last order moved on. Tiers and points are not recomputed from
//! them. With `earn`, each order instead goes through the till's own path (`post_order`), so
//! it earns points and moves tiers exactly as if it had been posted then. Either way an
//! order already imported (same `order_id`) is skipped, so the same file again changes nothing.
//! A broken line spoils its whole order: nothing of it is written, and every bad row is
//! reported.

use loyalty_core::event::{EventType, member_changed};
use loyalty_core::limits::checked_total;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Read;

use jiff::Timestamp;
use loyalty_core::Invalid;
use loyalty_core::history::{
    IMPORT_SOURCE, ORDERS, OrderLineRow, PRODUCTS, PastOrder, ProductRow, assemble_order,
    order_id_of, parse_order_line, parse_product_row,
};
use loyalty_core::id::{MemberId, OrderId};
use loyalty_core::import::Header;
use loyalty_core::member::Profile;
use loyalty_core::order::{Buyer, NewOrder};
use loyalty_core::tenancy::Access;
use loyalty_store::Sql;
use loyalty_store::repo::imports::ImportJob;
use loyalty_store::repo::members::{self, Contact};
use loyalty_store::repo::orders::{self, OrderRow};
use loyalty_store::repo::products;
use tokio::sync::mpsc;

use crate::imports::{CsvReader, open_csv, read_records, tally};
use crate::{App, AppError, AppResult, Ctx};

/// Orders (or products) per transaction.
const BATCH: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryKind {
    /// Past orders; `earn`: through the earning path instead of as history only.
    Orders {
        earn: bool,
    },
    Products,
}

impl HistoryKind {
    fn name(self) -> &'static str {
        match self {
            HistoryKind::Orders { .. } => "orders",
            HistoryKind::Products => "products",
        }
    }
}

/// A history import whose header has been read and whose job row exists.
pub struct PreparedHistory {
    job: ImportJob,
    reader: CsvReader,
    header: Header,
    kind: HistoryKind,
}

impl PreparedHistory {
    pub fn job(&self) -> &ImportJob {
        &self.job
    }
}

/// A checked order or product, or why its rows were refused (row numbers with their errors).
enum Item<T> {
    Good(u64, T),
    Bad(Vec<(u64, Invalid)>),
}

fn hash_of(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

impl App {
    /// Reads the header (refusing an unreadable file or an unknown column, with nothing
    /// written) and records the job as running.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn prepare_history_import(
        &self,
        ctx: &Ctx,
        kind: HistoryKind,
        input: Box<dyn Read + Send>,
    ) -> AppResult<PreparedHistory> {
        ctx.require(Access::Admin)?;
        let format = match kind {
            HistoryKind::Orders { .. } => &ORDERS,
            HistoryKind::Products => &PRODUCTS,
        };
        let (reader, header) = tokio::task::spawn_blocking(move || open_csv(input, format))
            .await
            .map_err(|e| AppError::Internal(e.into()))??;
        let job = self.new_import_job(ctx, kind.name()).await?;
        Ok(PreparedHistory {
            job,
            reader,
            header,
            kind,
        })
    }

    /// Imports every order or product; `progress` sees the job after each batch.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn run_history_import(
        &self,
        ctx: &Ctx,
        prepared: PreparedHistory,
        progress: impl Fn(&ImportJob) + Send,
    ) -> AppResult<ImportJob> {
        let PreparedHistory {
            mut job,
            reader,
            header,
            kind,
        } = prepared;
        let failure = match kind {
            HistoryKind::Products => {
                let (batches, incoming) = mpsc::channel(2);
                let read =
                    tokio::task::spawn_blocking(move || read_products(reader, &header, &batches));
                let written = self
                    .write_products(ctx, &mut job, incoming, &progress)
                    .await;
                outcome(written, read.await)
            }
            HistoryKind::Orders { earn } => {
                let info = self.tenant(ctx).await?;
                let (zone, now) = (info.zone.clone(), self.now());
                let (batches, incoming) = mpsc::channel(2);
                let read = tokio::task::spawn_blocking(move || {
                    read_orders(reader, &header, &zone, now, &batches)
                });
                let written = self
                    .write_orders(ctx, &mut job, incoming, earn, &progress)
                    .await;
                outcome(written, read.await)
            }
        };
        self.finish_import_job(ctx, &mut job, failure).await?;
        progress(&job);
        Ok(job)
    }

    /// Starts a history import in the background (the API's 202).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn start_history_import(
        &self,
        ctx: &Ctx,
        kind: HistoryKind,
        input: Box<dyn Read + Send>,
    ) -> AppResult<ImportJob> {
        let prepared = self.prepare_history_import(ctx, kind, input).await?;
        let job = prepared.job.clone();
        let (app, ctx) = (self.clone(), ctx.clone());
        tokio::spawn(async move {
            if let Err(e) = app.run_history_import(&ctx, prepared, |_| {}).await {
                tracing::error!(error = %e, "history import stopped");
            }
        });
        Ok(job)
    }

    async fn write_products(
        &self,
        ctx: &Ctx,
        job: &mut ImportJob,
        mut incoming: mpsc::Receiver<Vec<Item<ProductRow>>>,
        progress: &(impl Fn(&ImportJob) + Send),
    ) -> AppResult<()> {
        while let Some(batch) = incoming.recv().await {
            let Sorted {
                good,
                failed,
                errors,
            } = split(batch);
            let items = good.len() + failed;
            let (tenant_id, now) = (ctx.tenant_id.clone(), self.now());
            let list: Vec<ProductRow> = good.into_iter().map(|(_, p)| p).collect();
            self.db
                .write(move |sql| {
                    Ok::<_, AppError>(products::upsert_many(sql, &tenant_id, &list, now)?)
                })
                .await?;
            tally(job, items, failed, errors);
            self.save_progress(ctx, job).await?;
            progress(job);
        }
        Ok(())
    }

    async fn write_orders(
        &self,
        ctx: &Ctx,
        job: &mut ImportJob,
        mut incoming: mpsc::Receiver<Vec<Item<PastOrder>>>,
        earn: bool,
        progress: &(impl Fn(&ImportJob) + Send),
    ) -> AppResult<()> {
        let info = self.tenant(ctx).await?;
        while let Some(batch) = incoming.recv().await {
            let Sorted {
                good,
                mut failed,
                mut errors,
            } = split(batch);
            let items = good.len() + failed;
            if earn {
                for (row, order) in good {
                    let refused = match self.post_checked_order(ctx, to_new_order(order)).await {
                        Ok(_) => continue,
                        Err(AppError::Invalid(e)) => e,
                        Err(e @ (AppError::Conflict { .. } | AppError::Rejected { .. })) => {
                            Invalid::one("order_id", "order.refused", e.to_string())
                        }
                        Err(e) => return Err(e),
                    };
                    failed += 1;
                    errors.push((row, refused));
                }
            } else {
                let (ctx2, now) = (ctx.clone(), self.now());
                let currency = info.tenant.currency.clone();
                self.db
                    .write(move |sql| write_history(sql, &ctx2.tenant_id, &currency, &good, now))
                    .await?;
            }
            tally(job, items, failed, errors);
            self.save_progress(ctx, job).await?;
            progress(job);
        }
        Ok(())
    }

    async fn save_progress(&self, ctx: &Ctx, job: &ImportJob) -> AppResult<()> {
        let (tenant_id, row) = (ctx.tenant_id.clone(), job.clone());
        self.db
            .write(move |sql| {
                Ok::<_, AppError>(loyalty_store::repo::imports::update(sql, &tenant_id, &row)?)
            })
            .await
    }
}

fn outcome(
    written: AppResult<()>,
    read: Result<Result<(), String>, tokio::task::JoinError>,
) -> Option<String> {
    match (written, read) {
        (Err(e), _) => Some(e.to_string()),
        (Ok(()), Err(e)) => Some(e.to_string()),
        (Ok(()), Ok(Err(message))) => Some(message),
        (Ok(()), Ok(Ok(()))) => None,
    }
}

/// A batch sorted out: the good items with their rows, how many were bad, and the bad ones'
/// errors by row.
struct Sorted<T> {
    good: Vec<(u64, T)>,
    failed: usize,
    errors: Vec<(u64, Invalid)>,
}

fn split<T>(batch: Vec<Item<T>>) -> Sorted<T> {
    let mut sorted = Sorted {
        good: Vec::new(),
        failed: 0,
        errors: Vec::new(),
    };
    for item in batch {
        match item {
            Item::Good(row, value) => sorted.good.push((row, value)),
            Item::Bad(rows) => {
                sorted.failed += 1;
                sorted.errors.extend(rows);
            }
        }
    }
    sorted
}

fn read_products(
    reader: CsvReader,
    header: &Header,
    batches: &mpsc::Sender<Vec<Item<ProductRow>>>,
) -> Result<(), String> {
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH);
    read_records(reader, |row, cells| {
        let item = match cells.and_then(|cells| parse_product_row(header, cells)) {
            Ok(p) => match seen.insert(hash_of(&p.sku.to_lowercase()), row) {
                Some(earlier) => Item::Bad(vec![(
                    row,
                    Invalid::one(
                        "sku",
                        "row.duplicate_in_file",
                        format!("is also on row {earlier} of this file"),
                    ),
                )]),
                None => Item::Good(row, p),
            },
            Err(e) => Item::Bad(vec![(row, e)]),
        };
        batch.push(item);
        if batch.len() == BATCH {
            return batches.blocking_send(std::mem::take(&mut batch)).is_ok();
        }
        true
    })?;
    if !batch.is_empty() {
        let _ = batches.blocking_send(batch);
    }
    Ok(())
}

/// The rows of the order being read: its first row, its lines, and its bad rows.
struct Group {
    first_row: u64,
    order_id: String,
    lines: Vec<OrderLineRow>,
    bad: Vec<(u64, Invalid)>,
}

impl Group {
    fn finish(self) -> Item<PastOrder> {
        if !self.bad.is_empty() {
            return Item::Bad(self.bad);
        }
        match assemble_order(self.first_row, self.lines) {
            Ok(order) => Item::Good(self.first_row, order),
            Err(e) => Item::Bad(vec![(self.first_row, e)]),
        }
    }
}

fn read_orders(
    reader: CsvReader,
    header: &Header,
    zone: &jiff::tz::TimeZone,
    now: Timestamp,
    batches: &mpsc::Sender<Vec<Item<PastOrder>>>,
) -> Result<(), String> {
    // Order ids seen before the current one, hashed: an order's rows must be together.
    let mut done: HashMap<u64, u64> = HashMap::new();
    let mut current: Option<Group> = None;
    let mut batch = Vec::with_capacity(BATCH);
    let mut open = true;
    read_records(reader, |row, cells| {
        let id = cells
            .as_ref()
            .ok()
            .and_then(|cells| order_id_of(header, cells))
            .map(str::to_string);
        let same = matches!((&current, &id), (Some(g), Some(id)) if &g.order_id == id);
        if !same {
            if let Some(group) = current.take() {
                batch.push(group.finish());
            }
            if let Some(id) = &id {
                if let Some(earlier) = done.insert(hash_of(id), row) {
                    let message = format!(
                        "order {id} already began at row {earlier}; keep an order's rows together"
                    );
                    current = Some(Group {
                        first_row: row,
                        order_id: id.clone(),
                        lines: vec![],
                        bad: vec![(row, Invalid::one("order_id", "order.rows_apart", message))],
                    });
                } else {
                    current = Some(Group {
                        first_row: row,
                        order_id: id.clone(),
                        lines: vec![],
                        bad: vec![],
                    });
                }
            }
        }
        let parsed = cells.and_then(|cells| parse_order_line(header, cells, zone, now));
        match (parsed, current.as_mut()) {
            (Ok(line), Some(group)) => group.lines.push(line),
            (Err(e), Some(group)) if same || id.is_some() => group.bad.push((row, e)),
            (Err(e), _) => batch.push(Item::Bad(vec![(row, e)])),
            (Ok(_), None) => {}
        }
        if batch.len() >= BATCH {
            open = batches.blocking_send(std::mem::take(&mut batch)).is_ok();
        }
        open
    })?;
    if let Some(group) = current.take() {
        batch.push(group.finish());
    }
    if !batch.is_empty() && open {
        let _ = batches.blocking_send(batch);
    }
    Ok(())
}

fn to_new_order(o: PastOrder) -> NewOrder {
    let buyer = if o.phone.is_some() || o.email.is_some() {
        Buyer::Customer {
            phone: o.phone,
            email: o.email,
            name: None,
        }
    } else {
        Buyer::Guest
    };
    NewOrder {
        source: IMPORT_SOURCE.to_string(),
        external_id: o.order_id,
        buyer,
        brand: o.brand,
        store: o.store,
        channel: o.channel,
        placed_at: o.placed_at,
        lines: o.lines,
        subtotal: o.subtotal,
        discount: o.discount,
        shipping: o.shipping,
        total: o.total,
        vouchers: vec![],
        points_redeemed: 0,
    }
}

/// Writes past orders as history: finds or registers their customers, inserts the orders not
/// imported before with their lines, and moves the customers' order count, spend and last
/// order on. One transaction per batch.
fn write_history(
    sql: &mut dyn Sql,
    tenant_id: &str,
    currency: &str,
    batch: &[(u64, PastOrder)],
    now: Timestamp,
) -> AppResult<()> {
    let phones: Vec<&str> = batch
        .iter()
        .filter_map(|(_, o)| o.phone.as_ref().map(|p| p.as_str()))
        .collect();
    let emails: Vec<&str> = batch
        .iter()
        .filter_map(|(_, o)| o.email.as_ref().map(|e| e.as_str()))
        .collect();
    let mut by_phone: HashMap<String, String> =
        members::ids_by_contacts(sql, tenant_id, Contact::Phone, &phones)?
            .into_iter()
            .collect();
    let mut by_email: HashMap<String, String> =
        members::ids_by_contacts(sql, tenant_id, Contact::Email, &emails)?
            .into_iter()
            .collect();
    // Customers registered here raise member.created; the past orders raise no order.paid:
    // they are history from another system, not sales a subscriber should act on now.
    let mut registered = Vec::new();
    // Per member: spend, orders and the latest order written now.
    let mut moved: HashMap<String, (i64, i64, Timestamp)> = HashMap::new();
    for (_, o) in batch {
        let known = o
            .phone
            .as_ref()
            .and_then(|p| by_phone.get(p.as_str()))
            .or_else(|| o.email.as_ref().and_then(|e| by_email.get(e.as_str())))
            .cloned();
        let member_id = match known {
            Some(id) => Some(id),
            None if o.phone.is_some() || o.email.is_some() => {
                let profile = Profile {
                    phone: o.phone.clone(),
                    email: o.email.clone(),
                    ..Profile::default()
                };
                let m = crate::members::new_member(sql, tenant_id, profile, IMPORT_SOURCE, now)?;
                members::insert(sql, tenant_id, &m)?;
                registered.push(member_changed(EventType::MemberCreated, &m));
                if let Some(p) = &o.phone {
                    by_phone.insert(p.as_str().to_string(), m.id.to_string());
                }
                if let Some(e) = &o.email {
                    by_email.insert(e.as_str().to_string(), m.id.to_string());
                }
                Some(m.id.into_string())
            }
            None => None,
        };
        let row = OrderRow {
            id: OrderId::new(),
            source: IMPORT_SOURCE.to_string(),
            external_id: o.order_id.clone(),
            member_id: member_id.clone().map(MemberId::from),
            status: loyalty_core::order::OrderStatus::Paid,
            brand: o.brand.clone(),
            store: o.store.clone(),
            channel: o.channel.clone(),
            placed_at: o.placed_at,
            currency: currency.to_string(),
            subtotal: o.subtotal,
            discount: o.discount,
            shipping: o.shipping,
            total: o.total,
            points_redeemed: 0,
            redeemed_value: 0,
            member_index: None,
            base_points: 0,
            points_earned: 0,
            points_reversed: 0,
            points_returned: 0,
            refunded_amount: 0,
            breakdown: "[]".to_string(),
            receipt: None,
            created_at: now,
            updated_at: now,
        };
        if !orders::insert_if_new(sql, tenant_id, &row)? {
            continue; // imported before
        }
        orders::insert_lines(sql, tenant_id, &row.id, &o.lines)?;
        if let Some(id) = member_id {
            let entry = moved.entry(id).or_insert((0, 0, o.placed_at));
            entry.0 = checked_total("lifetime spend", entry.0, o.total)?;
            entry.1 += 1;
            entry.2 = entry.2.max(o.placed_at);
        }
    }
    crate::events::raise(sql, tenant_id, now, &registered)?;
    if moved.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = moved.keys().map(String::as_str).collect();
    for mut m in members::get_many_for_update(sql, tenant_id, &ids)? {
        let Some(&(spend, count, last)) = moved.get(m.id.as_str()) else {
            continue;
        };
        m.lifetime_spend = checked_total("lifetime spend", m.lifetime_spend, spend)?;
        m.order_count = checked_total("the order count", m.order_count, count)?;
        m.last_order_at = Some(m.last_order_at.map_or(last, |t| t.max(last)));
        m.updated_at = now;
        members::update_state(sql, tenant_id, &m)?;
    }
    Ok(())
}
