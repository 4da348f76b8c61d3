//! `mandaat members import`: upserts boards from DUO open data by their bevoegd-gezag
//! number. Idempotent, and all-or-nothing: a malformed row stops the import before
//! anything is written. It maintains the board register only and never changes
//! membership: a board it adds is not a member, and a member that DUO's files no
//! longer list (merged, closed) is reported for the secretariat to act on.
//!
//! In the same transaction it replaces the BRIN → board map (`schools`) of each sector
//! whose school list the files hold, with every school listed, also those of boards
//! that are not in the register: the map is reference data, used to suggest a board
//! when someone signs in with their school's account.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::domain::member::{
    BgNumber, ChamberRules, Member, MemberName, MemberStatus, Sector, SectorPupils,
};
use crate::duo::{self, DuoError, DuoFileSummary, SchoolConflict};
use crate::error::Error;
use crate::store::{SchoolChanges, SchoolList, Store};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Duo(#[from] DuoError),
    #[error("board {bg_number}: {reason}")]
    Board { bg_number: u32, reason: String },
    #[error(transparent)]
    Store(#[from] Error),
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub files: Vec<DuoFileSummary>,
    pub boards: usize,
    pub boards_po: usize,
    pub boards_vo: usize,
    pub pupils_po: u64,
    pub pupils_vo: u64,
    pub unnamed: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Chambers of the boards in the files, after the import.
    pub chambers: BTreeMap<String, usize>,
    /// Schools (BRINs) read, by sector.
    pub schools_po: usize,
    pub schools_vo: usize,
    /// Schools read whose board is not in the register after the import.
    pub schools_unregistered: usize,
    /// The sectors whose stored school map the import replaced (empty: unchanged).
    pub school_sectors: BTreeSet<Sector>,
    pub school_changes: SchoolChanges,
    /// BRINs the files list under two boards; the later row's board was kept.
    pub school_conflicts: Vec<SchoolConflict>,
    /// Members today (UTC) in a sector the files cover that the files do not list:
    /// the secretariat decides whether their membership ends (`ceased`, after a
    /// merger or closure). Their membership is left as it is.
    pub missing_members: Vec<Member>,
}

pub async fn import_duo(
    store: &Store,
    rules: &ChamberRules,
    paths: &[PathBuf],
    now: DateTime<Utc>,
) -> Result<ImportSummary, ImportError> {
    let data = duo::read_paths(paths)?;
    let existing: HashMap<BgNumber, Member> = store
        .all_members()
        .await?
        .into_iter()
        .map(|m| (m.bg_number, m))
        .collect();

    let mut summary = ImportSummary {
        files: data.files.clone(),
        school_sectors: data.school_sectors.clone(),
        school_conflicts: data.school_conflicts.clone(),
        ..ImportSummary::default()
    };
    for school in data.schools.values() {
        match school.sector {
            Sector::Po => summary.schools_po += 1,
            Sector::Vo => summary.schools_vo += 1,
        }
        let bg = school.bg_number;
        if !existing.contains_key(&bg) && !data.boards.contains_key(&bg.get()) {
            summary.schools_unregistered += 1;
        }
    }
    let (mut created, mut changed) = (Vec::new(), Vec::new());
    for board in data.boards.values() {
        let bad = |reason: String| ImportError::Board {
            bg_number: board.bg_number,
            reason,
        };
        let bg = BgNumber::new(i64::from(board.bg_number)).map_err(|e| bad(e.to_string()))?;
        let before = existing.get(&bg);
        // A sector whose files were not given keeps what the member had.
        let keep = |sector_in_files: bool, from_files: Option<u64>, old: Option<u64>| {
            if sector_in_files { from_files } else { old }
        };
        let pupils = SectorPupils::new(
            keep(
                data.has_po,
                board.pupils_po,
                before.and_then(|m| m.pupils.po()),
            ),
            keep(
                data.has_vo,
                board.pupils_vo,
                before.and_then(|m| m.pupils.vo()),
            ),
        )
        .map_err(|e| bad(e.to_string()))?;
        let name = match (&board.name, before) {
            (Some(name), _) => MemberName::new(name).map_err(|e| bad(e.to_string()))?,
            (None, Some(m)) => m.name.clone(),
            (None, None) => MemberName::placeholder(bg),
        };

        let member = match before {
            None => {
                let m = Member::new(bg, name, pupils, MemberStatus::Active, rules, now);
                created.push(m.clone());
                m
            }
            Some(old) => {
                let mut m = old.clone();
                m.name = name;
                m.set_pupils(pupils, rules);
                if m == *old {
                    summary.unchanged += 1;
                } else {
                    m.updated_at = now;
                    changed.push(m.clone());
                }
                m
            }
        };
        summary.boards += 1;
        if let Some(n) = member.pupils.po() {
            summary.boards_po += 1;
            summary.pupils_po += n;
        }
        if let Some(n) = member.pupils.vo() {
            summary.boards_vo += 1;
            summary.pupils_vo += n;
        }
        if member.name.is_placeholder(bg) {
            summary.unnamed += 1;
        }
        *summary.chambers.entry(member.chamber.clone()).or_default() += 1;
    }
    let periods = store.all_periods().await?;
    let mut board_list: Vec<Member> = existing.into_values().collect();
    board_list.sort_by_key(|m| m.bg_number);
    summary.missing_members =
        crate::service::membership::members_missing(&board_list, &periods, now.date_naive(), |m| {
            let covered = (data.has_po && m.pupils.po().is_some())
                || (data.has_vo && m.pupils.vo().is_some());
            !covered || data.boards.contains_key(&m.bg_number.get())
        });
    summary.created = created.len();
    summary.updated = changed.len();
    if !created.is_empty() || !changed.is_empty() || !data.school_sectors.is_empty() {
        let schools = SchoolList {
            sectors: &data.school_sectors,
            schools: &data.schools,
        };
        summary.school_changes = store.save_import(&created, &changed, schools).await?;
    }
    Ok(summary)
}

impl fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            write!(
                f,
                "read {} ({:?}, {} rows)",
                file.path.display(),
                file.kind,
                file.rows
            )?;
            if let Some(note) = &file.note {
                write!(f, ": {note}")?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "{} boards: {} PO with {} pupils, {} VO with {} pupils; {} without a name in the files",
            self.boards,
            self.boards_po,
            self.pupils_po,
            self.boards_vo,
            self.pupils_vo,
            self.unnamed
        )?;
        let chambers: Vec<String> = self
            .chambers
            .iter()
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        writeln!(f, "chambers: {}", chambers.join(", "))?;
        if self.school_sectors.is_empty() {
            writeln!(
                f,
                "no school list in these files: the BRIN → board map is unchanged"
            )?;
        } else {
            let sectors: Vec<&str> = self.school_sectors.iter().map(|s| s.as_str()).collect();
            let c = &self.school_changes;
            writeln!(
                f,
                "schools (BRIN → board, to suggest a board on sign-in requests): {} read, {} PO and {} VO; {} of boards not in the register",
                self.schools_po + self.schools_vo,
                self.schools_po,
                self.schools_vo,
                self.schools_unregistered,
            )?;
            writeln!(
                f,
                "school map ({}): added {}, changed {}, removed {}, unchanged {}",
                sectors.join(" and "),
                c.added,
                c.changed,
                c.removed,
                c.unchanged
            )?;
        }
        if !self.school_conflicts.is_empty() {
            writeln!(
                f,
                "BRINs listed under another board than before: {}; each keeps the later row's board:",
                self.school_conflicts.len()
            )?;
            for conflict in &self.school_conflicts {
                writeln!(f, "  {conflict}")?;
            }
        }
        if !self.missing_members.is_empty() {
            writeln!(
                f,
                "{} members are not in these files (merged or closed?); their membership is unchanged, for the secretariat to decide:",
                self.missing_members.len()
            )?;
            for m in &self.missing_members {
                writeln!(
                    f,
                    "  missing member: {} {} ({})",
                    m.bg_number,
                    m.name.as_str(),
                    m.id
                )?;
            }
        }
        if self.created == 0 && self.updated == 0 {
            write!(
                f,
                "nothing changed: all {} boards were already up to date",
                self.unchanged
            )
        } else {
            write!(
                f,
                "created {}, updated {}, unchanged {} (boards only: new boards are not members until admitted)",
                self.created, self.updated, self.unchanged
            )
        }
    }
}
