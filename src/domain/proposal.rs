//! Proposals: what members vote on, who may vote, and how the count is decided.
//! Everything here validates in its constructor and serialises to float-free JSON,
//! because a proposal is frozen into a signed, canonical document when it opens.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::member::Sector;

/// Civil Code 2:38: votes may be cast at most 30 days ahead.
pub const MAX_VOTING_DAYS: i64 = 30;
pub const MAX_OPTIONS: usize = 20;
pub const MAX_PARAMETERS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProposalError {
    #[error("{0:?} is not a fraction n/d with 0 <= n <= d and d > 0")]
    BadFraction(String),
    #[error("{field} must be 1 to {max} characters without control characters")]
    Text { field: &'static str, max: usize },
    #[error("{0} must not hold control characters other than line breaks and tabs")]
    ControlCharacters(&'static str),
    #[error("{0:?} is not an identifier: 1 to 40 characters of a-z, 0-9, '-' and '_'")]
    BadIdentifier(String),
    #[error("identifier {0:?} is used twice")]
    DuplicateIdentifier(String),
    #[error("a proposal concerns at least one sector")]
    NoSector,
    #[error("the voting window must end after it starts and last at most {MAX_VOTING_DAYS} days")]
    BadWindow,
    #[error("a priority needs 2 to {MAX_OPTIONS} options")]
    OptionCount,
    #[error("a mandate has at most {MAX_PARAMETERS} parameters")]
    ParameterCount,
    #[error("parameter {0:?}: minimum must not exceed maximum, both within ±(2^53−1)")]
    ParameterRange(String),
    #[error("{0}")]
    Demand(String),
}

/// An exact fraction n/d with 0 ≤ n ≤ d, written "n/d" in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    num: u64,
    den: u64,
}

impl Fraction {
    pub fn new(num: u64, den: u64) -> Result<Self, ProposalError> {
        if den == 0 || num > den || den > 1_000_000 {
            return Err(ProposalError::BadFraction(format!("{num}/{den}")));
        }
        Ok(Fraction { num, den })
    }

    pub fn num(self) -> u64 {
        self.num
    }

    pub fn den(self) -> u64 {
        self.den
    }

    /// Whether part/whole ≥ self, exactly.
    pub fn reached_by(self, part: u128, whole: u128) -> bool {
        part * u128::from(self.den) >= u128::from(self.num) * whole
    }

    /// Whether part/whole > self, exactly.
    pub fn exceeded_by(self, part: u128, whole: u128) -> bool {
        part * u128::from(self.den) > u128::from(self.num) * whole
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

impl FromStr for Fraction {
    type Err = ProposalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProposalError::BadFraction(s.to_owned());
        let (n, d) = s.split_once('/').ok_or_else(bad)?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(n) || !digits(d) {
            return Err(bad());
        }
        Fraction::new(n.parse().map_err(|_| bad())?, d.parse().map_err(|_| bad())?)
    }
}

impl Serialize for Fraction {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How the yes share is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MajorityKind {
    /// yes / (yes + no) > fraction: a simple majority is more than 1/2.
    MoreThan,
    /// yes / (yes + no) ≥ fraction: a qualified majority is at least 2/3.
    AtLeast,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Majority {
    pub kind: MajorityKind,
    pub fraction: Fraction,
}

impl Majority {
    pub fn simple() -> Self {
        Majority {
            kind: MajorityKind::MoreThan,
            fraction: Fraction { num: 1, den: 2 },
        }
    }

    /// Whether `yes` out of `yes + no` carries; nothing carries with no yes/no votes.
    pub fn carried(self, yes: u128, no: u128) -> bool {
        let cast = yes + no;
        if cast == 0 {
            return false;
        }
        match self.kind {
            MajorityKind::MoreThan => self.fraction.exceeded_by(yes, cast),
            MajorityKind::AtLeast => self.fraction.reached_by(yes, cast),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// The legal default (Civil Code 2:38 lid 1): every member one vote.
    OneMemberOneVote,
    /// A member's weight is its pupils in the sectors the proposal concerns.
    Pupils,
}

/// Who may vote and what decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Electorate {
    /// The sectors the proposal concerns; a member in any of them is eligible.
    pub sectors: BTreeSet<Sector>,
    pub weighting: Weighting,
    /// Share of the eligible weight that must vote (abstentions count).
    pub quorum: Fraction,
    pub majority: Majority,
    /// When set, a majority of the chambers that voted must also be in favour.
    pub chamber_rule: bool,
}

impl Electorate {
    pub fn validate(&self) -> Result<(), ProposalError> {
        if self.sectors.is_empty() {
            return Err(ProposalError::NoSector);
        }
        Ok(())
    }

    /// A member's weight for this proposal, from its pupils per sector.
    pub fn weight(&self, pupils: &super::member::SectorPupils) -> u64 {
        match self.weighting {
            Weighting::OneMemberOneVote => 1,
            Weighting::Pupils => self.sectors.iter().filter_map(|s| pupils.get(*s)).sum(),
        }
    }

    pub fn concerns(&self, pupils: &super::member::SectorPupils) -> bool {
        self.sectors.iter().any(|s| pupils.get(*s).is_some())
    }

    /// Why a member of the cooperative on the opening day is not on the roll, if it is
    /// not: suspended, or in none of the proposal's sectors.
    pub fn left_off(&self, member: &super::member::Member) -> Option<NotOnRoll> {
        let reason = if member.status == super::member::MemberStatus::Suspended {
            Exclusion::Suspended
        } else if !self.concerns(&member.pupils) {
            Exclusion::OtherSectors
        } else {
            return None;
        };
        Some(NotOnRoll {
            member: member.id,
            bg_number: member.bg_number.get(),
            reason,
            sectors: member.pupils.sectors(),
        })
    }

    /// Whether a board in `sectors` is in one the proposal concerns.
    pub fn concerns_sectors(&self, sectors: &[Sector]) -> bool {
        sectors.iter().any(|s| self.sectors.contains(s))
    }

    /// The voter roll: of the given members (the cooperative's members on the opening
    /// day), every active one in a sector the proposal concerns, with its weight,
    /// sectors and chamber, in the order given (by bevoegd-gezag number).
    pub fn roll(&self, members: &[super::member::Member]) -> Vec<RollEntry> {
        members
            .iter()
            .filter(|m| m.status == super::member::MemberStatus::Active && self.concerns(&m.pupils))
            .map(|m| RollEntry {
                member: m.id,
                bg_number: m.bg_number.get(),
                weight: self.weight(&m.pupils),
                sectors: m.pupils.sectors(),
                chamber: m.chamber.clone(),
            })
            .collect()
    }
}

/// A short identifier chosen by the proposer (option ids, parameter names).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ident(String);

impl Ident {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Ident {
    type Error = ProposalError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let ok = (1..=40).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Ident(s))
        } else {
            Err(ProposalError::BadIdentifier(s))
        }
    }
}

impl From<Ident> for String {
    fn from(i: Ident) -> String {
        i.0
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A numeric value members set with their yes vote, e.g. the maximum accepted price
/// increase in basis points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: Ident,
    pub label: String,
    /// e.g. `basis-points`, `eur-cents`, `months`.
    pub unit: String,
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DataLocation {
    /// The Netherlands.
    Nl,
    /// The European Union.
    Eu,
    /// The European Economic Area.
    Eea,
}

/// The privacy demands of the Privacyconvenant Onderwijs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyDemands {
    /// The model data processing agreement (model verwerkersovereenkomst), e.g. "4.0".
    pub model_dpa_version: String,
    pub data_location: DataLocation,
    pub no_secondary_use: bool,
    pub sub_processors_listed: bool,
}

/// What the cooperative demands of the supplier, beyond the voted parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Demands {
    /// Modules that must be licensable one by one; empty when not demanded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modular_licensing: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privacy: Option<PrivacyDemands>,
    /// Longest contract term accepted, in months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_term_months: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityOption {
    pub id: Ident,
    pub label: String,
}

/// What kind of decision, with what it needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ProposalKind {
    /// What the cooperative may agree with a supplier.
    Mandate {
        supplier: String,
        product: String,
        demands: Demands,
        parameters: Vec<Parameter>,
    },
    /// Options that members rank, e.g. which markets to tender first.
    Priority { options: Vec<PriorityOption> },
    /// A plain yes/no question.
    Resolution,
}

impl ProposalKind {
    pub fn name(&self) -> &'static str {
        match self {
            ProposalKind::Mandate { .. } => "mandate",
            ProposalKind::Priority { .. } => "priority",
            ProposalKind::Resolution => "resolution",
        }
    }

    pub fn validate(&self) -> Result<(), ProposalError> {
        match self {
            ProposalKind::Mandate {
                supplier,
                product,
                demands,
                parameters,
            } => {
                text("supplier", supplier, 200)?;
                text("product", product, 200)?;
                if parameters.len() > MAX_PARAMETERS {
                    return Err(ProposalError::ParameterCount);
                }
                unique(parameters.iter().map(|p| &p.name))?;
                for p in parameters {
                    text("parameter label", &p.label, 200)?;
                    text("parameter unit", &p.unit, 40)?;
                    let safe =
                        -super::statement::MAX_SAFE_INTEGER..=super::statement::MAX_SAFE_INTEGER;
                    if p.min > p.max || !safe.contains(&p.min) || !safe.contains(&p.max) {
                        return Err(ProposalError::ParameterRange(p.name.to_string()));
                    }
                }
                for module in &demands.modular_licensing {
                    text("module", module, 200)?;
                }
                if let Some(privacy) = &demands.privacy {
                    text("model_dpa_version", &privacy.model_dpa_version, 20)?;
                }
                if demands.max_term_months == Some(0) {
                    return Err(ProposalError::Demand(
                        "max_term_months must be positive".into(),
                    ));
                }
                Ok(())
            }
            ProposalKind::Priority { options } => {
                if !(2..=MAX_OPTIONS).contains(&options.len()) {
                    return Err(ProposalError::OptionCount);
                }
                for o in options {
                    text("option label", &o.label, 200)?;
                }
                unique(options.iter().map(|o| &o.id))
            }
            ProposalKind::Resolution => Ok(()),
        }
    }
}

/// Everything a proposer writes; frozen unchanged when the proposal opens.
///
/// In JSON the kind-specific part sits in a member named after the kind:
/// `{"kind":"mandate","mandate":{...}}`, `{"kind":"priority","priority":{"options":[...]}}`
/// or just `{"kind":"resolution"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SpecRepr", into = "SpecRepr")]
pub struct ProposalSpec {
    pub title: String,
    pub description: String,
    pub kind: ProposalKind,
    pub electorate: Electorate,
    pub opens_at: DateTime<Utc>,
    pub closes_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum KindName {
    Mandate,
    Priority,
    Resolution,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MandateRepr {
    supplier: String,
    product: String,
    #[serde(default)]
    demands: Demands,
    #[serde(default)]
    parameters: Vec<Parameter>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityRepr {
    options: Vec<PriorityOption>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecRepr {
    title: String,
    #[serde(default)]
    description: String,
    kind: KindName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mandate: Option<MandateRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priority: Option<PriorityRepr>,
    electorate: Electorate,
    opens_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
}

impl TryFrom<SpecRepr> for ProposalSpec {
    type Error = String;
    fn try_from(r: SpecRepr) -> Result<Self, String> {
        let kind = match (r.kind, r.mandate, r.priority) {
            (KindName::Mandate, Some(m), None) => ProposalKind::Mandate {
                supplier: m.supplier,
                product: m.product,
                demands: m.demands,
                parameters: m.parameters,
            },
            (KindName::Priority, None, Some(p)) => ProposalKind::Priority { options: p.options },
            (KindName::Resolution, None, None) => ProposalKind::Resolution,
            (KindName::Mandate, ..) => {
                return Err("a mandate needs `mandate` and no `priority`".into());
            }
            (KindName::Priority, ..) => {
                return Err("a priority needs `priority` and no `mandate`".into());
            }
            (KindName::Resolution, ..) => {
                return Err("a resolution has neither `mandate` nor `priority`".into());
            }
        };
        Ok(ProposalSpec {
            title: r.title,
            description: r.description,
            kind,
            electorate: r.electorate,
            opens_at: r.opens_at,
            closes_at: r.closes_at,
        })
    }
}

impl From<ProposalSpec> for SpecRepr {
    fn from(s: ProposalSpec) -> Self {
        let (kind, mandate, priority) = match s.kind {
            ProposalKind::Mandate {
                supplier,
                product,
                demands,
                parameters,
            } => (
                KindName::Mandate,
                Some(MandateRepr {
                    supplier,
                    product,
                    demands,
                    parameters,
                }),
                None,
            ),
            ProposalKind::Priority { options } => {
                (KindName::Priority, None, Some(PriorityRepr { options }))
            }
            ProposalKind::Resolution => (KindName::Resolution, None, None),
        };
        SpecRepr {
            title: s.title,
            description: s.description,
            kind,
            mandate,
            priority,
            electorate: s.electorate,
            opens_at: s.opens_at,
            closes_at: s.closes_at,
        }
    }
}

impl ProposalSpec {
    pub fn validate(&self) -> Result<(), ProposalError> {
        text("title", &self.title, 200)?;
        if !super::is_plain_text(&self.description, true) {
            return Err(ProposalError::ControlCharacters("description"));
        }
        if self.description.chars().count() > 20_000 {
            return Err(ProposalError::Text {
                field: "description",
                max: 20_000,
            });
        }
        self.kind.validate()?;
        self.electorate.validate()?;
        if self.closes_at <= self.opens_at
            || self.closes_at - self.opens_at > Duration::days(MAX_VOTING_DAYS)
        {
            return Err(ProposalError::BadWindow);
        }
        Ok(())
    }
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), ProposalError> {
    let n = value.trim().chars().count();
    if n == 0 || n > max || value.chars().any(char::is_control) {
        return Err(ProposalError::Text { field, max });
    }
    Ok(())
}

fn unique<'a>(ids: impl Iterator<Item = &'a Ident>) -> Result<(), ProposalError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(ProposalError::DuplicateIdentifier(id.to_string()));
        }
    }
    Ok(())
}

/// One eligible member as frozen in the voter roll when the proposal opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollEntry {
    pub member: Uuid,
    pub bg_number: u32,
    pub weight: u64,
    pub sectors: Vec<Sector>,
    pub chamber: String,
}

/// A member of the cooperative on the opening day that is not on the roll, and why:
/// listed in the frozen document so that an auditor can check from the log that the
/// roll leaves out no member without a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotOnRoll {
    pub member: Uuid,
    pub bg_number: u32,
    pub reason: Exclusion,
    /// The board's sectors at opening.
    pub sectors: Vec<Sector>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Exclusion {
    /// Suspended: keeps its membership but may not vote.
    #[serde(rename = "suspended")]
    Suspended,
    /// In none of the proposal's sectors.
    #[serde(rename = "other-sectors")]
    OtherSectors,
}

/// A member's vote on a mandate or a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    Yes,
    No,
    Abstain,
}

/// What a ballot says. The shape depends on the proposal's kind:
/// `{"vote":"yes","parameters":{"max-increase":300}}` for a mandate (parameters only
/// with yes, and then all of them), `{"vote":"no"}` for a resolution, and
/// `{"ranking":["devices","connectivity"]}` for a priority (most preferred first;
/// options left out rank below all ranked ones; an empty ranking abstains).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Choice {
    Vote {
        vote: Vote,
        #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
        parameters: std::collections::BTreeMap<Ident, i64>,
    },
    Ranking {
        ranking: Vec<Ident>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("a {0} takes a choice of the form {1}")]
    WrongShape(&'static str, &'static str),
    #[error("a yes vote on this mandate must give a value for parameter {0:?}")]
    MissingParameter(String),
    #[error("parameter values are given only with a yes vote")]
    ParametersWithoutYes,
    #[error("unknown parameter {0:?}")]
    UnknownParameter(String),
    #[error("parameter {name:?} must be between {min} and {max}, got {value}")]
    OutOfRange {
        name: String,
        value: i64,
        min: i64,
        max: i64,
    },
    #[error("unknown option {0:?}")]
    UnknownOption(String),
    #[error("option {0:?} is ranked twice")]
    RankedTwice(String),
}

impl Choice {
    /// Checks that the choice fits the proposal: known options, values in range.
    pub fn validate(&self, kind: &ProposalKind) -> Result<(), ChoiceError> {
        match (kind, self) {
            (ProposalKind::Resolution, Choice::Vote { parameters, .. }) => {
                match parameters.keys().next() {
                    Some(name) => Err(ChoiceError::UnknownParameter(name.to_string())),
                    None => Ok(()),
                }
            }
            (
                ProposalKind::Mandate {
                    parameters: declared,
                    ..
                },
                Choice::Vote { vote, parameters },
            ) => {
                if let Some(unknown) = parameters
                    .keys()
                    .find(|k| !declared.iter().any(|p| &p.name == *k))
                {
                    return Err(ChoiceError::UnknownParameter(unknown.to_string()));
                }
                if *vote != Vote::Yes {
                    return match parameters.is_empty() {
                        true => Ok(()),
                        false => Err(ChoiceError::ParametersWithoutYes),
                    };
                }
                for p in declared {
                    let value = *parameters
                        .get(&p.name)
                        .ok_or_else(|| ChoiceError::MissingParameter(p.name.to_string()))?;
                    if value < p.min || value > p.max {
                        return Err(ChoiceError::OutOfRange {
                            name: p.name.to_string(),
                            value,
                            min: p.min,
                            max: p.max,
                        });
                    }
                }
                Ok(())
            }
            (ProposalKind::Priority { options }, Choice::Ranking { ranking }) => {
                let mut seen = BTreeSet::new();
                for id in ranking {
                    if !options.iter().any(|o| &o.id == id) {
                        return Err(ChoiceError::UnknownOption(id.to_string()));
                    }
                    if !seen.insert(id) {
                        return Err(ChoiceError::RankedTwice(id.to_string()));
                    }
                }
                Ok(())
            }
            (ProposalKind::Priority { .. }, _) => Err(ChoiceError::WrongShape(
                "priority",
                r#"{"ranking":[option ids, most preferred first]}"#,
            )),
            (ProposalKind::Mandate { .. }, _) => Err(ChoiceError::WrongShape(
                "mandate",
                r#"{"vote":"yes"|"no"|"abstain","parameters":{...}}"#,
            )),
            (ProposalKind::Resolution, _) => Err(ChoiceError::WrongShape(
                "resolution",
                r#"{"vote":"yes"|"no"|"abstain"}"#,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fractions_parse_strictly_and_compare_exactly() {
        assert_eq!(
            "2/3".parse::<Fraction>().unwrap(),
            Fraction::new(2, 3).unwrap()
        );
        for bad in ["", "1", "3/2", "1/0", "-1/2", "0.5", "1 /2", "+1/2"] {
            assert!(bad.parse::<Fraction>().is_err(), "{bad}");
        }
        let two_thirds = Fraction::new(2, 3).unwrap();
        assert!(two_thirds.reached_by(2, 3));
        assert!(!two_thirds.exceeded_by(2, 3));
        assert!(!two_thirds.reached_by(666_666, 1_000_000));
    }

    #[test]
    fn majorities_at_their_thresholds() {
        let simple = Majority::simple();
        assert!(!simple.carried(1, 1), "a tie is not more than half");
        assert!(simple.carried(2, 1));
        assert!(!simple.carried(0, 0), "nothing carries without votes");
        let qualified = Majority {
            kind: MajorityKind::AtLeast,
            fraction: Fraction::new(2, 3).unwrap(),
        };
        assert!(qualified.carried(2, 1), "exactly 2/3 carries");
        assert!(!qualified.carried(199, 101));
    }

    fn mandate() -> ProposalKind {
        serde_json::from_value(json!({
            "kind": "mandate", "supplier": "Iddink", "product": "Magister",
            "demands": {"modular_licensing": ["roosters"], "privacy": {"model_dpa_version": "4.0", "data_location": "EU", "no_secondary_use": true, "sub_processors_listed": true}},
            "parameters": [{"name": "max-increase", "label": "Maximum price increase", "unit": "basis-points", "min": 0, "max": 3000}]
        }))
        .unwrap()
    }

    #[test]
    fn choices_must_fit_the_proposal() {
        let kind = mandate();
        kind.validate().unwrap();
        let choice =
            |v: serde_json::Value| serde_json::from_value::<Choice>(v).unwrap().validate(&kind);
        assert_eq!(
            choice(json!({"vote": "yes", "parameters": {"max-increase": 300}})),
            Ok(())
        );
        assert_eq!(choice(json!({"vote": "no"})), Ok(()));
        assert_eq!(
            choice(json!({"vote": "yes"})),
            Err(ChoiceError::MissingParameter("max-increase".into()))
        );
        assert!(matches!(
            choice(json!({"vote": "yes", "parameters": {"max-increase": 3001}})),
            Err(ChoiceError::OutOfRange { .. })
        ));
        assert_eq!(
            choice(json!({"vote": "no", "parameters": {"max-increase": 1}})),
            Err(ChoiceError::ParametersWithoutYes)
        );
        assert!(matches!(
            choice(json!({"ranking": []})),
            Err(ChoiceError::WrongShape(..))
        ));

        let priority: ProposalKind = serde_json::from_value(json!({"kind": "priority", "options": [
            {"id": "devices", "label": "Devices"}, {"id": "connectivity", "label": "Connectivity"}]})).unwrap();
        let ranking = |v: serde_json::Value| {
            serde_json::from_value::<Choice>(v)
                .unwrap()
                .validate(&priority)
        };
        assert_eq!(ranking(json!({"ranking": ["connectivity"]})), Ok(()));
        assert_eq!(
            ranking(json!({"ranking": ["devices", "devices"]})),
            Err(ChoiceError::RankedTwice("devices".into()))
        );
        assert_eq!(
            ranking(json!({"ranking": ["books"]})),
            Err(ChoiceError::UnknownOption("books".into()))
        );
        assert!(serde_json::from_value::<Choice>(json!({"vote": "maybe"})).is_err());
    }

    #[test]
    fn the_roll_holds_active_members_of_the_sectors_with_their_weight() {
        use crate::domain::member::{
            BgNumber, ChamberRules, Member, MemberName, MemberStatus, SectorPupils,
        };
        let rules = ChamberRules::sivon();
        let member = |bg: i64, po, vo, status| {
            Member::new(
                BgNumber::new(bg).unwrap(),
                MemberName::new("x").unwrap(),
                SectorPupils::new(po, vo).unwrap(),
                status,
                &rules,
                Utc::now(),
            )
        };
        let members = [
            member(1, Some(800), None, MemberStatus::Active),
            member(2, None, Some(5000), MemberStatus::Active),
            member(3, Some(300), Some(200), MemberStatus::Active),
            member(4, Some(50), None, MemberStatus::Suspended),
        ];
        let mut electorate = Electorate {
            sectors: [Sector::Po].into(),
            weighting: Weighting::Pupils,
            quorum: Fraction::new(1, 2).unwrap(),
            majority: Majority::simple(),
            chamber_rule: false,
        };
        let roll = electorate.roll(&members);
        let got: Vec<(u32, u64, &str)> = roll
            .iter()
            .map(|r| (r.bg_number, r.weight, r.chamber.as_str()))
            .collect();
        // Board 3 weighs only its PO pupils on a PO proposal; board 4 is suspended.
        assert_eq!(got, vec![(1, 800, "small"), (3, 300, "combined")]);
        electorate.sectors = [Sector::Po, Sector::Vo].into();
        electorate.weighting = Weighting::OneMemberOneVote;
        let weights: Vec<u64> = electorate.roll(&members).iter().map(|r| r.weight).collect();
        assert_eq!(weights, vec![1, 1, 1]);
    }

    #[test]
    fn specs_validate_windows_and_identifiers() {
        let now = Utc::now();
        let mut spec = ProposalSpec {
            title: "Magister 2027".into(),
            description: String::new(),
            kind: ProposalKind::Resolution,
            electorate: Electorate {
                sectors: [Sector::Po].into(),
                weighting: Weighting::OneMemberOneVote,
                quorum: Fraction::new(1, 2).unwrap(),
                majority: Majority::simple(),
                chamber_rule: false,
            },
            opens_at: now,
            closes_at: now + Duration::days(30),
        };
        assert_eq!(spec.validate(), Ok(()));
        spec.closes_at = now + Duration::days(30) + Duration::seconds(1);
        assert_eq!(spec.validate(), Err(ProposalError::BadWindow));
        spec.closes_at = now;
        assert_eq!(spec.validate(), Err(ProposalError::BadWindow));
        assert!(Ident::try_from("Devices".to_owned()).is_err());
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["kind"], "resolution");
        assert_eq!(
            serde_json::from_value::<ProposalSpec>(json.clone()).unwrap(),
            spec
        );
        let mut mixed = json;
        mixed["priority"] = json!({"options": []});
        assert!(serde_json::from_value::<ProposalSpec>(mixed).is_err());
        let dup: ProposalKind = serde_json::from_value(json!({"kind": "priority", "options": [
            {"id": "a", "label": "A"}, {"id": "a", "label": "B"}]}))
        .unwrap();
        assert_eq!(
            dup.validate(),
            Err(ProposalError::DuplicateIdentifier("a".into()))
        );
    }
}
