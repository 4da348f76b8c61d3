//! The OpenAPI document as served and committed: poem-openapi's, with what its
//! derives cannot say added from the code's own constants: the bounds that the
//! domain checks (so a 422 for an out-of-range value is documented as out of range),
//! the exact wire spelling of keys and signatures, and `additionalProperties: false`
//! on every body that refuses unknown fields.
//!
//! The result, the tally and the audit bundle, whose types live in the domain and
//! the verifier, get their schemas from `bodies`.
//!
//! These constraints are written into the document only: the domain keeps checking
//! them (with its own problem types), so adding one here never changes an answer.

use serde_json::{Map, Value, json};

use crate::domain::api_token;
use crate::domain::member::{BgNumber, MemberName, SectorPupils};
use crate::domain::person::{Email, INVITATION_MAX_DAYS, PersonName};
use crate::domain::proposal::{MAX_OPTIONS, MAX_PARAMETERS};
use crate::domain::statement::MAX_STATEMENT_BYTES;

mod bodies;

/// Schemas of the request bodies that refuse unknown fields
/// (`#[oai(deny_unknown_fields)]`); a unit test keeps this list and the code equal.
pub const DENY_UNKNOWN_FIELDS: &[&str] = &[
    "Demands",
    "Electorate",
    "KeyRevocation",
    "Majority",
    "Mandate",
    "MemberPatch",
    "MembershipChange",
    "NewApiToken",
    "NewInvitation",
    "NewMember",
    "NewWebhook",
    "Parameter",
    "Priority",
    "PriorityOption",
    "PrivacyDemands",
    "ProposalSpec",
    "Pupils",
    "Reinvitation",
    "Removal",
    "SignIn",
    "SignInApproval",
    "SignInRejection",
    "SignedStatement",
    "StartSignIn",
    "WebhookPatch",
];

/// Lowercase hex SHA-256: a key id, a leaf hash, a digest.
const HEX_SHA256: &str = "^[0-9a-f]{64}$";
/// Unpadded base64url of 32 bytes (a public key): 43 characters, the last holding
/// 2 bits, so 4 zero bits follow.
const B64URL_32_BYTES: &str = "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$";
/// Unpadded base64url of 64 bytes (an Ed25519 signature): 86 characters, the last
/// holding 2 bits.
const B64URL_64_BYTES: &str = "^[A-Za-z0-9_-]{85}[AQgw]$";
/// An exact fraction `n/d` in decimal digits.
const FRACTION: &str = "^[0-9]+/[0-9]+$";
/// One line of text: no control characters (Unicode category Cc), as
/// `crate::domain::is_plain_text(_, false)` checks.
const ONE_LINE: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";
/// A parameter or option identifier.
const IDENT: &str = "^[a-z0-9_-]{1,40}$";

fn constraints() -> Vec<(&'static str, &'static str, Value)> {
    let bg_number = json!({"minimum": 1, "maximum": BgNumber::MAX});
    let member_name =
        json!({"minLength": 1, "maxLength": MemberName::MAX_CHARS, "pattern": ONE_LINE});
    let person_name =
        json!({"minLength": 1, "maxLength": PersonName::MAX_CHARS, "pattern": ONE_LINE});
    let pupils = json!({"minimum": 0, "maximum": SectorPupils::MAX});
    let days = json!({"minimum": 1, "maximum": INVITATION_MAX_DAYS});
    let statement_chars = (MAX_STATEMENT_BYTES * 4).div_ceil(3);
    vec![
        ("NewMember", "bg_number", bg_number.clone()),
        ("Member", "bg_number", bg_number.clone()),
        ("MeMember", "bg_number", bg_number),
        ("NewMember", "name", member_name.clone()),
        ("MemberPatch", "name", member_name.clone()),
        ("Member", "name", member_name.clone()),
        ("MeMember", "name", member_name),
        ("Pupils", "po", pupils.clone()),
        ("Pupils", "vo", pupils),
        ("NewInvitation", "name", person_name.clone()),
        ("Person", "name", person_name.clone()),
        ("MePerson", "name", person_name),
        (
            "NewInvitation",
            "email",
            json!({"minLength": 3, "maxLength": Email::MAX_CHARS}),
        ),
        ("NewInvitation", "valid_days", days.clone()),
        (
            "NewApiToken",
            "name",
            json!({"minLength": 1, "maxLength": api_token::NAME_MAX_CHARS, "pattern": ONE_LINE}),
        ),
        (
            "NewApiToken",
            "valid_days",
            json!({"minimum": 1, "maximum": api_token::MAX_VALID_DAYS}),
        ),
        (
            "MembershipChange",
            "date",
            json!({"format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}),
        ),
        ("Reinvitation", "valid_days", days),
        (
            "SignedStatement",
            "statement",
            json!({"pattern": "^[A-Za-z0-9_-]+$", "maxLength": statement_chars}),
        ),
        ("SignedStatement", "key_id", json!({"pattern": HEX_SHA256})),
        (
            "SignedStatement",
            "signature",
            json!({"pattern": B64URL_64_BYTES}),
        ),
        ("MemberKey", "key_id", json!({"pattern": HEX_SHA256})),
        (
            "MemberKey",
            "public_key",
            json!({"pattern": B64URL_32_BYTES}),
        ),
        ("Electorate", "sectors", json!({"minItems": 1})),
        ("Electorate", "quorum", json!({"pattern": FRACTION})),
        ("Majority", "fraction", json!({"pattern": FRACTION})),
        (
            "Priority",
            "options",
            json!({"minItems": 2, "maxItems": MAX_OPTIONS}),
        ),
        ("Mandate", "parameters", json!({"maxItems": MAX_PARAMETERS})),
        ("Parameter", "name", json!({"pattern": IDENT})),
        ("PriorityOption", "id", json!({"pattern": IDENT})),
        ("Proposal", "digest", json!({"pattern": HEX_SHA256})),
        ("ProposalResult", "digest", json!({"pattern": HEX_SHA256})),
        ("LogReceipt", "leaf_hash", json!({"pattern": HEX_SHA256})),
        ("LogEntry", "leaf_hash", json!({"pattern": HEX_SHA256})),
        (
            "InclusionProof",
            "leaf_hash",
            json!({"pattern": HEX_SHA256}),
        ),
        (
            "BallotReceipt",
            "ballot_hash",
            json!({"pattern": HEX_SHA256}),
        ),
    ]
}

/// The refined document as JSON text (what `/openapi.json` serves and
/// `mandaat openapi` prints).
/// Reads OpenAPI 3.0's `nullable: true` as JSON Schema, where `null` is one more type:
/// how a JSON Schema validator (the contract check, the schema tests) must read this
/// document.
pub fn nullable_as_json_schema(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for v in map.values_mut() {
                nullable_as_json_schema(v);
            }
            if map.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(ty)) = map.get("type").cloned() {
                    map.insert("type".into(), json!([ty, "null"]));
                    if let Some(Value::Array(items)) = map.get_mut("enum") {
                        items.push(Value::Null);
                    }
                } else {
                    let inner = Value::Object(std::mem::take(map));
                    map.insert("anyOf".into(), json!([{"type": "null"}, inner]));
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(nullable_as_json_schema),
        _ => {}
    }
}

pub fn document() -> String {
    let spec = super::service().spec();
    let mut doc: Value = match serde_json::from_str(&spec) {
        Ok(doc) => doc,
        // poem-openapi's own output is JSON; should it ever not be, serve it as is.
        Err(_) => return spec,
    };
    refine(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or(spec)
}

/// Parameters whose text the handler checks: (method, path, parameter, constraints).
fn parameter_constraints() -> Vec<(&'static str, &'static str, &'static str, Value)> {
    vec![
        (
            "get",
            "/api/v1/members",
            "name",
            json!({"pattern": ONE_LINE}),
        ),
        (
            "get",
            "/api/v1/members",
            "chamber",
            json!({"pattern": ONE_LINE}),
        ),
        (
            "post",
            "/api/v1/members/{id}/keys/{key_id}/revoke",
            "key_id",
            json!({"pattern": HEX_SHA256}),
        ),
    ]
}

fn refine(doc: &mut Value) {
    unsigned_bounds(doc);
    for (method, path, name, extra) in parameter_constraints() {
        let parameters = doc
            .pointer_mut(&format!(
                "/paths/{}/{method}/parameters",
                path.replace('/', "~1")
            ))
            .and_then(Value::as_array_mut);
        for parameter in parameters.into_iter().flatten() {
            if parameter["name"] == name
                && let Some(schema) = parameter.get_mut("schema").and_then(Value::as_object_mut)
            {
                merge(schema, extra.clone());
            }
        }
    }
    bodies::refine(doc);
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for name in DENY_UNKNOWN_FIELDS {
        if let Some(schema) = schemas.get_mut(*name).and_then(Value::as_object_mut) {
            schema.insert("additionalProperties".into(), Value::Bool(false));
            nullable_optionals(schema);
        }
    }
    for (schema, property, extra) in constraints() {
        let Some(target) = schemas
            .get_mut(schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{property}")))
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        merge(target, extra);
    }
}

/// In a request body an optional member (a Rust `Option`, one without a default)
/// may be sent as `null`, which means the same as leaving it out. Responses never
/// send `null`: they leave absent members out.
fn nullable_optionals(schema: &mut Map<String, Value>) {
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        if let Some(property) = property.as_object_mut()
            && !required.contains(name)
            && !property.contains_key("default")
        {
            property.insert("nullable".into(), Value::Bool(true));
        }
    }
}

/// Unsigned integers are at least 0, and fit their width (poem-openapi gives only
/// the format).
fn unsigned_bounds(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let max = match map.get("format").and_then(Value::as_str) {
                Some("uint16") => Some(u64::from(u16::MAX)),
                Some("uint32") => Some(u64::from(u32::MAX)),
                Some("uint64") => None,
                _ => {
                    map.values_mut().for_each(unsigned_bounds);
                    return;
                }
            };
            map.entry("minimum").or_insert(json!(0));
            if let Some(max) = max {
                map.entry("maximum").or_insert(json!(max));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned_bounds),
        _ => {}
    }
}

/// Adds the constraints to a property's schema; one given by `$ref` (or `allOf`)
/// keeps its reference beside them.
fn merge(target: &mut Map<String, Value>, extra: Value) {
    if let Value::Object(extra) = extra {
        for (key, value) in extra {
            target.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `deny_unknown_fields` in the API's source is in the list, and only those.
    #[test]
    fn the_list_of_closed_bodies_matches_the_code() {
        let sources = [
            include_str!("members.rs"),
            include_str!("keys.rs"),
            include_str!("proposals.rs"),
            include_str!("results.rs"),
            include_str!("log.rs"),
            include_str!("audit.rs"),
            include_str!("sessions.rs"),
            include_str!("sign_in.rs"),
            include_str!("people.rs"),
            include_str!("webhooks.rs"),
            include_str!("api_tokens.rs"),
            include_str!("health.rs"),
            include_str!("problem.rs"),
            include_str!("mod.rs"),
        ];
        // Each `#[oai(...)]` attribute, however rustfmt wrapped it.
        let mut found: Vec<String> = sources
            .iter()
            .flat_map(|source| source.split("#[oai(").skip(1))
            .filter_map(|rest| rest.split(")]").next())
            .filter(|attr| attr.contains("deny_unknown_fields"))
            .filter_map(|attr| attr.split("rename = \"").nth(1)?.split('"').next())
            .map(str::to_owned)
            .collect();
        found.sort();
        assert_eq!(found, DENY_UNKNOWN_FIELDS);
    }

    #[test]
    fn every_constraint_lands_on_a_property() {
        let doc: Value = serde_json::from_str(&crate::api::service().spec()).unwrap_or_default();
        for (schema, property, _) in constraints() {
            assert!(
                doc.pointer(&format!(
                    "/components/schemas/{schema}/properties/{property}"
                ))
                .is_some(),
                "{schema}.{property} is not in the document"
            );
        }
        for name in DENY_UNKNOWN_FIELDS {
            assert!(
                doc.pointer(&format!("/components/schemas/{name}"))
                    .is_some(),
                "{name}"
            );
        }
        for (method, path, name, _) in parameter_constraints() {
            let pointer = format!("/paths/{}/{method}/parameters", path.replace('/', "~1"));
            let found = doc
                .pointer(&pointer)
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == name));
            assert!(found, "{method} {path} has no parameter {name}");
        }
    }

    #[test]
    fn the_wire_patterns_match_what_the_code_writes() {
        use crate::domain::statement::BASE64URL;
        use base64::Engine as _;
        let sig = regex_lite(B64URL_64_BYTES);
        let key = regex_lite(B64URL_32_BYTES);
        for seed in 0u8..=255 {
            assert!(sig(&BASE64URL.encode([seed; 64])));
            assert!(key(&BASE64URL.encode([seed; 32])));
        }
    }

    /// The two base64url patterns above, checked by hand (no regex crate here):
    /// a run of alphabet characters and a last character from the given class.
    fn regex_lite(pattern: &'static str) -> impl Fn(&str) -> bool {
        let (head, last) = pattern
            .trim_start_matches("^[A-Za-z0-9_-]{")
            .trim_end_matches("]$")
            .split_once("}[")
            .unwrap_or_default();
        let run: usize = head.parse().unwrap_or_default();
        move |s: &str| {
            s.len() == run + 1
                && s[..run]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && s[run..].chars().all(|c| last.contains(c))
        }
    }
}
