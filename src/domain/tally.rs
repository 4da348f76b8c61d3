//! The count: a pure function of a frozen proposal and its accepted events, so that an
//! auditor holding the same inputs recomputes exactly the same result. Integers only:
//! every threshold is compared by cross-multiplication, never by division.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::member::Sector;
use super::proposal::{
    Choice, Electorate, Fraction, Ident, Majority, PriorityOption, ProposalKind, RollEntry, Vote,
    Weighting,
};

/// An accepted event of an open proposal, in log order; `index` is its position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A ballot cast by `voter` for `for_member` (itself, or its proxy grantor).
    Ballot {
        index: u64,
        voter: Uuid,
        for_member: Uuid,
        choice: Choice,
    },
    ProxyGranted {
        index: u64,
        grantor: Uuid,
        holder: Uuid,
    },
    ProxyRevoked {
        index: u64,
        grantor: Uuid,
    },
}

impl Event {
    pub fn index(&self) -> u64 {
        match self {
            Event::Ballot { index, .. }
            | Event::ProxyGranted { index, .. }
            | Event::ProxyRevoked { index, .. } => *index,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Count {
    pub members: u64,
    pub weight: u64,
}

impl Count {
    fn add(&mut self, weight: u64) {
        self.members += 1;
        // Weights are pupil counts (≤ 2·10^7 per member): u64 cannot overflow in practice,
        // and saturating keeps release builds from wrapping silently if it ever did.
        self.weight = self.weight.saturating_add(weight);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Adopted,
    Rejected,
    NoQuorum,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breakdown {
    pub eligible: Count,
    pub voted: Count,
    pub yes: Count,
    pub no: Count,
    pub abstain: Count,
    /// yes/no meets the proposal's majority within this group; None for a priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_favour: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuorumResult {
    pub required: Fraction,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MajorityResult {
    pub rule: Majority,
    pub carried: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChamberRuleResult {
    pub chambers_voted: u64,
    pub chambers_in_favour: u64,
    pub met: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterResult {
    pub name: Ident,
    pub unit: String,
    pub min: i64,
    pub max: i64,
    /// Lower weighted median of the values on counted yes ballots; None without yes
    /// ballots or when their total weight is 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreed: Option<i64>,
    pub values_given: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankedOption {
    pub id: Ident,
    /// 1-based; shared by options that tie (equal wins, neither beats the other).
    pub rank: u64,
    pub wins: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityResult {
    /// The options in declared order; the matrices use this order.
    pub options: Vec<Ident>,
    /// Most wins first; equal wins in declared order.
    pub ranking: Vec<RankedOption>,
    /// `pairwise[i][j]`: weight of the ballots preferring option i to option j.
    pub pairwise: Vec<Vec<u64>>,
    /// `strongest_paths[i][j]`: Schulze strength of the strongest path from i to j.
    pub strongest_paths: Vec<Vec<u64>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tally {
    /// "mandate", "priority" or "resolution".
    pub kind: String,
    pub weighting: Weighting,
    pub eligible: Count,
    pub voted: Count,
    /// For a priority: yes = ballots ranking something, no = 0, abstain = empty rankings.
    pub yes: Count,
    pub no: Count,
    pub abstain: Count,
    pub quorum: QuorumResult,
    /// None for a priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub majority: Option<MajorityResult>,
    /// Some only when the electorate has the chamber rule and this is not a priority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chamber_rule: Option<ChamberRuleResult>,
    pub outcome: Outcome,
    /// Every sector the proposal concerns; a member in several counts in each, fully.
    pub by_sector: BTreeMap<Sector, Breakdown>,
    /// Every chamber appearing in the roll.
    pub by_chamber: BTreeMap<String, Breakdown>,
    /// Mandate only, in declared order.
    pub parameters: Vec<ParameterResult>,
    /// Priority only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<PriorityResult>,
    /// Log indexes of the ballots that count, ascending, so an auditor can check that no
    /// superseded or ineligible ballot counted.
    pub counted: Vec<u64>,
}

/// Counts the accepted `events` (ascending `index`) of a proposal with this frozen kind,
/// electorate and voter roll.
pub fn tally(
    kind: &ProposalKind,
    electorate: &Electorate,
    roll: &[RollEntry],
    events: &[Event],
) -> Tally {
    debug_assert!(
        events.windows(2).all(|w| w[0].index() < w[1].index()),
        "events must come in ascending index"
    );
    let options: &[PriorityOption] = match kind {
        ProposalKind::Priority { options } => options,
        _ => &[],
    };
    let is_priority = matches!(kind, ProposalKind::Priority { .. });
    let index = OptionIndex::new(options);
    // A member listed twice must not count twice: the first entry stands.
    let mut position: HashMap<Uuid, usize> = HashMap::with_capacity(roll.len());
    let mut unique: Vec<&RollEntry> = Vec::with_capacity(roll.len());
    for entry in roll {
        if let Entry::Vacant(slot) = position.entry(entry.member) {
            slot.insert(unique.len());
            unique.push(entry);
        }
    }
    let roll = unique;
    let ballots = deciding_ballots(kind, &position, events);

    let group_majority = (!is_priority).then_some(electorate.majority);
    let mut total = Totals::default();
    let mut by_sector: BTreeMap<Sector, Totals> = electorate
        .sectors
        .iter()
        .map(|s| (*s, Totals::default()))
        .collect();
    let mut by_chamber: BTreeMap<String, Totals> = BTreeMap::new();
    for (entry, ballot) in roll.iter().zip(&ballots) {
        let mark = ballot.map(|(_, choice)| mark(&index, choice));
        total.add(entry.weight, mark);
        for (sector, totals) in &mut by_sector {
            if entry.sectors.contains(sector) {
                totals.add(entry.weight, mark);
            }
        }
        // Look up before inserting: a million roll members share a handful of chambers.
        match by_chamber.get_mut(&entry.chamber) {
            Some(totals) => totals.add(entry.weight, mark),
            None => by_chamber
                .entry(entry.chamber.clone())
                .or_default()
                .add(entry.weight, mark),
        }
    }

    let quorum = QuorumResult {
        required: electorate.quorum,
        met: quorum_met(electorate.quorum, total.voted, total.eligible),
    };
    let majority = group_majority.map(|rule| MajorityResult {
        rule,
        carried: total.carried(rule),
    });
    let chamber_rule = group_majority
        .filter(|_| electorate.chamber_rule)
        .map(|rule| {
            // Only chambers with a yes or no vote take part; abstaining chambers are neutral.
            let voted: Vec<&Totals> = by_chamber
                .values()
                .filter(|t| t.yes.members + t.no.members > 0)
                .collect();
            let in_favour = voted.iter().filter(|t| t.carried(rule)).count() as u64;
            let chambers_voted = voted.len() as u64;
            ChamberRuleResult {
                chambers_voted,
                chambers_in_favour: in_favour,
                met: 2 * in_favour > chambers_voted,
            }
        });
    let outcome = if !quorum.met {
        Outcome::NoQuorum
    } else if is_priority {
        if total.yes.members > 0 {
            Outcome::Adopted
        } else {
            Outcome::Rejected
        }
    } else if majority.as_ref().is_some_and(|m| m.carried)
        && chamber_rule.as_ref().is_none_or(|c| c.met)
    {
        Outcome::Adopted
    } else {
        Outcome::Rejected
    };

    let weighted = || roll.iter().map(|e| e.weight).zip(&ballots);
    let parameters = match kind {
        ProposalKind::Mandate { parameters, .. } => parameters
            .iter()
            .map(|p| {
                let values: Vec<(i64, u64)> = weighted()
                    .filter_map(|(w, b)| match b {
                        Some((
                            _,
                            Choice::Vote {
                                vote: Vote::Yes,
                                parameters,
                            },
                        )) => parameters.get(&p.name).map(|v| (*v, w)),
                        _ => None,
                    })
                    // Choices arrive validated; an out-of-range value is dropped, not
                    // trusted, so the agreed value always lies within [min, max].
                    .filter(|(v, _)| (p.min..=p.max).contains(v))
                    .collect();
                ParameterResult {
                    name: p.name.clone(),
                    unit: p.unit.clone(),
                    min: p.min,
                    max: p.max,
                    values_given: values.len() as u64,
                    agreed: lower_weighted_median(values),
                }
            })
            .collect(),
        _ => Vec::new(),
    };
    let priority = is_priority.then(|| {
        let rankings: Vec<(&[Ident], u64)> = weighted()
            .filter_map(|(w, b)| match b {
                Some((_, Choice::Ranking { ranking })) => Some((ranking.as_slice(), w)),
                _ => None,
            })
            .collect();
        schulze(options, &rankings)
    });

    let mut counted: Vec<u64> = ballots.iter().flatten().map(|(index, _)| *index).collect();
    counted.sort_unstable();
    Tally {
        kind: kind.name().to_owned(),
        weighting: electorate.weighting,
        eligible: total.eligible,
        voted: total.voted,
        yes: total.yes,
        no: total.no,
        abstain: total.abstain,
        quorum,
        majority,
        chamber_rule,
        outcome,
        by_sector: breakdowns(by_sector, group_majority),
        by_chamber: breakdowns(by_chamber, group_majority),
        parameters,
        priority,
        counted,
    }
}

/// Per roll member (`position`: member → its place in the roll, without repeats), the
/// ballot that decides its vote: its last own ballot, else the last proxy ballot that
/// was valid when cast, else none.
fn deciding_ballots<'a>(
    kind: &ProposalKind,
    position: &HashMap<Uuid, usize>,
    events: &'a [Event],
) -> Vec<Option<(u64, &'a Choice)>> {
    let mut own = vec![None; position.len()];
    let mut by_proxy = vec![None; position.len()];
    // grantor → holder; at most one active proxy per grantor.
    let mut proxies: BTreeMap<Uuid, Uuid> = BTreeMap::new();
    for event in events {
        match event {
            Event::ProxyGranted {
                grantor, holder, ..
            } => {
                proxies.insert(*grantor, *holder);
            }
            Event::ProxyRevoked { grantor, .. } => {
                proxies.remove(grantor);
            }
            Event::Ballot {
                index,
                voter,
                for_member,
                choice,
            } => {
                let Some(&i) = position.get(for_member) else {
                    continue;
                };
                // A wrong-shaped choice is treated as if never cast, so it cannot
                // supersede a valid earlier ballot either.
                if !fits(kind, choice) {
                    continue;
                }
                if voter == for_member {
                    own[i] = Some((*index, choice));
                } else if position.contains_key(voter) && proxies.get(for_member) == Some(voter) {
                    by_proxy[i] = Some((*index, choice));
                }
            }
        }
    }
    // The grantor's own ballot overrides its holder's, whatever the order.
    own.into_iter()
        .zip(by_proxy)
        .map(|(o, p)| o.or(p))
        .collect()
}

fn fits(kind: &ProposalKind, choice: &Choice) -> bool {
    matches!(
        (kind, choice),
        (ProposalKind::Priority { .. }, Choice::Ranking { .. })
            | (
                ProposalKind::Mandate { .. } | ProposalKind::Resolution,
                Choice::Vote { .. }
            )
    )
}

/// How a counted choice counts in yes/no/abstain: a ranking that ranks a known
/// option is a "yes", an empty one an abstention.
fn mark(index: &OptionIndex, choice: &Choice) -> Vote {
    match choice {
        Choice::Vote { vote, .. } => *vote,
        Choice::Ranking { ranking } if ranking.iter().any(|id| index.get(id).is_some()) => {
            Vote::Yes
        }
        Choice::Ranking { .. } => Vote::Abstain,
    }
}

/// Quorum: voted/eligible ≥ the fraction, by weight. When the eligible weight is 0
/// (e.g. pupil weighting and no pupils), weight cannot decide, so member counts do;
/// an empty roll never meets a quorum.
fn quorum_met(quorum: Fraction, voted: Count, eligible: Count) -> bool {
    if eligible.weight > 0 {
        quorum.reached_by(voted.weight.into(), eligible.weight.into())
    } else {
        eligible.members > 0 && quorum.reached_by(voted.members.into(), eligible.members.into())
    }
}

#[derive(Debug, Default)]
struct Totals {
    eligible: Count,
    voted: Count,
    yes: Count,
    no: Count,
    abstain: Count,
}

impl Totals {
    fn add(&mut self, weight: u64, mark: Option<Vote>) {
        self.eligible.add(weight);
        let Some(vote) = mark else { return };
        self.voted.add(weight);
        match vote {
            Vote::Yes => self.yes.add(weight),
            Vote::No => self.no.add(weight),
            Vote::Abstain => self.abstain.add(weight),
        }
    }

    fn carried(&self, majority: Majority) -> bool {
        majority.carried(self.yes.weight.into(), self.no.weight.into())
    }

    fn breakdown(self, majority: Option<Majority>) -> Breakdown {
        Breakdown {
            in_favour: majority.map(|m| self.carried(m)),
            eligible: self.eligible,
            voted: self.voted,
            yes: self.yes,
            no: self.no,
            abstain: self.abstain,
        }
    }
}

fn breakdowns<K: Ord>(
    groups: BTreeMap<K, Totals>,
    majority: Option<Majority>,
) -> BTreeMap<K, Breakdown> {
    groups
        .into_iter()
        .map(|(k, t)| (k, t.breakdown(majority)))
        .collect()
}

/// The smallest value v with 2 · (weight of values ≤ v) ≥ total weight: with an even
/// split the lower of the two middle values, so the mandate never exceeds what at
/// least half the yes weight accepted.
fn lower_weighted_median(mut values: Vec<(i64, u64)>) -> Option<i64> {
    let total: u128 = values.iter().map(|&(_, w)| u128::from(w)).sum();
    values.sort_unstable();
    let mut cumulative = 0u128;
    values.into_iter().find_map(|(v, w)| {
        cumulative += u128::from(w);
        (total > 0 && 2 * cumulative >= total).then_some(v)
    })
}

/// The Schulze method over weighted rankings (most preferred first; unranked options
/// tie below every ranked one; unknown or repeated ids are skipped).
fn schulze(options: &[PriorityOption], rankings: &[(&[Ident], u64)]) -> PriorityResult {
    let n = options.len();
    let d = pairwise(options, rankings);
    // Widest paths (Floyd–Warshall), starting from the pairwise wins only.
    let mut p = vec![vec![0u64; n]; n];
    for i in 0..n {
        for j in 0..n {
            if i != j && d[i][j] > d[j][i] {
                p[i][j] = d[i][j];
            }
        }
    }
    for k in 0..n {
        for i in (0..n).filter(|&i| i != k) {
            for j in (0..n).filter(|&j| j != k && j != i) {
                p[i][j] = p[i][j].max(p[i][k].min(p[k][j]));
            }
        }
    }
    let beats = |i: usize, j: usize| p[i][j] > p[j][i];
    let wins: Vec<u64> = (0..n)
        .map(|i| (0..n).filter(|&j| beats(i, j)).count() as u64)
        .collect();
    // Schulze's beat relation is transitive, so whoever beats an option also has more
    // wins: sorting by wins respects every beat. The stable sort keeps declared order
    // among equal wins (the documented tie-break).
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|a, b| wins[*b].cmp(&wins[*a]));
    let mut ranking: Vec<RankedOption> = Vec::with_capacity(n);
    for (place, &i) in order.iter().enumerate() {
        let rank = match (place.checked_sub(1).map(|q| order[q]), ranking.last()) {
            (Some(prev), Some(last))
                if wins[prev] == wins[i] && !beats(prev, i) && !beats(i, prev) =>
            {
                last.rank
            }
            _ => place as u64 + 1,
        };
        ranking.push(RankedOption {
            id: options[i].id.clone(),
            rank,
            wins: wins[i],
        });
    }
    PriorityResult {
        options: options.iter().map(|o| o.id.clone()).collect(),
        ranking,
        pairwise: d,
        strongest_paths: p,
    }
}

/// `d[i][j]`: the weight of the ballots preferring option i to option j, i.e. ranking
/// i before j, or ranking i and not j. Sums saturate, as weights are added one by one
/// (a saturating sum of non-negative weights does not depend on their order).
///
/// This is the tally's hot loop (a million ballots × n² pairs). Each ranking becomes
/// the options it ranks, in order (unknown ids skipped, a repeated id keeping its first
/// place), through an id index built once. Ranking r₀, r₁, … then adds its weight to
/// row r₀ in every column but r₀, to row r₁ in every column but r₀ and r₁, and so on:
/// a whole row at a time, without a comparison per pair.
fn pairwise(options: &[PriorityOption], rankings: &[(&[Ident], u64)]) -> Vec<Vec<u64>> {
    let n = options.len();
    let index = OptionIndex::new(options);
    let mut d = vec![0u64; n * n];
    // No sum can exceed the total weight: when that fits in a u64, plain additions
    // are exact and saturation never happens, so the rows need not check for it.
    match rankings
        .iter()
        .try_fold(0u64, |total, (_, weight)| total.checked_add(*weight))
    {
        Some(_) => accumulate(&mut d, &index, rankings, |cell, add| cell + add),
        None => accumulate(&mut d, &index, rankings, u64::saturating_add),
    }
    d.chunks(n.max(1)).take(n).map(<[u64]>::to_vec).collect()
}

/// Adds every ranking to the flat n × n matrix `d` with `plus`.
fn accumulate(
    d: &mut [u64],
    index: &OptionIndex,
    rankings: &[(&[Ident], u64)],
    plus: impl Fn(u64, u64) -> u64,
) {
    let n = index.len();
    // `ranked[i]`: option i already has its place in the current ranking.
    let mut ranked = vec![false; n];
    let mut order: Vec<usize> = Vec::with_capacity(n);
    // `add[j]`: the weight until option j's own row is reached, then 0; each row's
    // option is preferred to exactly the options whose rows are yet to come.
    let mut add = vec![0u64; n];
    for &(ranking, weight) in rankings {
        order.extend(ranking.iter().filter_map(|id| {
            let i = index.get(id)?;
            (!std::mem::replace(&mut ranked[i], true)).then_some(i)
        }));
        add.fill(weight);
        for &i in &order {
            ranked[i] = false;
            add[i] = 0;
            let row = &mut d[i * n..(i + 1) * n];
            for (cell, &a) in row.iter_mut().zip(&add) {
                *cell = plus(*cell, a);
            }
        }
        order.clear();
    }
}

/// Option ids to their positions in declared order; an id declared twice finds its
/// first option, as a linear search would. A small open-addressing table: the hash
/// only decides where an id is looked for, string equality decides whether it is
/// found, so the hash cannot change a count, only how fast it is found.
struct OptionIndex<'a> {
    options: &'a [PriorityOption],
    /// A power of two of slots, at least twice the options, so that every probe
    /// sequence ends at an empty slot.
    slots: Vec<Option<usize>>,
    /// `64 - log2(slots.len())`: a hash's top bits choose its first slot.
    shift: u32,
}

impl<'a> OptionIndex<'a> {
    fn new(options: &'a [PriorityOption]) -> Self {
        let size = (2 * options.len()).next_power_of_two().max(2);
        let mut index = OptionIndex {
            options,
            slots: vec![None; size],
            shift: 64 - size.trailing_zeros(),
        };
        for (i, option) in options.iter().enumerate() {
            if let Err(slot) = index.find(option.id.as_str()) {
                index.slots[slot] = Some(i);
            }
        }
        index
    }

    fn len(&self) -> usize {
        self.options.len()
    }

    fn get(&self, id: &Ident) -> Option<usize> {
        self.find(id.as_str()).ok()
    }

    /// The option with this id, or the empty slot where it would go.
    fn find(&self, id: &str) -> Result<usize, usize> {
        let mask = self.slots.len() - 1;
        let mut slot = (id_hash(id.as_bytes()) >> self.shift) as usize;
        loop {
            match self.slots[slot] {
                None => return Err(slot),
                Some(i) if self.options[i].id.as_str() == id => return Ok(i),
                Some(_) => slot = (slot + 1) & mask,
            }
        }
    }
}

/// A cheap hash of an option id (at most 40 bytes): its first and last eight bytes
/// (four, or single bytes, for shorter ids) and its length, through a folded multiply.
fn id_hash(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let (first, last) = if n >= 8 {
        let first = bytes
            .first_chunk::<8>()
            .map_or(0, |c| u64::from_le_bytes(*c));
        let last = bytes
            .last_chunk::<8>()
            .map_or(0, |c| u64::from_le_bytes(*c));
        (first, last)
    } else if n >= 4 {
        let first = bytes
            .first_chunk::<4>()
            .map_or(0, |c| u32::from_le_bytes(*c));
        let last = bytes
            .last_chunk::<4>()
            .map_or(0, |c| u32::from_le_bytes(*c));
        (u64::from(first), u64::from(last))
    } else {
        let byte = |k: usize| bytes.get(k).copied().map_or(0, u64::from);
        (
            byte(0) | byte(n / 2) << 8 | byte(n.wrapping_sub(1)) << 16,
            0,
        )
    };
    let product = u128::from(first ^ 0x243f_6a88_85a3_08d3)
        * u128::from(last ^ 0x1319_8a2e_0370_7344 ^ n as u64);
    (product >> 64) as u64 ^ product as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::proposal::{MajorityKind, Parameter};
    use serde_json::json;

    fn member(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn ident(s: &str) -> Ident {
        Ident::try_from(s.to_owned()).unwrap()
    }

    fn entry(n: u128, weight: u64, sectors: &[Sector], chamber: &str) -> RollEntry {
        RollEntry {
            member: member(n),
            bg_number: 10_000 + n as u32,
            weight,
            sectors: sectors.to_vec(),
            chamber: chamber.to_owned(),
        }
    }

    /// `n` PO members of weight 1, numbered 1..=n, all in chamber "small".
    fn plain_roll(n: u128) -> Vec<RollEntry> {
        (1..=n)
            .map(|i| entry(i, 1, &[Sector::Po], "small"))
            .collect()
    }

    fn electorate(quorum: &str, majority: Majority) -> Electorate {
        Electorate {
            sectors: [Sector::Po, Sector::Vo].into(),
            weighting: Weighting::OneMemberOneVote,
            quorum: quorum.parse().unwrap(),
            majority,
            chamber_rule: false,
        }
    }

    fn qualified() -> Majority {
        Majority {
            kind: MajorityKind::AtLeast,
            fraction: Fraction::new(2, 3).unwrap(),
        }
    }

    fn ballot(index: u64, voter: u128, for_member: u128, choice: Choice) -> Event {
        Event::Ballot {
            index,
            voter: member(voter),
            for_member: member(for_member),
            choice,
        }
    }

    fn vote(index: u64, who: u128, vote: Vote) -> Event {
        ballot(
            index,
            who,
            who,
            Choice::Vote {
                vote,
                parameters: BTreeMap::new(),
            },
        )
    }

    fn proxy_vote(index: u64, holder: u128, grantor: u128, vote: Vote) -> Event {
        ballot(
            index,
            holder,
            grantor,
            Choice::Vote {
                vote,
                parameters: BTreeMap::new(),
            },
        )
    }

    fn grant(index: u64, grantor: u128, holder: u128) -> Event {
        Event::ProxyGranted {
            index,
            grantor: member(grantor),
            holder: member(holder),
        }
    }

    fn yes_at(index: u64, who: u128, value: i64) -> Event {
        let parameters = [(ident("max-increase"), value)].into();
        ballot(
            index,
            who,
            who,
            Choice::Vote {
                vote: Vote::Yes,
                parameters,
            },
        )
    }

    fn rank(index: u64, who: u128, ids: &[&str]) -> Event {
        ballot(
            index,
            who,
            who,
            Choice::Ranking {
                ranking: ids.iter().map(|s| ident(s)).collect(),
            },
        )
    }

    fn count(members: u64, weight: u64) -> Count {
        Count { members, weight }
    }

    fn resolution(e: &Electorate, roll: &[RollEntry], events: &[Event]) -> Tally {
        tally(&ProposalKind::Resolution, e, roll, events)
    }

    fn mandate() -> ProposalKind {
        ProposalKind::Mandate {
            supplier: "Iddink".into(),
            product: "Magister".into(),
            demands: Default::default(),
            parameters: vec![Parameter {
                name: ident("max-increase"),
                label: "Maximum price increase".into(),
                unit: "basis-points".into(),
                min: 0,
                max: 3000,
            }],
        }
    }

    fn priority(ids: &[&str]) -> ProposalKind {
        ProposalKind::Priority {
            options: ids
                .iter()
                .map(|id| PriorityOption {
                    id: ident(id),
                    label: id.to_uppercase(),
                })
                .collect(),
        }
    }

    fn ranked(t: &Tally) -> Vec<(String, u64, u64)> {
        let p = t.priority.as_ref().unwrap();
        p.ranking
            .iter()
            .map(|r| (r.id.to_string(), r.rank, r.wins))
            .collect()
    }

    #[test]
    fn no_ballots_means_no_quorum_and_zero_quorum_still_needs_a_majority() {
        let roll = plain_roll(4);
        let t = resolution(&electorate("1/2", Majority::simple()), &roll, &[]);
        assert_eq!(t.outcome, Outcome::NoQuorum);
        assert_eq!(
            (t.eligible, t.voted, t.yes, t.no),
            (count(4, 4), count(0, 0), count(0, 0), count(0, 0))
        );
        assert!(t.counted.is_empty());
        assert_eq!(t.majority.map(|m| m.carried), Some(false));

        let t = resolution(&electorate("0/1", Majority::simple()), &roll, &[]);
        assert!(t.quorum.met);
        assert_eq!(
            t.outcome,
            Outcome::Rejected,
            "nothing carries without votes"
        );

        let empty = resolution(&electorate("0/1", Majority::simple()), &[], &[]);
        assert_eq!(
            empty.outcome,
            Outcome::NoQuorum,
            "an empty roll never meets a quorum"
        );
    }

    #[test]
    fn all_abstaining_meets_quorum_but_rejects() {
        let roll = plain_roll(3);
        let events: Vec<Event> = (1..=3).map(|i| vote(i as u64, i, Vote::Abstain)).collect();
        let t = resolution(&electorate("1/2", Majority::simple()), &roll, &events);
        assert!(t.quorum.met);
        assert_eq!(t.abstain, count(3, 3));
        assert_eq!(t.outcome, Outcome::Rejected);
    }

    #[test]
    fn quorum_is_met_exactly_at_the_fraction() {
        let roll = plain_roll(4);
        let e = electorate("1/2", Majority::simple());
        let at = resolution(
            &e,
            &roll,
            &[vote(1, 1, Vote::Yes), vote(2, 2, Vote::Abstain)],
        );
        assert!(at.quorum.met);
        assert_eq!(at.outcome, Outcome::Adopted);
        let below = resolution(&e, &roll, &[vote(1, 1, Vote::Yes)]);
        assert!(!below.quorum.met);
        assert_eq!(below.outcome, Outcome::NoQuorum);
    }

    #[test]
    fn quorum_falls_back_to_members_when_no_weight_is_eligible() {
        let roll: Vec<RollEntry> = (1..=4)
            .map(|i| entry(i, 0, &[Sector::Po], "small"))
            .collect();
        let e = electorate("1/2", Majority::simple());
        assert!(
            resolution(&e, &roll, &[vote(1, 1, Vote::Yes), vote(2, 2, Vote::Yes)])
                .quorum
                .met
        );
        assert!(!resolution(&e, &roll, &[vote(1, 1, Vote::Yes)]).quorum.met);
    }

    #[test]
    fn majorities_at_their_thresholds() {
        let roll = plain_roll(3);
        let events = [
            vote(1, 1, Vote::Yes),
            vote(2, 2, Vote::Yes),
            vote(3, 3, Vote::No),
        ];
        let t = resolution(&electorate("1/2", qualified()), &roll, &events);
        assert_eq!(
            t.outcome,
            Outcome::Adopted,
            "exactly 2/3 carries an at-least-2/3 majority"
        );

        let events = [
            vote(1, 1, Vote::Yes),
            vote(2, 2, Vote::No),
            vote(3, 3, Vote::Abstain),
        ];
        let t = resolution(&electorate("1/2", Majority::simple()), &roll, &events);
        assert_eq!(
            t.outcome,
            Outcome::Rejected,
            "a tie is not a simple majority"
        );
    }

    #[test]
    fn a_revote_replaces_the_earlier_ballot() {
        let roll = plain_roll(1);
        let t = resolution(
            &electorate("1/2", Majority::simple()),
            &roll,
            &[vote(1, 1, Vote::Yes), vote(2, 1, Vote::No)],
        );
        assert_eq!((t.yes, t.no), (count(0, 0), count(1, 1)));
        assert_eq!(t.counted, vec![2]);
        assert_eq!(t.outcome, Outcome::Rejected);
    }

    #[test]
    fn proxies_count_only_while_held_and_never_over_the_grantor() {
        let roll = plain_roll(3);
        let e = electorate("0/1", Majority::simple());
        let run = |events: &[Event]| {
            let t = resolution(&e, &roll, events);
            (t.yes.members, t.no.members, t.counted)
        };
        // A proxy ballot counts for the grantor, alongside the holder's own.
        assert_eq!(
            run(&[
                grant(1, 1, 2),
                proxy_vote(2, 2, 1, Vote::Yes),
                vote(3, 2, Vote::No)
            ]),
            (1, 1, vec![2, 3])
        );
        // The grantor's own ballot wins, cast before or after the holder's.
        assert_eq!(
            run(&[
                grant(1, 1, 2),
                vote(2, 1, Vote::No),
                proxy_vote(3, 2, 1, Vote::Yes)
            ]),
            (0, 1, vec![2])
        );
        assert_eq!(
            run(&[
                grant(1, 1, 2),
                proxy_vote(2, 2, 1, Vote::Yes),
                vote(3, 1, Vote::No)
            ]),
            (0, 1, vec![3])
        );
        // After revocation the former holder cannot vote for the grantor.
        let revoked = Event::ProxyRevoked {
            index: 2,
            grantor: member(1),
        };
        assert_eq!(
            run(&[grant(1, 1, 2), revoked, proxy_vote(3, 2, 1, Vote::Yes)]),
            (0, 0, vec![])
        );
        // Only the holder may use the proxy; a new grant replaces the old holder.
        assert_eq!(
            run(&[grant(1, 1, 2), proxy_vote(2, 3, 1, Vote::Yes)]),
            (0, 0, vec![])
        );
        assert_eq!(
            run(&[
                grant(1, 1, 2),
                grant(2, 1, 3),
                proxy_vote(3, 2, 1, Vote::Yes),
                proxy_vote(4, 3, 1, Vote::No)
            ]),
            (0, 1, vec![4])
        );
        // A ballot without any proxy, or for or by someone outside the roll, is ignored.
        assert_eq!(run(&[proxy_vote(1, 2, 1, Vote::Yes)]), (0, 0, vec![]));
        assert_eq!(run(&[vote(1, 9, Vote::Yes)]), (0, 0, vec![]));
        assert_eq!(
            run(&[grant(1, 9, 1), proxy_vote(2, 1, 9, Vote::Yes)]),
            (0, 0, vec![])
        );
        assert_eq!(
            run(&[grant(1, 1, 9), proxy_vote(2, 9, 1, Vote::Yes)]),
            (0, 0, vec![])
        );
    }

    #[test]
    fn a_member_listed_twice_counts_once_by_its_first_entry() {
        let roll = vec![
            entry(1, 5, &[Sector::Po], "small"),
            entry(2, 1, &[Sector::Po], "small"),
            entry(1, 100, &[Sector::Vo], "vo-large"),
        ];
        let events = [
            vote(1, 1, Vote::Yes),
            vote(2, 2, Vote::No),
            proxy_vote(3, 1, 2, Vote::Yes),
        ];
        let t = resolution(&electorate("1/2", Majority::simple()), &roll, &events);
        assert_eq!(
            (t.eligible, t.yes, t.no),
            (count(2, 6), count(1, 5), count(1, 1))
        );
        assert_eq!(t.counted, vec![1, 2]);
        assert_eq!(t.by_chamber.keys().collect::<Vec<_>>(), vec!["small"]);
        assert_eq!(t.by_sector[&Sector::Vo].eligible, count(0, 0));
    }

    #[test]
    fn wrongly_shaped_choices_are_ignored() {
        let roll = plain_roll(1);
        let t = resolution(
            &electorate("0/1", Majority::simple()),
            &roll,
            &[vote(1, 1, Vote::Yes), rank(2, 1, &["a"])],
        );
        assert_eq!((t.yes.members, t.counted.clone()), (1, vec![1]));
        let t = tally(
            &priority(&["a", "b"]),
            &electorate("0/1", Majority::simple()),
            &roll,
            &[vote(1, 1, Vote::Yes)],
        );
        assert_eq!((t.voted.members, t.outcome), (0, Outcome::Rejected));
    }

    #[test]
    fn weighting_by_pupils_can_turn_the_outcome() {
        let events = [
            vote(1, 1, Vote::Yes),
            vote(2, 2, Vote::No),
            vote(3, 3, Vote::No),
        ];
        let weights = [(1, 5_000), (2, 300), (3, 400)];
        let roll: Vec<RollEntry> = weights
            .iter()
            .map(|&(n, w)| entry(n, w, &[Sector::Po], "po-large"))
            .collect();
        let unweighted: Vec<RollEntry> = roll
            .iter()
            .map(|e| RollEntry {
                weight: 1,
                ..e.clone()
            })
            .collect();
        let mut e = electorate("1/2", Majority::simple());
        let by_members = resolution(&e, &unweighted, &events);
        assert_eq!(by_members.outcome, Outcome::Rejected);
        e.weighting = Weighting::Pupils;
        let by_pupils = resolution(&e, &roll, &events);
        assert_eq!(
            (by_pupils.yes, by_pupils.no),
            (count(1, 5_000), count(2, 700))
        );
        assert_eq!(by_pupils.outcome, Outcome::Adopted);
        assert_eq!(by_pupils.weighting, Weighting::Pupils);
    }

    #[test]
    fn the_chamber_rule_can_reject_what_the_votes_carry() {
        let roll = vec![
            entry(1, 1, &[Sector::Po], "po-large"),
            entry(2, 1, &[Sector::Po], "po-large"),
            entry(3, 1, &[Sector::Vo], "vo-large"),
            entry(4, 1, &[Sector::Po, Sector::Vo], "combined"),
            entry(5, 1, &[Sector::Po], "small"),
            entry(6, 1, &[Sector::Vo], "small"),
        ];
        let events = [
            vote(1, 1, Vote::Yes),
            vote(2, 2, Vote::Yes),
            vote(3, 3, Vote::Yes),
            vote(4, 4, Vote::No),
            vote(5, 5, Vote::No),
            vote(6, 6, Vote::Abstain),
        ];
        let mut e = electorate("1/2", Majority::simple());
        assert_eq!(resolution(&e, &roll, &events).outcome, Outcome::Adopted);
        e.chamber_rule = true;
        let t = resolution(&e, &roll, &events);
        assert_eq!(t.majority.as_ref().map(|m| m.carried), Some(true));
        assert_eq!(
            t.chamber_rule,
            Some(ChamberRuleResult {
                chambers_voted: 4,
                chambers_in_favour: 2,
                met: false
            })
        );
        assert_eq!(t.outcome, Outcome::Rejected);

        let small = &t.by_chamber["small"];
        assert_eq!(
            (small.eligible, small.voted, small.no, small.abstain),
            (count(2, 2), count(2, 2), count(1, 1), count(1, 1))
        );
        assert_eq!(small.in_favour, Some(false));
        assert_eq!(t.by_chamber["po-large"].yes, count(2, 2));
        assert_eq!(t.by_chamber["po-large"].in_favour, Some(true));
        assert_eq!(t.by_chamber.len(), 4);
        // Member 4 is in both sectors and counts fully in each.
        let po = &t.by_sector[&Sector::Po];
        assert_eq!(
            (po.eligible, po.yes, po.no, po.in_favour),
            (count(4, 4), count(2, 2), count(2, 2), Some(false))
        );
        let vo = &t.by_sector[&Sector::Vo];
        assert_eq!(
            (vo.eligible, vo.yes, vo.no, vo.abstain, vo.in_favour),
            (
                count(3, 3),
                count(1, 1),
                count(1, 1),
                count(1, 1),
                Some(false)
            )
        );

        // Only the sectors the proposal concerns are broken down.
        e.sectors = [Sector::Po].into();
        assert_eq!(
            resolution(&e, &roll, &events)
                .by_sector
                .keys()
                .collect::<Vec<_>>(),
            vec![&Sector::Po]
        );
    }

    #[test]
    fn lower_weighted_median_examples() {
        assert_eq!(
            lower_weighted_median(vec![(100, 1), (300, 1)]),
            Some(100),
            "an even split takes the lower"
        );
        assert_eq!(
            lower_weighted_median(vec![(300, 1), (200, 1), (100, 1)]),
            Some(200)
        );
        assert_eq!(lower_weighted_median(vec![(100, 10), (300, 1)]), Some(100));
        assert_eq!(lower_weighted_median(vec![(100, 1), (300, 10)]), Some(300));
        assert_eq!(
            lower_weighted_median(vec![(-5, 0), (100, 1), (300, 1)]),
            Some(100)
        );
        assert_eq!(lower_weighted_median(vec![(100, 0)]), None);
        assert_eq!(lower_weighted_median(vec![]), None);
    }

    #[test]
    fn mandate_parameters_take_the_weighted_median_of_counted_yes_ballots() {
        let roll = vec![
            entry(1, 100, &[Sector::Po], "small"),
            entry(2, 300, &[Sector::Po], "small"),
            entry(3, 150, &[Sector::Po], "small"),
            entry(4, 1_000, &[Sector::Po], "po-large"),
        ];
        let mut e = electorate("1/2", Majority::simple());
        e.weighting = Weighting::Pupils;
        let events = [
            yes_at(1, 1, 100),
            yes_at(2, 2, 2_000),
            yes_at(3, 2, 300), // replaces 2_000
            yes_at(4, 3, 200),
            vote(5, 4, Vote::No),
        ];
        let t = tally(&mandate(), &e, &roll, &events);
        let p = &t.parameters[0];
        assert_eq!(
            (p.name.as_str(), p.unit.as_str(), p.min, p.max),
            ("max-increase", "basis-points", 0, 3000)
        );
        // 100 (w100), 200 (w150), 300 (w300): half of 550 is reached only at 300.
        assert_eq!((p.agreed, p.values_given), (Some(300), 3));
        assert_eq!(t.outcome, Outcome::Rejected, "1000 no against 550 yes");
        assert_eq!(t.counted, vec![1, 3, 4, 5]);

        let none = tally(&mandate(), &e, &roll, &[vote(1, 4, Vote::No)]);
        assert_eq!(
            (none.parameters[0].agreed, none.parameters[0].values_given),
            (None, 0)
        );
        assert!(resolution(&e, &roll, &[]).parameters.is_empty());
    }

    #[test]
    fn schulze_reproduces_the_wikipedia_example() {
        let groups: [(u64, &[&str]); 8] = [
            (5, &["a", "c", "b", "e", "d"]),
            (5, &["a", "d", "e", "c", "b"]),
            (8, &["b", "e", "d", "a", "c"]),
            (3, &["c", "a", "b", "e", "d"]),
            (7, &["c", "a", "e", "b", "d"]),
            (2, &["c", "b", "a", "d", "e"]),
            (7, &["d", "c", "e", "b", "a"]),
            (8, &["e", "b", "a", "d", "c"]),
        ];
        let roll: Vec<RollEntry> = (0..8)
            .map(|i| entry(i + 1, groups[i as usize].0, &[Sector::Po], "small"))
            .collect();
        let events: Vec<Event> = groups
            .iter()
            .enumerate()
            .map(|(i, (_, r))| rank(i as u64 + 1, i as u128 + 1, r))
            .collect();
        let mut e = electorate("1/2", Majority::simple());
        e.weighting = Weighting::Pupils;
        let t = tally(&priority(&["a", "b", "c", "d", "e"]), &e, &roll, &events);
        let p = t.priority.as_ref().unwrap();
        assert_eq!(
            p.pairwise,
            vec![
                vec![0, 20, 26, 30, 22],
                vec![25, 0, 16, 33, 18],
                vec![19, 29, 0, 17, 24],
                vec![15, 12, 28, 0, 14],
                vec![23, 27, 21, 31, 0],
            ]
        );
        assert_eq!(
            p.strongest_paths,
            vec![
                vec![0, 28, 28, 30, 24],
                vec![25, 0, 28, 33, 24],
                vec![25, 29, 0, 29, 24],
                vec![25, 28, 28, 0, 24],
                vec![25, 28, 28, 31, 0],
            ]
        );
        assert_eq!(
            ranked(&t),
            vec![
                ("e".into(), 1, 4),
                ("a".into(), 2, 3),
                ("c".into(), 3, 2),
                ("b".into(), 4, 1),
                ("d".into(), 5, 0)
            ]
        );
        assert_eq!(
            (t.yes, t.no, t.abstain),
            (count(8, 45), count(0, 0), count(0, 0))
        );
        assert_eq!(
            (t.outcome, t.majority.clone(), t.chamber_rule.clone()),
            (Outcome::Adopted, None, None)
        );
        assert_eq!(t.by_sector[&Sector::Po].in_favour, None);
        assert_eq!(
            p.options,
            vec![ident("a"), ident("b"), ident("c"), ident("d"), ident("e")]
        );
    }

    #[test]
    fn schulze_finds_a_condorcet_winner() {
        let roll = plain_roll(3);
        let events = [
            rank(1, 1, &["b", "a", "c"]),
            rank(2, 2, &["b", "c", "a"]),
            rank(3, 3, &["a", "b", "c"]),
        ];
        let t = tally(
            &priority(&["a", "b", "c"]),
            &electorate("1/2", Majority::simple()),
            &roll,
            &events,
        );
        assert_eq!(
            ranked(&t),
            vec![("b".into(), 1, 2), ("a".into(), 2, 1), ("c".into(), 3, 0)]
        );
    }

    #[test]
    fn a_full_tie_shares_rank_one_in_declared_order() {
        let roll = plain_roll(2);
        let events = [rank(1, 1, &["y", "x"]), rank(2, 2, &["x", "y"])];
        let t = tally(
            &priority(&["y", "x"]),
            &electorate("1/2", Majority::simple()),
            &roll,
            &events,
        );
        assert_eq!(ranked(&t), vec![("y".into(), 1, 0), ("x".into(), 1, 0)]);
        assert_eq!(
            t.priority.as_ref().unwrap().strongest_paths,
            vec![vec![0, 0], vec![0, 0]]
        );
    }

    #[test]
    fn unranked_options_rank_below_ranked_ones_and_empty_rankings_abstain() {
        let roll = plain_roll(3);
        let events = [rank(1, 1, &["c"]), rank(2, 2, &["c", "b"]), rank(3, 3, &[])];
        let t = tally(
            &priority(&["a", "b", "c"]),
            &electorate("1/2", Majority::simple()),
            &roll,
            &events,
        );
        assert_eq!(
            ranked(&t),
            vec![("c".into(), 1, 2), ("b".into(), 2, 1), ("a".into(), 3, 0)]
        );
        let p = t.priority.as_ref().unwrap();
        assert_eq!(
            (p.pairwise[2][0], p.pairwise[1][0], p.pairwise[0][1]),
            (2, 1, 0)
        );
        assert_eq!(
            (t.yes, t.abstain, t.voted),
            (count(2, 2), count(1, 1), count(3, 3))
        );
        assert_eq!(t.outcome, Outcome::Adopted);

        let only_empty = tally(
            &priority(&["a", "b"]),
            &electorate("1/2", Majority::simple()),
            &roll,
            &[rank(1, 1, &[]), rank(2, 2, &[])],
        );
        assert_eq!(
            only_empty.outcome,
            Outcome::Rejected,
            "quorum met, but nothing ranked"
        );
    }

    /// The pairwise matrix as first written: a linear search per id and a comparison
    /// per pair. The fast version must agree with it on every input.
    fn pairwise_reference(
        options: &[PriorityOption],
        rankings: &[(&[Ident], u64)],
    ) -> Vec<Vec<u64>> {
        let n = options.len();
        let mut d = vec![vec![0u64; n]; n];
        for (ranking, weight) in rankings {
            let mut position: Vec<Option<usize>> = vec![None; n];
            for (place, id) in ranking.iter().enumerate() {
                if let Some(i) = options.iter().position(|o| &o.id == id) {
                    position[i].get_or_insert(place);
                }
            }
            for i in 0..n {
                for j in 0..n {
                    let prefers = match (position[i], position[j]) {
                        (Some(a), Some(b)) => a < b,
                        (Some(_), None) => true,
                        _ => false,
                    };
                    if prefers {
                        d[i][j] = d[i][j].saturating_add(*weight);
                    }
                }
            }
        }
        d
    }

    /// `schulze` as it was before the pairwise matrix was built from an id index, on
    /// top of `pairwise_reference`: the fast version must give the same result.
    fn schulze_reference(
        options: &[PriorityOption],
        rankings: &[(&[Ident], u64)],
    ) -> PriorityResult {
        let n = options.len();
        let d = pairwise_reference(options, rankings);
        let mut p = vec![vec![0u64; n]; n];
        for i in 0..n {
            for j in 0..n {
                if i != j && d[i][j] > d[j][i] {
                    p[i][j] = d[i][j];
                }
            }
        }
        for k in 0..n {
            for i in (0..n).filter(|&i| i != k) {
                for j in (0..n).filter(|&j| j != k && j != i) {
                    p[i][j] = p[i][j].max(p[i][k].min(p[k][j]));
                }
            }
        }
        let beats = |i: usize, j: usize| p[i][j] > p[j][i];
        let wins: Vec<u64> = (0..n)
            .map(|i| (0..n).filter(|&j| beats(i, j)).count() as u64)
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|a, b| wins[*b].cmp(&wins[*a]));
        let mut ranking: Vec<RankedOption> = Vec::with_capacity(n);
        for (place, &i) in order.iter().enumerate() {
            let rank = match (place.checked_sub(1).map(|q| order[q]), ranking.last()) {
                (Some(prev), Some(last))
                    if wins[prev] == wins[i] && !beats(prev, i) && !beats(i, prev) =>
                {
                    last.rank
                }
                _ => place as u64 + 1,
            };
            ranking.push(RankedOption {
                id: options[i].id.clone(),
                rank,
                wins: wins[i],
            });
        }
        PriorityResult {
            options: options.iter().map(|o| o.id.clone()).collect(),
            ranking,
            pairwise: d,
            strongest_paths: p,
        }
    }

    /// `mark` as first written: a linear search of the options per ranked id.
    fn mark_reference(options: &[PriorityOption], choice: &Choice) -> Vote {
        match choice {
            Choice::Vote { vote, .. } => *vote,
            Choice::Ranking { ranking }
                if ranking.iter().any(|id| options.iter().any(|o| &o.id == id)) =>
            {
                Vote::Yes
            }
            Choice::Ranking { .. } => Vote::Abstain,
        }
    }

    fn options_of(ids: &[String]) -> Vec<PriorityOption> {
        ids.iter()
            .map(|id| PriorityOption {
                id: ident(id),
                label: String::new(),
            })
            .collect()
    }

    /// Weights: mostly small, so that the total fits a u64 and the matrix is summed
    /// without saturation checks; sometimes near half of u64::MAX, so that totals
    /// just fit or just overflow; sometimes near u64::MAX, so that sums saturate.
    fn weight() -> impl proptest::strategy::Strategy<Value = u64> {
        proptest::prop_oneof![
            6 => 0u64..5,
            1 => (u64::MAX / 2 - 2)..=(u64::MAX / 2 + 2),
            2 => (u64::MAX - 3)..=u64::MAX,
        ]
    }

    proptest::proptest! {
        /// Options may repeat an id (a linear search finds the first), rankings may
        /// be empty or name unknown or repeated ids, and weights may saturate.
        #[test]
        fn pairwise_and_schulze_match_the_reference(
            option_ids in proptest::collection::vec(0u8..8, 0..12),
            ballots in proptest::collection::vec(
                (proptest::collection::vec(0u8..10, 0..12), weight()),
                0..16,
            ),
        ) {
            let option_ids: Vec<String> = option_ids.iter().map(|k| format!("o{k}")).collect();
            let options = options_of(&option_ids);
            let rankings: Vec<(Vec<Ident>, u64)> = ballots
                .iter()
                .map(|(ids, w)| (ids.iter().map(|k| ident(&format!("o{k}"))).collect(), *w))
                .collect();
            let borrowed: Vec<(&[Ident], u64)> =
                rankings.iter().map(|(r, w)| (r.as_slice(), *w)).collect();
            proptest::prop_assert_eq!(
                pairwise(&options, &borrowed),
                pairwise_reference(&options, &borrowed)
            );
            let fast = schulze(&options, &borrowed);
            let reference = schulze_reference(&options, &borrowed);
            proptest::prop_assert_eq!(
                serde_json::to_vec(&fast).unwrap(),
                serde_json::to_vec(&reference).unwrap()
            );
            proptest::prop_assert_eq!(fast, reference);
            for (ranking, _) in &rankings {
                let choice = Choice::Ranking { ranking: ranking.clone() };
                proptest::prop_assert_eq!(
                    mark(&OptionIndex::new(&options), &choice),
                    mark_reference(&options, &choice)
                );
            }
        }

        /// The id index finds every option at its first declaration and nothing else,
        /// for ids of every allowed length and option lists long enough to collide.
        #[test]
        fn the_option_index_finds_exactly_the_first_option_with_an_id(
            ids in proptest::collection::vec("[a-z0-9_-]{1,40}", 0..80),
            repeats in proptest::collection::vec(0usize..80, 0..20),
            others in proptest::collection::vec("[a-z0-9_-]{1,40}", 0..20),
        ) {
            let mut ids = ids;
            let extra: Vec<String> =
                repeats.iter().filter_map(|&k| ids.get(k).cloned()).collect();
            ids.extend(extra);
            let options = options_of(&ids);
            let index = OptionIndex::new(&options);
            proptest::prop_assert_eq!(index.len(), options.len());
            for id in ids.iter().chain(&others) {
                proptest::prop_assert_eq!(
                    index.get(&ident(id)),
                    options.iter().position(|o| o.id.as_str() == id)
                );
            }
        }
    }

    /// Weights summing to exactly u64::MAX are added without saturation checks; one
    /// more and the sums saturate; either way as the reference adds them.
    #[test]
    fn pairwise_at_the_edge_of_saturation() {
        let options = options_of(&["a".into(), "b".into(), "c".into()]);
        let (ab, ba) = ([ident("a"), ident("b")], [ident("b")]);
        for (w1, w2) in [(u64::MAX - 2, 1), (u64::MAX - 1, 1), (u64::MAX, u64::MAX)] {
            let rankings: [(&[Ident], u64); 3] = [(&ab, w1), (&ba, w2), (&[], 1)];
            assert_eq!(
                pairwise(&options, &rankings),
                pairwise_reference(&options, &rankings)
            );
        }
        let rankings: [(&[Ident], u64); 2] = [(&ab, u64::MAX - 1), (&ba, 1)];
        assert_eq!(
            pairwise(&options, &rankings),
            vec![
                vec![0, u64::MAX - 1, u64::MAX - 1],
                vec![1, 0, u64::MAX],
                vec![0, 0, 0]
            ]
        );
    }

    #[test]
    fn serialises_without_floats_in_kebab_case() {
        let roll = plain_roll(2);
        let t = resolution(&electorate("1/2", Majority::simple()), &roll, &[]);
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["kind"], json!("resolution"));
        assert_eq!(v["outcome"], json!("no-quorum"));
        assert_eq!(v["weighting"], json!("one-member-one-vote"));
        assert_eq!(v["quorum"], json!({"required": "1/2", "met": false}));
        assert_eq!(
            v["majority"]["rule"],
            json!({"kind": "more-than", "fraction": "1/2"})
        );
        assert_eq!(
            v["by_sector"]["PO"]["eligible"],
            json!({"members": 2, "weight": 2})
        );
        assert_eq!(v["by_sector"]["VO"]["in_favour"], json!(false));
        assert!(
            !serde_json::to_string(&t).unwrap().contains('.'),
            "no floats"
        );
    }

    /// A stored or certified tally reads back into the same `Tally`, and a tally with a
    /// member this version does not know is refused rather than silently dropped.
    #[test]
    fn tallies_read_back_exactly() {
        let events = [rank(1, 1, &["b", "a"]), rank(2, 2, &["a"]), rank(3, 3, &[])];
        let t = tally(
            &priority(&["a", "b", "c"]),
            &electorate("1/2", Majority::simple()),
            &plain_roll(3),
            &events,
        );
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(serde_json::from_value::<Tally>(json.clone()).unwrap(), t);
        let mut extra = json;
        extra["surprise"] = serde_json::json!(1);
        assert!(serde_json::from_value::<Tally>(extra).is_err());
    }
}
