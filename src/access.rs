//! Who may do what: every role and visibility rule of the API in one place, as pure
//! functions of the caller and the facts a rule needs. Handlers and services ask here
//! before they act; the table at the bottom lists every operation for every role.
//!
//! State rules (a result only after closing, ballots only while open) are not access
//! rules: they live in the proposal lifecycle and answer 409, whoever asks.

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::auth::Principal;
use crate::domain::lifecycle::Status;
use crate::domain::member::Sector;

/// What a rule about one proposal needs to know of it.
#[derive(Debug, Clone, Copy)]
pub struct ProposalFacts<'a> {
    pub status: Status,
    pub sectors: &'a BTreeSet<Sector>,
    /// The board that drafted it, if a board did.
    pub proposer_member: Option<Uuid>,
}

/// Everything the API lets someone do, in the domain's words.
#[derive(Debug, Clone, Copy)]
pub enum Operation<'a> {
    /// List members, read one, read a member's keys, read the log, proofs, checkpoints.
    ReadRegister,
    /// Add members, change or suspend them, import them from DUO.
    ManageMembers,
    /// Register a key for `member` (with its proof of possession).
    RegisterKey { member: Uuid },
    /// Revoke a key of `member`.
    RevokeKey { member: Uuid },
    /// Draft a new proposal.
    DraftProposal,
    /// See a proposal (and its turnout while it is open).
    SeeProposal(ProposalFacts<'a>),
    /// Change a draft.
    EditDraft(ProposalFacts<'a>),
    /// Open, close, withdraw or finalise a proposal.
    RunLifecycle,
    /// Cast a ballot or grant or withdraw a proxy, as the caller's own member.
    SignAsMember,
    /// See one proxy of a proposal.
    SeeProxy { grantor: Uuid, holder: Uuid },
    /// See the result of a proposal the caller can see; `on_roll`: whether the caller's
    /// member was on its voter roll (false for other roles).
    SeeResult {
        proposal: ProposalFacts<'a>,
        on_roll: bool,
    },
    /// Export the audit bundle.
    ExportAuditBundle,
    /// Invite people, list them, see and end their sessions.
    ManagePeople,
    /// Scrape the service's metrics (`GET /metrics`).
    ReadMetrics,
    /// Create, list and revoke API tokens for machines.
    ManageApiTokens,
    /// Create, read, change and delete webhook subscriptions, see their deliveries.
    ManageWebhooks,
}

/// Why the caller may not: said to the caller as a 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Denied(pub String);

fn deny(why: impl Into<String>) -> Result<(), Denied> {
    Err(Denied(why.into()))
}

/// Whether `who` may do `op`.
pub fn check(who: &Principal, op: Operation<'_>) -> Result<(), Denied> {
    use Principal::{Admin, Auditor, Board};
    match (op, who) {
        (Operation::ReadRegister, _) => Ok(()),

        (
            Operation::ManageMembers
            | Operation::RunLifecycle
            | Operation::ManagePeople
            | Operation::ManageApiTokens
            | Operation::ReadMetrics
            | Operation::ManageWebhooks,
            Admin { .. },
        ) => Ok(()),
        (
            Operation::ManageMembers
            | Operation::RunLifecycle
            | Operation::ManagePeople
            | Operation::ManageApiTokens
            | Operation::ReadMetrics
            | Operation::ManageWebhooks,
            other,
        ) => deny(format!(
            "only an admin may do this; this caller's role is {}",
            other.role()
        )),

        // A proof of possession shows who holds a key, not who the board is: only the
        // board itself registers its keys, never an admin for it.
        (Operation::RegisterKey { member }, Board { member_id, .. }) if *member_id == member => {
            Ok(())
        }
        (Operation::RegisterKey { .. }, Board { .. }) => {
            deny("a board may manage only its own keys")
        }
        (Operation::RegisterKey { .. }, other) => deny(format!(
            "only the member board itself registers its keys; this caller's role is {}",
            other.role()
        )),
        (Operation::RevokeKey { .. }, Admin { .. }) => Ok(()),
        (Operation::RevokeKey { member }, Board { member_id, .. }) if *member_id == member => {
            Ok(())
        }
        (Operation::RevokeKey { .. }, Board { .. }) => deny("a board may manage only its own keys"),
        (Operation::RevokeKey { .. }, other) => deny(format!(
            "keys are revoked by their board or an admin; this caller's role is {}",
            other.role()
        )),

        (Operation::DraftProposal, Admin { .. } | Board { .. }) => Ok(()),
        (Operation::DraftProposal, other) => deny(format!(
            "proposals are drafted by boards and admins; this caller's role is {}",
            other.role()
        )),

        (Operation::SeeProposal(p), _) => see_proposal(who, p),

        (Operation::EditDraft(p), Admin { .. }) => see_proposal(who, p),
        (Operation::EditDraft(p), Board { member_id, .. })
            if p.proposer_member == Some(*member_id) =>
        {
            see_proposal(who, p)
        }
        (Operation::EditDraft(p), _) => {
            see_proposal(who, p)?;
            deny("only an admin or the board that drafted it may change a draft")
        }

        (Operation::SignAsMember, Board { .. }) => Ok(()),
        (Operation::SignAsMember, other) => deny(format!(
            "only a member board signs ballots and proxies; this caller's role is {}",
            other.role()
        )),

        (Operation::SeeProxy { .. }, Admin { .. } | Auditor { .. }) => Ok(()),
        (Operation::SeeProxy { grantor, holder }, Board { member_id, .. })
            if *member_id == grantor || *member_id == holder =>
        {
            Ok(())
        }
        (Operation::SeeProxy { .. }, _) => {
            deny("a proxy is shown to its grantor, its holder, admins and auditors")
        }

        (Operation::SeeResult { proposal, on_roll }, _) => {
            see_proposal(who, proposal)?;
            match who {
                Board { .. } if !on_roll => {
                    deny("a board sees results of proposals it was eligible for")
                }
                _ => Ok(()),
            }
        }

        (Operation::ExportAuditBundle, Auditor { .. }) => Ok(()),
        (Operation::ExportAuditBundle, other) => deny(format!(
            "the audit bundle is for auditors; this caller's role is {}",
            other.role()
        )),
    }
}

/// Drafts are seen by their proposer board, admins and auditors; a council sees only
/// proposals of its sector, once they are no longer drafts.
fn see_proposal(who: &Principal, p: ProposalFacts<'_>) -> Result<(), Denied> {
    let visible = match who {
        Principal::Admin { .. } | Principal::Auditor { .. } => true,
        Principal::Board { member_id, .. } => {
            p.status != Status::Draft || p.proposer_member == Some(*member_id)
        }
        Principal::Council { sector, .. } => {
            p.status != Status::Draft && p.sectors.contains(sector)
        }
    };
    if visible {
        Ok(())
    } else {
        deny("this caller may not see this proposal")
    }
}

/// The member a board signs as; refused for every other role.
pub fn signing_member(who: &Principal) -> Result<Uuid, Denied> {
    check(who, Operation::SignAsMember)?;
    match who {
        Principal::Board { member_id, .. } => Ok(*member_id),
        _ => Err(Denied("only a member board signs".into())),
    }
}

/// The sector whose results a caller gets: a council always its own (asking for
/// another is refused), everyone else what they ask for.
pub fn results_sector(who: &Principal, asked: Option<Sector>) -> Result<Option<Sector>, Denied> {
    match (who, asked) {
        (Principal::Council { sector: own, .. }, Some(asked)) if asked != *own => {
            Err(Denied(format!("a {own} council sees only {own} results")))
        }
        (Principal::Council { sector: own, .. }, _) => Ok(Some(*own)),
        (_, asked) => Ok(asked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);

    /// The callers every rule is tried with, and their column letter in the table.
    fn callers() -> [(char, Principal); 6] {
        let sub = || "t".to_owned();
        [
            ('A', Principal::Admin { sub: sub() }),
            ('U', Principal::Auditor { sub: sub() }),
            (
                'P',
                Principal::Council {
                    sub: sub(),
                    sector: Sector::Po,
                },
            ),
            (
                'V',
                Principal::Council {
                    sub: sub(),
                    sector: Sector::Vo,
                },
            ),
            (
                'b',
                Principal::Board {
                    sub: sub(),
                    member_id: OWN,
                },
            ),
            (
                'o',
                Principal::Board {
                    sub: sub(),
                    member_id: OTHER,
                },
            ),
        ]
    }

    /// Every operation × every caller. Columns: Admin, aUditor, Po council, Vo council,
    /// the board the operation is about ("own"), another board. `y` allowed, `.` not.
    #[test]
    fn every_operation_for_every_role() {
        let po: BTreeSet<Sector> = [Sector::Po].into();
        let facts = |status, proposer| ProposalFacts {
            status,
            sectors: &po,
            proposer_member: proposer,
        };
        let table: Vec<(&str, Operation<'_>, &str)> = vec![
            ("read the register", Operation::ReadRegister, "yyyyyy"),
            ("manage members", Operation::ManageMembers, "y....."),
            (
                "register own key",
                Operation::RegisterKey { member: OWN },
                "....y.",
            ),
            (
                "revoke own key",
                Operation::RevokeKey { member: OWN },
                "y...y.",
            ),
            ("draft a proposal", Operation::DraftProposal, "y...yy"),
            (
                "see a board's draft",
                Operation::SeeProposal(facts(Status::Draft, Some(OWN))),
                "yy..y.",
            ),
            (
                "see an admin's draft",
                Operation::SeeProposal(facts(Status::Draft, None)),
                "yy....",
            ),
            (
                "see an open PO proposal",
                Operation::SeeProposal(facts(Status::Open, None)),
                "yyy.yy",
            ),
            (
                "edit a board's draft",
                Operation::EditDraft(facts(Status::Draft, Some(OWN))),
                "y...y.",
            ),
            (
                "edit an admin's draft",
                Operation::EditDraft(facts(Status::Draft, None)),
                "y.....",
            ),
            ("run the lifecycle", Operation::RunLifecycle, "y....."),
            ("sign a ballot or proxy", Operation::SignAsMember, "....yy"),
            (
                "see a proxy from own",
                Operation::SeeProxy {
                    grantor: OWN,
                    holder: Uuid::from_u128(3),
                },
                "yy..y.",
            ),
            (
                "see a proxy held by own",
                Operation::SeeProxy {
                    grantor: Uuid::from_u128(3),
                    holder: OWN,
                },
                "yy..y.",
            ),
            (
                "see a PO result, own on the roll",
                Operation::SeeResult {
                    proposal: facts(Status::Closed, None),
                    on_roll: true,
                },
                "yyy.y.",
            ),
            (
                "export the audit bundle",
                Operation::ExportAuditBundle,
                ".y....",
            ),
            ("manage people", Operation::ManagePeople, "y....."),
            ("read the metrics", Operation::ReadMetrics, "y....."),
            ("manage API tokens", Operation::ManageApiTokens, "y....."),
            ("manage webhooks", Operation::ManageWebhooks, "y....."),
        ];
        for (what, op, expected) in table {
            let got: String = callers()
                .iter()
                .map(|(_, who)| {
                    // On-roll applies to the own board only.
                    let op = match op {
                        Operation::SeeResult { proposal, on_roll } => Operation::SeeResult {
                            proposal,
                            on_roll: on_roll
                                && matches!(who, Principal::Board { member_id, .. } if *member_id == OWN),
                        },
                        other => other,
                    };
                    if check(who, op).is_ok() { 'y' } else { '.' }
                })
                .collect();
            assert_eq!(got, expected, "{what} (columns AUPVbo)");
        }
    }

    #[test]
    fn councils_get_their_own_sector_and_only_that() {
        let po = Principal::Council {
            sub: "po".into(),
            sector: Sector::Po,
        };
        assert_eq!(results_sector(&po, None), Ok(Some(Sector::Po)));
        assert_eq!(results_sector(&po, Some(Sector::Po)), Ok(Some(Sector::Po)));
        assert!(results_sector(&po, Some(Sector::Vo)).is_err());
        let admin = Principal::Admin { sub: "a".into() };
        assert_eq!(results_sector(&admin, None), Ok(None));
        assert_eq!(
            results_sector(&admin, Some(Sector::Vo)),
            Ok(Some(Sector::Vo))
        );
        assert_eq!(
            signing_member(&Principal::Board {
                sub: "b".into(),
                member_id: OWN
            }),
            Ok(OWN)
        );
        assert!(signing_member(&admin).is_err());
    }
}
