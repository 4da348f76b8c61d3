//! Member boards, their sectors and pupils, and the rules that put them in chambers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An education sector a board runs schools in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Sector {
    /// Primary education (primair onderwijs).
    #[serde(rename = "PO")]
    Po,
    /// Secondary education (voortgezet onderwijs).
    #[serde(rename = "VO")]
    Vo,
}

impl Sector {
    pub fn as_str(self) -> &'static str {
        match self {
            Sector::Po => "PO",
            Sector::Vo => "VO",
        }
    }
}

impl fmt::Display for Sector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Sector {
    type Err = MemberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "PO" => Ok(Sector::Po),
            "VO" => Ok(Sector::Vo),
            other => Err(MemberError::UnknownSector(other.to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    #[error("bevoegd-gezag number must be between 1 and {max}, got {0}", max = BgNumber::MAX)]
    BgNumberOutOfRange(i64),
    #[error("name must be 1 to {max} characters without control characters", max = MemberName::MAX_CHARS)]
    InvalidName,
    #[error("a member board needs pupils in at least one sector (PO or VO)")]
    NoSector,
    #[error("pupil count for {0} must be between 0 and {max}", max = SectorPupils::MAX)]
    PupilsOutOfRange(Sector),
    #[error("unknown sector {0:?}; expected PO or VO")]
    UnknownSector(String),
    #[error("unknown member status {0:?}; expected active or suspended")]
    UnknownStatus(String),
}

/// DUO's number for a board (bevoegd-gezagnummer): the member's stable external id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BgNumber(u32);

impl BgNumber {
    pub const MAX: u32 = 99_999_999;

    pub fn new(value: i64) -> Result<Self, MemberError> {
        u32::try_from(value)
            .ok()
            .filter(|v| (1..=Self::MAX).contains(v))
            .map(BgNumber)
            .ok_or(MemberError::BgNumberOutOfRange(value))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for BgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A board's display name: trimmed, non-empty, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberName(String);

impl MemberName {
    pub const MAX_CHARS: usize = 200;

    pub fn new(raw: &str) -> Result<Self, MemberError> {
        let name = raw.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS || name.chars().any(char::is_control) {
            return Err(MemberError::InvalidName);
        }
        Ok(MemberName(name.to_owned()))
    }

    /// The readable name a board keeps until a real one is known (DUO's VO files,
    /// for one, name no boards).
    pub fn placeholder(bg_number: BgNumber) -> Self {
        MemberName(format!(
            "Bevoegd gezag {bg_number} (name unknown: not in the DUO name file)"
        ))
    }

    pub fn is_placeholder(&self, bg_number: BgNumber) -> bool {
        *self == Self::placeholder(bg_number)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Pupils per sector. A sector is present exactly when the board is in it, so
/// the sectors of a board are derived from this and cannot disagree with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectorPupils {
    po: Option<u64>,
    vo: Option<u64>,
}

impl SectorPupils {
    /// More pupils than the Netherlands has; guards against typing errors.
    pub const MAX: u64 = 10_000_000;

    pub fn new(po: Option<u64>, vo: Option<u64>) -> Result<Self, MemberError> {
        if po.is_none() && vo.is_none() {
            return Err(MemberError::NoSector);
        }
        for (sector, count) in [(Sector::Po, po), (Sector::Vo, vo)] {
            if count.is_some_and(|c| c > Self::MAX) {
                return Err(MemberError::PupilsOutOfRange(sector));
            }
        }
        Ok(SectorPupils { po, vo })
    }

    pub fn po(&self) -> Option<u64> {
        self.po
    }

    pub fn vo(&self) -> Option<u64> {
        self.vo
    }

    pub fn get(&self, sector: Sector) -> Option<u64> {
        match sector {
            Sector::Po => self.po,
            Sector::Vo => self.vo,
        }
    }

    pub fn sectors(&self) -> Vec<Sector> {
        [Sector::Po, Sector::Vo]
            .into_iter()
            .filter(|s| self.get(*s).is_some())
            .collect()
    }

    pub fn total(&self) -> u64 {
        self.po.unwrap_or(0) + self.vo.unwrap_or(0)
    }

    fn sector_set(&self) -> SectorSet {
        match (self.po.is_some(), self.vo.is_some()) {
            (true, true) => SectorSet::Both,
            (false, true) => SectorSet::Vo,
            _ => SectorSet::Po,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberStatus {
    #[default]
    Active,
    /// Keeps its history but may not vote.
    Suspended,
}

impl MemberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Suspended => "suspended",
        }
    }
}

impl FromStr for MemberStatus {
    type Err = MemberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "active" => Ok(MemberStatus::Active),
            "suspended" => Ok(MemberStatus::Suspended),
            other => Err(MemberError::UnknownStatus(other.to_owned())),
        }
    }
}

/// Which sectors a chamber rule applies to: a board is in exactly one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SectorSet {
    #[serde(rename = "PO")]
    Po,
    #[serde(rename = "VO")]
    Vo,
    #[serde(rename = "PO+VO")]
    Both,
}

/// One rule: boards of exactly these sectors with at most `max_pupils` pupils in all
/// (no limit when absent) belong to `chamber`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChamberRule {
    pub chamber: String,
    pub sectors: SectorSet,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pupils: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChamberRulesError {
    #[error("chamber rules are not valid JSON of the documented shape: {0}")]
    Syntax(String),
    #[error("chamber name {0:?} must be 1 to 40 characters of a-z, 0-9 and '-'")]
    BadName(String),
    #[error("no rule without max_pupils for boards in {0:?}: some boards would have no chamber")]
    NotExhaustive(SectorSet),
}

/// How a deployment divides its members into chambers. Rules are tried in order;
/// the first that matches decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChamberRules {
    rules: Vec<ChamberRule>,
}

impl ChamberRules {
    pub fn new(rules: Vec<ChamberRule>) -> Result<Self, ChamberRulesError> {
        for rule in &rules {
            let name_ok = (1..=40).contains(&rule.chamber.len())
                && rule
                    .chamber
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !name_ok {
                return Err(ChamberRulesError::BadName(rule.chamber.clone()));
            }
        }
        // Every board must land somewhere, whatever its size.
        for set in [SectorSet::Po, SectorSet::Vo, SectorSet::Both] {
            if !rules
                .iter()
                .any(|r| r.sectors == set && r.max_pupils.is_none())
            {
                return Err(ChamberRulesError::NotExhaustive(set));
            }
        }
        Ok(ChamberRules { rules })
    }

    pub fn from_json(json: &str) -> Result<Self, ChamberRulesError> {
        let parsed: ChamberRules =
            serde_json::from_str(json).map_err(|e| ChamberRulesError::Syntax(e.to_string()))?;
        Self::new(parsed.rules)
    }

    /// SIVON's four chambers of its member council (ledenraad).
    pub fn sivon() -> Self {
        let rule = |chamber: &str, sectors, max_pupils| ChamberRule {
            chamber: chamber.to_owned(),
            sectors,
            max_pupils,
        };
        ChamberRules {
            rules: vec![
                rule("combined", SectorSet::Both, None),
                rule("small", SectorSet::Po, Some(1_000)),
                rule("small", SectorSet::Vo, Some(3_500)),
                rule("po-large", SectorSet::Po, None),
                rule("vo-large", SectorSet::Vo, None),
            ],
        }
    }

    pub fn chamber_for(&self, pupils: &SectorPupils) -> &str {
        let set = pupils.sector_set();
        let total = pupils.total();
        self.rules
            .iter()
            .find(|r| r.sectors == set && r.max_pupils.is_none_or(|max| total <= max))
            .map(|r| r.chamber.as_str())
            // `new` guarantees a catch-all rule per sector set.
            .unwrap_or("unassigned")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// A member board of the cooperative.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: uuid::Uuid,
    pub bg_number: BgNumber,
    pub name: MemberName,
    pub pupils: SectorPupils,
    pub status: MemberStatus,
    /// Derived from `pupils` by the deployment's [`ChamberRules`].
    pub chamber: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl Member {
    pub fn new(
        bg_number: BgNumber,
        name: MemberName,
        pupils: SectorPupils,
        status: MemberStatus,
        rules: &ChamberRules,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Member {
            id: uuid::Uuid::new_v4(),
            bg_number,
            name,
            chamber: rules.chamber_for(&pupils).to_owned(),
            pupils,
            status,
            created_at: now,
            updated_at: now,
        }
    }

    /// Changes pupils and re-derives the chamber from them.
    pub fn set_pupils(&mut self, pupils: SectorPupils, rules: &ChamberRules) {
        self.chamber = rules.chamber_for(&pupils).to_owned();
        self.pupils = pupils;
    }
}

impl Default for ChamberRules {
    fn default() -> Self {
        Self::sivon()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pupils(po: Option<u64>, vo: Option<u64>) -> SectorPupils {
        SectorPupils::new(po, vo).unwrap()
    }

    #[test]
    fn sivon_chambers_follow_the_thresholds() {
        let rules = ChamberRules::sivon();
        assert_eq!(rules.chamber_for(&pupils(Some(1_000), None)), "small");
        assert_eq!(rules.chamber_for(&pupils(Some(1_001), None)), "po-large");
        assert_eq!(rules.chamber_for(&pupils(None, Some(3_500))), "small");
        assert_eq!(rules.chamber_for(&pupils(None, Some(3_501))), "vo-large");
        assert_eq!(rules.chamber_for(&pupils(Some(10), Some(10))), "combined");
        assert_eq!(rules.chamber_for(&pupils(Some(0), None)), "small");
    }

    #[test]
    fn rules_must_place_every_board() {
        let err = ChamberRules::from_json(
            r#"{"rules":[{"chamber":"all-po","sectors":"PO"},{"chamber":"vo","sectors":"VO","max_pupils":10}]}"#,
        )
        .unwrap_err();
        assert_eq!(err, ChamberRulesError::NotExhaustive(SectorSet::Vo));
        let custom = ChamberRules::from_json(
            r#"{"rules":[{"chamber":"po","sectors":"PO"},{"chamber":"vo","sectors":"VO"},{"chamber":"both","sectors":"PO+VO"}]}"#,
        )
        .unwrap();
        assert_eq!(custom.chamber_for(&pupils(None, Some(1))), "vo");
        assert!(matches!(
            ChamberRules::from_json(r#"{"rules":[{"chamber":"Big!","sectors":"PO"}]}"#),
            Err(ChamberRulesError::BadName(_))
        ));
        assert!(matches!(
            ChamberRules::from_json(r#"{"rules":[], "extra": 1}"#),
            Err(ChamberRulesError::Syntax(_))
        ));
    }

    #[test]
    fn sivon_rules_round_trip_through_json() {
        let rules = ChamberRules::sivon();
        assert_eq!(ChamberRules::from_json(&rules.to_json()).unwrap(), rules);
    }

    #[test]
    fn value_types_validate_in_their_constructor() {
        assert!(BgNumber::new(0).is_err());
        assert!(BgNumber::new(-5).is_err());
        assert!(BgNumber::new(i64::from(BgNumber::MAX) + 1).is_err());
        assert_eq!(BgNumber::new(24597).unwrap().get(), 24597);
        assert!(MemberName::new("   ").is_err());
        assert!(MemberName::new("a\u{0007}b").is_err());
        assert_eq!(
            MemberName::new("  Stichting BOOR ").unwrap().as_str(),
            "Stichting BOOR"
        );
        assert_eq!(SectorPupils::new(None, None), Err(MemberError::NoSector));
        assert!(SectorPupils::new(Some(SectorPupils::MAX + 1), None).is_err());
        assert_eq!(
            pupils(Some(1), Some(2)).sectors(),
            vec![Sector::Po, Sector::Vo]
        );
        let placeholder = MemberName::placeholder(BgNumber::new(12345).unwrap());
        assert!(placeholder.as_str().contains("12345"));
        assert!(placeholder.as_str().contains("name unknown"));
    }
}
