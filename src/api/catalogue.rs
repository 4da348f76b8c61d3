//! Every problem `type` the server answers with, its status and when it happens: the
//! source of `docs/problems.md`. A unit test keeps the document equal to this table,
//! and the integration tests' harness checks that every problem they receive is in it
//! with this status.

/// One kind of problem: `urn:mandaat:problem:<slug>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub status: u16,
    pub when: &'static str,
}

const fn p(slug: &'static str, status: u16, when: &'static str) -> ProblemType {
    ProblemType { slug, status, when }
}

/// Ordered by status, then by name.
pub const CATALOGUE: &[ProblemType] = &[
    p(
        "bad-parameter",
        400,
        "A path or query parameter does not parse, or lies outside its documented range.",
    ),
    p(
        "bad-request",
        400,
        "The HTTP layer refused the request for a reason no other type names (a malformed header, say).",
    ),
    p(
        "malformed-body",
        400,
        "The body is not JSON of the documented shape: a syntax error, a wrong type, a missing member, or a member the schema does not list.",
    ),
    p(
        "not-a-session",
        400,
        "An operation for a person signed in with a session cookie was called with a bearer token.",
    ),
    p(
        "invitation-invalid",
        401,
        "An invitation link that cannot sign anyone in: unknown, used, replaced or expired.",
    ),
    p(
        "unauthorized",
        401,
        "No credentials, or a token or session that is not valid (bad signature, expired, not yet valid, unknown issuer or audience, a member that does not exist, a session that ended). Sent with `WWW-Authenticate`.",
    ),
    p(
        "csrf",
        403,
        "A write with a session cookie without the header `X-Mandaat-CSRF: 1`, or from another origin.",
    ),
    p(
        "forbidden",
        403,
        "The caller is known, but its role (or its sector, or its member) may not do this.",
    ),
    p(
        "not-token-member",
        403,
        "A ballot or proxy signed for a member other than the token's own.",
    ),
    p(
        "not-found",
        404,
        "No such resource or route, or one the caller may not know exists.",
    ),
    p(
        "method-not-allowed",
        405,
        "The route exists but not with this method; `Allow` lists the methods it has.",
    ),
    p(
        "conflict",
        409,
        "A concurrent request changed the same data first; repeating the request gives the current answer.",
    ),
    p(
        "duplicate-bg-number",
        409,
        "A member with this bevoegd-gezag number exists already.",
    ),
    p(
        "empty-voter-roll",
        409,
        "A proposal cannot open: no board that is a member on the opening day, and not suspended, is in its sectors.",
    ),
    p(
        "key-already-registered",
        409,
        "This public key is registered already (to this member or another).",
    ),
    p(
        "key-revoked",
        409,
        "The key is revoked; revoked keys stay revoked.",
    ),
    p(
        "member-suspended",
        409,
        "The member is suspended and may not register keys, vote or grant proxies.",
    ),
    p(
        "membership-conflict",
        409,
        "The membership register does not allow this change: admitting a board that is a member already, ending a membership that is not open, or dates that would overlap or reverse a period. `detail` says which.",
    ),
    p(
        "nonce-reused",
        409,
        "A ballot or proxy statement reuses a nonce that another statement used. (The very same signed ballot sent again is answered 200 with its original entry instead.)",
    ),
    p(
        "person-removed",
        409,
        "The person's designation was removed: they cannot be invited again or act; add them anew if they should.",
    ),
    p(
        "proposal-state",
        409,
        "The proposal is not in the state the step needs (only a draft opens, only an open proposal takes ballots, …).",
    ),
    p(
        "proxy-cap-reached",
        409,
        "The holder already holds the most proxies a member may hold for one proposal.",
    ),
    p(
        "proxy-exists",
        409,
        "The grantor has an active proxy for this proposal already; revoke it first.",
    ),
    p(
        "request-decided",
        409,
        "The sign-in request was approved or rejected already.",
    ),
    p(
        "result-not-available",
        409,
        "Results and choices are shown only once a proposal is closed: not for a draft, an open or a withdrawn proposal.",
    ),
    p(
        "voting-window",
        409,
        "Outside the voting window: too early or too late to vote, or too early to close.",
    ),
    p(
        "payload-too-large",
        413,
        "The body is larger than the configured limit (`--max-body-bytes`).",
    ),
    p(
        "unsupported-media-type",
        415,
        "The body is not `application/json`.",
    ),
    p(
        "bad-range",
        422,
        "A log position or range the log cannot answer: an index not below the size, a size beyond the log, `from` greater than `to`.",
    ),
    p(
        "clock-skew",
        422,
        "The statement's `cast_at` or `signed_at` is more than 5 minutes from the server's clock.",
    ),
    p(
        "digest-mismatch",
        422,
        "The statement's `proposal_digest` is not the digest of the proposal's frozen document.",
    ),
    p(
        "invalid-choice",
        422,
        "The ballot's `choice` does not fit the proposal: not a choice at all, an unknown option, a missing or out-of-range parameter.",
    ),
    p(
        "invalid-public-key",
        422,
        "A key to register is not 32 bytes, not a point, not canonically encoded, or weak.",
    ),
    p(
        "invalid-signature",
        422,
        "The signature does not verify under `verify_strict` with the key named by `key_id`.",
    ),
    p(
        "invalid-statement",
        422,
        "A signed statement that is not well-formed: bad base64url, not a UTF-8 JSON object, no `type`, a float, `null`, an integer beyond ±(2^53−1), too large, a bad key id or signature length.",
    ),
    p(
        "key-not-valid",
        422,
        "The signing key is not the signer's, or was not registered and unrevoked at that point in the log.",
    ),
    p(
        "no-proxy",
        422,
        "A ballot `for` another member without an active proxy from it to the voter, or a proxy to oneself.",
    ),
    p(
        "not-eligible",
        422,
        "The voter, the member voted for, or a proxy's grantor or holder is not on the proposal's voter roll.",
    ),
    p(
        "revocation-required",
        422,
        "A board revokes its key only with a signed `mandaat.key-revocation.v1` statement.",
    ),
    p(
        "statement-mismatch",
        422,
        "A well-formed statement that says something else than the request: wrong `type`, missing or unexpected members, an id or time not in its one spelling, another member or key than the path names, signed by a key that is not an active key of the member.",
    ),
    p(
        "statement-not-canonical",
        422,
        "The statement bytes are valid JSON but not their own RFC 8785 canonical form.",
    ),
    p(
        "validation-failed",
        422,
        "A value that parses but breaks a rule of its field: a name too long, control characters, an empty sector list, a window that ends before it starts, a quorum above 1.",
    ),
    p(
        "webhook-target-refused",
        422,
        "A webhook target the server will not call: not an absolute http(s) URL, credentials or a fragment in it, a host that does not resolve, or (unless the server runs with `--webhooks-allow-private`) a host with a loopback, private, link-local, unspecified or other non-public address.",
    ),
    p(
        "rate-limited",
        429,
        "Too many requests from this address or with this credential; `Retry-After` says when to try again.",
    ),
    p(
        "internal",
        500,
        "A fault of the server. The detail says nothing more; the server's log has it.",
    ),
    p(
        "database-unavailable",
        503,
        "The database cannot be reached (refused or lost connections, none free within `--database-timeout`, SQLite's file locked). Nothing was changed; try again after `Retry-After` seconds.",
    ),
    p(
        "provider-unavailable",
        503,
        "The sign-in provider cannot be reached or its discovery document is unusable; try again after `Retry-After` seconds.",
    ),
    p(
        "request-timeout",
        503,
        "The server did not finish the request within `--request-timeout`; try again after `Retry-After` seconds.",
    ),
];

/// The catalogue entry for a slug.
pub fn lookup(slug: &str) -> Option<&'static ProblemType> {
    CATALOGUE.iter().find(|t| t.slug == slug)
}

/// The table of `docs/problems.md`, as Markdown.
pub fn markdown_table() -> String {
    let mut out = String::from("| `type` (after `urn:mandaat:problem:`) | status | when |\n");
    out.push_str("| --- | --- | --- |\n");
    for t in CATALOGUE {
        out.push_str(&format!("| `{}` | {} | {} |\n", t.slug, t.status, t.when));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ConflictKind, Rule};

    const BEGIN: &str = "<!-- catalogue:begin (generated from src/api/catalogue.rs) -->\n";
    const END: &str = "<!-- catalogue:end -->";

    #[test]
    fn slugs_are_unique_and_sorted_by_status_then_name() {
        for pair in CATALOGUE.windows(2) {
            assert!(
                (pair[0].status, pair[0].slug) < (pair[1].status, pair[1].slug),
                "{} before {}",
                pair[0].slug,
                pair[1].slug
            );
        }
    }

    #[test]
    fn every_rule_and_conflict_is_catalogued() {
        for rule in Rule::ALL {
            assert!(lookup(rule.slug()).is_some(), "{}", rule.slug());
        }
        for kind in ConflictKind::ALL {
            let entry = lookup(kind.slug());
            assert_eq!(entry.map(|e| e.status), Some(409), "{}", kind.slug());
        }
    }

    /// `MANDAAT_UPDATE_DOCS=1 cargo test --lib catalogue` rewrites the table.
    #[test]
    fn docs_problems_md_lists_the_catalogue() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/problems.md");
        let text = std::fs::read_to_string(&path).unwrap();
        let start = text.find(BEGIN).expect("begin marker") + BEGIN.len();
        let end = text.find(END).expect("end marker");
        let expected = markdown_table();
        if text[start..end] != expected {
            if std::env::var_os("MANDAAT_UPDATE_DOCS").is_some() {
                let updated = format!("{}{expected}{}", &text[..start], &text[end..]);
                std::fs::write(&path, updated).unwrap();
            } else {
                panic!(
                    "docs/problems.md differs from src/api/catalogue.rs; run MANDAAT_UPDATE_DOCS=1 cargo test --lib catalogue"
                );
            }
        }
    }
}
