//! Import of DUO (Dutch education ministry) open-data CSV files, read exactly as published.
//!
//! DUO changes dialect between years: the PO files are latin-1 and unquoted (numbers sometimes
//! with a leading space), the VO file is UTF-8 with quoted text fields. Both are `;`-separated.
//! The dialect and the file kind are recognised from the bytes and the header, so nobody ever
//! has to convert a file by hand.
//!
//! Besides boards and pupils, the files give the BRIN → board map: PO schools from the
//! file of main sites (`BRIN NUMMER`, `INSTELLINGSNAAM`), VO schools from the pupil file's
//! `INSTELLINGSCODE`, one school per code over its sites, named after its main site
//! (code + `00`) or else its first. A BRIN listed under two boards (a school that moved to
//! another board between two years' files) keeps the board of the row read last: files are
//! read in the order given, a directory's sorted by name, so the newer of two year-stamped
//! files wins. Every such BRIN is reported as a [`SchoolConflict`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::domain::is_plain_text;
use crate::domain::member::{BgNumber, Sector};
use crate::domain::school::{Brin, School};

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
    /// Every school (BRIN) the files list, with its board, also boards without pupils.
    pub schools: BTreeMap<Brin, School>,
    /// The sectors whose school lists were read: the PO main-site file for PO, a VO
    /// pupil file with `INSTELLINGSCODE` for VO. Only these sectors' stored schools are
    /// replaced by an import.
    pub school_sectors: BTreeSet<Sector>,
    /// BRINs listed under more than one board, in the order met.
    pub school_conflicts: Vec<SchoolConflict>,
}

/// A BRIN listed under two boards: the row read later (`path`, `line`) wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchoolConflict {
    pub brin: Brin,
    /// The board the BRIN had before this row.
    pub replaced: BgNumber,
    /// The board of this row, which the BRIN keeps unless a later row changes it again.
    pub kept: BgNumber,
    pub path: PathBuf,
    pub line: u64,
}

impl fmt::Display for SchoolConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: BRIN {} is listed under board {} here and under board {} before; board {} is kept",
            self.path.display(),
            self.line,
            self.brin,
            self.kept,
            self.replaced,
            self.kept
        )
    }
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
    for (index, (path, bytes)) in files.iter().enumerate() {
        summaries.push(parse_file(index, path, bytes, &mut acc)?);
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
        schools: acc
            .schools
            .into_iter()
            .map(|(brin, seen)| (brin, seen.school))
            .collect(),
        school_sectors: acc.school_sectors,
        school_conflicts: acc.school_conflicts,
    })
}

/// State gathered over all files, so that errors and sums span the whole import.
#[derive(Default)]
struct Acc {
    po: BTreeMap<u32, u64>,
    vo: BTreeMap<u32, u64>,
    /// Board number -> (JAAR, name) of the latest year seen.
    names: BTreeMap<u32, (u32, String)>,
    schools: BTreeMap<Brin, SeenSchool>,
    school_sectors: BTreeSet<Sector>,
    school_conflicts: Vec<SchoolConflict>,
    errors: Vec<RowError>,
}

/// A school as far as the rows read so far tell.
struct SeenSchool {
    school: School,
    /// The index of the file its row came from.
    file: usize,
    /// Whether its name is that of its main site (PO lists main sites only).
    main_site: bool,
}

/// Where the row being applied is.
struct RowAt<'a> {
    file: usize,
    path: &'a Path,
    line: u64,
}

/// Which columns a recognised file kind uses.
enum Columns {
    Pupils {
        bg: usize,
        count: usize,
        /// A VO pupil file also lists schools when it has their columns.
        schools: Option<SchoolColumns>,
    },
    Names {
        bg: usize,
        name: usize,
        year: usize,
    },
    Schools {
        bg: usize,
        schools: SchoolColumns,
    },
}

/// The columns of a school list: one row per school (PO) or per site (VO, `site`).
struct SchoolColumns {
    brin: usize,
    name: usize,
    site: Option<usize>,
    sector: Sector,
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
        // It has BRIN_NUMMER too, but per site and with sites' names: the PO schools come
        // from the main-site file.
        let schools = None;
        return Some((
            DuoFileKind::PupilsPo,
            Columns::Pupils { bg, count, schools },
        ));
    }
    let bg = col("BEVOEGD GEZAG NUMMER")?;
    if let Some(count) = col("AANTAL LEERLINGEN") {
        let schools = match (col("INSTELLINGSCODE"), col("INSTELLINGSNAAM VESTIGING")) {
            (Some(brin), Some(name)) => Some(SchoolColumns {
                brin,
                name,
                site: col("VESTIGINGSCODE"),
                sector: Sector::Vo,
            }),
            _ => None,
        };
        return Some((
            DuoFileKind::PupilsVo,
            Columns::Pupils { bg, count, schools },
        ));
    }
    if let (Some(name), Some(year)) = (col("BEVOEGD GEZAG NAAM"), col("JAAR")) {
        return Some((DuoFileKind::BoardNamesPo, Columns::Names { bg, name, year }));
    }
    if let (Some(brin), Some(name)) = (col("BRIN NUMMER"), col("INSTELLINGSNAAM")) {
        let schools = SchoolColumns {
            brin,
            name,
            site: None,
            sector: Sector::Po,
        };
        return Some((DuoFileKind::SchoolsPo, Columns::Schools { bg, schools }));
    }
    None
}

fn parse_file(
    file: usize,
    path: &Path,
    bytes: &[u8],
    acc: &mut Acc,
) -> Result<DuoFileSummary, DuoError> {
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
    let school_sector = match &columns {
        Columns::Schools { schools, .. }
        | Columns::Pupils {
            schools: Some(schools),
            ..
        } => Some(schools.sector),
        _ => None,
    };
    acc.school_sectors.extend(school_sector);
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
            let at = RowAt { file, path, line };
            apply_row(kind, &columns, &header, &record, &at, acc)
        };
        if let Err(message) = outcome {
            acc.errors.push(row_error(line, message));
        }
    }
    let note = match kind {
        DuoFileKind::SchoolsPo => Some(
            "schools only (BRIN → board); INSTELLINGSNAAM names a school, not its board"
                .to_string(),
        ),
        DuoFileKind::PupilsVo if school_sector.is_some() => {
            Some("pupils, and schools (BRIN → board) from INSTELLINGSCODE".to_string())
        }
        _ => None,
    };
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
    at: &RowAt<'_>,
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
    match columns {
        Columns::Pupils { bg, count, schools } => {
            if let Some(schools) = schools {
                apply_school(schools, *bg, header, record, at, acc)?;
            }
            let bg = board(*bg)?;
            let count = number(*count, "a pupil count")?;
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
        &Columns::Names { bg, name, year } => {
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
        Columns::Schools { bg, schools } => apply_school(schools, *bg, header, record, at, acc)?,
    }
    Ok(())
}

/// Adds a row of a school list: a new BRIN, another site of one (which names it when it
/// is the main site), or a later row that replaces it (a conflict when the board differs).
fn apply_school(
    columns: &SchoolColumns,
    bg: usize,
    header: &[String],
    record: &csv::StringRecord,
    at: &RowAt<'_>,
    acc: &mut Acc,
) -> Result<(), String> {
    let field = |i: usize| record.get(i).unwrap_or("").trim();
    // The 4-character code itself: a site code here would mean a misread column.
    let raw_brin = field(columns.brin);
    let brin = Brin::parse(raw_brin)
        .ok()
        .filter(|_| raw_brin.len() == 4)
        .ok_or_else(|| format!("{}: {raw_brin:?} is not a BRIN", header[columns.brin]))?;
    let bg_number = parse_digits(field(bg))
        .and_then(|n| i64::try_from(n).ok())
        .and_then(|n| BgNumber::new(n).ok())
        .ok_or_else(|| format!("{}: {:?} is not a board number", header[bg], field(bg)))?;
    let name = field(columns.name);
    if name.is_empty() || !is_plain_text(name, false) {
        return Err(format!(
            "{}: {name:?} is not a school name",
            header[columns.name]
        ));
    }
    let main_site = match columns.site {
        None => true,
        Some(site) => {
            let code = field(site);
            if code.len() != 6 || Brin::parse(code).ok().as_ref() != Some(&brin) {
                return Err(format!(
                    "{}: {code:?} is not a site of {brin}",
                    header[site]
                ));
            }
            code.ends_with("00")
        }
    };
    let school = School {
        brin: brin.clone(),
        bg_number,
        name: name.to_owned(),
        sector: columns.sector,
    };
    if let Some(seen) = acc.schools.get_mut(&brin) {
        if seen.school.bg_number != bg_number {
            acc.school_conflicts.push(SchoolConflict {
                brin: brin.clone(),
                replaced: seen.school.bg_number,
                kept: bg_number,
                path: at.path.to_path_buf(),
                line: at.line,
            });
        } else if seen.file == at.file {
            // Another site of a school this file listed already: the main site names it.
            if main_site && !seen.main_site {
                seen.school.name = school.name;
                seen.main_site = true;
            }
            return Ok(());
        }
    }
    // New, or listed again by a later file or under another board: this row wins.
    acc.schools.insert(
        brin,
        SeenSchool {
            school,
            file: at.file,
            main_site,
        },
    );
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

    const SCHOOL_HEADER: &str =
        "PROVINCIE;BEVOEGD GEZAG NUMMER;BRIN NUMMER;INSTELLINGSNAAM;PLAATSNAAM\n";
    const VO_HEADER: &str = "\"BEVOEGD GEZAG NUMMER\";\"INSTELLINGSCODE\";\"VESTIGINGSCODE\";\"INSTELLINGSNAAM VESTIGING\";\"AANTAL LEERLINGEN\"\n";

    fn brin(code: &str) -> Brin {
        Brin::parse(code).unwrap()
    }

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

        // The main-site file: one school per BRIN, under 925 boards, as DUO's README says.
        assert_eq!(data.schools.len(), 6_359);
        let boards: BTreeSet<_> = data.schools.values().map(|s| s.bg_number).collect();
        assert_eq!(boards.len(), 925);
        assert!(data.schools.values().all(|s| s.sector == Sector::Po));
        assert_eq!(data.school_sectors, BTreeSet::from([Sector::Po]));
        assert!(data.school_conflicts.is_empty());
        let eenspan = &data.schools[&brin("16AH")];
        assert_eq!(eenspan.bg_number.get(), 10249);
        assert_eq!(eenspan.name, "Openbare Basisschool 't Eenspan");
        // Schools of boards without pupils in 2016 are kept: the map is reference data.
        assert_eq!(data.schools[&brin("11PF")].bg_number.get(), 40470);
        assert!(!data.boards.contains_key(&40470));
        let without_pupils = data
            .schools
            .values()
            .filter(|s| !data.boards.contains_key(&s.bg_number.get()))
            .count();
        assert_eq!(without_pupils, 22);
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

        // 1,453 sites of 642 schools (INSTELLINGSCODE), under all 276 boards.
        assert_eq!(data.schools.len(), 642);
        let boards: BTreeSet<_> = data.schools.values().map(|s| s.bg_number.get()).collect();
        assert_eq!(boards.len(), 276);
        assert!(boards.iter().eq(data.boards.keys()));
        assert!(data.schools.values().all(|s| s.sector == Sector::Vo));
        assert_eq!(data.school_sectors, BTreeSet::from([Sector::Vo]));
        assert!(data.school_conflicts.is_empty());
        let walda = &data.schools[&brin("19HY")];
        assert_eq!(
            (walda.bg_number.get(), walda.name.as_str()),
            (10028, "Burg Walda SGM")
        );
        // Six sites, the main one (20LO00) names the school, not 20LO04's longer name.
        assert_eq!(data.schools[&brin("20LO")].name, "Opb SGM Dr Nassau Coll");
        // No main site (21CY03, 21CY05): the first site names it.
        assert_eq!(
            data.schools[&brin("21CY")].name,
            "Curio Prinsentuin Oudenbosch"
        );
        assert_eq!(data.schools[&brin("21CY")].bg_number.get(), 31107);
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
        // No BRIN is both a PO and a VO school, and none changes board.
        assert_eq!(data.schools.len(), 6_359 + 642);
        assert!(data.school_conflicts.is_empty());
        assert_eq!(
            data.school_sectors,
            BTreeSet::from([Sector::Po, Sector::Vo])
        );
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
    fn latin1_po_schools() -> Result<(), DuoError> {
        let mut schools = SCHOOL_HEADER.as_bytes().to_vec();
        schools.extend_from_slice(b"Drenthe;10249;16AH;Openbare Basisschool 't Eenspan;EMMEN\n");
        schools.extend_from_slice(b"Limburg; 40470 ; 11PF ;Basisschool Ri\xEBtveld;ROERMOND\n");
        let pupils = format!("{PO_HEADER}20161001;16AH;Bo;10249;120\n");
        let data = parse_files(&[
            file("schools.csv", &schools),
            file("pupils.csv", pupils.as_bytes()),
        ])?;
        assert_eq!(data.schools.len(), 2);
        assert_eq!(
            data.schools[&brin("16AH")],
            School {
                brin: brin("16AH"),
                bg_number: BgNumber::new(10249).unwrap(),
                name: "Openbare Basisschool 't Eenspan".into(),
                sector: Sector::Po,
            }
        );
        let rietveld = &data.schools[&brin("11PF")];
        assert_eq!(rietveld.name, "Basisschool Riëtveld");
        assert_eq!(rietveld.bg_number.get(), 40470);
        // A school list is no pupil file: its boards are not boards to import.
        assert_eq!(data.boards.keys().collect::<Vec<_>>(), [&10249]);
        assert_eq!(data.school_sectors, BTreeSet::from([Sector::Po]));
        assert_eq!(data.files[0].kind, DuoFileKind::SchoolsPo);
        Ok(())
    }

    #[test]
    fn quoted_utf8_vo_schools_named_after_their_main_site() -> Result<(), DuoError> {
        let vo = format!(
            "\u{feff}{VO_HEADER}\
             \"10028\";\"19HY\";\"19HY00\";\"Burg Walda SGM\";145\n\
             \"20000\";\"20AB\";\"20AB01\";\"Lyceum Oost\";10\n\
             \"20000\";\"20AB\";\"20AB00\";\"Het Lyceum\";10\n\
             \"20000\";\"20AB\";\"20AB02\";\"Lyceum West\";10\n\
             \"31107\";\"21CY\";\"21CY03\";\"Curio Café\";7\n\
             \"31107\";\"21CY\";\"21CY05\";\"Curio Andel\";8\n"
        );
        let data = parse_files(&[file("vo.csv", vo.as_bytes())])?;
        assert_eq!(data.boards[&20000].pupils_vo, Some(30));
        let names: Vec<_> = data
            .schools
            .values()
            .map(|s| (s.brin.as_str(), s.bg_number.get(), s.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("19HY", 10028, "Burg Walda SGM"),
                ("20AB", 20000, "Het Lyceum"),
                ("21CY", 31107, "Curio Café"),
            ]
        );
        assert!(data.schools.values().all(|s| s.sector == Sector::Vo));
        assert_eq!(data.school_sectors, BTreeSet::from([Sector::Vo]));
        assert!(data.school_conflicts.is_empty());
        Ok(())
    }

    #[test]
    fn a_vo_file_without_school_columns_lists_no_schools() -> Result<(), DuoError> {
        let vo = "\"BEVOEGD GEZAG NUMMER\";\"AANTAL LEERLINGEN\"\n\"10028\";145\n";
        let data = parse_files(&[file("vo.csv", vo.as_bytes())])?;
        assert!(data.schools.is_empty());
        assert!(data.school_sectors.is_empty());
        Ok(())
    }

    #[test]
    fn a_brin_under_two_boards_keeps_the_later_and_is_reported() -> Result<(), DuoError> {
        // 2017 says 16AH belongs to 10249; 2018 to 41000 (a school that changed board).
        let older = format!(
            "{SCHOOL_HEADER}Drenthe;10249;16AH;Eenspan;EMMEN\nDrenthe;10249;16BX;Vegter;EMMEN\n"
        );
        let newer = format!("{SCHOOL_HEADER}Drenthe;41000;16AH;Het Eenspan;EMMEN\n");
        let pupils = format!("{PO_HEADER}20161001;16AH;Bo;10249;1\n");
        let data = parse_files(&[
            file("po-hoofdvestigingen-2017.csv", older.as_bytes()),
            file("po-hoofdvestigingen-2018.csv", newer.as_bytes()),
            file("p.csv", pupils.as_bytes()),
        ])?;
        let eenspan = &data.schools[&brin("16AH")];
        assert_eq!(
            (eenspan.bg_number.get(), eenspan.name.as_str()),
            (41000, "Het Eenspan")
        );
        assert_eq!(data.schools[&brin("16BX")].bg_number.get(), 10249);
        assert_eq!(
            data.school_conflicts,
            [SchoolConflict {
                brin: brin("16AH"),
                replaced: BgNumber::new(10249).unwrap(),
                kept: BgNumber::new(41000).unwrap(),
                path: PathBuf::from("po-hoofdvestigingen-2018.csv"),
                line: 2,
            }]
        );
        assert_eq!(
            data.school_conflicts[0].to_string(),
            "po-hoofdvestigingen-2018.csv:2: BRIN 16AH is listed under board 41000 here and under board 10249 before; board 41000 is kept"
        );

        // The same BRIN again, same board, in a later file: no conflict, the later name.
        let again = format!("{SCHOOL_HEADER}Drenthe;41000;16AH;Eenspan 2019;EMMEN\n");
        let data = parse_files(&[
            file("a.csv", newer.as_bytes()),
            file("b.csv", again.as_bytes()),
            file("p.csv", pupils.as_bytes()),
        ])?;
        assert!(data.school_conflicts.is_empty());
        assert_eq!(data.schools[&brin("16AH")].name, "Eenspan 2019");
        Ok(())
    }

    #[test]
    fn sites_of_one_brin_under_two_boards_are_a_conflict() -> Result<(), DuoError> {
        let vo = format!(
            "{VO_HEADER}\"100\";\"20AB\";\"20AB00\";\"Main\";1\n\"200\";\"20AB\";\"20AB01\";\"Other\";1\n"
        );
        let data = parse_files(&[file("vo.csv", vo.as_bytes())])?;
        let school = &data.schools[&brin("20AB")];
        assert_eq!(
            (school.bg_number.get(), school.name.as_str()),
            (200, "Other")
        );
        assert_eq!(data.school_conflicts.len(), 1);
        assert_eq!(data.school_conflicts[0].line, 3);
        Ok(())
    }

    #[test]
    fn bad_school_rows_are_reported() {
        let po = format!(
            "{SCHOOL_HEADER}x;1;16AH00;Site code;y\nx;1;school.nl;Domain;y\nx;0;16AH;No board;y\nx;1;16AH; ;y\nx;1;16AH;Fine;y\n"
        );
        let vo = format!(
            "{VO_HEADER}\"1\";\"20AB\";\"21AB00\";\"Elsewhere\";1\n\"1\";\"20AB\";\"20AB\";\"Short\";1\n"
        );
        let pupils = format!("{PO_HEADER}1;A;Bo;1;1\n");
        let errors = malformed(parse_files(&[
            file("po.csv", po.as_bytes()),
            file("vo.csv", vo.as_bytes()),
            file("p.csv", pupils.as_bytes()),
        ]));
        let messages: Vec<_> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            messages,
            [
                "po.csv:2: BRIN NUMMER: \"16AH00\" is not a BRIN",
                "po.csv:3: BRIN NUMMER: \"school.nl\" is not a BRIN",
                "po.csv:4: BEVOEGD GEZAG NUMMER: \"0\" is not a board number",
                "po.csv:5: INSTELLINGSNAAM: \"\" is not a school name",
                "vo.csv:2: VESTIGINGSCODE: \"21AB00\" is not a site of 20AB",
                "vo.csv:3: VESTIGINGSCODE: \"20AB\" is not a site of 20AB",
            ]
        );
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
