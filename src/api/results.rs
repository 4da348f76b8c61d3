//! Results for the sector councils (and boards, auditors, admins): every closed or
//! final proposal, never one that is still open.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::param::Query;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::types::Any;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::members::SectorDto;
use super::problem::{OpResult, ReadQueryRestricted};
use super::proposals::{KindDto, StatusDto};
use super::{ApiTags, Credentials, State};
use crate::domain::tally::{Breakdown, Count, Outcome, PriorityResult};
use crate::error::Error;
use crate::service::voting::{self, Proposal};

pub struct ResultsApi;

/// The result of one closed or final proposal.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ProposalResult", skip_serializing_if_is_none)]
pub struct ResultDto {
    pub proposal: Uuid,
    pub title: String,
    pub kind: KindDto,
    pub status: StatusDto,
    /// SHA-256 of the frozen proposal document the ballots were cast on.
    pub digest: String,
    pub closed_at: DateTime<Utc>,
    /// `adopted`, `rejected` or `no-quorum`.
    pub outcome: String,
    /// The requested sector, when one was given (a council's always is).
    pub sector: Option<SectorDto>,
    /// That sector's breakdown from the tally.
    pub sector_breakdown: Option<Any<serde_json::Value>>,
    /// The full tally (docs/voting.md), as certified.
    pub tally: Any<serde_json::Value>,
}

#[derive(ApiResponse)]
enum Csv {
    /// One row per result; columns as documented in docs/voting.md.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Ok(PlainText<String>),
}

fn kind_of(p: &Proposal) -> KindDto {
    match p.spec.kind {
        crate::domain::proposal::ProposalKind::Mandate { .. } => KindDto::Mandate,
        crate::domain::proposal::ProposalKind::Priority { .. } => KindDto::Priority,
        crate::domain::proposal::ProposalKind::Resolution => KindDto::Resolution,
    }
}

fn closed_at(p: &Proposal) -> Result<DateTime<Utc>, Error> {
    p.row
        .closed_at
        .ok_or_else(|| Error::Corrupt(format!("closed proposal {} has no closing time", p.row.id)))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Results")]
impl ResultsApi {
    /// Results of closed and final proposals, newest first. A council sees its own
    /// sector's; a board those it was eligible for; auditors and admins all.
    #[oai(path = "/results", method = "get")]
    async fn results(
        &self,
        state: Data<&State>,
        auth: Credentials,
        sector: Query<Option<SectorDto>>,
    ) -> OpResult<Json<Vec<ResultDto>>, ReadQueryRestricted> {
        let who = state.authenticate(&auth).await?;
        let (sector, rows) =
            voting::results_for(&state.store, &state.voting, &who, sector.0.map(Into::into))
                .await?;
        let mut out = Vec::new();
        for (p, tally) in rows {
            let breakdown = sector
                .and_then(|s| tally.by_sector.get(&s))
                .map(|b| serde_json::to_value(b).map(Any))
                .transpose()
                .map_err(Error::internal)?;
            out.push(ResultDto {
                proposal: p.row.id,
                title: p.row.title.clone(),
                kind: kind_of(&p),
                status: p.status.into(),
                digest: p.row.digest.clone().unwrap_or_default(),
                closed_at: closed_at(&p)?,
                outcome: outcome_name(tally.outcome).to_owned(),
                sector: sector.map(Into::into),
                sector_breakdown: breakdown,
                tally: Any(serde_json::to_value(&tally).map_err(Error::internal)?),
            });
        }
        Ok(Json(out))
    }

    /// The same results as CSV, one row per proposal.
    #[oai(path = "/results.csv", method = "get")]
    async fn results_csv(
        &self,
        state: Data<&State>,
        auth: Credentials,
        sector: Query<Option<SectorDto>>,
    ) -> OpResult<Csv, ReadQueryRestricted> {
        let who = state.authenticate(&auth).await?;
        let (sector, rows) =
            voting::results_for(&state.store, &state.voting, &who, sector.0.map(Into::into))
                .await?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| Error::Corrupt(format!("writing CSV: {e}"));
        csv.write_record(CSV_HEADER).map_err(csv_err)?;
        for (p, tally) in rows {
            let number = |n: u64| n.to_string();
            let in_sector = |group: fn(&Breakdown) -> Count| {
                sector
                    .and_then(|s| tally.by_sector.get(&s))
                    .map(|b| number(group(b).weight))
                    .unwrap_or_default()
            };
            let parameters: Vec<String> = tally
                .parameters
                .iter()
                .map(|p| match p.agreed {
                    Some(value) => format!("{}={value}", p.name),
                    None => format!("{}=", p.name),
                })
                .collect();
            csv.write_record([
                p.row.id.to_string(),
                spreadsheet_safe(p.row.title.clone()),
                p.spec.kind.name().to_owned(),
                p.status.as_str().to_owned(),
                closed_at(&p)?.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                outcome_name(tally.outcome).to_owned(),
                tally.quorum.met.to_string(),
                number(tally.eligible.members),
                number(tally.eligible.weight),
                number(tally.voted.members),
                number(tally.voted.weight),
                number(tally.yes.weight),
                number(tally.no.weight),
                number(tally.abstain.weight),
                sector.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                in_sector(|b| b.eligible),
                in_sector(|b| b.voted),
                in_sector(|b| b.yes),
                in_sector(|b| b.no),
                in_sector(|b| b.abstain),
                spreadsheet_safe(parameters.join(";")),
                spreadsheet_safe(
                    tally
                        .priority
                        .as_ref()
                        .map(ranking_cell)
                        .unwrap_or_default(),
                ),
            ])
            .map_err(csv_err)?;
        }
        let bytes = csv
            .into_inner()
            .map_err(|e| Error::Corrupt(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Corrupt(e.to_string()))?;
        Ok(Csv::Ok(PlainText(text)))
    }
}

/// The ranking as `a=b>c`: options in ranking order, `>` between ranks and `=` between
/// options that share one, so a tie is visible.
fn ranking_cell(priority: &PriorityResult) -> String {
    let mut cell = String::new();
    let mut previous = None;
    for option in &priority.ranking {
        match previous {
            None => {}
            Some(rank) if rank == option.rank => cell.push('='),
            Some(_) => cell.push('>'),
        }
        cell.push_str(&option.id.to_string());
        previous = Some(option.rank);
    }
    cell
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Adopted => "adopted",
        Outcome::Rejected => "rejected",
        Outcome::NoQuorum => "no-quorum",
    }
}

/// A text cell that a spreadsheet would read as a formula (it begins with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'`, as OWASP recommends
/// against CSV injection. Numeric columns never pass through here: a count such as
/// `-3` is a number, not a formula, and stays as it is.
pub fn spreadsheet_safe(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

pub const CSV_HEADER: [&str; 22] = [
    "proposal",
    "title",
    "kind",
    "status",
    "closed_at",
    "outcome",
    "quorum_met",
    "eligible_members",
    "eligible_weight",
    "voted_members",
    "voted_weight",
    "yes_weight",
    "no_weight",
    "abstain_weight",
    "sector",
    "sector_eligible_weight",
    "sector_voted_weight",
    "sector_yes_weight",
    "sector_no_weight",
    "sector_abstain_weight",
    "agreed_parameters",
    "ranking",
];

#[cfg(test)]
mod tests {
    use super::spreadsheet_safe;

    #[test]
    fn formula_cells_are_neutralised() {
        for cell in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_safe(cell.into()), format!("'{cell}"));
        }
        for cell in ["", "Laptops 2027", "a=b", "'quoted"] {
            assert_eq!(spreadsheet_safe(cell.into()), cell);
        }
    }
}
