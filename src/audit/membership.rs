//! The membership check of the audit: replays the log's `mandaat.membership.v1`
//! entries and checks that each proposal's voter roll holds exactly the boards that
//! the log says were members on its opening day (`docs/audit.md` §2.6).
//!
//! A roll may leave out a member only with a reason the frozen document states
//! (`not_on_roll`: suspended, or in none of the proposal's sectors); every board on
//! the roll or listed there must be a member that day. Proposals opened before the
//! log's first membership entry predate the register (an upgraded deployment's
//! earlier proposals): their rolls cannot be checked against it, and are counted.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::lifecycle::Frozen;
use crate::domain::membership::{self, MembershipStatement, Period, date_text};
use crate::domain::proposal::Exclusion;
use crate::domain::statement::SignedStatement;

/// The membership register as the log states it, entry by entry.
#[derive(Debug, Default)]
pub struct Register {
    boards: BTreeMap<Uuid, (u32, Vec<Period>)>,
    /// The first membership entry; proposals opened before it are not checked.
    first: Option<u64>,
    pub statements: u64,
    pub rolls_checked: u64,
    pub rolls_before_register: u64,
}

impl Register {
    /// Applies a `mandaat.membership.v1` entry (its signature is checked elsewhere):
    /// from here on the board's periods are the ones it states.
    pub fn apply(&mut self, index: u64, st: &SignedStatement) -> Result<(), String> {
        let statement = MembershipStatement::from_statement(st).map_err(|e| e.to_string())?;
        if let Some((number, _)) = self.boards.get(&statement.member)
            && *number != statement.bg_number
        {
            return Err(format!(
                "membership of board {} is stated under bevoegd-gezag number {}, earlier {number}",
                statement.member, statement.bg_number
            ));
        }
        if let Some((other, _)) = self
            .boards
            .iter()
            .find(|(id, (n, _))| **id != statement.member && *n == statement.bg_number)
        {
            return Err(format!(
                "bevoegd-gezag number {} is stated for board {}, earlier for board {other}",
                statement.bg_number, statement.member
            ));
        }
        self.first.get_or_insert(index);
        self.statements += 1;
        self.boards
            .insert(statement.member, (statement.bg_number, statement.periods));
        Ok(())
    }

    /// Checks a proposal's roll, opened at this point of the log, against the members
    /// on its opening day.
    pub fn check_roll(&mut self, frozen: &Frozen) -> Result<(), String> {
        if self.first.is_none() {
            self.rolls_before_register += 1;
            return Ok(());
        }
        let document = &frozen.document;
        let opened_at = DateTime::parse_from_rfc3339(&document.opened_at)
            .map_err(|_| "the frozen document's opened_at is not an RFC 3339 time".to_owned())?
            .with_timezone(&Utc);
        let day = membership::opening_day(opened_at);
        let members: BTreeMap<Uuid, u32> = self
            .boards
            .iter()
            .filter(|(_, (_, periods))| membership::is_member_on(periods, day))
            .map(|(id, (number, _))| (*id, *number))
            .collect();
        let on_day = date_text(day);
        let mut seen = BTreeSet::new();
        let listed = document
            .voter_roll
            .iter()
            .map(|r| (r.member, r.bg_number, "voter roll"))
            .chain(
                document
                    .not_on_roll
                    .iter()
                    .map(|n| (n.member, n.bg_number, "not_on_roll")),
            );
        for (member, number, list) in listed {
            match members.get(&member) {
                None => {
                    return Err(format!(
                        "the {list} holds board {number} ({member}), which the log does not show as a member on the opening day {on_day}"
                    ));
                }
                Some(logged) if *logged != number => {
                    return Err(format!(
                        "the {list} names board {member} with bevoegd-gezag number {number}, the log with {logged}"
                    ));
                }
                Some(_) => {}
            }
            if !seen.insert(member) {
                return Err(format!(
                    "board {number} ({member}) appears twice in the voter roll and not_on_roll"
                ));
            }
        }
        let electorate = &document.spec.electorate;
        for left in &document.not_on_roll {
            if left.reason == Exclusion::OtherSectors && electorate.concerns_sectors(&left.sectors)
            {
                return Err(format!(
                    "board {} ({}) is left off the roll as in other sectors, but its sectors are in the proposal's",
                    left.bg_number, left.member
                ));
            }
        }
        if let Some((member, number)) = members.iter().find(|(id, _)| !seen.contains(*id)) {
            return Err(format!(
                "the voter roll leaves out board {number} ({member}), a member on the opening day {on_day} according to the log, without a reason in not_on_roll"
            ));
        }
        self.rolls_checked += 1;
        Ok(())
    }

    /// The report's line, when there was anything to check.
    pub fn summary(&self) -> Option<String> {
        if self.statements == 0 && self.rolls_before_register == 0 {
            return None;
        }
        let mut line = format!(
            "{} membership statements replayed; {} voter rolls hold exactly the members on their opening day",
            self.statements, self.rolls_checked
        );
        if self.rolls_before_register > 0 {
            line.push_str(&format!(
                " ({} proposals opened before the log's first membership entry: their rolls predate the register and are not checked against it)",
                self.rolls_before_register
            ));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;
    use serde_json::json;

    use super::*;
    use crate::domain::member::Sector;
    use crate::domain::proposal::{NotOnRoll, RollEntry};
    use crate::domain::statement::signed_for_test;

    fn member(n: u8) -> Uuid {
        Uuid::from_u128(u128::from(n))
    }

    fn admitted(n: u8, from: &str) -> SignedStatement {
        signed_for_test(
            &SigningKey::from_bytes(&[1; 32]),
            &json!({"type": "mandaat.membership.v1", "member": member(n).to_string(),
                    "bg_number": 10_000 + u32::from(n), "periods": [{"from": from}],
                    "recorded_by": "admin:test", "recorded_at": "2026-11-01T10:00:00Z"}),
        )
    }

    fn frozen(roll: &[u8], left: Vec<NotOnRoll>) -> Frozen {
        let roll = roll
            .iter()
            .map(|n| RollEntry {
                member: member(*n),
                bg_number: 10_000 + u32::from(*n),
                weight: 1,
                sectors: vec![Sector::Po],
                chamber: "small".into(),
            })
            .collect();
        let mut document = crate::domain::lifecycle::example_document(Uuid::from_u128(99), roll);
        document.not_on_roll = left;
        let bytes = serde_json::to_vec(&document).unwrap();
        Frozen::parse(Uuid::from_u128(99), &bytes).unwrap()
    }

    #[test]
    fn rolls_before_the_first_membership_entry_are_counted_not_checked() {
        let mut register = Register::default();
        register.check_roll(&frozen(&[1, 2], Vec::new())).unwrap();
        assert_eq!(register.rolls_before_register, 1);
        assert!(register.summary().unwrap().contains("not checked"));
    }

    #[test]
    fn the_roll_holds_exactly_the_members_of_the_opening_day() {
        let mut register = Register::default();
        register.apply(0, &admitted(1, "2026-01-01")).unwrap();
        register.apply(1, &admitted(2, "2026-01-01")).unwrap();
        // Admitted from the day after the example's opening day (2026-12-01).
        register.apply(2, &admitted(3, "2026-12-02")).unwrap();
        register.check_roll(&frozen(&[1, 2], Vec::new())).unwrap();
        assert!(
            register
                .check_roll(&frozen(&[1, 2, 3], Vec::new()))
                .unwrap_err()
                .contains("holds board 10003")
        );
        assert!(
            register
                .check_roll(&frozen(&[1], Vec::new()))
                .unwrap_err()
                .contains("leaves out board 10002")
        );
        let lie = NotOnRoll {
            member: member(2),
            bg_number: 10_002,
            reason: Exclusion::OtherSectors,
            sectors: vec![Sector::Po],
        };
        assert!(
            register
                .check_roll(&frozen(&[1], vec![lie]))
                .unwrap_err()
                .contains("other sectors")
        );
        let suspended = NotOnRoll {
            member: member(2),
            bg_number: 10_002,
            reason: Exclusion::Suspended,
            sectors: vec![Sector::Po],
        };
        register.check_roll(&frozen(&[1], vec![suspended])).unwrap();
        // A number belongs to one board.
        let other = signed_for_test(
            &SigningKey::from_bytes(&[1; 32]),
            &json!({"type": "mandaat.membership.v1", "member": member(4).to_string(),
                    "bg_number": 10_001, "periods": [],
                    "recorded_by": "admin:test", "recorded_at": "2026-11-01T10:00:00Z"}),
        );
        assert!(register.apply(3, &other).is_err());
    }
}
