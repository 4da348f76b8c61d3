//! The membership register: the secretariat admits boards and ends memberships, and
//! the server signs every board's periods into the log (`mandaat.membership.v1`) so
//! that an auditor can check each voter roll against them.
//!
//! Changes made through the API are signed in the same transaction. Admissions from
//! the command line (`mandaat members admit`) and the upgrade's migration are stored
//! unsigned, because only the server may append to the log it keeps in memory; the
//! server signs them when it starts and, should the command run while it serves,
//! before it freezes the next voter roll ([`log_pending`]).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::ServerSigner;
use crate::access::{self, Operation};
use crate::auth::Principal;
use crate::domain::member::{BgNumber, Member};
use crate::domain::membership::{self, Change, MembershipStatement, Period};
use crate::error::{ConflictKind, Error, Result};
use crate::store::{MemberFilter, NewEntry, PeriodRow, Periods, Store, WriteTxn};
use crate::transparency::LogIndex;

/// A board with its membership periods, oldest first.
#[derive(Debug, Clone)]
pub struct Board {
    pub member: Member,
    pub periods: Vec<PeriodRow>,
}

/// Pairs boards with their periods.
pub async fn with_periods(store: &Store, members: Vec<Member>) -> Result<Vec<Board>> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = members.iter().map(|m| m.id).collect();
    let mut periods = store.periods(&ids).await?;
    Ok(members
        .into_iter()
        .map(|member| Board {
            periods: periods.remove(&member.id).unwrap_or_default(),
            member,
        })
        .collect())
}

pub async fn board(store: &Store, member: Member) -> Result<Board> {
    let id = member.id;
    with_periods(store, vec![member])
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("member {id}")))
}

/// Admits a board or ends its membership (admin only), and signs the board's periods
/// into the log in the same transaction. Answers with the board as it is after.
pub async fn change(
    store: &Store,
    signer: &ServerSigner,
    who: &Principal,
    member_id: Uuid,
    change: Change,
    now: DateTime<Utc>,
) -> Result<Board> {
    access::check(who, Operation::ManageMembers)?;
    let by = recorder(who);
    let mut write = store.write().await?;
    let read = async {
        let member = write.member(member_id).await?;
        let rows = write.periods_of(member_id).await?;
        let periods: Vec<Period> = rows.iter().map(|r| r.period).collect();
        let next = membership::apply(&periods, change).map_err(|e| {
            Error::conflict(
                ConflictKind::Membership,
                format!("board {}: {e}", member.bg_number),
            )
        })?;
        Ok::<_, Error>((member, rows, next))
    }
    .await;
    let (member, rows, next) = match read {
        Ok(read) => read,
        Err(e) => {
            write.abandon().await?;
            return Err(e);
        }
    };
    match change {
        Change::Admit(from) => {
            write
                .insert_period(&admission(member_id, from, &by, now))
                .await?;
        }
        Change::End(..) => {
            let (Some(last), Some(ended)) = (rows.last(), next.last()) else {
                return Err(Error::Corrupt("an ended membership vanished".into()));
            };
            let mut last = last.clone();
            last.period = *ended;
            last.ended_by = Some(by.clone());
            last.ended_at = Some(now);
            write.save_period(&last).await?;
        }
    }
    log_pending(&mut write, signer, now).await?;
    write.commit().await?;
    board(store, member).await
}

/// A new open period, not yet in the log.
fn admission(member_id: Uuid, from: NaiveDate, by: &str, now: DateTime<Utc>) -> PeriodRow {
    PeriodRow {
        member_id,
        period: Period {
            from,
            until: None,
            end_reason: None,
        },
        admitted_by: by.to_owned(),
        admitted_at: now,
        ended_by: None,
        ended_at: None,
        log_entry: None,
    }
}

/// What `mandaat members admit` did.
#[derive(Debug, Default)]
pub struct Admission {
    pub admitted: Vec<BgNumber>,
    /// Members on that day already: left as they are.
    pub already: Vec<BgNumber>,
    /// Not in the board register (import DUO's files first, or create the board).
    pub unknown: Vec<BgNumber>,
    /// Could not be admitted from that day (a period ending later), with why.
    pub refused: Vec<(BgNumber, String)>,
}

impl Admission {
    /// Whether the admissions were written: only when every number could be admitted
    /// (or was a member already), so a list with a typo changes nothing.
    pub fn written(&self) -> bool {
        self.unknown.is_empty() && self.refused.is_empty()
    }
}

/// Admits boards by bevoegd-gezag number from `from`, in one transaction: the command
/// line's bulk admission. Boards that are members on that day already are left as
/// they are, so running it twice changes nothing. All or nothing: when a number is
/// unknown or cannot be admitted, nothing is written ([`Admission::written`]). The
/// periods are signed into the log by the server (see the module's documentation).
pub async fn admit_many(
    store: &Store,
    numbers: &[BgNumber],
    from: NaiveDate,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Admission> {
    let boards: BTreeMap<BgNumber, Member> = store
        .all_members()
        .await?
        .into_iter()
        .map(|m| (m.bg_number, m))
        .collect();
    let mut done = Admission::default();
    let write = store.write().await?;
    let mut periods = write.all_periods().await?;
    // A number listed twice is admitted once.
    let numbers: std::collections::BTreeSet<BgNumber> = numbers.iter().copied().collect();
    for number in numbers {
        let Some(member) = boards.get(&number) else {
            done.unknown.push(number);
            continue;
        };
        let rows = periods.remove(&member.id).unwrap_or_default();
        let current: Vec<Period> = rows.iter().map(|r| r.period).collect();
        if membership::is_member_on(&current, from) {
            done.already.push(number);
            continue;
        }
        match membership::apply(&current, Change::Admit(from)) {
            Ok(_) => {
                write
                    .insert_period(&admission(member.id, from, by, now))
                    .await?;
                done.admitted.push(number);
            }
            Err(e) => done.refused.push((number, e.to_string())),
        }
    }
    if done.written() {
        write.commit().await?;
    } else {
        write.abandon().await?;
    }
    Ok(done)
}

/// Signs a `mandaat.membership.v1` statement for every board whose periods the log
/// does not state yet, and appends it: called in every transaction that changes the
/// register through the server, and before a voter roll is frozen. Returns how many.
pub async fn log_pending(
    write: &mut WriteTxn<'_>,
    signer: &ServerSigner,
    now: DateTime<Utc>,
) -> Result<usize> {
    let pending = write.unlogged_members().await?;
    for member_id in &pending {
        let member = write.member(*member_id).await?;
        let rows = write.periods_of(*member_id).await?;
        let statement = statement_for(&member, &rows);
        let signed = signer.sign(&statement.body())?;
        let entry = write
            .append(NewEntry::by_member(&signed, *member_id, None, now))
            .await?;
        write.mark_logged(*member_id, entry).await?;
    }
    Ok(pending.len())
}

/// At start: signs what the migration or the command line recorded.
pub async fn log_pending_now(
    store: &Store,
    signer: &ServerSigner,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut write = store.write().await?;
    let signed = log_pending(&mut write, signer, now).await?;
    if signed > 0 {
        write.commit().await?;
    } else {
        write.abandon().await?;
    }
    Ok(signed)
}

/// The statement of a board's periods; who and when are those of the latest change.
fn statement_for(member: &Member, rows: &[PeriodRow]) -> MembershipStatement {
    let latest = rows
        .iter()
        .flat_map(|r| {
            let ended = r.ended_at.zip(r.ended_by.as_deref());
            [Some((r.admitted_at, r.admitted_by.as_str())), ended]
        })
        .flatten()
        .max_by_key(|(at, _)| *at);
    let (recorded_at, recorded_by) = latest.unwrap_or((member.created_at, "migration"));
    MembershipStatement {
        member: member.id,
        bg_number: member.bg_number.get(),
        periods: rows.iter().map(|r| r.period).collect(),
        recorded_by: recorded_by.to_owned(),
        recorded_at: whole_seconds(recorded_at),
    }
}

/// Statements carry whole seconds.
fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::Timelike as _;
    t.with_nanosecond(0).unwrap_or(t)
}

/// How a change is recorded: `admin:<subject>` (a token's subject or a person's id).
fn recorder(who: &Principal) -> String {
    format!("admin:{}", who.subject())
}

/// Boards that were members on `day` and are missing from a set of bevoegd-gezag
/// numbers: what an import reports for the secretariat to act on.
pub fn members_missing(
    members: &[Member],
    periods: &Periods,
    day: NaiveDate,
    present: impl Fn(&Member) -> bool,
) -> Vec<Member> {
    members
        .iter()
        .filter(|m| {
            let periods: Vec<Period> = periods
                .get(&m.id)
                .map(|rows| rows.iter().map(|r| r.period).collect())
                .unwrap_or_default();
            membership::is_member_on(&periods, day) && !present(m)
        })
        .cloned()
        .collect()
}

/// Boards filtered and paged, each with its periods.
pub async fn list(store: &Store, filter: &MemberFilter) -> Result<(Vec<Board>, u64)> {
    let (members, total) = store.members(filter).await?;
    Ok((with_periods(store, members).await?, total))
}

/// The log entry that last stated a board's periods, if the log states them yet.
pub fn logged_at(rows: &[PeriodRow]) -> Option<LogIndex> {
    rows.iter().filter_map(|r| r.log_entry).max()
}
