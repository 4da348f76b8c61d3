//! A proposal's lifecycle: its states and the steps between them, the document frozen
//! when it opens (with the voter roll), and the rule on how far a signed statement's
//! own time may be from the server's. Pure: the service applies these rules under its
//! lock, and the audit verifier applies the same ones to the log.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::proposal::{NotOnRoll, ProposalSpec, RollEntry};
use super::tally::{Event, Tally, tally};

/// How far a ballot's `cast_at` (or a proxy's `signed_at`) may be from the server's
/// clock, either way.
pub const CLOCK_SKEW: Duration = Duration::minutes(5);

/// Whether a statement's own time is close enough to the server's.
pub fn within_clock_skew(statement_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    (statement_at - now).abs() <= CLOCK_SKEW
}

/// draft → open → closed → final, or withdrawn from draft or open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Draft,
    Open,
    Closed,
    Final,
    Withdrawn,
}

/// A step of the lifecycle, as an admin (or a proposer, for drafts) asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Edit,
    Open,
    Close,
    Finalise,
    Withdraw,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("the proposal is {status}; {}", step.requirement())]
    NotAllowed { status: Status, step: Step },
    #[error("unknown proposal status {0:?}")]
    UnknownStatus(String),
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Draft,
        Status::Open,
        Status::Closed,
        Status::Final,
        Status::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Open => "open",
            Status::Closed => "closed",
            Status::Final => "final",
            Status::Withdrawn => "withdrawn",
        }
    }

    /// The status after `step`, or why the step is not allowed now.
    pub fn after(self, step: Step) -> Result<Status, LifecycleError> {
        let next = match (self, step) {
            (Status::Draft, Step::Edit) => Status::Draft,
            (Status::Draft, Step::Open) => Status::Open,
            (Status::Open, Step::Close) => Status::Closed,
            (Status::Closed, Step::Finalise) => Status::Final,
            (Status::Draft | Status::Open, Step::Withdraw) => Status::Withdrawn,
            (status, step) => return Err(LifecycleError::NotAllowed { status, step }),
        };
        Ok(next)
    }

    /// Whether choices and tallies may be shown: never while ballots can still come.
    pub fn result_visible(self) -> bool {
        matches!(self, Status::Closed | Status::Final)
    }

    /// Whether the proposal has a frozen document (it has been opened).
    pub fn is_frozen(self) -> bool {
        matches!(self, Status::Open | Status::Closed | Status::Final)
    }
}

impl Step {
    fn requirement(self) -> &'static str {
        match self {
            Step::Edit => "only a draft can be changed",
            Step::Open => "only a draft can be opened",
            Step::Close => "only an open proposal can be closed",
            Step::Finalise => "only a closed proposal can be finalised",
            Step::Withdraw => "only a draft or open proposal can be withdrawn",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = LifecycleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| LifecycleError::UnknownStatus(s.to_owned()))
    }
}

/// The document frozen when a proposal opens (`mandaat.proposal.v1`). Its canonical
/// bytes are signed by the server and their SHA-256 is the proposal's digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrozenDocument {
    #[serde(rename = "type")]
    pub statement_type: String,
    pub proposal: Uuid,
    pub spec: ProposalSpec,
    /// Every eligible member at opening, ordered by bevoegd-gezag number.
    pub voter_roll: Vec<RollEntry>,
    /// The cooperative's other members on the opening day, with why they are not on
    /// the roll (absent when there are none, and in documents from before membership
    /// was kept apart from the board register).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_on_roll: Vec<NotOnRoll>,
    pub opened_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("frozen document of proposal {proposal}: {reason}")]
pub struct FrozenError {
    pub proposal: Uuid,
    pub reason: String,
}

/// An opened proposal as voting and auditing need it: the document, its digest and
/// an index of the roll. Immutable, so it can be cached.
#[derive(Debug)]
pub struct Frozen {
    pub id: Uuid,
    pub digest: String,
    pub document: FrozenDocument,
    roll_index: HashMap<Uuid, usize>,
}

impl Frozen {
    /// Parses the signed bytes of a frozen document.
    pub fn parse(id: Uuid, bytes: &[u8]) -> Result<Self, FrozenError> {
        let document: FrozenDocument = serde_json::from_slice(bytes).map_err(|e| FrozenError {
            proposal: id,
            reason: e.to_string(),
        })?;
        if document.proposal != id {
            return Err(FrozenError {
                proposal: id,
                reason: format!("it names proposal {}", document.proposal),
            });
        }
        let roll_index = document
            .voter_roll
            .iter()
            .enumerate()
            .map(|(i, e)| (e.member, i))
            .collect();
        Ok(Frozen {
            id,
            digest: hex::encode(Sha256::digest(bytes)),
            document,
            roll_index,
        })
    }

    pub fn roll_entry(&self, member: Uuid) -> Option<&RollEntry> {
        self.roll_index
            .get(&member)
            .map(|i| &self.document.voter_roll[*i])
    }

    /// Whether `at` lies in the voting window (both ends included).
    pub fn window_contains(&self, at: DateTime<Utc>) -> bool {
        let spec = &self.document.spec;
        spec.opens_at <= at && at <= spec.closes_at
    }

    pub fn tally(&self, events: &[Event]) -> Tally {
        let spec = &self.document.spec;
        tally(
            &spec.kind,
            &spec.electorate,
            &self.document.voter_roll,
            events,
        )
    }
}

/// A resolution open from 1 to 15 December 2026, for tests here and in the verifier.
#[cfg(test)]
pub(crate) fn example_document(proposal: Uuid, voter_roll: Vec<RollEntry>) -> FrozenDocument {
    use crate::domain::member::Sector;
    use crate::domain::proposal::{Electorate, Majority, ProposalKind, Weighting};
    #[allow(clippy::unwrap_used)]
    FrozenDocument {
        statement_type: crate::domain::ballot::PROPOSAL_STATEMENT.to_owned(),
        proposal,
        spec: ProposalSpec {
            title: "Begroting 2027".to_owned(),
            description: String::new(),
            kind: ProposalKind::Resolution,
            electorate: Electorate {
                sectors: [Sector::Po].into(),
                weighting: Weighting::OneMemberOneVote,
                quorum: "1/2".parse().unwrap(),
                majority: Majority::simple(),
                chamber_rule: false,
            },
            opens_at: "2026-12-01T09:00:00Z".parse().unwrap(),
            closes_at: "2026-12-15T17:00:00Z".parse().unwrap(),
        },
        voter_roll,
        not_on_roll: Vec::new(),
        opened_at: "2026-12-01T09:00:00Z".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_from_every_status() {
        use Status::*;
        use Step::*;
        // (from, step) → to; everything not listed is refused.
        let allowed = [
            (Draft, Edit, Draft),
            (Draft, Step::Open, Status::Open),
            (Status::Open, Close, Closed),
            (Closed, Finalise, Final),
            (Draft, Withdraw, Withdrawn),
            (Status::Open, Withdraw, Withdrawn),
        ];
        for status in Status::ALL {
            for step in [Edit, Step::Open, Close, Finalise, Withdraw] {
                let expected = allowed
                    .iter()
                    .find(|(f, s, _)| *f == status && *s == step)
                    .map(|(_, _, to)| *to);
                match (status.after(step), expected) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{status:?} {step:?}"),
                    (Err(LifecycleError::NotAllowed { .. }), None) => {}
                    (got, want) => panic!("{status:?} {step:?}: {got:?}, expected {want:?}"),
                }
            }
        }
    }

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_refused() {
        for status in Status::ALL {
            assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        }
        assert!("Open".parse::<Status>().is_err());
        assert!(Status::Closed.result_visible() && Status::Final.result_visible());
        assert!(!Status::Open.result_visible() && !Status::Withdrawn.result_visible());
    }

    #[test]
    fn clock_skew_is_five_minutes_either_way_inclusive() {
        let now: DateTime<Utc> = "2026-12-01T12:00:00Z".parse().unwrap();
        assert!(within_clock_skew(now + Duration::minutes(5), now));
        assert!(within_clock_skew(now - Duration::minutes(5), now));
        assert!(!within_clock_skew(now + Duration::seconds(301), now));
        assert!(!within_clock_skew(now - Duration::seconds(301), now));
    }

    #[test]
    fn a_frozen_document_must_name_its_own_proposal() {
        let document = example_document(Uuid::from_u128(7), Vec::new());
        let bytes = serde_json::to_vec(&document).unwrap();
        let frozen = Frozen::parse(Uuid::from_u128(7), &bytes).unwrap();
        assert_eq!(frozen.document, document);
        assert!(frozen.window_contains("2026-12-15T17:00:00Z".parse().unwrap()));
        assert!(!frozen.window_contains("2026-12-15T17:00:01Z".parse().unwrap()));
        let err = Frozen::parse(Uuid::from_u128(8), &bytes).unwrap_err();
        assert!(err.reason.contains("names proposal"), "{err}");
    }
}
