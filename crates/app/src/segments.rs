//! Segments (nhóm khách hàng): preview, saved segments, their members, CSV export, report.

use std::collections::HashMap;

use jiff::Timestamp;
use loyalty_core::id::new_id;
use loyalty_core::member::Member;
use loyalty_core::segment;
use loyalty_core::tenancy::Access;
use loyalty_store::repo::segments::{self as rows, Compiled, Context, SavedSegment};
use loyalty_store::{Page, Paged};
use serde::Serialize;
use serde_json::Value;

use crate::activity::{Change, record, snapshot};
use crate::tiers::MemberView;
use crate::{App, AppError, AppResult, Ctx};

/// A segment as posted; on update, absent fields keep their values.
#[derive(Debug, Clone, Default)]
pub struct SegmentInput {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub conditions: Option<Value>,
}

#[derive(Debug, Clone)]
pub struct Preview {
    pub count: i64,
    pub sample: Vec<MemberView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SegmentReport {
    pub size: i64,
    /// Share of all the tenant's members (0–1).
    pub share: f64,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub from: Timestamp,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub to: Timestamp,
    /// Paid minus refunded, by the segment's members, in the period.
    pub revenue: i64,
    pub orders: i64,
    pub average_order_value: i64,
    /// Members who bought in the period, and the share of them who bought at least twice.
    pub buyers: i64,
    pub repeat_rate: f64,
}

pub const SAMPLE_SIZE: i64 = 20;

impl App {
    /// Compiles a tree for this tenant: tiers by name or id, ages from today in its zone.
    pub(crate) async fn compile(&self, ctx: &Ctx, conditions: &Value) -> AppResult<Compiled> {
        let info = self.tenant(ctx).await?;
        let tree = segment::parse(conditions, "conditions", &info.zone)?;
        let ladder = self.ladder(&ctx.tenant_id).await?;
        let mut tiers = HashMap::new();
        for t in ladder.iter() {
            tiers.insert(t.name.to_lowercase(), t.id.clone());
            tiers.insert(t.id.to_lowercase(), t.id.clone());
        }
        let now = self.now();
        let context = Context {
            tenant_id: ctx.tenant_id.to_string(),
            now,
            today: now.to_zoned_datetime(info.zone.clone()).date(),
            tiers,
        };
        Ok(rows::compile(&tree, self.db.backend(), &context))
    }

    /// How many members a draft tree selects, and the first twenty of them.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn preview_segment(&self, ctx: &Ctx, conditions: Value) -> AppResult<Preview> {
        ctx.require(Access::Read)?;
        let compiled = self.compile(ctx, &conditions).await?;
        let (count, sample) = self
            .db
            .snapshot(move |sql| {
                let count = rows::count(sql, &compiled)?;
                let sample = rows::members(
                    sql,
                    &compiled,
                    &Page {
                        after: None,
                        limit: SAMPLE_SIZE,
                    },
                )?;
                Ok::<_, AppError>((count, sample.items))
            })
            .await?;
        Ok(Preview {
            count,
            sample: self.member_views(ctx, sample, None).await?,
        })
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn create_segment(
        &self,
        ctx: &Ctx,
        input: SegmentInput,
    ) -> AppResult<(SavedSegment, i64)> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let segment = fill(None, &input, now)?;
        let compiled = self.compile(ctx, &segment.conditions).await?;
        let ctx2 = ctx.clone();
        let saved = self
            .db
            .write(move |sql| {
                rows::insert(sql, &ctx2.tenant_id, &segment)?;
                let change = Change {
                    entity: "segment",
                    id: &segment.id,
                    action: "create",
                };
                record(sql, &ctx2, now, change, None, snapshot(&segment))?;
                Ok::<_, AppError>(segment.clone())
            })
            .await?;
        let count = self.db.read(move |sql| rows::count(sql, &compiled)).await?;
        Ok((saved, count))
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn update_segment(
        &self,
        ctx: &Ctx,
        id: String,
        input: SegmentInput,
    ) -> AppResult<(SavedSegment, i64)> {
        ctx.require(Access::Admin)?;
        let now = self.now();
        let before = self.saved_segment(ctx, &id).await?;
        let after = fill(Some(&before), &input, now)?;
        let compiled = self.compile(ctx, &after.conditions).await?;
        let ctx2 = ctx.clone();
        let saved = self
            .db
            .write(move |sql| {
                rows::update(sql, &ctx2.tenant_id, &after)?;
                let change = Change {
                    entity: "segment",
                    id: &after.id,
                    action: "update",
                };
                record(sql, &ctx2, now, change, snapshot(&before), snapshot(&after))?;
                Ok::<_, AppError>(after.clone())
            })
            .await?;
        let count = self.db.read(move |sql| rows::count(sql, &compiled)).await?;
        Ok((saved, count))
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn delete_segment(&self, ctx: &Ctx, id: String) -> AppResult<()> {
        ctx.require(Access::Admin)?;
        let before = self.saved_segment(ctx, &id).await?;
        let (ctx2, now) = (ctx.clone(), self.now());
        self.db
            .write(move |sql| {
                rows::delete(sql, &ctx2.tenant_id, &id)?;
                let change = Change {
                    entity: "segment",
                    id: &id,
                    action: "delete",
                };
                record(sql, &ctx2, now, change, snapshot(&before), None)?;
                Ok::<_, AppError>(())
            })
            .await
    }

    async fn saved_segment(&self, ctx: &Ctx, id: &str) -> AppResult<SavedSegment> {
        let (tenant_id, id) = (ctx.tenant_id.clone(), id.to_string());
        self.db
            .read(move |sql| rows::get(sql, &tenant_id, &id))
            .await?
            .ok_or(AppError::NotFound { entity: "segment" })
    }

    /// A saved segment with its member count as of now.
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn segment(&self, ctx: &Ctx, id: String) -> AppResult<(SavedSegment, i64)> {
        ctx.require(Access::Read)?;
        let saved = self.saved_segment(ctx, &id).await?;
        let compiled = self.compile(ctx, &saved.conditions).await?;
        let count = self.db.read(move |sql| rows::count(sql, &compiled)).await?;
        Ok((saved, count))
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id))]
    pub async fn segments(&self, ctx: &Ctx) -> AppResult<Vec<SavedSegment>> {
        ctx.require(Access::Read)?;
        let tenant_id = ctx.tenant_id.clone();
        Ok(self.db.read(move |sql| rows::list(sql, &tenant_id)).await?)
    }

    /// A page of a saved segment's members (for lists and for the streamed export).
    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn segment_members(
        &self,
        ctx: &Ctx,
        id: String,
        page: Page,
    ) -> AppResult<Paged<Member>> {
        ctx.require(Access::Read)?;
        let saved = self.saved_segment(ctx, &id).await?;
        let compiled = self.compile(ctx, &saved.conditions).await?;
        Ok(self
            .db
            .read(move |sql| rows::members(sql, &compiled, &page))
            .await?)
    }

    #[tracing::instrument(skip_all, fields(tenant = %ctx.tenant_id, id = %id))]
    pub async fn segment_report(
        &self,
        ctx: &Ctx,
        id: String,
        from: Timestamp,
        to: Timestamp,
    ) -> AppResult<SegmentReport> {
        ctx.require(Access::Read)?;
        if from >= to {
            return Err(AppError::invalid(
                "to",
                "range.to_before_from",
                "must be after from",
            ));
        }
        let saved = self.saved_segment(ctx, &id).await?;
        let compiled = self.compile(ctx, &saved.conditions).await?;
        let everyone = self.compile(ctx, &serde_json::json!({"all": []})).await?;
        self.db
            .snapshot(move |sql| {
                let size = rows::count(sql, &compiled)?;
                let total = rows::count(sql, &everyone)?;
                let (revenue, orders, buyers, repeaters) =
                    rows::activity(sql, &compiled, from, to)?;
                Ok(SegmentReport {
                    size,
                    share: if total > 0 {
                        size as f64 / total as f64
                    } else {
                        0.0
                    },
                    from,
                    to,
                    revenue,
                    orders,
                    average_order_value: if orders > 0 { revenue / orders } else { 0 },
                    buyers,
                    repeat_rate: if buyers > 0 {
                        repeaters as f64 / buyers as f64
                    } else {
                        0.0
                    },
                })
            })
            .await
    }
}

fn fill(
    current: Option<&SavedSegment>,
    input: &SegmentInput,
    now: Timestamp,
) -> AppResult<SavedSegment> {
    let mut e = loyalty_core::Invalid::default();
    let name = input
        .name
        .clone()
        .or_else(|| current.map(|c| c.name.clone()))
        .unwrap_or_default();
    let name = e.label("name", &name);
    let conditions = input
        .conditions
        .clone()
        .or_else(|| current.map(|c| c.conditions.clone()));
    if conditions.is_none() {
        e.required("conditions");
    }
    if !e.is_empty() {
        return Err(e.into());
    }
    Ok(SavedSegment {
        id: current.map_or_else(|| new_id("seg"), |c| c.id.clone()),
        name,
        description: input
            .description
            .clone()
            .unwrap_or_else(|| current.and_then(|c| c.description.clone())),
        conditions: conditions.unwrap_or(Value::Null),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
    })
}
