//! Import of DUO (Dutch education ministry) open-data CSV files, read exactly as published.
//!
//! DUO changes dialect between years: the PO files are latin-1 and unquoted (numbers sometimes
//! with a leading space), the VO file is UTF-8 with quoted text fields. Both are `;`-separated.
//! The dialect and the file kind are recognised from the bytes and the header, so nobody ever
//! has to convert a file by hand.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuoBoard {
    pub bg_number: u32,
    /// From the PO board-name file; None when no file named this board.
    pub name: Option<String>,
    /// Some(sum) when a PO pupil file lists this board.
    pub pupils_po: Option<u64>,
    /// Some(sum) when a VO pupil file lists this board.
    pub pupils_vo: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuoFileKind {
    PupilsPo,
    BoardNamesPo,
    SchoolsPo,
    PupilsVo,
}

#[derive(Debug, Clone)]
pub struct DuoFileSummary {
    pub path: PathBuf,
    pub kind: DuoFileKind,
    pub rows: usize,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DuoData {
    /// Boards that appear in at least one PUPIL file (PO or VO), keyed by number.
    /// Names from the name file are attached only to these boards (the name file lists
    /// boards that no longer have pupils; they are not members to import).
    pub boards: BTreeMap<u32, DuoBoard>,
    pub files: Vec<DuoFileSummary>,
    /// true when at least one PO pupil file was read (so the importer knows PO counts are
    /// authoritative), likewise for VO
    pub has_po: bool,
    pub has_vo: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DuoError {
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a DUO file this importer knows (header: {header})", .path.display())]
    UnknownFormat { path: PathBuf, header: String },
    /// The Vec is never empty.
    #[error("{} malformed row(s); first: {}", .0.len(), .0[0])]
    Malformed(Vec<RowError>),
    #[error("no DUO pupil file among the given paths")]
    NoPupilFile,
}

/// Reads the given files/directories. A directory contributes the `*.csv` files directly
/// inside it, sorted by file name; anything else in it (README.md) is ignored.
///
/// # Errors
/// `Io` for a missing or unreadable path; otherwise as [`parse_files`].
pub fn read_paths(paths: &[PathBuf]) -> Result<DuoData, DuoError> {
    let mut files = Vec::new();
    for path in paths {
        if fs::metadata(path).map_err(io_error(path))?.is_dir() {
            let mut csvs = Vec::new();
            for entry in fs::read_dir(path).map_err(io_error(path))? {
                let file = entry.map_err(io_error(path))?.path();
                let is_csv = file
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                if is_csv && file.is_file() {
                    csvs.push(file);
                }
            }
            csvs.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
            files.extend(csvs);
        } else {
            files.push(path.clone());
        }
    }
    // A file named twice (directly and via its directory) must not count its pupils twice.
    let mut seen = BTreeSet::new();
    let mut loaded = Vec::new();
    for file in files {
        if seen.insert(fs::canonicalize(&file).map_err(io_error(&file))?) {
            let bytes = fs::read(&file).map_err(io_error(&file))?;
            loaded.push((file, bytes));
        }
    }
    parse_files(&loaded)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> DuoError + '_ {
    move |source| DuoError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Pure core used by `read_paths` and by unit tests: parse already-read files.
///
/// # Errors
/// `UnknownFormat` for the first file with an unrecognised header; `Malformed` with every bad
/// row of every file; `NoPupilFile` when neither a PO nor a VO pupil file was given.
pub fn parse_files(files: &[(PathBuf, Vec<u8>)]) -> Result<DuoData, DuoError> {
    let mut acc = Acc::default();
    let mut summaries = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        summaries.push(parse_file(path, bytes, &mut acc)?);
    }
    if !acc.errors.is_empty() {
        return Err(DuoError::Malformed(acc.errors));
    }
    let has_po = summaries.iter().any(|s| s.kind == DuoFileKind::PupilsPo);
    let has_vo = summaries.iter().any(|s| s.kind == DuoFileKind::PupilsVo);
    if !has_po && !has_vo {
        return Err(DuoError::NoPupilFile);
    }
    let mut boards = BTreeMap::new();
    for &bg_number in acc.po.keys().chain(acc.vo.keys()) {
        boards.entry(bg_number).or_insert_with(|| DuoBoard {
            bg_number,
            name: acc.names.get(&bg_number).map(|(_, name)| name.clone()),
            pupils_po: acc.po.get(&bg_number).copied(),
            pupils_vo: acc.vo.get(&bg_number).copied(),
        });
    }
    Ok(DuoData {
        boards,
        files: summaries,
        has_po,
        has_vo,
    })
}

/// State gathered over all files, so that errors and sums span the whole import.
#[derive(Default)]
struct Acc {
    po: BTreeMap<u32, u64>,
    vo: BTreeMap<u32, u64>,
    /// Board number -> (JAAR, name) of the latest year seen.
    names: BTreeMap<u32, (u32, String)>,
    errors: Vec<RowError>,
}

/// Which columns a recognised file kind uses.
enum Columns {
    Pupils { bg: usize, count: usize },
    Names { bg: usize, name: usize, year: usize },
    Skip,
}

/// Valid UTF-8 is taken as UTF-8 (minus a BOM); anything else as latin-1, where each byte is
/// the Unicode code point of the same value.
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s.strip_prefix('\u{feff}').unwrap_or(s)),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// Recognises the file kind from its (trimmed) header names.
fn classify(header: &[String]) -> Option<(DuoFileKind, Columns)> {
    let col = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
    if let (Some(bg), Some(count)) = (col("BEVOEGD_GEZAG_NUMMER"), col("TOTAAL")) {
        return Some((DuoFileKind::PupilsPo, Columns::Pupils { bg, count }));
    }
    let bg = col("BEVOEGD GEZAG NUMMER")?;
    if let Some(count) = col("AANTAL LEERLINGEN") {
        return Some((DuoFileKind::PupilsVo, Columns::Pupils { bg, count }));
    }
    if let (Some(name), Some(year)) = (col("BEVOEGD GEZAG NAAM"), col("JAAR")) {
        return Some((DuoFileKind::BoardNamesPo, Columns::Names { bg, name, year }));
    }
    if col("BRIN NUMMER").is_some() && col("INSTELLINGSNAAM").is_some() {
        return Some((DuoFileKind::SchoolsPo, Columns::Skip));
    }
    None
}

fn parse_file(path: &Path, bytes: &[u8], acc: &mut Acc) -> Result<DuoFileSummary, DuoError> {
    let text = decode(bytes);
    // flexible: a short row must become a reported error with its line, not a csv failure.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .flexible(true)
        .from_reader(text.as_bytes());
    let row_error = |line: u64, message: String| RowError {
        path: path.to_path_buf(),
        line,
        message,
    };
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => {
            return Err(DuoError::Malformed(vec![row_error(
                1,
                format!("unreadable header: {e}"),
            )]));
        }
    };
    let Some((kind, columns)) = classify(&header) else {
        return Err(DuoError::UnknownFormat {
            path: path.to_path_buf(),
            header: header.join(";"),
        });
    };
    let mut rows = 0;
    for result in reader.records() {
        rows += 1;
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                acc.errors.push(row_error(line, e.to_string()));
                continue;
            }
        };
        let line = record.position().map_or(0, csv::Position::line);
        let outcome = if record.len() != header.len() {
            Err(format!(
                "expected {} fields, found {}",
                header.len(),
                record.len()
            ))
        } else {
            apply_row(kind, &columns, &header, &record, acc)
        };
        if let Err(message) = outcome {
            acc.errors.push(row_error(line, message));
        }
    }
    let note = (kind == DuoFileKind::SchoolsPo).then(|| {
        "skipped: lists schools, and INSTELLINGSNAAM is a school name, not a board name".to_string()
    });
    Ok(DuoFileSummary {
        path: path.to_path_buf(),
        kind,
        rows,
        note,
    })
}

/// Adds one well-shaped row to the accumulator; Err carries the message for the row error.
fn apply_row(
    kind: DuoFileKind,
    columns: &Columns,
    header: &[String],
    record: &csv::StringRecord,
    acc: &mut Acc,
) -> Result<(), String> {
    let field = |i: usize| record.get(i).unwrap_or("").trim();
    let board = |i: usize| match parse_digits(field(i)).and_then(|n| u32::try_from(n).ok()) {
        Some(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{}: {:?} is not a board number",
            header[i],
            field(i)
        )),
    };
    let number = |i: usize, what: &str| {
        parse_digits(field(i)).ok_or_else(|| format!("{}: {:?} is not {what}", header[i], field(i)))
    };
    match *columns {
        Columns::Pupils { bg, count } => {
            let bg = board(bg)?;
            let count = number(count, "a pupil count")?;
            let sums = if kind == DuoFileKind::PupilsVo {
                &mut acc.vo
            } else {
                &mut acc.po
            };
            let sum = sums.entry(bg).or_insert(0);
            *sum = sum
                .checked_add(count)
                .ok_or_else(|| format!("pupil sum of board {bg} overflows"))?;
        }
        Columns::Names { bg, name, year } => {
            let number_bg = board(bg)?;
            let jaar = number(year, "a year")?;
            let jaar = u32::try_from(jaar)
                .map_err(|_| format!("{}: {jaar} is not a year", header[year]))?;
            let board_name = field(name);
            if board_name.is_empty() {
                return Err(format!("{}: empty board name", header[name]));
            }
            // Highest JAAR wins; on a tie the later row does (hence >=).
            if acc
                .names
                .get(&number_bg)
                .is_none_or(|(seen, _)| jaar >= *seen)
            {
                acc.names.insert(number_bg, (jaar, board_name.to_string()));
            }
        }
        Columns::Skip => {}
    }
    Ok(())
}

/// A non-empty run of ASCII digits (already trimmed), as u64; no signs, no separators.
fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/duo");
    const VO_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/duo-vo");

    const PO_HEADER: &str = "PEILDATUM;BRIN_NUMMER;SOORT_PO;BEVOEGD_GEZAG_NUMMER;TOTAAL\n";
    const NAME_HEADER: &str =
        "BEVOEGD GEZAG NUMMER;GROEPERING;BEVOEGD GEZAG NAAM;JAAR;TA - TOTAAL ACTIVA\n";

    fn file(name: &str, bytes: &[u8]) -> (PathBuf, Vec<u8>) {
        (PathBuf::from(name), bytes.to_vec())
    }

    fn read(dirs: &[&str]) -> Result<DuoData, DuoError> {
        read_paths(&dirs.iter().map(PathBuf::from).collect::<Vec<_>>())
    }

    fn malformed(result: Result<DuoData, DuoError>) -> Vec<RowError> {
        match result {
            Err(DuoError::Malformed(errors)) => errors,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn real_po_folder() -> Result<(), DuoError> {
        let data = read(&[PO_DIR])?;
        assert!(data.has_po && !data.has_vo);
        assert_eq!(data.boards.len(), 1_052);
        let total: u64 = data.boards.values().filter_map(|b| b.pupils_po).sum();
        assert_eq!(total, 1_528_377);
        let small = data
            .boards
            .values()
            .filter(|b| b.pupils_po.is_some_and(|n| n <= 1_000))
            .count();
        assert_eq!(small, 614);
        let rvko = &data.boards[&24597];
        assert_eq!(rvko.name.as_deref(), Some("Rotterdamse Ver Kath Ond"));
        assert_eq!(rvko.pupils_po, Some(19_997));
        assert_eq!(data.boards[&41775].pupils_po, Some(19_907));
        // The README's "names match 1,011" counts only the 2015 rows; 7 more boards filed their
        // last balance in 2013/2014 and keep that name, so 34 (not 41) stay unnamed.
        assert_eq!(
            data.boards.values().filter(|b| b.name.is_none()).count(),
            34
        );
        assert!(data.boards.values().all(|b| b.pupils_vo.is_none()));

        let kinds: Vec<_> = data.files.iter().map(|f| (f.kind, f.rows)).collect();
        assert_eq!(
            kinds,
            [
                (DuoFileKind::BoardNamesPo, 5_434),
                (DuoFileKind::SchoolsPo, 6_359),
                (DuoFileKind::PupilsPo, 7_532)
            ]
        );
        assert!(data.files[1].note.is_some());
        Ok(())
    }

    #[test]
    fn real_vo_folder() -> Result<(), DuoError> {
        let data = read(&[VO_DIR])?;
        assert!(data.has_vo && !data.has_po);
        assert_eq!(data.boards.len(), 276);
        let total: u64 = data.boards.values().filter_map(|b| b.pupils_vo).sum();
        assert_eq!(total, 919_819);
        assert_eq!(data.boards[&41211].pupils_vo, Some(57_307));
        let small = data
            .boards
            .values()
            .filter(|b| b.pupils_vo.is_some_and(|n| n <= 3_500))
            .count();
        assert_eq!(small, 196);
        // No VO file names boards; site names must not leak in.
        assert!(data.boards.values().all(|b| b.name.is_none()));
        Ok(())
    }

    #[test]
    fn real_both_folders() -> Result<(), DuoError> {
        let data = read(&[PO_DIR, VO_DIR])?;
        assert_eq!(data.boards.len(), 1_279);
        let both = data
            .boards
            .values()
            .filter(|b| b.pupils_po.is_some() && b.pupils_vo.is_some())
            .count();
        assert_eq!(both, 49);
        Ok(())
    }

    #[test]
    fn same_file_twice_counts_once() -> Result<(), DuoError> {
        let direct = PathBuf::from(PO_DIR).join("po-leerlingen-per-vestiging-2016.csv");
        let data = read_paths(&[PathBuf::from(PO_DIR), direct])?;
        assert_eq!(
            data.boards
                .values()
                .filter_map(|b| b.pupils_po)
                .sum::<u64>(),
            1_528_377
        );
        Ok(())
    }

    #[test]
    fn missing_path_is_io_error() {
        let result = read_paths(&[PathBuf::from("/nonexistent/duo")]);
        assert!(matches!(result, Err(DuoError::Io { .. })));
    }

    #[test]
    fn latin1_names_and_leading_spaces() -> Result<(), DuoError> {
        let mut names = NAME_HEADER.as_bytes().to_vec();
        names.extend_from_slice(b"12345;PO1;Stichting Old;2014;1.234.567\n");
        names.extend_from_slice(b"12345;PO1;Stichting Pos\xEBn;2015;1.234.567\n");
        names.extend_from_slice(b"99999;PO1;Gone;2015;1\n");
        let pupils =
            format!("{PO_HEADER}20161001;00AA;Bo; 12345; 285\n20161001;00AB;Bo;12345;15\n");
        let data = parse_files(&[
            file("names.csv", &names),
            file("pupils.csv", pupils.as_bytes()),
        ])?;
        assert_eq!(data.boards.len(), 1, "name-only boards are not imported");
        let board = &data.boards[&12345];
        assert_eq!(board.name.as_deref(), Some("Stichting Posën"));
        assert_eq!(board.pupils_po, Some(300));
        assert_eq!(board.pupils_vo, None);
        Ok(())
    }

    #[test]
    fn name_ties_take_later_row() -> Result<(), DuoError> {
        let names =
            format!("{NAME_HEADER}7;PO1;First;2015;1\n7;PO1;Second;2015;1\n7;PO1;Older;2011;1\n");
        let pupils = format!("{PO_HEADER}20161001;00AA;Bo;7;1\n");
        let data = parse_files(&[
            file("n.csv", names.as_bytes()),
            file("p.csv", pupils.as_bytes()),
        ])?;
        assert_eq!(data.boards[&7].name.as_deref(), Some("Second"));
        Ok(())
    }

    #[test]
    fn quoted_utf8_vo_with_bom() -> Result<(), DuoError> {
        let vo = "\u{feff}\"BEVOEGD GEZAG NUMMER\";\"INSTELLINGSNAAM VESTIGING\";\"AANTAL LEERLINGEN\";\"AANTAL VO LEERLINGEN UITBESTEED AAN VAVO\"\n\
                  \"10028\";\"Burg Walda SGM\";145;\"<5\"\n\"10028\";\"Café\";5;\"0\"\n";
        let data = parse_files(&[file("vo.csv", vo.as_bytes())])?;
        assert!(data.has_vo);
        assert_eq!(data.boards[&10028].pupils_vo, Some(150));
        assert_eq!(data.boards[&10028].name, None);
        Ok(())
    }

    #[test]
    fn bad_rows_are_all_reported_with_lines() {
        let first = format!(
            "{PO_HEADER}20161001;00AA;Bo;1;10\n20161001;00AB;Bo;2;veel\n20161001;00AC;Bo\n"
        );
        let second = format!("{PO_HEADER}20161001;00AA;Bo;;10\n20161001;00AA;Bo;0;10\n");
        let errors = malformed(parse_files(&[
            file("a.csv", first.as_bytes()),
            file("b.csv", second.as_bytes()),
        ]));
        let at: Vec<_> = errors
            .iter()
            .map(|e| (e.path.to_string_lossy().into_owned(), e.line))
            .collect();
        assert_eq!(
            at,
            [
                ("a.csv".into(), 3),
                ("a.csv".into(), 4),
                ("b.csv".into(), 2),
                ("b.csv".into(), 3)
            ]
        );
        assert_eq!(
            errors[0].to_string(),
            "a.csv:3: TOTAAL: \"veel\" is not a pupil count"
        );
        assert_eq!(errors[1].message, "expected 5 fields, found 3");
    }

    #[test]
    fn overflow_is_a_row_error() {
        let pupils = format!("{PO_HEADER}1;A;Bo;1;{max}\n1;A;Bo;1;1\n", max = u64::MAX);
        let errors = malformed(parse_files(&[file("p.csv", pupils.as_bytes())]));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 3);
    }

    #[test]
    fn unknown_header_and_no_pupil_file() {
        let result = parse_files(&[file("x.csv", b"FOO;BAR\n1;2\n")]);
        assert!(
            matches!(result, Err(DuoError::UnknownFormat { ref path, .. }) if path == Path::new("x.csv"))
        );
        let names = format!("{NAME_HEADER}7;PO1;Name;2015;1\n");
        assert!(matches!(
            parse_files(&[file("n.csv", names.as_bytes())]),
            Err(DuoError::NoPupilFile)
        ));
        assert!(matches!(parse_files(&[]), Err(DuoError::NoPupilFile)));
    }
}
