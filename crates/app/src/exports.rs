//! CSV exports of members (all of them, or a saved segment's), in the import's columns plus
//! what the platform computes, and of orders in the orders import's columns — page by page,
//! so that a million rows never sit in memory.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use loyalty_core::history::{IMPORT_SOURCE, ORDER_COLUMNS};
use loyalty_core::import::{EXPORT_ONLY_COLUMNS, EXTERNAL_SYSTEM, IMPORT_COLUMNS, inert};
use loyalty_core::member::Member;
use loyalty_core::tenancy::Access;
use loyalty_store::Page;
use loyalty_store::repo::members::{self, MemberFilter};
use loyalty_store::repo::orders::{self, ExportLine};

use crate::{App, AppError, AppResult, Ctx};

/// Members per page of an export: one query each.
pub const EXPORT_PAGE: i64 = 1_000;

/// What an export needs to format its rows, read once at its start.
#[derive(Clone)]
pub struct MemberExport {
    segment_id: Option<String>,
    zone: TimeZone,
    tier_names: HashMap<String, String>,
}

/// One page of CSV text and where the next page starts (`None` after the last).
pub struct ExportPage {
    pub csv: Vec<u8>,
    pub rows: usize,
    pub next_after: Option<String>,
}

impl App {
    /// Starts an export of every member, or of a saved segment's members. Exports carry
    /// personal data, so they need an admin key or account.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn member_export(
        &self,
        ctx: &Ctx,
        segment_id: Option<String>,
    ) -> AppResult<MemberExport> {
        ctx.require(Access::Admin)?;
        if let Some(id) = &segment_id {
            self.segment(ctx, id.clone()).await?;
        }
        let info = self.tenant(ctx).await?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        Ok(MemberExport {
            segment_id,
            zone: info.zone.clone(),
            tier_names: ladder
                .iter()
                .map(|t| (t.id.clone(), t.name.clone()))
                .collect(),
        })
    }

    /// The header line, with a UTF-8 byte-order mark so that Excel shows Vietnamese correctly.
    pub fn member_export_header(&self) -> Vec<u8> {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        let names = IMPORT_COLUMNS.iter().chain(EXPORT_ONLY_COLUMNS.iter());
        out.extend(csv_rows([names.map(|c| c.to_string()).collect()]));
        out
    }

    /// The page of rows after the member `after` (by id).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn member_export_page(
        &self,
        ctx: &Ctx,
        export: &MemberExport,
        after: Option<String>,
    ) -> AppResult<ExportPage> {
        let page = Page {
            after,
            limit: EXPORT_PAGE,
        };
        let paged = match &export.segment_id {
            Some(id) => self.segment_members(ctx, id.clone(), page).await?,
            None => {
                let tenant_id = ctx.tenant_id.clone();
                self.db
                    .read(move |sql| {
                        members::search(sql, &tenant_id, &MemberFilter::default(), &page)
                    })
                    .await?
            }
        };
        Ok(ExportPage {
            csv: csv_rows(paged.items.iter().map(|m| member_cells(m, export))),
            rows: paged.items.len(),
            next_after: paged.next_after,
        })
    }

    /// Writes the whole export to `out` (the CLI's `loyalty export members`).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn write_member_export(
        &self,
        ctx: &Ctx,
        segment_id: Option<String>,
        out: &mut (dyn std::io::Write + Send),
    ) -> AppResult<u64> {
        let export = self.member_export(ctx, segment_id).await?;
        let header = self.member_export_header();
        write_pages(out, header, |after| {
            self.member_export_page(ctx, &export, after)
        })
        .await
    }
}

impl App {
    /// Checks the caller may export orders (they carry customers' phones and e-mails) and
    /// returns the tenant's zone for the times.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn order_export(&self, ctx: &Ctx) -> AppResult<TimeZone> {
        ctx.require(Access::Admin)?;
        Ok(self.tenant(ctx).await?.zone.clone())
    }

    /// The orders export's header line (the orders import's columns), with a byte-order mark.
    pub fn order_export_header(&self) -> Vec<u8> {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        out.extend(csv_rows([ORDER_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect()]));
        out
    }

    /// The lines of the orders after the order `after` (by id).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn order_export_page(
        &self,
        ctx: &Ctx,
        zone: &TimeZone,
        after: Option<String>,
    ) -> AppResult<ExportPage> {
        let tenant_id = ctx.tenant_id.clone();
        let (lines, next_after) = self
            .db
            .read(move |sql| orders::export_page(sql, &tenant_id, after.as_deref(), EXPORT_PAGE))
            .await?;
        let mut rows = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            let first = i == 0 || lines[i - 1].order_id != line.order_id;
            rows.push(order_cells(line, first, zone));
        }
        Ok(ExportPage {
            csv: csv_rows(rows),
            rows: lines.len(),
            next_after,
        })
    }

    /// Writes every order to `out` (the CLI's `loyalty export orders`).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn write_order_export(
        &self,
        ctx: &Ctx,
        out: &mut (dyn std::io::Write + Send),
    ) -> AppResult<u64> {
        let zone = self.order_export(ctx).await?;
        let header = self.order_export_header();
        write_pages(out, header, |after| {
            self.order_export_page(ctx, &zone, after)
        })
        .await
    }
}

/// Writes an export's header and then every page, each fetched after the last row of the one
/// before; returns the rows written.
async fn write_pages<F, Fut>(
    out: &mut (dyn std::io::Write + Send),
    header: Vec<u8>,
    next_page: F,
) -> AppResult<u64>
where
    F: Fn(Option<String>) -> Fut,
    Fut: std::future::Future<Output = AppResult<ExportPage>>,
{
    let io = |e: std::io::Error| AppError::Internal(e.into());
    out.write_all(&header).map_err(io)?;
    let (mut after, mut rows) = (None, 0u64);
    loop {
        let page = next_page(after).await?;
        rows += page.rows as u64;
        out.write_all(&page.csv).map_err(io)?;
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    out.flush().map_err(io)?;
    Ok(rows)
}

/// One line of an order in the orders import's columns. The order's own cells are written on
/// its first line only; an order posted from another source keeps it in its id
/// (`pos:HN01-000123`), since ids are unique per source. An order without lines is written as
/// one line of its subtotal.
fn order_cells(l: &ExportLine, first: bool, zone: &TimeZone) -> Vec<String> {
    let order_id = if l.source == IMPORT_SOURCE {
        l.external_id.clone()
    } else {
        format!("{}:{}", l.source, l.external_id)
    };
    let text = |v: &Option<String>| v.as_deref().map(inert).unwrap_or_default();
    let line = l.line.clone().unwrap_or(loyalty_core::order::Line {
        sku: None,
        name: None,
        category: None,
        quantity: 1,
        unit_price: l.subtotal,
    });
    let order = |cell: String| if first { cell } else { String::new() };
    vec![
        inert(&order_id),
        order(
            l.placed_at
                .to_zoned_datetime(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string(),
        ),
        order(text(&l.phone)),
        order(text(&l.email)),
        order(text(&l.store)),
        order(text(&l.brand)),
        order(text(&l.channel)),
        text(&line.sku),
        text(&line.name),
        text(&line.category),
        line.quantity.to_string(),
        line.unit_price.to_string(),
        order(l.discount.to_string()),
        order(l.shipping.to_string()),
        order(l.total.to_string()),
    ]
}

/// The row of one member, in the order of the header.
fn member_cells(m: &Member, export: &MemberExport) -> Vec<String> {
    let p = &m.profile;
    let time = |t: Option<Timestamp>| {
        t.map(|t| {
            t.to_zoned_datetime(export.zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%:z")
                .to_string()
        })
        .unwrap_or_default()
    };
    // Every text cell is guarded (`inert`), whatever checks it passed on the way in: an
    // e-mail such as `+cmd|'/Ccalc'!A0@example.vn` is valid, and a phone starts with `+`.
    let text = |v: Option<&str>| v.map(inert).unwrap_or_default();
    vec![
        text(p.phone.as_ref().map(|v| v.as_str())),
        text(p.email.as_ref().map(|v| v.as_str())),
        text(p.name.as_deref()),
        text(p.gender.map(|g| g.as_str())),
        text(p.birthday.map(|b| b.to_string()).as_deref()),
        text(p.province.as_deref()),
        text(p.district.as_deref()),
        inert(&p.tags.join("|")),
        m.points_available.to_string(),
        m.lifetime_spend.to_string(),
        text(
            m.tier_id
                .as_ref()
                .and_then(|id| export.tier_names.get(id))
                .map(String::as_str),
        ),
        time(m.member_since),
        text(p.external_ids.get(EXTERNAL_SYSTEM).map(String::as_str)),
        inert(m.status.as_str()),
        inert(&m.member_code),
        m.order_count.to_string(),
        time(m.last_order_at),
        text(m.rfm_class.as_deref()),
        inert(&m.id),
    ]
}

/// Records as CSV text, quoted where the csv crate decides.
fn csv_rows(rows: impl IntoIterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&row);
    }
    writer.into_inner().unwrap_or_default()
}

/// The columns of a campaign's recipients export.
const RECIPIENT_COLUMNS: [&str; 11] = [
    "message_id",
    "member_id",
    "to",
    "channel_type",
    "status",
    "reason",
    "voucher_code",
    "cost",
    "sent_at",
    "delivered_at",
    "opened_at",
];

impl App {
    /// Starts the export of a campaign's recipients with their status (personal data: admin).
    pub async fn campaign_export(&self, ctx: &Ctx, campaign_id: &str) -> AppResult<TimeZone> {
        ctx.require(Access::Admin)?;
        self.load_campaign(&ctx.tenant_id, campaign_id).await?;
        Ok(self.tenant(ctx).await?.zone.clone())
    }

    pub fn campaign_export_header(&self) -> Vec<u8> {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        out.extend(csv_rows([RECIPIENT_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect()]));
        out
    }

    /// A page of the campaign's messages (newest first) after `after`.
    pub async fn campaign_export_page(
        &self,
        ctx: &Ctx,
        campaign_id: &str,
        zone: &TimeZone,
        after: Option<String>,
    ) -> AppResult<ExportPage> {
        let tenant_id = ctx.tenant_id.to_string();
        let filter = loyalty_store::repo::messaging::MessageFilter {
            campaign_id: Some(campaign_id.to_string()),
            ..Default::default()
        };
        let page = loyalty_store::Page {
            after,
            limit: EXPORT_PAGE,
        };
        let found = self
            .db
            .read(move |sql| {
                loyalty_store::repo::messaging::list_messages(sql, &tenant_id, &filter, &page)
            })
            .await?;
        let time = |t: Option<jiff::Timestamp>| {
            t.map(|t| {
                t.to_zoned_datetime(zone.clone())
                    .strftime("%Y-%m-%dT%H:%M:%S%:z")
                    .to_string()
            })
            .unwrap_or_default()
        };
        let rows: Vec<Vec<String>> = found
            .items
            .iter()
            .filter(|m| !m.test)
            .map(|m| {
                let status = match m.status {
                    loyalty_core::campaign::MessageStatus::Sending => "queued",
                    other => other.as_str(),
                };
                vec![
                    m.id.clone(),
                    m.member_id.clone().unwrap_or_default(),
                    m.to.clone().unwrap_or_default(),
                    m.channel_type.clone().unwrap_or_default(),
                    status.to_string(),
                    m.reason.clone().unwrap_or_default(),
                    m.voucher_code.clone().unwrap_or_default(),
                    m.cost.to_string(),
                    time(m.sent_at),
                    time(m.delivered_at),
                    time(m.opened_at),
                ]
            })
            .collect();
        Ok(ExportPage {
            rows: rows.len(),
            csv: csv_rows(rows),
            next_after: found.next_after,
        })
    }
}
