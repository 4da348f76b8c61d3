//! Schools by BRIN, and the board (bevoegd gezag) each belongs to: reference data from
//! DUO's files, used to suggest a board when someone signs in with a school's account.

use std::fmt;

use crate::domain::member::{BgNumber, Sector};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchoolError {
    #[error(
        "{0:?} is not a BRIN: expected 4 characters like 16AH (two digits, then two letters or digits), or 6 with a two-digit site number like 16AH00"
    )]
    NotABrin(String),
}

/// A school's BRIN number (*instellingscode*), as DUO and Kennisnet's Entree Federatie
/// (`nlEduPersonHomeOrganizationId`) give it: two digits and two letters or digits,
/// upper case. A site code (BRIN plus a two-digit *vestigingsnummer*, `16AH00`) names
/// a site of that school and parses to the school's BRIN.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Brin(String);

impl Brin {
    /// Trims and upper-cases `text`, then accepts `[0-9]{2}[A-Z0-9]{2}`, optionally
    /// followed by two digits (a site), which are dropped. Anything else, such as the
    /// domain a SURFconext account gives for its school (`school.nl`), is not a BRIN.
    ///
    /// # Errors
    /// `NotABrin` with the text as given.
    pub fn parse(text: &str) -> Result<Brin, SchoolError> {
        let code = text.trim().to_ascii_uppercase();
        let b = code.as_bytes();
        let school = b.len() >= 4
            && b[..2].iter().all(u8::is_ascii_digit)
            && b[2..4].iter().all(u8::is_ascii_alphanumeric);
        let site = match b.len() {
            4 => true,
            6 => b[4..].iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if school && site {
            Ok(Brin(code[..4].to_owned()))
        } else {
            Err(SchoolError::NotABrin(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Brin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A school as DUO's files list it: its BRIN, its board, its name (a school's name,
/// never the board's) and its sector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    pub brin: Brin,
    pub bg_number: BgNumber,
    pub name: String,
    pub sector: Sector,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brin(text: &str) -> Option<String> {
        Brin::parse(text).ok().map(|b| b.as_str().to_owned())
    }

    #[test]
    fn four_characters_are_a_brin() {
        assert_eq!(brin("16AH").as_deref(), Some("16AH"));
        assert_eq!(brin("00AA").as_deref(), Some("00AA"));
        assert_eq!(brin("12B3").as_deref(), Some("12B3"));
        assert_eq!(
            brin(" 16ah\t").as_deref(),
            Some("16AH"),
            "trimmed, upper-cased"
        );
    }

    #[test]
    fn a_site_code_gives_its_school() {
        assert_eq!(brin("16AH00").as_deref(), Some("16AH"));
        assert_eq!(brin("21cy05").as_deref(), Some("21CY"));
        assert_eq!(Brin::parse("16AH00"), Brin::parse("16AH"));
    }

    #[test]
    fn anything_else_is_not_a_brin() {
        for text in [
            "",
            "   ",
            "16A",
            "16AHX",
            "16AH0",
            "16AH0A",
            "16AH000",
            "A6AH",
            "1AAH",
            "16A-",
            "16ÄH",
            "school.nl",
            "16ah.nl",
            "hogeschool.example.nl",
            "１６AH",
        ] {
            assert_eq!(
                Brin::parse(text),
                Err(SchoolError::NotABrin(text.to_owned())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_error_names_the_text() {
        let err = Brin::parse("school.nl").unwrap_err();
        assert!(err.to_string().starts_with("\"school.nl\" is not a BRIN"));
    }
}
