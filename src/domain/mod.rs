//! The domain: member boards, chambers, schools and signed statements. Pure code, free of
//! HTTP and database types, so that every rule is unit-tested directly.

pub mod api_token;
pub mod ballot;
pub mod keys;
pub mod lifecycle;
pub mod member;
pub mod membership;
pub mod person;
pub mod proposal;
pub mod school;
pub mod server_statement;
pub mod sign_in;
pub mod statement;
pub mod tally;
pub mod webhook;

/// Whether text is free of control characters (Unicode category Cc: NUL, the other
/// C0 controls, DEL and the C1 controls), which no text field has a use for and
/// which PostgreSQL cannot store (NUL). A multi-line text may hold line feeds,
/// carriage returns and tabs.
pub fn is_plain_text(text: &str, multiline: bool) -> bool {
    text.chars()
        .all(|c| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t')))
}

#[cfg(test)]
mod tests {
    use super::is_plain_text;

    #[test]
    fn plain_text_refuses_control_characters() {
        assert!(is_plain_text("Stichting Één, 2027", false));
        for bad in [
            "a\u{0}b",
            "a\u{7}",
            "\u{1b}[31m",
            "a\u{7f}",
            "a\u{85}b",
            "a\nb",
            "a\tb",
        ] {
            assert!(!is_plain_text(bad, false), "{bad:?}");
        }
        assert!(is_plain_text("one\ntwo\r\n\tthree", true));
        assert!(!is_plain_text("one\u{0}two", true));
    }
}
