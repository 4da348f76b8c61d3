//! C2SP tlog-checkpoint (<https://c2sp.org/tlog-checkpoint>): the note text that
//! commits a log to a tree size and root hash.

use base64::{Engine, engine::general_purpose::STANDARD};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Identifies the log; a single non-empty line, by convention a schema-less URL.
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint must end with a newline")]
    MissingNewline,
    #[error("checkpoint needs origin, size and root lines")]
    MissingLine,
    #[error("checkpoint origin is empty")]
    EmptyOrigin,
    #[error("tree size must be a decimal number without leading zeros")]
    InvalidSize,
    #[error("root hash must be standard base64 of 32 bytes")]
    InvalidRoot,
    #[error("extension lines must not be empty")]
    EmptyExtension,
}

impl Checkpoint {
    /// The checkpoint body, without extension lines.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses a checkpoint body. Extension lines are accepted and ignored.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::MissingNewline)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(CheckpointError::MissingLine);
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        // u64::from_str would also take "+7" and "007"; the spec allows neither.
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size = size
            .parse()
            .ok()
            .filter(|_| canonical)
            .ok_or(CheckpointError::InvalidSize)?;
        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|root| <[u8; 32]>::try_from(root).ok())
            .ok_or(CheckpointError::InvalidRoot)?;
        if lines.any(str::is_empty) {
            return Err(CheckpointError::EmptyExtension);
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    fn sample() -> Checkpoint {
        Checkpoint {
            origin: "log.example/mandaat".to_owned(),
            size: 1234,
            root: std::array::from_fn(|i| i as u8),
        }
    }

    #[test]
    fn round_trips() {
        let text = sample().to_text();
        assert_eq!(text, format!("log.example/mandaat\n1234\n{ROOT_B64}\n"));
        assert_eq!(Checkpoint::parse(&text).unwrap(), sample());

        let zero = Checkpoint {
            size: 0,
            ..sample()
        };
        assert_eq!(Checkpoint::parse(&zero.to_text()).unwrap(), zero);
        let max = Checkpoint {
            size: u64::MAX,
            ..sample()
        };
        assert_eq!(Checkpoint::parse(&max.to_text()).unwrap(), max);
    }

    #[test]
    fn ignores_extension_lines() {
        let text = format!("{}extension one\nextension two\n", sample().to_text());
        assert_eq!(Checkpoint::parse(&text).unwrap(), sample());
    }

    #[test]
    fn refusals() {
        use CheckpointError::*;
        let cases = [
            ("", MissingNewline),
            ("log\n1234\nAAAA", MissingNewline),
            ("\n", MissingLine),
            ("log\n1234\n", MissingLine),
            ("\n1234\nROOT\n", EmptyOrigin),
            ("log\n\nROOT\n", InvalidSize),
            ("log\n01234\nROOT\n", InvalidSize),
            ("log\n00\nROOT\n", InvalidSize),
            ("log\n+1234\nROOT\n", InvalidSize),
            ("log\n-1\nROOT\n", InvalidSize),
            ("log\n 1234\nROOT\n", InvalidSize),
            ("log\n18446744073709551616\nROOT\n", InvalidSize),
            ("log\n1234\n\n", InvalidRoot),
            (
                "log\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
                InvalidRoot,
            ),
            (
                "log\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
                InvalidRoot,
            ),
            (
                "log\n1234\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
                InvalidRoot,
            ),
            (
                "log\n1234\n____________________________________________\n",
                InvalidRoot,
            ),
            ("log\n1234\nROOT\n\n", EmptyExtension),
            ("log\n1234\nROOT\next\n\n", EmptyExtension),
        ];
        for (text, err) in cases {
            let text = text.replace("ROOT", ROOT_B64);
            assert_eq!(Checkpoint::parse(&text), Err(err), "{text:?}");
        }
    }
}
