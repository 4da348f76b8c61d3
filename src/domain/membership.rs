//! Membership of the cooperative, apart from the board register: a board is a member
//! from its admission date until its membership ends (resignation, termination, or the
//! board ceasing to exist), in periods that never overlap. The server signs every
//! change into the log as `mandaat.membership.v1` (one way to write it, one way to
//! read it, shared with the audit verifier).
//!
//! Dates are calendar dates (`YYYY-MM-DD`). A period covers `from` up to, not
//! including, `until`: `until` is the first day the board is no longer a member (the
//! date a resignation takes effect, stored as given). A proposal's opening day is the
//! UTC date of its `opened_at`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::ballot::time_field;
use super::keys::{ContentError, expect_shape, uuid_field};
use super::statement::SignedStatement;

pub const MEMBERSHIP_STATEMENT: &str = "mandaat.membership.v1";

/// Why a membership ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The board resigned (opzegging door het lid).
    Resigned,
    /// The cooperative ended it (opzegging door de coöperatie, ontzetting).
    Terminated,
    /// The board ceased to exist (a merger, a closure).
    Ceased,
}

impl EndReason {
    pub const ALL: [EndReason; 3] = [
        EndReason::Resigned,
        EndReason::Terminated,
        EndReason::Ceased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Resigned => "resigned",
            EndReason::Terminated => "terminated",
            EndReason::Ceased => "ceased",
        }
    }
}

impl fmt::Display for EndReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EndReason {
    type Err = MembershipError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EndReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| MembershipError::UnknownEndReason(s.to_owned()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MembershipError {
    #[error(
        "the board is a member already (since {0}); end that membership before admitting it again"
    )]
    AlreadyMember(NaiveDate),
    #[error("the board's last membership ends on {0}; a new one can start on that day or later")]
    StartsTooEarly(NaiveDate),
    #[error("the board has no open membership to end")]
    NotAMember,
    #[error("a membership that started on {from} must end after that day, not on {until}")]
    EndsTooEarly { from: NaiveDate, until: NaiveDate },
    #[error("unknown end reason {0:?}; expected resigned, terminated or ceased")]
    UnknownEndReason(String),
}

/// One period of membership: `from` up to, not including, `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
    /// Set exactly when `until` is.
    pub end_reason: Option<EndReason>,
}

impl Period {
    pub fn covers(&self, day: NaiveDate) -> bool {
        self.from <= day && self.until.is_none_or(|until| day < until)
    }
}

/// A change the secretariat makes to a board's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Admitted from this day (a board that left before rejoins with a new period).
    Admit(NaiveDate),
    /// The open membership ends: this is the first day the board is no longer a member.
    End(NaiveDate, EndReason),
}

/// Applies `change` to a board's periods (oldest first) and returns them as they are
/// after it. Periods never overlap and at most the last is open.
pub fn apply(periods: &[Period], change: Change) -> Result<Vec<Period>, MembershipError> {
    let mut next = periods.to_vec();
    match change {
        Change::Admit(from) => match periods.last() {
            Some(last) => match last.until {
                None => return Err(MembershipError::AlreadyMember(last.from)),
                Some(until) if from < until => {
                    return Err(MembershipError::StartsTooEarly(until));
                }
                Some(_) => next.push(Period {
                    from,
                    until: None,
                    end_reason: None,
                }),
            },
            None => next.push(Period {
                from,
                until: None,
                end_reason: None,
            }),
        },
        Change::End(until, reason) => {
            let last = next
                .last_mut()
                .filter(|p| p.until.is_none())
                .ok_or(MembershipError::NotAMember)?;
            if until <= last.from {
                return Err(MembershipError::EndsTooEarly {
                    from: last.from,
                    until,
                });
            }
            last.until = Some(until);
            last.end_reason = Some(reason);
        }
    }
    Ok(next)
}

/// Whether a board with these periods is a member on `day`.
pub fn is_member_on(periods: &[Period], day: NaiveDate) -> bool {
    periods.iter().any(|p| p.covers(day))
}

/// Where a board stands on a day, for lists: a member, a former member, or neither
/// (never a member up to that day, though it may be admitted from a later date).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Member,
    Former,
    None,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Member => "member",
            Standing::Former => "former",
            Standing::None => "none",
        }
    }
}

pub fn standing(periods: &[Period], day: NaiveDate) -> Standing {
    if is_member_on(periods, day) {
        Standing::Member
    } else if periods
        .iter()
        .any(|p| p.until.is_some_and(|until| until <= day))
    {
        Standing::Former
    } else {
        Standing::None
    }
}

/// The day whose members make up a proposal's roll: the UTC date it opened.
pub fn opening_day(opened_at: DateTime<Utc>) -> NaiveDate {
    opened_at.date_naive()
}

/// `YYYY-MM-DD`, the one spelling of a date in statements.
pub fn date_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// Reads a date written exactly as [`date_text`] writes it.
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .filter(|d| date_text(*d) == text)
}

/// `mandaat.membership.v1`: a board's whole membership history as it stands after a
/// change, signed by the server. The latest such entry for a board is what the log
/// says about it; the audit verifier replays them to check every voter roll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipStatement {
    pub member: Uuid,
    pub bg_number: u32,
    /// Oldest first; may be empty (an admission withdrawn is not possible, but a
    /// statement about a board with no periods is well-formed).
    pub periods: Vec<Period>,
    /// Who made the latest change: `admin:<subject>`, `cli:<user>` or `migration`.
    pub recorded_by: String,
    /// When the latest change was recorded.
    pub recorded_at: DateTime<Utc>,
}

impl MembershipStatement {
    pub fn body(&self) -> Value {
        let periods: Vec<Value> = self
            .periods
            .iter()
            .map(|p| {
                let mut period = json!({"from": date_text(p.from)});
                if let Some(until) = p.until {
                    period["until"] = Value::String(date_text(until));
                }
                if let Some(reason) = p.end_reason {
                    period["end_reason"] = Value::String(reason.as_str().to_owned());
                }
                period
            })
            .collect();
        json!({
            "type": MEMBERSHIP_STATEMENT,
            "member": self.member.to_string(),
            "bg_number": self.bg_number,
            "periods": periods,
            "recorded_by": self.recorded_by,
            "recorded_at": self.recorded_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        })
    }

    pub fn from_statement(st: &SignedStatement) -> Result<Self, ContentError> {
        expect_shape(
            st,
            MEMBERSHIP_STATEMENT,
            &[
                "member",
                "bg_number",
                "periods",
                "recorded_by",
                "recorded_at",
            ],
            &[],
        )?;
        let bg_number = st
            .body()
            .get("bg_number")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| (1..=super::member::BgNumber::MAX).contains(n))
            .ok_or(ContentError::Field("bg_number"))?;
        let recorded_by = st
            .str_field("recorded_by")
            .filter(|s| !s.is_empty() && super::is_plain_text(s, false))
            .ok_or(ContentError::Field("recorded_by"))?
            .to_owned();
        Ok(MembershipStatement {
            member: uuid_field(st, "member")?,
            bg_number,
            periods: periods_field(st)?,
            recorded_by,
            recorded_at: time_field(st, "recorded_at")?,
        })
    }
}

/// `"periods"`: oldest first, each `{"from"}` or `{"from", "until", "end_reason"}`,
/// not overlapping, only the last open.
fn periods_field(st: &SignedStatement) -> Result<Vec<Period>, ContentError> {
    let bad = ContentError::Field("periods");
    let list = st
        .body()
        .get("periods")
        .and_then(Value::as_array)
        .ok_or(bad.clone())?;
    let mut periods: Vec<Period> = Vec::with_capacity(list.len());
    for item in list {
        let object = item.as_object().ok_or(bad.clone())?;
        let text = |name: &str| object.get(name).map(|v| v.as_str().ok_or(bad.clone()));
        let from = parse_date(text("from").ok_or(bad.clone())??).ok_or(bad.clone())?;
        let until = text("until")
            .transpose()?
            .map(|t| parse_date(t).ok_or(bad.clone()))
            .transpose()?;
        let end_reason = text("end_reason")
            .transpose()?
            .map(|t| t.parse::<EndReason>().map_err(|_| bad.clone()))
            .transpose()?;
        let keys_ok = object.len() == 1 + usize::from(until.is_some()) * 2;
        if !keys_ok || until.is_some() != end_reason.is_some() {
            return Err(bad);
        }
        // Rebuilding the history through `apply` enforces its order and shape.
        let mut next = apply(&periods, Change::Admit(from)).map_err(|_| bad.clone())?;
        if let (Some(until), Some(reason)) = (until, end_reason) {
            next = apply(&next, Change::End(until, reason)).map_err(|_| bad.clone())?;
        }
        periods = next;
    }
    Ok(periods)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn day(text: &str) -> NaiveDate {
        parse_date(text).unwrap()
    }

    #[test]
    fn periods_are_half_open_and_never_overlap() {
        let admitted = apply(&[], Change::Admit(day("2026-01-01"))).unwrap();
        assert!(is_member_on(&admitted, day("2026-01-01")));
        assert!(!is_member_on(&admitted, day("2025-12-31")));
        assert_eq!(
            apply(&admitted, Change::Admit(day("2027-01-01"))),
            Err(MembershipError::AlreadyMember(day("2026-01-01")))
        );
        let resigned = apply(
            &admitted,
            Change::End(day("2027-01-01"), EndReason::Resigned),
        )
        .unwrap();
        assert!(is_member_on(&resigned, day("2026-12-31")));
        assert!(!is_member_on(&resigned, day("2027-01-01")));
        assert_eq!(standing(&resigned, day("2026-12-31")), Standing::Member);
        assert_eq!(standing(&resigned, day("2027-01-01")), Standing::Former);
        assert_eq!(standing(&resigned, day("2025-06-01")), Standing::None);
        assert_eq!(
            apply(&resigned, Change::Admit(day("2026-06-01"))),
            Err(MembershipError::StartsTooEarly(day("2027-01-01")))
        );
        let rejoined = apply(&resigned, Change::Admit(day("2028-01-01"))).unwrap();
        assert_eq!(rejoined.len(), 2);
        assert!(!is_member_on(&rejoined, day("2027-06-01")));
        assert!(is_member_on(&rejoined, day("2028-06-01")));
        assert_eq!(
            apply(&resigned, Change::End(day("2028-01-01"), EndReason::Ceased)),
            Err(MembershipError::NotAMember)
        );
        assert!(matches!(
            apply(
                &admitted,
                Change::End(day("2026-01-01"), EndReason::Terminated)
            ),
            Err(MembershipError::EndsTooEarly { .. })
        ));
    }

    #[test]
    fn the_statement_round_trips_and_refuses_odd_shapes() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let statement = MembershipStatement {
            member: Uuid::from_u128(7),
            bg_number: 24597,
            periods: vec![
                Period {
                    from: day("2020-01-01"),
                    until: Some(day("2024-01-01")),
                    end_reason: Some(EndReason::Resigned),
                },
                Period {
                    from: day("2025-01-01"),
                    until: None,
                    end_reason: None,
                },
            ],
            recorded_by: "admin:sanne".into(),
            recorded_at: DateTime::parse_from_rfc3339("2026-12-01T20:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        let signed = crate::domain::statement::signed_for_test(&key, &statement.body());
        assert_eq!(
            MembershipStatement::from_statement(&signed).unwrap(),
            statement
        );
        for periods in [
            json!([{"from": "2020-1-01"}]),
            json!([{"from": "2020-01-01"}, {"from": "2021-01-01"}]),
            json!([{"from": "2020-01-01", "until": "2020-01-01", "end_reason": "resigned"}]),
            json!([{"from": "2020-01-01", "until": "2021-01-01"}]),
            json!([{"from": "2020-01-01", "end_reason": "resigned"}]),
            json!([{"from": "2020-01-01", "until": "2021-01-01", "end_reason": "left"}]),
            json!([{"from": "2020-01-01", "extra": 1}]),
        ] {
            let mut body = statement.body();
            body["periods"] = periods.clone();
            let signed = crate::domain::statement::signed_for_test(&key, &body);
            assert!(
                MembershipStatement::from_statement(&signed).is_err(),
                "{periods}"
            );
        }
    }
}
