//! The membership register (`memberships`): periods of membership per board, apart
//! from the board register. Rows leave as [`PeriodRow`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use uuid::Uuid;

use entity::{member, membership};

use super::{Store, WriteTxn, member_by_id};
use crate::domain::member::Member;
use crate::domain::membership::{Period, Standing};
use crate::error::{Error, Result};
use crate::transparency::LogIndex;

/// One membership period as stored, with who recorded it and its log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodRow {
    pub member_id: Uuid,
    pub period: Period,
    pub admitted_by: String,
    pub admitted_at: DateTime<Utc>,
    pub ended_by: Option<String>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The `mandaat.membership.v1` entry that last stated this period as it is;
    /// absent until the server has signed it.
    pub log_entry: Option<LogIndex>,
}

/// Periods per board, oldest first.
pub type Periods = BTreeMap<Uuid, Vec<PeriodRow>>;

impl TryFrom<membership::Model> for PeriodRow {
    type Error = Error;
    fn try_from(m: membership::Model) -> Result<Self> {
        let end_reason = m
            .end_reason
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| Error::Corrupt(format!("membership of {}: {e}", m.member_id)))?;
        if m.ends_on.is_some() != end_reason.is_some() {
            return Err(Error::Corrupt(format!(
                "membership of {} from {}: an end date needs a reason and a reason an end date",
                m.member_id, m.starts_on
            )));
        }
        Ok(PeriodRow {
            member_id: m.member_id,
            period: Period {
                from: m.starts_on,
                until: m.ends_on,
                end_reason,
            },
            admitted_by: m.admitted_by,
            admitted_at: m.admitted_at,
            ended_by: m.ended_by,
            ended_at: m.ended_at,
            log_entry: m.log_entry.map(LogIndex::from_stored).transpose()?,
        })
    }
}

fn model(row: &PeriodRow) -> membership::ActiveModel {
    membership::ActiveModel {
        member_id: Set(row.member_id),
        starts_on: Set(row.period.from),
        ends_on: Set(row.period.until),
        end_reason: Set(row.period.end_reason.map(|r| r.as_str().to_owned())),
        admitted_by: Set(row.admitted_by.clone()),
        admitted_at: Set(row.admitted_at),
        ended_by: Set(row.ended_by.clone()),
        ended_at: Set(row.ended_at),
        log_entry: Set(row.log_entry.map(LogIndex::stored)),
    }
}

async fn periods<C: ConnectionTrait>(db: &C, members: Option<&[Uuid]>) -> Result<Periods> {
    let mut query = membership::Entity::find();
    if let Some(members) = members {
        query = query.filter(membership::Column::MemberId.is_in(members.iter().copied()));
    }
    let mut out = Periods::new();
    for row in query
        .order_by_asc(membership::Column::MemberId)
        .order_by_asc(membership::Column::StartsOn)
        .all(db)
        .await?
    {
        let row = PeriodRow::try_from(row)?;
        out.entry(row.member_id).or_default().push(row);
    }
    Ok(out)
}

/// A condition on `members.id`: the board stands so on `day`.
pub(super) fn standing_condition(standing: Standing, day: NaiveDate) -> sea_orm::Condition {
    use sea_orm::Condition;
    let ids = |cond: Condition| {
        Query::select()
            .column(membership::Column::MemberId)
            .from(membership::Entity)
            .cond_where(cond)
            .to_owned()
    };
    let covering = Condition::all()
        .add(membership::Column::StartsOn.lte(day))
        .add(
            Condition::any()
                .add(membership::Column::EndsOn.is_null())
                .add(membership::Column::EndsOn.gt(day)),
        );
    let member_on_day = member::Column::Id.in_subquery(ids(covering));
    match standing {
        Standing::Member => Condition::all().add(member_on_day),
        Standing::Former => {
            Condition::all()
                .add(member_on_day.not())
                .add(member::Column::Id.in_subquery(ids(
                    Condition::all().add(membership::Column::EndsOn.lte(day)),
                )))
        }
        Standing::None => Condition::all().add(
            member::Column::Id
                .in_subquery(ids(
                    Condition::all().add(membership::Column::StartsOn.lte(day))
                ))
                .not(),
        ),
    }
}

impl Store {
    /// The periods of these boards, oldest first.
    pub async fn periods(&self, members: &[Uuid]) -> Result<Periods> {
        periods(&self.db, Some(members)).await
    }

    /// Every board's periods.
    pub async fn all_periods(&self) -> Result<Periods> {
        periods(&self.db, None).await
    }
}

impl WriteTxn<'_> {
    /// Ends the transaction without writing anything, and releases the write lock.
    /// (Dropping it would leave PostgreSQL's connection idle in the transaction, with
    /// the append lock held, until the pool reuses that connection.)
    pub async fn abandon(self) -> Result<()> {
        let WriteTxn { txn, .. } = self;
        txn.rollback().await?;
        Ok(())
    }

    /// A board as this transaction sees it.
    pub async fn member(&self, id: Uuid) -> Result<Member> {
        member_by_id(&self.txn, id).await
    }

    /// One board's periods, oldest first, as this transaction sees them.
    pub async fn periods_of(&self, member: Uuid) -> Result<Vec<PeriodRow>> {
        Ok(periods(&self.txn, Some(&[member]))
            .await?
            .remove(&member)
            .unwrap_or_default())
    }

    /// Every board's periods, as this transaction sees them.
    pub async fn all_periods(&self) -> Result<Periods> {
        periods(&self.txn, None).await
    }

    pub async fn insert_period(&self, row: &PeriodRow) -> Result<()> {
        model(row).insert(&self.txn).await?;
        Ok(())
    }

    /// Writes every column of an existing period (found by board and first day).
    pub async fn save_period(&self, row: &PeriodRow) -> Result<()> {
        model(row).update(&self.txn).await?;
        Ok(())
    }

    /// Boards with a period the log does not state yet (admitted from the command
    /// line, or by the migration), by bevoegd-gezag number.
    pub async fn unlogged_members(&self) -> Result<Vec<Uuid>> {
        Ok(member::Entity::find()
            .select_only()
            .column(member::Column::Id)
            .filter(
                member::Column::Id.in_subquery(
                    Query::select()
                        .column(membership::Column::MemberId)
                        .from(membership::Entity)
                        .and_where(Expr::col(membership::Column::LogEntry).is_null())
                        .to_owned(),
                ),
            )
            .order_by_asc(member::Column::BgNumber)
            .into_tuple()
            .all(&self.txn)
            .await?)
    }

    /// Records that `entry` states every period of the board as it is now.
    pub async fn mark_logged(&self, member: Uuid, entry: LogIndex) -> Result<()> {
        membership::Entity::update_many()
            .col_expr(membership::Column::LogEntry, Expr::value(entry.stored()))
            .filter(membership::Column::MemberId.eq(member))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// The boards that are members on `day`, ordered by bevoegd-gezag number.
    pub async fn members_on(&self, day: NaiveDate) -> Result<Vec<Member>> {
        member::Entity::find()
            .filter(standing_condition(Standing::Member, day))
            .order_by_asc(member::Column::BgNumber)
            .all(&self.txn)
            .await?
            .into_iter()
            .map(super::to_member)
            .collect()
    }
}
