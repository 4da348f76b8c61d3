//! Schemas of the bodies whose types live outside the API layer: the tally
//! (`crate::domain::tally`, docs/voting.md §6.1), and the audit bundle
//! (`crate::audit::bundle`, docs/audit.md §6). poem-openapi derives nothing for them,
//! so the operations that send them said `{}`.
//!
//! Design choice: the schemas are written here as JSON, added to
//! `components.schemas` and pointed at from the operations and properties that said
//! `{}`, instead of mirroring the fourteen types with poem-openapi `Object` derives in
//! the API layer. The domain stays free of HTTP types either way; but a mirror would
//! be a second set of Rust types with conversions to keep equal to the first (and
//! would still need this file's refinements for the patterns, the sector-keyed maps
//! and `additionalProperties: false`), whereas this is one description beside the
//! other refinements of the document. The serde types stay the one source of truth:
//! the tests below serialise real tallies and bundles and validate them against the
//! schemas as the generated document carries them, and check that an extra or a
//! missing member fails, so a field added to a type without its schema (or the
//! reverse) fails a unit test.

use serde_json::{Map, Value, json};

use super::{B64URL_32_BYTES, FRACTION, HEX_SHA256, IDENT, ONE_LINE};
use crate::audit::bundle::BUNDLE_FORMAT;
use crate::domain::member::Sector;
use crate::domain::statement::MAX_SAFE_INTEGER;

/// Unpadded base64url of any number of bytes (at least one): never a length of 1
/// modulo 4.
const B64URL: &str = "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$";
/// A C2SP signed-note key name (and so a log origin): no whitespace, controls or `+`.
const NOTE_NAME: &str = "[^+\\s\\u0000-\\u001F\\u007F-\\u009F]+";

/// `#/components/schemas/{name}`.
fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn uint() -> Value {
    json!({"type": "integer", "format": "uint64", "minimum": 0})
}

/// A parameter's value: a mandate's bounds are safe integers (`ProposalKind::validate`)
/// and its agreed value lies between them.
fn safe_int() -> Value {
    json!({
        "type": "integer",
        "format": "int64",
        "minimum": -MAX_SAFE_INTEGER,
        "maximum": MAX_SAFE_INTEGER,
    })
}

fn described(mut schema: Value, description: &str) -> Value {
    if let Some(map) = schema.as_object_mut() {
        if map.contains_key("$ref") {
            // OpenAPI 3.0 ignores siblings of `$ref`; poem-openapi wraps it the same way.
            return json!({"allOf": [schema], "description": description});
        }
        map.insert("description".into(), Value::String(description.into()));
    }
    schema
}

/// A closed object: every member listed, `required` those always sent, nothing else
/// allowed (the types deserialise with `deny_unknown_fields`). Optional members are
/// absent when they do not apply, never `null`.
fn object(title: &str, description: &str, members: &[(&str, bool, Value)]) -> Value {
    let properties: Map<String, Value> = members
        .iter()
        .map(|(name, _, schema)| ((*name).to_owned(), schema.clone()))
        .collect();
    let required: Vec<&str> = members
        .iter()
        .filter(|(_, required, _)| *required)
        .map(|(name, _, _)| *name)
        .collect();
    json!({
        "title": title,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// Every sector, as the domain spells it on the wire (`"PO"`, `"VO"`).
fn sectors() -> [Sector; 2] {
    // A new sector fails to compile here until it is listed below.
    let listed = |s: Sector| match s {
        Sector::Po | Sector::Vo => s,
    };
    [listed(Sector::Po), listed(Sector::Vo)]
}

/// The schemas this module adds to `components.schemas`, by name.
pub(super) fn schemas() -> Vec<(&'static str, Value)> {
    const REQUIRED: bool = true;
    const OPTIONAL: bool = false;
    let count = |what: &str| described(schema_ref("Count"), what);
    let by_sector: Map<String, Value> = sectors()
        .into_iter()
        .map(|s| (s.as_str().to_owned(), schema_ref("Breakdown")))
        .collect();
    vec![
        (
            "Count",
            object(
                "Count",
                "A number of members and their total weight.",
                &[("members", REQUIRED, uint()), ("weight", REQUIRED, uint())],
            ),
        ),
        (
            "Outcome",
            json!({
                "type": "string",
                "enum": ["adopted", "rejected", "no-quorum"],
                "description": "`no-quorum` when the quorum is not met; otherwise `adopted` \
                    or `rejected` (docs/voting.md §6).",
            }),
        ),
        (
            "Breakdown",
            object(
                "Breakdown",
                "The counts within one sector or one chamber.",
                &[
                    ("eligible", REQUIRED, count("On the roll.")),
                    ("voted", REQUIRED, count("With a counted ballot.")),
                    ("yes", REQUIRED, schema_ref("Count")),
                    ("no", REQUIRED, schema_ref("Count")),
                    ("abstain", REQUIRED, schema_ref("Count")),
                    (
                        "in_favour",
                        OPTIONAL,
                        json!({
                            "type": "boolean",
                            "description": "Whether yes/no meets the proposal's majority \
                                within this group; absent for a priority.",
                        }),
                    ),
                ],
            ),
        ),
        (
            "QuorumResult",
            object(
                "QuorumResult",
                "The quorum required and whether it was met.",
                &[
                    (
                        "required",
                        REQUIRED,
                        json!({"type": "string", "pattern": FRACTION,
                            "description": "An exact fraction \"n/d\"."}),
                    ),
                    ("met", REQUIRED, json!({"type": "boolean"})),
                ],
            ),
        ),
        (
            "MajorityResult",
            object(
                "MajorityResult",
                "The majority rule and whether the votes carried it.",
                &[
                    ("rule", REQUIRED, schema_ref("Majority")),
                    ("carried", REQUIRED, json!({"type": "boolean"})),
                ],
            ),
        ),
        (
            "ChamberRuleResult",
            object(
                "ChamberRuleResult",
                "The chamber rule: met when more than half of the chambers that voted \
                 yes or no are in favour.",
                &[
                    ("chambers_voted", REQUIRED, uint()),
                    ("chambers_in_favour", REQUIRED, uint()),
                    ("met", REQUIRED, json!({"type": "boolean"})),
                ],
            ),
        ),
        (
            "ParameterResult",
            object(
                "ParameterResult",
                "A mandate parameter and the value agreed for it.",
                &[
                    (
                        "name",
                        REQUIRED,
                        json!({"type": "string", "pattern": IDENT}),
                    ),
                    (
                        "unit",
                        REQUIRED,
                        json!({"type": "string", "minLength": 1, "pattern": ONE_LINE}),
                    ),
                    ("min", REQUIRED, safe_int()),
                    ("max", REQUIRED, safe_int()),
                    (
                        "agreed",
                        OPTIONAL,
                        described(
                            safe_int(),
                            "The lower weighted median of the values on counted yes \
                             ballots; absent when none gave one with weight.",
                        ),
                    ),
                    (
                        "values_given",
                        REQUIRED,
                        described(uint(), "How many values the median was taken over."),
                    ),
                ],
            ),
        ),
        (
            "RankedOption",
            object(
                "RankedOption",
                "An option's place in a priority's ranking.",
                &[
                    ("id", REQUIRED, json!({"type": "string", "pattern": IDENT})),
                    (
                        "rank",
                        REQUIRED,
                        json!({"type": "integer", "format": "uint64", "minimum": 1,
                            "description": "1-based standard competition rank; options \
                                that tie share one (1, 1, 1, 4, 4)."}),
                    ),
                    (
                        "wins",
                        REQUIRED,
                        described(uint(), "How many options this one beats."),
                    ),
                ],
            ),
        ),
        (
            "PriorityResult",
            object(
                "PriorityResult",
                "The Schulze count of a priority (docs/voting.md §6).",
                &[
                    (
                        "options",
                        REQUIRED,
                        json!({
                            "type": "array",
                            "items": {"type": "string", "pattern": IDENT},
                            "minItems": 2,
                            "maxItems": crate::domain::proposal::MAX_OPTIONS,
                            "uniqueItems": true,
                            "description": "The option ids in declared order; the matrices \
                                use this order.",
                        }),
                    ),
                    (
                        "ranking",
                        REQUIRED,
                        json!({
                            "type": "array",
                            "items": schema_ref("RankedOption"),
                            "description": "Most wins first; equal wins in declared order.",
                        }),
                    ),
                    (
                        "pairwise",
                        REQUIRED,
                        json!({
                            "type": "array",
                            "items": {"type": "array", "items": uint()},
                            "description": "`pairwise[i][j]`: the weight of the counted \
                                ballots preferring option i to option j.",
                        }),
                    ),
                    (
                        "strongest_paths",
                        REQUIRED,
                        json!({
                            "type": "array",
                            "items": {"type": "array", "items": uint()},
                            "description": "`strongest_paths[i][j]`: the strength of the \
                                strongest path from option i to option j.",
                        }),
                    ),
                ],
            ),
        ),
        (
            "Tally",
            object(
                "Tally",
                "The count of a closed proposal, exactly as stored at closing and \
                 certified in the log (docs/voting.md §6.1). Every number is an integer; \
                 members that do not apply are absent, never null.",
                &[
                    ("kind", REQUIRED, schema_ref("ProposalKind")),
                    ("weighting", REQUIRED, schema_ref("Weighting")),
                    ("eligible", REQUIRED, count("The voter roll.")),
                    ("voted", REQUIRED, count("Members with a counted ballot.")),
                    (
                        "yes",
                        REQUIRED,
                        count("For a priority: the ballots that rank an option."),
                    ),
                    ("no", REQUIRED, count("Always zero for a priority.")),
                    (
                        "abstain",
                        REQUIRED,
                        count("For a priority: the empty rankings."),
                    ),
                    ("quorum", REQUIRED, schema_ref("QuorumResult")),
                    (
                        "majority",
                        OPTIONAL,
                        described(schema_ref("MajorityResult"), "Absent for a priority."),
                    ),
                    (
                        "chamber_rule",
                        OPTIONAL,
                        described(
                            schema_ref("ChamberRuleResult"),
                            "Present only when the electorate has the chamber rule and \
                             this is not a priority.",
                        ),
                    ),
                    ("outcome", REQUIRED, schema_ref("Outcome")),
                    (
                        "by_sector",
                        REQUIRED,
                        json!({
                            "type": "object",
                            "properties": by_sector,
                            "additionalProperties": false,
                            "minProperties": 1,
                            "description": "One breakdown per sector the proposal \
                                concerns; a member in both counts, fully, in each.",
                        }),
                    ),
                    (
                        "by_chamber",
                        REQUIRED,
                        json!({
                            "type": "object",
                            "additionalProperties": schema_ref("Breakdown"),
                            "description": "One breakdown per chamber on the roll, \
                                keyed by the chamber's name.",
                        }),
                    ),
                    (
                        "parameters",
                        REQUIRED,
                        json!({
                            "type": "array",
                            "items": schema_ref("ParameterResult"),
                            "maxItems": crate::domain::proposal::MAX_PARAMETERS,
                            "description": "A mandate's parameters in declared order; \
                                empty for the other kinds.",
                        }),
                    ),
                    (
                        "priority",
                        OPTIONAL,
                        described(schema_ref("PriorityResult"), "A priority only."),
                    ),
                    (
                        "counted",
                        REQUIRED,
                        json!({
                            "type": "array",
                            "items": uint(),
                            "uniqueItems": true,
                            "description": "The log indexes of the ballots that count, \
                                ascending.",
                        }),
                    ),
                ],
            ),
        ),
        (
            "AuditBundle",
            object(
                "AuditBundle",
                "Everything an auditor needs to check the log and every count without \
                 trusting the server (docs/audit.md §6).",
                &[
                    (
                        "format",
                        REQUIRED,
                        json!({"type": "string", "enum": [BUNDLE_FORMAT]}),
                    ),
                    (
                        "origin",
                        REQUIRED,
                        json!({"type": "string", "pattern": format!("^{NOTE_NAME}$"),
                            "description": "The log's origin, its checkpoints' first line."}),
                    ),
                    (
                        "log_key",
                        REQUIRED,
                        json!({
                            "type": "string",
                            // name+<8 hex key id>+base64(0x01 ‖ 32-byte key): 44
                            // characters beginning with 0b000000 0b01xxxx.
                            "pattern": format!(
                                "^{NOTE_NAME}\\+[0-9a-f]{{8}}\\+A[Q-Za-f][A-Za-z0-9+/]{{42}}$"
                            ),
                            "description": "The log's verifier key, \
                                `name+hexid+base64(0x01‖key)` (C2SP signed-note).",
                        }),
                    ),
                    (
                        "checkpoint",
                        REQUIRED,
                        json!({
                            "type": "string",
                            // Origin, size, base64 of the 32-byte root, a blank line and
                            // the log's signature line: base64 of 4 + 64 bytes.
                            "pattern": format!(
                                "^{NOTE_NAME}\\n(?:0|[1-9][0-9]*)\\n\
                                 [A-Za-z0-9+/]{{42}}[AEIMQUYcgkosw048]=\\n\\n\
                                 \\u2014 {NOTE_NAME} [A-Za-z0-9+/]{{90}}[AEIMQUYcgkosw048]=\\n$"
                            ),
                            "description": "The latest signed checkpoint (C2SP \
                                tlog-checkpoint in a signed note); the bundle holds exactly \
                                the entries it covers.",
                        }),
                    ),
                    (
                        "entries",
                        REQUIRED,
                        json!({"type": "array", "items": schema_ref("BundleEntry")}),
                    ),
                    (
                        "keys",
                        REQUIRED,
                        json!({"type": "array", "items": schema_ref("BundleKey")}),
                    ),
                    (
                        "proposals",
                        REQUIRED,
                        json!({"type": "array", "items": schema_ref("BundleProposal")}),
                    ),
                ],
            ),
        ),
        (
            "BundleEntry",
            object(
                "BundleEntry",
                "One log entry.",
                &[
                    ("index", REQUIRED, uint()),
                    (
                        "leaf_hash",
                        REQUIRED,
                        json!({"type": "string", "pattern": HEX_SHA256,
                            "description": "Hex SHA-256(0x00 ‖ entry), as recorded when \
                                the entry was accepted."}),
                    ),
                    (
                        "entry",
                        OPTIONAL,
                        json!({"type": "string", "pattern": B64URL, "minLength": 2,
                            "description": "Base64url of the entry bytes; absent while \
                                they hold a secret ballot."}),
                    ),
                ],
            ),
        ),
        (
            "BundleKey",
            object(
                "BundleKey",
                "A member key with the entries that registered and revoked it.",
                &[
                    (
                        "member",
                        REQUIRED,
                        json!({"type": "string", "format": "uuid"}),
                    ),
                    (
                        "key_id",
                        REQUIRED,
                        json!({"type": "string", "pattern": HEX_SHA256}),
                    ),
                    (
                        "public_key",
                        REQUIRED,
                        json!({"type": "string", "pattern": B64URL_32_BYTES,
                            "description": "Base64url of the 32-byte public key."}),
                    ),
                    ("registration_entry", REQUIRED, uint()),
                    (
                        "revocation_entry",
                        OPTIONAL,
                        described(uint(), "Absent while the key is active."),
                    ),
                ],
            ),
        ),
        (
            "BundleProposal",
            object(
                "BundleProposal",
                "A proposal with its frozen document and the entries that opened, \
                 closed and certified it.",
                &[
                    ("id", REQUIRED, json!({"type": "string", "format": "uuid"})),
                    ("status", REQUIRED, schema_ref("ProposalStatus")),
                    (
                        "digest",
                        OPTIONAL,
                        json!({"type": "string", "pattern": HEX_SHA256,
                            "description": "SHA-256 of the frozen document; absent \
                                before opening."}),
                    ),
                    (
                        "document",
                        OPTIONAL,
                        json!({"type": "string", "pattern": B64URL, "minLength": 2,
                            "description": "Base64url of the frozen document (the \
                                statement of `opened_entry`)."}),
                    ),
                    ("opened_entry", OPTIONAL, uint()),
                    ("closed_entry", OPTIONAL, uint()),
                    ("result_entry", OPTIONAL, uint()),
                    (
                        "result",
                        OPTIONAL,
                        described(
                            schema_ref("Tally"),
                            "The tally stored at closing; absent until closed.",
                        ),
                    ),
                ],
            ),
        ),
    ]
}

/// Where the document said `{}` (or a bare string) for these bodies: a JSON pointer
/// into the document and the schema it points at. The description poem-openapi
/// gave (from the DTO's doc comment) is kept.
pub(super) fn placements() -> Vec<(String, &'static str)> {
    let response = |path: &str| {
        format!(
            "/paths/{}/get/responses/200/content/application~1json; charset=utf-8/schema",
            path.replace('/', "~1")
        )
    };
    vec![
        (response("/api/v1/proposals/{id}/result"), "Tally"),
        (response("/api/v1/audit/bundle"), "AuditBundle"),
        (
            "/components/schemas/ProposalResult/properties/tally".into(),
            "Tally",
        ),
        (
            "/components/schemas/ProposalResult/properties/sector_breakdown".into(),
            "Breakdown",
        ),
        (
            "/components/schemas/ProposalResult/properties/outcome".into(),
            "Outcome",
        ),
    ]
}

/// Adds the schemas and points the placements at them.
pub(super) fn refine(doc: &mut Value) {
    for (pointer, name) in placements() {
        if let Some(target) = doc.pointer_mut(&pointer) {
            let description = target.get("description").and_then(Value::as_str);
            *target = match description {
                Some(description) => described(schema_ref(name), description),
                None => schema_ref(name),
            };
        }
    }
    if let Some(components) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas() {
            components.insert(name.to_owned(), schema);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use base64::Engine as _;
    use ed25519_dalek::SigningKey;
    use poem_openapi::types::ToJSON;
    use sha2::{Digest, Sha256};
    use uuid::Uuid;

    use super::*;
    use crate::api::members::SectorDto;
    use crate::api::proposals::{KindDto, StatusDto};
    use crate::api::results::ResultDto;
    use crate::audit::bundle::{Bundle, BundleEntry, BundleKey, BundleProposal};
    use crate::domain::proposal::{
        Choice, Demands, Electorate, Fraction, Ident, Majority, Parameter, PriorityOption,
        ProposalKind, RollEntry, Vote, Weighting,
    };
    use crate::domain::statement::BASE64URL;
    use crate::domain::tally::{Event, Tally, tally};
    use crate::transparency::checkpoint::Checkpoint;
    use crate::transparency::merkle::leaf_hash;
    use crate::transparency::note::NoteSigner;

    /// The served document, with OpenAPI 3.0's `nullable` read as JSON Schema (as
    /// tests/api/contract.rs reads it).
    fn served() -> Value {
        let mut doc: Value = serde_json::from_str(&super::super::document()).unwrap();
        super::super::nullable_as_json_schema(&mut doc);
        doc
    }

    /// A validator for the schema at `pointer` in the served document, the way the
    /// contract check builds one.
    fn validator(doc: &Value, pointer: &str) -> jsonschema::Validator {
        let schema = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{pointer} is not in the document"));
        let root = json!({"allOf": [schema], "components": doc["components"]});
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .should_validate_formats(true)
            // Draft 4 has no `uuid` format; OpenAPI's is RFC 4122's hyphenated form.
            .with_format("uuid", |s: &str| {
                s.len() == 36 && Uuid::try_parse(s).is_ok()
            })
            .build(&root)
            .unwrap_or_else(|e| panic!("{pointer} does not compile: {e}"))
    }

    fn assert_valid(validator: &jsonschema::Validator, what: &str, value: &Value) {
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}\n{value:#}");
    }

    fn assert_invalid(validator: &jsonschema::Validator, what: &str, value: &Value) {
        assert!(
            !validator.is_valid(value),
            "{what} was accepted, yet it is not what the server sends:\n{value:#}"
        );
    }

    fn member(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn ident(s: &str) -> Ident {
        Ident::try_from(s.to_owned()).unwrap()
    }

    fn entry(n: u128, weight: u64, sectors: &[Sector], chamber: &str) -> RollEntry {
        RollEntry {
            member: member(n),
            bg_number: n as u32,
            weight,
            sectors: sectors.to_vec(),
            chamber: chamber.into(),
        }
    }

    fn electorate(sectors: &[Sector], weighting: Weighting, chamber_rule: bool) -> Electorate {
        Electorate {
            sectors: sectors.iter().copied().collect(),
            weighting,
            quorum: Fraction::new(1, 2).unwrap(),
            majority: Majority::simple(),
            chamber_rule,
        }
    }

    fn ballot(index: u64, who: u128, choice: Choice) -> Event {
        Event::Ballot {
            index,
            voter: member(who),
            for_member: member(who),
            choice,
        }
    }

    fn vote(vote: Vote, parameters: &[(&str, i64)]) -> Choice {
        Choice::Vote {
            vote,
            parameters: parameters.iter().map(|(n, v)| (ident(n), *v)).collect(),
        }
    }

    fn ranking(ids: &[&str]) -> Choice {
        Choice::Ranking {
            ranking: ids.iter().map(|id| ident(id)).collect(),
        }
    }

    /// A mandate over both sectors, weighted by pupils, with two parameters agreed
    /// (one negative), a no vote and a ballot cast by proxy.
    fn mandate_tally() -> Tally {
        let parameter = |name: &str, min, max| Parameter {
            name: ident(name),
            label: format!("Label of {name}"),
            unit: "basis-points".into(),
            min,
            max,
        };
        let kind = ProposalKind::Mandate {
            supplier: "Uitgeverij".into(),
            product: "Leermiddelen".into(),
            demands: Demands::default(),
            parameters: vec![
                parameter("max-increase", 0, 3000),
                parameter("term", -5, 60),
            ],
        };
        let roll = [
            entry(1, 500, &[Sector::Po], "small"),
            entry(2, 400, &[Sector::Po, Sector::Vo], "large"),
            entry(3, 0, &[Sector::Vo], "small"),
        ];
        let events = [
            ballot(
                4,
                1,
                vote(Vote::Yes, &[("max-increase", 250), ("term", -5)]),
            ),
            ballot(5, 2, vote(Vote::No, &[])),
            Event::ProxyGranted {
                index: 6,
                grantor: member(3),
                holder: member(1),
            },
            Event::Ballot {
                index: 7,
                voter: member(1),
                for_member: member(3),
                choice: vote(Vote::Yes, &[("max-increase", 3000), ("term", 60)]),
            },
        ];
        let t = tally(
            &kind,
            &electorate(&[Sector::Po, Sector::Vo], Weighting::Pupils, false),
            &roll,
            &events,
        );
        assert_eq!(t.parameters.len(), 2);
        assert!(t.parameters.iter().all(|p| p.agreed.is_some()));
        assert_eq!(t.by_sector.len(), 2);
        t
    }

    /// A mandate that nobody voted on: no quorum, no agreed values.
    fn empty_mandate_tally() -> Tally {
        let kind = ProposalKind::Mandate {
            supplier: "Uitgeverij".into(),
            product: "Licenties".into(),
            demands: Demands::default(),
            parameters: vec![Parameter {
                name: ident("price"),
                label: "Price".into(),
                unit: "eur-cents".into(),
                min: -MAX_SAFE_INTEGER,
                max: MAX_SAFE_INTEGER,
            }],
        };
        let roll = [entry(1, 1, &[Sector::Vo], "vo")];
        let t = tally(
            &kind,
            &electorate(&[Sector::Vo], Weighting::OneMemberOneVote, false),
            &roll,
            &[],
        );
        assert!(t.parameters[0].agreed.is_none());
        t
    }

    /// A priority of five options whose ballots leave them tied: shared ranks.
    fn priority_tally() -> Tally {
        let ids = ["devices", "licenties", "netwerk", "privacy", "scholing"];
        let kind = ProposalKind::Priority {
            options: ids
                .iter()
                .map(|id| PriorityOption {
                    id: ident(id),
                    label: id.to_uppercase(),
                })
                .collect(),
        };
        let roll = [
            entry(1, 1, &[Sector::Po], "small"),
            entry(2, 1, &[Sector::Po], "small"),
            entry(3, 1, &[Sector::Po], "large"),
        ];
        let events = [
            ballot(10, 1, ranking(&["devices", "licenties", "netwerk"])),
            ballot(11, 2, ranking(&["netwerk", "licenties", "devices"])),
            ballot(12, 3, ranking(&[])),
        ];
        let t = tally(
            &kind,
            &electorate(&[Sector::Po], Weighting::OneMemberOneVote, false),
            &roll,
            &events,
        );
        let priority = t.priority.as_ref().unwrap();
        let ranks: Vec<u64> = priority.ranking.iter().map(|r| r.rank).collect();
        assert!(
            ranks.windows(2).any(|w| w[0] == w[1]),
            "the example must have a tie: {ranks:?}"
        );
        assert!(t.majority.is_none());
        t
    }

    /// A resolution under the chamber rule.
    fn resolution_tally() -> Tally {
        let roll = [
            entry(1, 500, &[Sector::Po], "small"),
            entry(2, 400, &[Sector::Po], "medium"),
            entry(3, 300, &[Sector::Po], "large"),
        ];
        let events = [
            ballot(4, 1, vote(Vote::Yes, &[])),
            ballot(5, 2, vote(Vote::No, &[])),
            ballot(6, 3, vote(Vote::Abstain, &[])),
        ];
        let t = tally(
            &ProposalKind::Resolution,
            &electorate(&[Sector::Po], Weighting::Pupils, true),
            &roll,
            &events,
        );
        assert!(t.chamber_rule.is_some());
        t
    }

    fn tallies() -> Vec<(&'static str, Value)> {
        [
            ("mandate", mandate_tally()),
            ("mandate without votes", empty_mandate_tally()),
            ("priority", priority_tally()),
            ("resolution", resolution_tally()),
        ]
        .into_iter()
        .map(|(what, t)| (what, serde_json::to_value(t).unwrap()))
        .collect()
    }

    fn bundle() -> Bundle {
        let log = NoteSigner::new("coop.example/log", SigningKey::from_bytes(&[7; 32])).unwrap();
        let entries: Vec<Vec<u8>> = (0..4)
            .map(|i| format!("{{\"key_id\":\"{i}\"}}").into_bytes())
            .collect();
        let checkpoint = Checkpoint {
            origin: log.name().into(),
            size: entries.len() as u64,
            root: leaf_hash(&entries[0]),
        };
        let board = SigningKey::from_bytes(&[9; 32]).verifying_key();
        let other = SigningKey::from_bytes(&[10; 32]).verifying_key();
        let key = |k: &ed25519_dalek::VerifyingKey, revoked: Option<u64>| BundleKey {
            member: member(1),
            key_id: hex::encode(Sha256::digest(k.as_bytes())),
            public_key: BASE64URL.encode(k.as_bytes()),
            registration_entry: 0,
            revocation_entry: revoked,
        };
        let document = b"{\"type\":\"mandaat.proposal.v1\"}";
        Bundle {
            format: BUNDLE_FORMAT.into(),
            origin: log.name().into(),
            log_key: log.verifier_key(),
            checkpoint: log.sign(&checkpoint.to_text()).unwrap(),
            entries: entries
                .iter()
                .enumerate()
                .map(|(i, bytes)| BundleEntry {
                    index: i as u64,
                    leaf_hash: hex::encode(leaf_hash(bytes)),
                    // Entry 2 is a ballot of a proposal still open: withheld.
                    entry: (i != 2).then(|| BASE64URL.encode(bytes)),
                })
                .collect(),
            keys: vec![key(&board, Some(3)), key(&other, None)],
            proposals: vec![
                BundleProposal {
                    id: member(100),
                    status: "final".into(),
                    digest: Some(hex::encode(Sha256::digest(document))),
                    document: Some(BASE64URL.encode(document)),
                    opened_entry: Some(1),
                    closed_entry: Some(2),
                    result_entry: Some(3),
                    result: Some(serde_json::to_value(resolution_tally()).unwrap()),
                },
                BundleProposal {
                    id: member(101),
                    status: "draft".into(),
                    digest: None,
                    document: None,
                    opened_entry: None,
                    closed_entry: None,
                    result_entry: None,
                    result: None,
                },
            ],
        }
    }

    const RESULT: &str = "/paths/~1api~1v1~1proposals~1{id}~1result/get/responses/200/content/application~1json; charset=utf-8/schema";
    const BUNDLE: &str = "/paths/~1api~1v1~1audit~1bundle/get/responses/200/content/application~1json; charset=utf-8/schema";
    const RESULTS: &str = "/paths/~1api~1v1~1results/get/responses/200/content/application~1json; charset=utf-8/schema";

    #[test]
    fn real_tallies_match_the_result_schema() {
        let doc = served();
        let result = validator(&doc, RESULT);
        for (what, value) in tallies() {
            assert_valid(&result, what, &value);
        }
    }

    #[test]
    fn a_real_bundle_matches_the_bundle_schema() {
        let doc = served();
        let value = serde_json::to_value(bundle()).unwrap();
        assert_valid(&validator(&doc, BUNDLE), "bundle", &value);
    }

    #[test]
    fn real_results_match_the_results_schema() {
        let doc = served();
        let results = validator(&doc, RESULTS);
        let value: Vec<Value> = tallies()
            .into_iter()
            .map(|(_, tally)| {
                let t: Tally = serde_json::from_value(tally).unwrap();
                let sector = *t.by_sector.keys().next().unwrap();
                ResultDto {
                    proposal: member(7),
                    title: "Een voorstel".into(),
                    kind: KindDto::Resolution,
                    status: StatusDto::Final,
                    digest: "ab".repeat(32),
                    closed_at: chrono::DateTime::UNIX_EPOCH,
                    outcome: serde_json::to_value(t.outcome)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .into(),
                    sector: Some(match sector {
                        Sector::Po => SectorDto::Po,
                        Sector::Vo => SectorDto::Vo,
                    }),
                    sector_breakdown: Some(poem_openapi::types::Any(
                        serde_json::to_value(&t.by_sector[&sector]).unwrap(),
                    )),
                    tally: poem_openapi::types::Any(serde_json::to_value(&t).unwrap()),
                }
                .to_json()
                .unwrap()
            })
            .collect();
        assert_valid(&results, "results", &Value::Array(value.clone()));

        let mut bad = value[0].clone();
        bad["outcome"] = json!("carried");
        assert_invalid(&results, "an unknown outcome", &json!([bad]));
        let mut bad = value[0].clone();
        bad["sector_breakdown"]["extra"] = json!(1);
        assert_invalid(&results, "a breakdown with an extra member", &json!([bad]));
        let mut bad = value[0].clone();
        bad["tally"].as_object_mut().unwrap().remove("quorum");
        assert_invalid(&results, "a tally without a quorum", &json!([bad]));
    }

    /// The example in docs/voting.md §6.1 is a tally, and the schema says so.
    #[test]
    fn the_documented_example_tally_matches_the_schema() {
        let doc = served();
        let voting = include_str!("../../../docs/voting.md");
        let example = voting
            .split("### 6.1")
            .nth(1)
            .and_then(|s| s.split("```json\n").nth(1))
            .and_then(|s| s.split("```").next())
            .expect("docs/voting.md §6.1 has a JSON example");
        let value: Value = serde_json::from_str(example).unwrap();
        let tally: Tally = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(tally).unwrap(), value);
        assert_valid(&validator(&doc, RESULT), "docs/voting.md §6.1", &value);
    }

    /// Changes to a real tally that the server never makes; each must fail.
    #[test]
    fn the_tally_schema_refuses_what_the_server_never_sends() {
        let doc = served();
        let result = validator(&doc, RESULT);
        type Change = fn(&mut Value);
        let changes: &[(&str, Change)] = &[
            ("an extra member", |t| t["extra"] = json!(true)),
            ("no counted", |t| {
                t.as_object_mut().unwrap().remove("counted");
            }),
            ("no by_chamber", |t| {
                t.as_object_mut().unwrap().remove("by_chamber");
            }),
            ("an extra member in a count", |t| {
                t["voted"]["share"] = json!("1/2")
            }),
            ("a count without weight", |t| {
                t["yes"].as_object_mut().unwrap().remove("weight");
            }),
            ("a negative count", |t| t["no"]["members"] = json!(-1)),
            ("a fractional weight", |t| t["no"]["weight"] = json!(0.5)),
            ("a null majority", |t| t["majority"] = Value::Null),
            ("a null chamber rule", |t| t["chamber_rule"] = Value::Null),
            ("an unknown outcome", |t| t["outcome"] = json!("carried")),
            ("an unknown kind", |t| t["kind"] = json!("election")),
            ("an unknown weighting", |t| t["weighting"] = json!("equal")),
            ("a decimal quorum", |t| {
                t["quorum"]["required"] = json!("0.5")
            }),
            ("a lower-case sector", |t| {
                let po = t["by_sector"]["PO"].take();
                t["by_sector"] = json!({ "po": po });
            }),
            ("no sector", |t| t["by_sector"] = json!({})),
            ("a breakdown with an extra member", |t| {
                t["by_chamber"]["small"]["share"] = json!(1)
            }),
            ("a breakdown without abstain", |t| {
                t["by_sector"]["PO"]
                    .as_object_mut()
                    .unwrap()
                    .remove("abstain");
            }),
            ("a null in_favour", |t| {
                t["by_sector"]["PO"]["in_favour"] = Value::Null
            }),
            ("a majority rule with an extra member", |t| {
                t["majority"]["rule"]["strict"] = json!(true)
            }),
            ("a repeated counted ballot", |t| {
                t["counted"] = json!([4, 4])
            }),
        ];
        let resolution = serde_json::to_value(resolution_tally()).unwrap();
        for (what, change) in changes {
            let mut t = resolution.clone();
            change(&mut t);
            assert_invalid(&result, what, &t);
        }

        let mandate = serde_json::to_value(mandate_tally()).unwrap();
        let parameter_changes: &[(&str, Change)] = &[
            ("a null agreed value", |p| p["agreed"] = Value::Null),
            ("a parameter with an extra member", |p| {
                p["label"] = json!("Max")
            }),
            ("a parameter without values_given", |p| {
                p.as_object_mut().unwrap().remove("values_given");
            }),
            ("an upper-case parameter name", |p| p["name"] = json!("MAX")),
            ("an unsafe integer", |p| {
                p["max"] = json!(MAX_SAFE_INTEGER + 1)
            }),
        ];
        for (what, change) in parameter_changes {
            let mut t = mandate.clone();
            change(&mut t["parameters"][0]);
            assert_invalid(&result, what, &t);
        }

        let priority = serde_json::to_value(priority_tally()).unwrap();
        let priority_changes: &[(&str, Change)] = &[
            ("a rank of 0", |p| p["ranking"][0]["rank"] = json!(0)),
            ("a ranked option with an extra member", |p| {
                p["ranking"][0]["label"] = json!("x")
            }),
            ("a priority without pairwise", |p| {
                p.as_object_mut().unwrap().remove("pairwise");
            }),
            ("a negative path strength", |p| {
                p["strongest_paths"][0][1] = json!(-1)
            }),
            ("one option", |p| p["options"] = json!(["devices"])),
        ];
        for (what, change) in priority_changes {
            let mut t = priority.clone();
            change(&mut t["priority"]);
            assert_invalid(&result, what, &t);
        }
    }

    #[test]
    fn the_bundle_schema_refuses_what_the_server_never_sends() {
        let doc = served();
        let schema = validator(&doc, BUNDLE);
        type Change = fn(&mut Value);
        let changes: &[(&str, Change)] = &[
            ("an extra member", |b| b["signature"] = json!("x")),
            ("no checkpoint", |b| {
                b.as_object_mut().unwrap().remove("checkpoint");
            }),
            ("another format", |b| {
                b["format"] = json!("mandaat.audit-bundle.v2")
            }),
            ("a checkpoint without its signature", |b| {
                let note = b["checkpoint"].as_str().unwrap();
                let body = note.split("\n\n").next().unwrap().to_owned() + "\n";
                b["checkpoint"] = json!(body);
            }),
            ("a log key without its id", |b| {
                b["log_key"] = json!("coop.example/log")
            }),
            ("a withheld entry sent as null", |b| {
                b["entries"][2]["entry"] = Value::Null
            }),
            ("an upper-case leaf hash", |b| {
                let upper = b["entries"][0]["leaf_hash"]
                    .as_str()
                    .unwrap()
                    .to_uppercase();
                b["entries"][0]["leaf_hash"] = json!(upper);
            }),
            ("padded base64", |b| {
                b["entries"][0]["entry"] = json!("eyJrZXlfaWQiOiIwIn0=")
            }),
            ("an entry with an extra member", |b| {
                b["entries"][0]["proof"] = json!([])
            }),
            ("a key without its public key", |b| {
                b["keys"][0].as_object_mut().unwrap().remove("public_key");
            }),
            ("a revocation sent as null", |b| {
                b["keys"][1]["revocation_entry"] = Value::Null
            }),
            ("a member that is not a uuid", |b| {
                b["keys"][0]["member"] = json!("24597")
            }),
            ("an unknown status", |b| {
                b["proposals"][0]["status"] = json!("archived")
            }),
            ("a result that is not a tally", |b| {
                b["proposals"][0]["result"] = json!({"outcome": "adopted"})
            }),
            ("a result sent as null", |b| {
                b["proposals"][1]["result"] = Value::Null
            }),
            ("a proposal with an extra member", |b| {
                b["proposals"][1]["title"] = json!("x")
            }),
        ];
        let bundle = serde_json::to_value(bundle()).unwrap();
        for (what, change) in changes {
            let mut b = bundle.clone();
            change(&mut b);
            assert_invalid(&schema, what, &b);
        }
    }

    /// The members each schema lists are exactly the members the type has: a real
    /// value with every optional member present names them all.
    #[test]
    fn every_schema_lists_exactly_the_members_the_types_send() {
        let doc = served();
        let components = &doc["components"]["schemas"];
        let keys = keys_of;
        let listed = |name: &str| keys(&components[name]["properties"]);
        let mandate = serde_json::to_value(mandate_tally()).unwrap();
        let priority = serde_json::to_value(priority_tally()).unwrap();
        let resolution = serde_json::to_value(resolution_tally()).unwrap();
        let bundle = serde_json::to_value(bundle()).unwrap();
        let mut tally_members = keys(&resolution);
        tally_members.extend(keys(&priority));
        let cases: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
            ("Tally", tally_members),
            ("Count", keys(&resolution["yes"])),
            ("Breakdown", keys(&resolution["by_sector"]["PO"])),
            ("QuorumResult", keys(&resolution["quorum"])),
            ("MajorityResult", keys(&resolution["majority"])),
            ("ChamberRuleResult", keys(&resolution["chamber_rule"])),
            ("ParameterResult", keys(&mandate["parameters"][0])),
            ("PriorityResult", keys(&priority["priority"])),
            ("RankedOption", keys(&priority["priority"]["ranking"][0])),
            ("AuditBundle", keys(&bundle)),
            ("BundleEntry", keys(&bundle["entries"][0])),
            ("BundleKey", keys(&bundle["keys"][0])),
            ("BundleProposal", keys(&bundle["proposals"][0])),
        ]);
        for (name, members) in &cases {
            assert_eq!(&listed(name), members, "{name}");
        }
        let added: BTreeSet<&str> = schemas()
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| *n != "Outcome")
            .collect();
        assert_eq!(
            added,
            cases.keys().copied().collect(),
            "every object is checked"
        );
    }

    #[test]
    fn the_schemas_land_where_the_document_said_nothing() {
        // poem-openapi's own document: the placements exist, and the names are new.
        let generated: Value = serde_json::from_str(&crate::api::service().spec()).unwrap();
        for (pointer, _) in placements() {
            assert!(generated.pointer(&pointer).is_some(), "{pointer}");
        }
        for (name, _) in schemas() {
            assert!(
                generated["components"]["schemas"].get(name).is_none(),
                "poem-openapi already generates a schema called {name}"
            );
        }
        // The refined document: every placement points at its schema, which exists.
        let doc = served();
        for (pointer, name) in placements() {
            let target = doc.pointer(&pointer).unwrap();
            let reference = target
                .get("$ref")
                .or_else(|| target.pointer("/allOf/0/$ref"))
                .and_then(Value::as_str);
            assert_eq!(
                reference,
                Some(format!("#/components/schemas/{name}").as_str()),
                "{pointer}"
            );
        }
        // Sector keys as the domain writes them, which is how the API spells them.
        let by_sector = keys_of(
            &doc["components"]["schemas"]["Tally"]["properties"]["by_sector"]["properties"],
        );
        let sectors: BTreeSet<String> = doc["components"]["schemas"]["Sector"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(by_sector, sectors);
        for s in super::sectors() {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
    }

    fn keys_of(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }
}
