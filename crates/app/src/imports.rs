//! Member import (nhập khách hàng từ file): a CSV read as a stream, row by row, checked in
//! `core::import`, written in batches of one transaction each. Good rows are kept and bad rows
//! reported with their row number, so a merchant fixes only what is wrong and imports again.
//!
//! A row updates the member it names — by `external_id`, then phone, then e-mail — or creates
//! one. Profile cells that are not blank overwrite the member's. `points`, `lifetime_spend`,
//! `tier` and `member_since` are the *opening state* brought from another system: written when
//! the row creates the member, or when it first links an existing member to its `external_id`
//! (a customer who signed up at the till before the old program's balances were moved), and
//! ignored afterwards. So the same file again changes nothing, and an export edited in a
//! spreadsheet and imported back updates profiles without giving anyone their points twice.
//! Opening points are one `adjust` entry with reason `import`; a wrong one is corrected with an
//! adjustment, which the activity log keeps.

use loyalty_core::consent::ConsentSource;
use loyalty_core::event::{EventType, Raised, member_changed};
use loyalty_core::limits::checked_total;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;

use jiff::Timestamp;
use loyalty_core::Invalid;
use loyalty_core::code::{MEMBER_CODE_LEN, random_code};
use loyalty_core::id::new_id;
use loyalty_core::import::{
    EXTERNAL_SYSTEM, Format, Header, MEMBERS, MemberRow, RowContext, parse_member_row,
};
use loyalty_core::member::{Member, MemberStatus, Profile};
use loyalty_core::tenancy::Access;
use loyalty_core::tier::Tier;
use loyalty_store::Sql;
use loyalty_store::repo::imports::{self as jobs, ImportJob, RowError};
use loyalty_store::repo::ledger::{self as entries, Entry};
use loyalty_store::repo::members::{self, Contact};
use tokio::sync::mpsc;

use crate::activity::{Change, record};
use crate::points::Book;
use crate::tiers::REASON_IMPORT;
use crate::{App, AppError, AppResult, Ctx, TenantInfo};
use loyalty_core::book::{Credit, EntryKind};
use loyalty_core::opening;

/// Rows per transaction: large enough that a million rows take a few hundred commits, small
/// enough that orders posted meanwhile wait a few milliseconds at most.
pub(crate) const BATCH_ROWS: usize = 5_000;
/// Errors kept for the report; the count of failed rows stays exact beyond it.
pub const MAX_REPORTED_ERRORS: usize = 1_000;
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// One data row after reading: checked, or the reasons it was refused.
#[derive(Clone)]
enum Parsed {
    Good(u64, Box<MemberRow>),
    Bad(u64, Invalid),
}

/// The file being imported, read as CSV through a large buffer.
pub(crate) type CsvReader = csv::Reader<BufReader<Box<dyn Read + Send>>>;

/// An import whose header has been read and whose job row exists.
pub struct PreparedImport {
    job: ImportJob,
    reader: CsvReader,
    header: Header,
}

impl PreparedImport {
    pub fn job(&self) -> &ImportJob {
        &self.job
    }
}

impl App {
    /// Reads the header (refusing a file that is not UTF-8 CSV with known columns, with nothing
    /// written) and records the job as running.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn prepare_member_import(
        &self,
        ctx: &Ctx,
        input: Box<dyn Read + Send>,
    ) -> AppResult<PreparedImport> {
        ctx.require(Access::Admin)?;
        let (reader, header) = tokio::task::spawn_blocking(move || open_csv(input, &MEMBERS))
            .await
            .map_err(|e| AppError::Internal(e.into()))??;
        let job = self.new_import_job(ctx, "members").await?;
        Ok(PreparedImport {
            job,
            reader,
            header,
        })
    }

    /// Imports every row; `progress` sees the job after each batch. Returns the finished job
    /// (`done`, or `failed` with a message when the file could not be read to the end).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn run_member_import(
        &self,
        ctx: &Ctx,
        prepared: PreparedImport,
        progress: impl Fn(&ImportJob) + Send,
    ) -> AppResult<ImportJob> {
        let PreparedImport {
            mut job,
            reader,
            header,
        } = prepared;
        let info = self.tenant(ctx).await?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        let mut by_name = HashMap::new();
        for t in ladder.iter() {
            by_name.insert(t.name.to_lowercase(), t.id.clone());
            by_name.insert(t.id.to_lowercase(), t.id.clone());
        }
        let today = self.now().to_zoned_datetime(info.zone.clone()).date();
        let zone = info.zone.clone();
        let (batches, mut incoming) = mpsc::channel::<Vec<Parsed>>(2);
        let read = tokio::task::spawn_blocking(move || {
            let cx = RowContext {
                today,
                zone: &zone,
                tiers: &|name| by_name.get(name).cloned(),
            };
            read_rows(reader, &header, &cx, &batches)
        });
        let mut outcome = Ok(());
        let mut batches_written: u64 = 0;
        while let Some(batch) = incoming.recv().await {
            if let Err(e) = self.write_batch(ctx, &info, &ladder, &mut job, batch).await {
                outcome = Err(e);
                break;
            }
            batches_written += 1;
            if batches_written.is_power_of_two() {
                self.refresh_statistics().await;
            }
            progress(&job);
        }
        drop(incoming);
        let read_result = read.await.map_err(|e| AppError::Internal(e.into()))?;
        let failure = match (outcome, read_result) {
            (Err(e), _) => Some(e.to_string()),
            (Ok(()), Err(message)) => Some(message),
            (Ok(()), Ok(())) => None,
        };
        self.finish_import_job(ctx, &mut job, failure).await?;
        progress(&job);
        Ok(job)
    }

    /// Records a new import of `kind` as running.
    pub(crate) async fn new_import_job(&self, ctx: &Ctx, kind: &str) -> AppResult<ImportJob> {
        let job = ImportJob {
            id: new_id("imp"),
            kind: kind.to_string(),
            status: "running".to_string(),
            total: 0,
            imported: 0,
            failed: 0,
            errors: Vec::new(),
            message: None,
            created_at: self.now(),
            finished_at: None,
        };
        let (tenant_id, row) = (ctx.tenant_id.clone(), job.clone());
        self.db
            .write(move |sql| Ok::<_, AppError>(jobs::insert(sql, &tenant_id, &row)?))
            .await?;
        Ok(job)
    }

    /// Marks an import done (or failed, with why) and logs it in the activity log.
    pub(crate) async fn finish_import_job(
        &self,
        ctx: &Ctx,
        job: &mut ImportJob,
        failure: Option<String>,
    ) -> AppResult<()> {
        job.status = if failure.is_some() { "failed" } else { "done" }.to_string();
        job.message = failure;
        job.finished_at = Some(self.now());
        let (ctx2, row) = (ctx.clone(), job.clone());
        self.db
            .write(move |sql| {
                jobs::update(sql, &ctx2.tenant_id, &row)?;
                let change = Change {
                    entity: "import",
                    id: &row.id,
                    action: &row.kind,
                };
                let summary = serde_json::json!({
                    "status": row.status, "total": row.total, "imported": row.imported,
                    "failed": row.failed, "message": row.message,
                });
                record(
                    sql,
                    &ctx2,
                    row.finished_at.unwrap_or(row.created_at),
                    change,
                    None,
                    Some(summary),
                )?;
                Ok::<_, AppError>(())
            })
            .await
    }

    /// Starts an import in the background (the API's 202); follow it with `import_job`.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn start_member_import(
        &self,
        ctx: &Ctx,
        input: Box<dyn Read + Send>,
    ) -> AppResult<ImportJob> {
        let prepared = self.prepare_member_import(ctx, input).await?;
        let job = prepared.job.clone();
        let (app, ctx) = (self.clone(), ctx.clone());
        tokio::spawn(async move {
            if let Err(e) = app.run_member_import(&ctx, prepared, |_| {}).await {
                tracing::error!(error = %e, "member import stopped");
            }
        });
        Ok(job)
    }

    /// PostgreSQL plans look-ups from table statistics, which autovacuum refreshes only every
    /// minute or so: while a large import grows an empty table, the planner would go on
    /// believing it tiny and scan it whole for every batch's look-ups. Analysing after batches
    /// 1, 2, 4, 8… keeps the plans right at a cost that grows with the log of the rows.
    async fn refresh_statistics(&self) {
        if self.db.backend() != loyalty_store::Backend::Postgres {
            return;
        }
        let analysed = self
            .db
            .write(|sql| sql.batch("analyze members, member_external_ids, ledger_entries"))
            .await;
        if let Err(e) = analysed {
            tracing::warn!(error = %e, "analyze during an import failed");
        }
    }

    /// The tenant's latest imports, newest first.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn import_jobs(&self, ctx: &Ctx, limit: i64) -> AppResult<Vec<ImportJob>> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self
            .db
            .read(move |sql| jobs::recent(sql, &tenant_id, limit))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn import_job(&self, ctx: &Ctx, id: String) -> AppResult<ImportJob> {
        ctx.require(Access::Admin)?;
        let tenant_id = ctx.tenant_id.clone();
        self.db
            .read(move |sql| jobs::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "import" })
    }

    async fn write_batch(
        &self,
        ctx: &Ctx,
        info: &Arc<TenantInfo>,
        ladder: &Arc<Vec<Tier>>,
        job: &mut ImportJob,
        batch: Vec<Parsed>,
    ) -> AppResult<()> {
        let now = self.now();
        let (ctx2, info, ladder) = (ctx.clone(), info.clone(), ladder.clone());
        let before = job.clone();
        let updated = self
            .db
            .write(move |sql| {
                let mut job = before.clone();
                let mut bad: Vec<(u64, Invalid)> = Vec::new();
                let mut good = Vec::new();
                // The engine may run this closure again (after a conflict), so it reads a copy.
                for parsed in batch.iter().cloned() {
                    match parsed {
                        Parsed::Good(row, member) => good.push((row, *member)),
                        Parsed::Bad(row, errors) => bad.push((row, errors)),
                    }
                }
                let rows = good.len() + bad.len();
                let refused = apply_rows(sql, &ctx2, &info, &ladder, good, now)?;
                let refused_count = refused.len();
                bad.extend(refused);
                tally(&mut job, rows, bad.len(), bad);
                jobs::update(sql, &ctx2.tenant_id, &job)?;
                tracing::debug!(rows, refused_count, "import batch written");
                Ok::<_, AppError>(job)
            })
            .await?;
        *job = updated;
        Ok(())
    }
}

/// Counts a batch of `items` (rows, or orders of several rows) into the job, `failed` of them
/// refused, with the errors in row order (the first `MAX_REPORTED_ERRORS` kept).
pub(crate) fn tally(
    job: &mut ImportJob,
    items: usize,
    failed: usize,
    mut errors: Vec<(u64, Invalid)>,
) {
    errors.sort_by_key(|(row, _)| *row);
    job.total += items as i64;
    job.failed += failed as i64;
    job.imported += (items - failed) as i64;
    for (row, errors) in errors {
        for e in errors.0 {
            if job.errors.len() < MAX_REPORTED_ERRORS {
                job.errors.push(RowError {
                    row,
                    field: e.field,
                    message: e.message,
                });
            }
        }
    }
}

/// Opens the CSV: skips a UTF-8 byte-order mark, refuses other encodings with a message that
/// says what to do, takes `;` as the separator when the header has no comma (Excel in locales
/// whose decimal mark is a comma), and reads the header.
pub(crate) fn open_csv(
    input: Box<dyn Read + Send>,
    format: &'static Format,
) -> AppResult<(CsvReader, Header)> {
    let mut buffered = BufReader::with_capacity(256 * 1024, input);
    let head = buffered.fill_buf().map_err(|e| {
        AppError::invalid("file", "file.unreadable", format!("could not be read: {e}"))
    })?;
    if head.starts_with(b"\xFF\xFE") || head.starts_with(b"\xFE\xFF") {
        return Err(AppError::invalid(
            "file",
            "file.utf16",
            "is UTF-16 (Excel's \"Unicode Text\"); save it as \"CSV UTF-8 (Comma delimited)\"",
        ));
    }
    let skip = if head.starts_with(UTF8_BOM) { 3 } else { 0 };
    let sample = &head[skip..];
    if let Err(e) = std::str::from_utf8(sample)
        && e.error_len().is_some()
    {
        return Err(AppError::invalid(
            "file",
            "file.not_utf8",
            format!(
                "is not UTF-8 text (byte {} is not): in Excel choose \"CSV UTF-8 (Comma delimited)\" when saving",
                skip + e.valid_up_to() + 1
            ),
        ));
    }
    let first_line = sample.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if !first_line.contains(&b',') && first_line.contains(&b';') {
        b';'
    } else {
        b','
    };
    if sample.is_empty() {
        return Err(AppError::invalid("file", "file.empty", "is empty"));
    }
    buffered.consume(skip);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(buffered);
    let mut record = csv::StringRecord::new();
    let read = reader.read_record(&mut record).map_err(|e| {
        AppError::invalid(
            "file",
            "file.unreadable",
            format!("the header row could not be read: {e}"),
        )
    })?;
    if !read {
        return Err(AppError::invalid("file", "file.empty", "is empty"));
    }
    let header = Header::parse_as(record.iter(), format)
        .map_err(|e| AppError::invalid("file", e.code, e.message))?;
    Ok((reader, header))
}

/// Reads and checks every row on a blocking thread, sending batches to the writer. Refuses a
/// second row with a phone, e-mail or external id already on an accepted row of the file,
/// remembering 8-byte hashes of them (about 50 MB for a million rows with both) rather than the
/// values themselves.
fn read_rows(
    reader: CsvReader,
    header: &Header,
    cx: &RowContext<'_>,
    batches: &mpsc::Sender<Vec<Parsed>>,
) -> Result<(), String> {
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    read_records(reader, |row, cells| {
        batch.push(
            match cells.and_then(|cells| parse_member_row(header, cells, cx)) {
                Ok(member) => match duplicate(&mut seen, &member, row) {
                    Some(errors) => Parsed::Bad(row, errors),
                    None => Parsed::Good(row, Box::new(member)),
                },
                Err(errors) => Parsed::Bad(row, errors),
            },
        );
        if batch.len() == BATCH_ROWS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            // The writer stopped (and says why) when the batch cannot be handed over.
            return batches.blocking_send(full).is_ok();
        }
        true
    })?;
    if !batch.is_empty() {
        let _ = batches.blocking_send(batch);
    }
    Ok(())
}

/// Reads the data rows, giving each its spreadsheet row number (the header is row 1) and its
/// cells, or why they cannot be read; rows of empty cells are skipped. `each` returns false
/// to stop. An error is a file that cannot be read to the end.
pub(crate) fn read_records(
    mut reader: CsvReader,
    mut each: impl FnMut(u64, Result<&[&str], Invalid>) -> bool,
) -> Result<(), String> {
    let mut record = csv::ByteRecord::new();
    let mut index: u64 = 1;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => return Err(format!("the file could not be read after row {index}: {e}")),
        }
        index += 1;
        let cells: Result<Vec<&str>, _> = record.iter().map(std::str::from_utf8).collect();
        let go_on = match cells {
            Err(_) => {
                let message = "is not UTF-8 text; save the file as \"CSV UTF-8\"";
                each(index, Err(Invalid::one("row", "row.not_utf8", message)))
            }
            // Spreadsheets leave rows of empty cells at the end; they are not data.
            Ok(cells) if cells.iter().all(|c| c.trim().is_empty()) => true,
            // No field holds it, and PostgreSQL cannot store it.
            Ok(cells) if cells.iter().any(|c| c.contains('\0')) => each(
                index,
                Err(Invalid::one("row", "text.nul", "holds the NUL character")),
            ),
            Ok(cells) => each(index, Ok(&cells)),
        };
        if !go_on {
            return Ok(());
        }
    }
}

/// Names the first of the row's keys already on an earlier accepted row, or remembers them all.
fn duplicate(seen: &mut HashMap<u64, u64>, m: &MemberRow, row: u64) -> Option<Invalid> {
    let keys = [
        ("phone", m.phone.as_ref().map(|p| p.as_str().to_string())),
        ("email", m.email.as_ref().map(|e| e.as_str().to_string())),
        ("external_id", m.external_id.clone()),
    ];
    let hashes: Vec<(&str, u64)> = keys
        .iter()
        .filter_map(|(field, value)| {
            let value = value.as_ref()?;
            let mut h = DefaultHasher::new();
            (field, value).hash(&mut h);
            Some((*field, h.finish()))
        })
        .collect();
    for (field, hash) in &hashes {
        if let Some(earlier) = seen.get(hash) {
            return Some(Invalid::one(
                *field,
                "row.duplicate_in_file",
                format!("is also on row {earlier} of this file"),
            ));
        }
    }
    for (_, hash) in hashes {
        seen.insert(hash, row);
    }
    None
}

/// Writes a batch of checked rows; returns the rows refused for what the database holds (an
/// identity that names two members, points already spent).
fn apply_rows(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    info: &TenantInfo,
    ladder: &[Tier],
    rows: Vec<(u64, MemberRow)>,
    now: Timestamp,
) -> AppResult<Vec<(u64, Invalid)>> {
    let tenant_id = ctx.tenant_id.as_str();
    let lookup =
        |sql: &mut dyn Sql, column: Contact, pick: &dyn Fn(&MemberRow) -> Option<String>| {
            let values: Vec<String> = rows.iter().filter_map(|(_, r)| pick(r)).collect();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            members::ids_by_contacts(sql, tenant_id, column, &refs)
                .map(|found| found.into_iter().collect::<HashMap<String, String>>())
        };
    let by_phone = lookup(sql, Contact::Phone, &|r| {
        r.phone.as_ref().map(|p| p.as_str().to_string())
    })?;
    let by_email = lookup(sql, Contact::Email, &|r| {
        r.email.as_ref().map(|e| e.as_str().to_string())
    })?;
    let external: Vec<&str> = rows
        .iter()
        .filter_map(|(_, r)| r.external_id.as_deref())
        .collect();
    let by_external: HashMap<String, String> =
        members::ids_by_external_ids(sql, tenant_id, EXTERNAL_SYSTEM, &external)?
            .into_iter()
            .collect();

    let mut refused = Vec::new();
    let mut updates: Vec<(u64, MemberRow, String, bool)> = Vec::new();
    let mut creates: Vec<(u64, MemberRow)> = Vec::new();
    for (row, r) in rows {
        let matches = [
            (
                "external_id",
                r.external_id.as_ref().and_then(|x| by_external.get(x)),
            ),
            (
                "phone",
                r.phone.as_ref().and_then(|p| by_phone.get(p.as_str())),
            ),
            (
                "email",
                r.email.as_ref().and_then(|e| by_email.get(e.as_str())),
            ),
        ];
        let mut found: Option<(&str, &String)> = None;
        let mut clash = None;
        for (field, id) in matches {
            let Some(id) = id else { continue };
            match found {
                None => found = Some((field, id)),
                Some((first, first_id)) if first_id != id => {
                    clash = Some(Invalid::one(
                        field,
                        "row.identity_conflict",
                        format!("belongs to another member than the row's {first}"),
                    ));
                    break;
                }
                Some(_) => {}
            }
        }
        match (clash, found) {
            (Some(errors), _) => refused.push((row, errors)),
            (None, Some((field, id))) => {
                // A new link to the other system's account brings that account's balances.
                let first_link = field != "external_id" && r.external_id.is_some();
                updates.push((row, r, id.clone(), first_link));
            }
            (None, None) => creates.push((row, r)),
        }
    }
    refused.extend(update_members(sql, ctx, info, ladder, updates, now)?);
    create_members(sql, ctx, info, ladder, creates, now)?;
    Ok(refused)
}

/// New members, with opening points as one lot each, in a few multi-row statements.
fn create_members(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    info: &TenantInfo,
    ladder: &[Tier],
    rows: Vec<(u64, MemberRow)>,
    now: Timestamp,
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let tenant_id = ctx.tenant_id.as_str();
    let codes = free_member_codes(sql, tenant_id, rows.len())?;
    let expires_at = info.program.expires_at(now, &info.zone);
    let mut created = Vec::with_capacity(rows.len());
    let mut lots = Vec::new();
    let mut tier_changes = Vec::new();
    for ((_, r), member_code) in rows.into_iter().zip(codes) {
        let opening = opening::create(
            blank_member(member_code, now),
            &r,
            ladder,
            now,
            crate::tiers::setting(info),
        );
        let mut m = opening.member;
        if opening.points > 0 {
            let points = opening.points;
            m.points_available = points;
            m.lifetime_points = points;
            m.next_change_at = expires_at;
            lots.push(Entry {
                id: new_id("led"),
                member_id: m.id.clone(),
                kind: EntryKind::Adjust,
                points,
                remaining: Some(points),
                order_id: None,
                reason: Some(REASON_IMPORT.to_string()),
                actor: Some(ctx.actor.clone()),
                created_at: now,
                available_at: Some(now),
                expires_at,
            });
        }
        if let Some(mut change) = opening.tier_change {
            change.actor = Some(ctx.actor.clone());
            tier_changes.push(change);
        }
        created.push(m);
    }
    members::insert_many(sql, tenant_id, &created)?;
    let consent: Vec<_> = created
        .iter()
        .flat_map(|m| {
            let granted = &m.profile.consent;
            crate::consent::changes_of(ctx, ConsentSource::Import, &m.id, None, granted, now)
        })
        .collect();
    loyalty_store::repo::consent::record(sql, tenant_id, &consent)?;
    entries::insert_many(sql, tenant_id, &lots)?;
    let tier_moved = crate::tiers::write_moves(sql, tenant_id, &tier_changes)?;
    // Each new member, then its opening points as the adjustment they are in the ledger, then
    // the tiers they were placed in.
    let opening: HashMap<&str, &Entry> = lots.iter().map(|e| (e.member_id.as_str(), e)).collect();
    let mut raised: Vec<Raised> = Vec::with_capacity(created.len() + lots.len());
    for m in &created {
        raised.push(member_changed(EventType::MemberCreated, m));
        if let Some(entry) = opening.get(m.id.as_str()) {
            raised.push(crate::events::points_moved(
                EventType::PointsAdjusted,
                m,
                entry,
            ));
        }
    }
    raised.extend(tier_moved);
    crate::events::raise(sql, tenant_id, now, &raised)?;
    Ok(())
}

/// Existing members: the row's non-blank cells over the profile and, on a first link, the
/// opening state. A row that changes nothing writes nothing.
fn update_members(
    sql: &mut dyn Sql,
    ctx: &Ctx,
    info: &TenantInfo,
    ladder: &[Tier],
    rows: Vec<(u64, MemberRow, String, bool)>,
    now: Timestamp,
) -> AppResult<Vec<(u64, Invalid)>> {
    let tenant_id = ctx.tenant_id.as_str();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|(_, _, id, _)| id.as_str()).collect();
    let mut current: HashMap<String, Member> = members::get_many_for_update(sql, tenant_id, &ids)?
        .into_iter()
        .map(|m| (m.id.to_string(), m))
        .collect();
    let mut refused = Vec::new();
    let mut raised = Vec::new();
    for (row, r, id, first_link) in rows {
        let Some(before) = current.remove(&id) else {
            continue;
        };
        let opening = match opening::update(
            &before,
            &r,
            first_link,
            ladder,
            now,
            crate::tiers::setting(info),
        ) {
            Ok(opening) => opening,
            Err(invalid) => {
                refused.push((row, invalid));
                continue;
            }
        };
        if !opening.changes(&before) {
            continue;
        }
        let (mut m, opening_points, profile_changed) =
            (opening.member, opening.points, opening.profile_changed);
        let tier_change = opening.tier_change.map(|mut change| {
            change.actor = Some(ctx.actor.clone());
            change
        });
        m.updated_at = now;
        if profile_changed {
            members::update_profile(sql, tenant_id, &m)?;
            let (was, is) = (&before.profile.consent, &m.profile.consent);
            crate::consent::record(sql, ctx, ConsentSource::Import, &m.id, Some(was), is, now)?;
        }
        let mut book = Book::with(m, tenant_id, now, Some(ctx.actor.clone()));
        book.catch_up(sql)?;
        if opening_points > 0 {
            book.member.lifetime_points = checked_total(
                "lifetime points",
                book.member.lifetime_points,
                opening_points,
            )?;
            let credit = Credit {
                kind: EntryKind::Adjust,
                points: opening_points,
                order_id: None,
                reason: Some(REASON_IMPORT),
                available_at: now,
                expires_at: info.program.expires_at(now, &info.zone),
            };
            let credited = book.credit(sql, credit)?;
            raised.extend(credited.events(EventType::PointsAdjusted, &book.member));
        }
        book.save(sql)?;
        if profile_changed {
            raised.push(member_changed(EventType::MemberUpdated, &book.member));
        }
        if let Some(change) = tier_change {
            crate::tiers::record_moves(sql, tenant_id, &[change])?;
        }
    }
    crate::events::raise(sql, tenant_id, now, &raised)?;
    Ok(refused)
}

fn blank_member(member_code: String, now: Timestamp) -> Member {
    Member::new(
        member_code,
        MemberStatus::Member,
        Profile::default(),
        Some("import".to_string()),
        now,
    )
}

/// `n` member codes no member holds, drawn at random and checked in one query (a clash among
/// a million codes is likely enough that it must be handled, rare enough to just draw again).
fn free_member_codes(sql: &mut dyn Sql, tenant_id: &str, n: usize) -> AppResult<Vec<String>> {
    let mut codes: Vec<String> = Vec::with_capacity(n);
    for _ in 0..10 {
        let mut unique: HashSet<String> = codes.iter().cloned().collect();
        while codes.len() < n {
            let code = random_code(MEMBER_CODE_LEN);
            if unique.insert(code.clone()) {
                codes.push(code);
            }
        }
        let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
        let taken: HashSet<String> =
            members::ids_by_contacts(sql, tenant_id, Contact::MemberCode, &refs)?
                .into_iter()
                .map(|(code, _)| code)
                .collect();
        if taken.is_empty() {
            return Ok(codes);
        }
        codes.retain(|c| !taken.contains(c));
    }
    Err(AppError::Internal(anyhow::anyhow!(
        "no free member codes after 10 draws"
    )))
}
