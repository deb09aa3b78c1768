//! Usage files: the records a carrier imports in bulk (`omni usage import --file usage.csv`).
//!
//! [`parse_usage_file`] turns the bytes of a file into [`UsageRecord`]s, each with its line
//! number, and the lines it refused, each with its line number, the field at fault where
//! it is known, and why. A bad line never stops the others; only a fault of the whole file
//! (not UTF-8, a CSV header without a required column, more than [`MAX_FILE_RECORDS`]
//! records) refuses everything, as a [`UsageFileError`]. Nothing here reads a disk: the
//! caller hands in the bytes and passes the records on to
//! [`Ledger::ingest_usage`](crate::Ledger::ingest_usage), which drops repeated ids.
//!
//! Two formats ([`UsageFormat`]):
//!
//! * **CSV** (RFC 4180) with a header row. The columns `id`, `usageDate`, `usageType`,
//!   `quantity` and `unit` are required, in any order (names are case-sensitive); every
//!   further column is a usage characteristic named by its header, taken from each row
//!   whose cell is not empty. `usageDate` is RFC 3339 UTC (`YYYY-MM-DDTHH:MM:SSZ`) or
//!   integer UTC seconds; `unit` is a TMF635 unit symbol (`s`, `B`, `kB`, `msg`,
//!   `event`). A field holding a comma, a double quote or a line break is quoted, with
//!   quotes inside doubled:
//!
//!   ```text
//!   id,usageDate,usageType,quantity,unit,originCountry,note
//!   cdr-1,2026-11-01T00:01:00Z,voice-termination,125,s,DE,
//!   cdr-2,1793491320,sms,1,msg,FR,"retried, then ""delivered"""
//!   ```
//!
//! * **NDJSON** (also called JSON Lines): one TMF635 usage object per line, as
//!   [`UsageRecord::from_tmf635_json`] reads it.
//!
//! In both, lines that hold nothing but white space (and CSV rows whose cells are all
//! empty) are skipped, and a line number is the 1-based number of the line in the file
//! where the record starts (the CSV header is line 1 unless blank lines precede it).
//! Every record is checked by [`UsageRecord::validate`], as records built by
//! [`UsageRecord::new`] are. Large files are parsed in parallel; the order of the file is
//! kept.
//!
//! The CSV reader is written here rather than taken from the `csv` crate because an
//! import must name the right line: that crate reports the wrong line for the first
//! record after a blank line (BurntSushi/rust-csv#208), and reads a quote that is never
//! closed as a field running to the end of the file, so the lines after it would vanish
//! without a word.

use omni_core::usage::parse_rfc3339_utc;
use omni_core::{ProductId, Unit, UsageCharacteristic, UsageRecord};
use rayon::prelude::*;
use serde::de::IntoDeserializer;
use serde::Deserialize;
use std::borrow::Cow;
use std::path::Path;

/// The most records a usage file may hold; a larger file is refused as a whole.
pub const MAX_FILE_RECORDS: usize = 1_000_000;

/// Fewer lines than this are parsed on one thread: splitting them costs more than it saves.
const PARALLEL_MIN_LINES: usize = 1024;

const ID: &str = "id";
const USAGE_DATE: &str = "usageDate";
const USAGE_TYPE: &str = "usageType";
const QUANTITY: &str = "quantity";
const UNIT: &str = "unit";
const USAGE_CHARACTERISTIC: &str = "usageCharacteristic";

/// The columns every CSV usage file must have.
const REQUIRED_COLUMNS: [&str; 5] = [ID, USAGE_DATE, USAGE_TYPE, QUANTITY, UNIT];

/// The format of a usage file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UsageFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One TMF635 JSON object per line (NDJSON, JSON Lines).
    Ndjson,
}

impl UsageFormat {
    /// The format named `"csv"` or `"ndjson"` (also `"jsonl"`), in any case.
    pub fn from_name(name: &str) -> Option<UsageFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(UsageFormat::Csv),
            "ndjson" | "jsonl" => Some(UsageFormat::Ndjson),
            _ => None,
        }
    }

    /// The format a file's extension (`.csv`, `.ndjson`, `.jsonl`, in any case) names.
    pub fn from_path(path: &Path) -> Option<UsageFormat> {
        UsageFormat::from_name(path.extension()?.to_str()?)
    }

    /// The format's name, as [`UsageFormat::from_name`] takes it.
    pub fn name(&self) -> &'static str {
        match self {
            UsageFormat::Csv => "csv",
            UsageFormat::Ndjson => "ndjson",
        }
    }
}

/// A line of the file that was refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedLine {
    /// 1-based number of the line in the file where the record starts (the CSV header
    /// is line 1 unless blank lines precede it).
    pub line: usize,
    /// The field at fault when it is known, named as the CSV column is (`"quantity"`,
    /// `"unit"`, `"usageDate"`, …), for NDJSON lines too.
    pub field: Option<String>,
    /// What is wrong with the line.
    pub reason: String,
}

impl std::fmt::Display for RefusedLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "line {} ({field}): {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What a usage file holds: the records that parsed and validated, and the lines that
/// did not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedUsage {
    /// The records with the line numbers they start on, in file order.
    pub records: Vec<(usize, UsageRecord)>,
    /// The refused lines, in file order.
    pub refused: Vec<RefusedLine>,
}

/// A fault of the whole file: nothing in it is read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsageFileError {
    /// The file is not UTF-8 text.
    #[error("the file is not UTF-8: invalid byte at offset {offset} (line {line})")]
    NotUtf8 {
        /// 1-based line of the first invalid byte.
        line: usize,
        /// Offset of the first invalid byte in the file.
        offset: usize,
    },
    /// A CSV file without a header row.
    #[error("the CSV file is empty: it must start with a header row naming the columns id, usageDate, usageType, quantity, unit")]
    MissingHeader,
    /// The CSV header row cannot be read.
    #[error("the CSV header (line {line}) is malformed: {reason}")]
    BadHeader {
        /// Line of the header.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The CSV header lacks a required column.
    #[error("the CSV header (line {line}) has no column {column:?}; the columns id, usageDate, usageType, quantity, unit are required")]
    MissingColumn {
        /// Line of the header.
        line: usize,
        /// The missing column.
        column: &'static str,
    },
    /// The CSV header names a column twice, so a cell's meaning would be ambiguous.
    #[error("the CSV header (line {line}) names column {column:?} twice")]
    DuplicateColumn {
        /// Line of the header.
        line: usize,
        /// The repeated name.
        column: String,
    },
    /// A CSV header cell is empty, so its column names no characteristic.
    #[error("the CSV header (line {line}): column {position} has no name")]
    UnnamedColumn {
        /// Line of the header.
        line: usize,
        /// 1-based position of the column.
        position: usize,
    },
    /// The file holds more records than one import may.
    #[error("the file holds more than {max} usage records; split it")]
    TooManyRecords {
        /// The most a file may hold ([`MAX_FILE_RECORDS`]).
        max: usize,
    },
}

/// Parses a usage file of `format`: the records that parse and validate, and the lines
/// refused, each with its line number. Errs only on a fault of the whole file.
pub fn parse_usage_file(format: UsageFormat, bytes: &[u8]) -> Result<ParsedUsage, UsageFileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let offset = e.valid_up_to();
        let line = 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count();
        UsageFileError::NotUtf8 { line, offset }
    })?;
    // A byte order mark is no part of the first line's content.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        UsageFormat::Csv => parse_csv(text),
        UsageFormat::Ndjson => parse_ndjson(text),
    }
}

fn parse_ndjson(text: &str) -> Result<ParsedUsage, UsageFileError> {
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l))
        .take(MAX_FILE_RECORDS + 1)
        .collect();
    if lines.len() > MAX_FILE_RECORDS {
        return Err(UsageFileError::TooManyRecords { max: MAX_FILE_RECORDS });
    }
    let parsed = lines
        .par_iter()
        .with_min_len(PARALLEL_MIN_LINES)
        .map(|&(line, json)| {
            UsageRecord::from_tmf635_json(json).map_err(|e| refused(line, field_of(&e), &e))
        })
        .collect();
    Ok(split(&lines, parsed))
}

fn parse_csv(text: &str) -> Result<ParsedUsage, UsageFileError> {
    let mut reader = CsvReader { text, pos: 0, line: 1 };
    let (header_line, header) = match reader.next() {
        None => return Err(UsageFileError::MissingHeader),
        Some((line, Err(reason))) => return Err(UsageFileError::BadHeader { line, reason }),
        Some((line, Ok(header))) => (line, header),
    };
    let columns = Columns::of(header_line, &header)?;
    let mut rows = Vec::new();
    for row in reader {
        if rows.len() == MAX_FILE_RECORDS {
            return Err(UsageFileError::TooManyRecords { max: MAX_FILE_RECORDS });
        }
        rows.push(row);
    }
    let parsed = rows
        .par_iter()
        .with_min_len(PARALLEL_MIN_LINES)
        .map(|(line, row)| match row {
            Ok(cells) => columns.record(*line, cells),
            Err(reason) => Err(RefusedLine { line: *line, field: None, reason: reason.clone() }),
        })
        .collect();
    Ok(split(&rows, parsed))
}

/// Sorts the outcomes of `lines` (same order, same length) into records and refusals.
fn split<T>(lines: &[(usize, T)], parsed: Vec<Result<UsageRecord, RefusedLine>>) -> ParsedUsage {
    let mut out = ParsedUsage::default();
    for ((line, _), outcome) in lines.iter().zip(parsed) {
        match outcome {
            Ok(record) => out.records.push((*line, record)),
            Err(refusal) => out.refused.push(refusal),
        }
    }
    out
}

fn refused(line: usize, field: Option<&str>, error: &omni_core::Error) -> RefusedLine {
    RefusedLine { line, field: field.map(str::to_string), reason: error.to_string() }
}

/// The field a refusal of the domain model names, when its wording makes that plain:
/// serde_json names a missing or repeated field, `Unit` is the only enum of the TMF635
/// form, and the model's own reasons start with the field.
fn field_of(error: &omni_core::Error) -> Option<&'static str> {
    let omni_core::Error::InvalidUsage { reason, .. } = error else {
        return None;
    };
    if let Some(serde) = reason.strip_prefix("malformed TMF635 JSON: ") {
        if serde.starts_with("unknown variant") {
            return Some(UNIT);
        }
        let named = ["missing field `", "duplicate field `"]
            .iter()
            .find_map(|p| serde.strip_prefix(p))
            .and_then(|rest| rest.split('`').next())?;
        return match named {
            "amount" => Some(QUANTITY),
            "units" => Some(UNIT),
            "name" | "value" => Some(USAGE_CHARACTERISTIC),
            other => {
                REQUIRED_COLUMNS.into_iter().chain([USAGE_CHARACTERISTIC]).find(|&f| f == other)
            }
        };
    }
    let first = reason.strip_prefix("negative ").unwrap_or(reason).split(' ').next()?;
    REQUIRED_COLUMNS.into_iter().find(|&f| f == first)
}

/// Where the columns of a CSV usage file are.
struct Columns {
    id: usize,
    usage_date: usize,
    usage_type: usize,
    quantity: usize,
    unit: usize,
    /// Position and name of every further column: the characteristics.
    characteristics: Vec<(usize, String)>,
    /// Cells a row must have.
    width: usize,
}

impl Columns {
    fn of(line: usize, header: &[Cow<'_, str>]) -> Result<Columns, UsageFileError> {
        for (i, name) in header.iter().enumerate() {
            if name.is_empty() {
                return Err(UsageFileError::UnnamedColumn { line, position: i + 1 });
            }
            if header[..i].contains(name) {
                return Err(UsageFileError::DuplicateColumn { line, column: name.to_string() });
            }
        }
        let find = |column: &'static str| {
            header
                .iter()
                .position(|h| *h == column)
                .ok_or(UsageFileError::MissingColumn { line, column })
        };
        Ok(Columns {
            id: find(ID)?,
            usage_date: find(USAGE_DATE)?,
            usage_type: find(USAGE_TYPE)?,
            quantity: find(QUANTITY)?,
            unit: find(UNIT)?,
            characteristics: header
                .iter()
                .enumerate()
                .filter(|(_, h)| !REQUIRED_COLUMNS.iter().any(|r| *h == r))
                .map(|(i, h)| (i, h.to_string()))
                .collect(),
            width: header.len(),
        })
    }

    /// The record of one row, validated.
    fn record(&self, line: usize, cells: &[Cow<'_, str>]) -> Result<UsageRecord, RefusedLine> {
        if cells.len() != self.width {
            let reason = format!("{} fields, but the header has {}", cells.len(), self.width);
            return Err(RefusedLine { line, field: None, reason });
        }
        let id = &cells[self.id];
        let fail = |field: &str, reason: String| {
            let error = omni_core::Error::InvalidUsage { id: id.to_string(), reason };
            refused(line, Some(field), &error)
        };
        let usage_date = usage_date(&cells[self.usage_date]).map_err(|r| fail(USAGE_DATE, r))?;
        let quantity = quantity(&cells[self.quantity]).map_err(|r| fail(QUANTITY, r))?;
        let unit = unit(&cells[self.unit]).map_err(|r| fail(UNIT, r))?;
        let record = UsageRecord {
            id: id.to_string(),
            usage_date,
            usage_type: ProductId::new(cells[self.usage_type].to_string()),
            quantity,
            unit,
            characteristics: self
                .characteristics
                .iter()
                .filter(|(i, _)| !cells[*i].is_empty())
                .map(|(i, name)| UsageCharacteristic {
                    name: name.clone(),
                    value: cells[*i].to_string(),
                })
                .collect(),
        };
        record.validate().map_err(|e| refused(line, field_of(&e), &e))?;
        Ok(record)
    }
}

fn usage_date(cell: &str) -> Result<u64, String> {
    unsigned(cell).or_else(|| parse_rfc3339_utc(cell)).ok_or_else(|| {
        format!(
            "usageDate {cell:?} is neither RFC 3339 UTC (YYYY-MM-DDTHH:MM:SSZ) nor integer \
             UTC seconds"
        )
    })
}

fn quantity(cell: &str) -> Result<u64, String> {
    unsigned(cell).ok_or_else(|| format!("quantity {cell:?} is not an integer in 0..2^48"))
}

/// A cell of decimal digits only (`u64::from_str` would also take a leading `+`).
fn unsigned(cell: &str) -> Option<u64> {
    cell.bytes().all(|c| c.is_ascii_digit()).then(|| cell.parse().ok()).flatten()
}

/// The unit of a symbol, by the same mapping the TMF635 JSON form uses (`Unit`'s serde
/// names), so the two formats take the same symbols.
fn unit(cell: &str) -> Result<Unit, String> {
    let symbol: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        cell.into_deserializer();
    Unit::deserialize(symbol).map_err(|e| format!("unit {cell:?}: {e}"))
}

/// A CSV row as read: its cells, or why its quoting is broken.
type Row<'a> = Result<Vec<Cow<'a, str>>, String>;

/// An RFC 4180 reader over text: rows of cells separated by `,`, ended by CRLF or LF,
/// cells that hold `,`, `"` or line breaks in double quotes with inner quotes doubled.
/// Yields each row with the line it starts on and skips rows whose cells are all blank.
/// A row with broken quoting is yielded as an error and reading goes on at the next
/// line.
struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    /// Line of `pos`.
    line: usize,
}

impl<'a> Iterator for CsvReader<'a> {
    type Item = (usize, Row<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.text.len() {
            let line = self.line;
            let row = self.row();
            if let Ok(cells) = &row {
                if cells.iter().all(|c| c.trim().is_empty()) {
                    continue;
                }
            }
            return Some((line, row));
        }
        None
    }
}

impl<'a> CsvReader<'a> {
    fn row(&mut self) -> Row<'a> {
        let row = self.cells();
        if row.is_err() {
            self.skip_line();
        }
        row
    }

    fn cells(&mut self) -> Row<'a> {
        let b = self.text.as_bytes();
        let mut cells = Vec::new();
        loop {
            let quoted = b.get(self.pos) == Some(&b'"');
            cells.push(if quoted { self.quoted()? } else { self.unquoted()? });
            match b.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\n') => {
                    self.pos += 1;
                    self.line += 1;
                    return Ok(cells);
                }
                Some(b'\r') if b.get(self.pos + 1) == Some(&b'\n') => {
                    self.pos += 2;
                    self.line += 1;
                    return Ok(cells);
                }
                None => return Ok(cells),
                Some(_) => {
                    return Err(format!(
                        "field {} has characters after its closing quote",
                        cells.len()
                    ))
                }
            }
        }
    }

    /// An unquoted cell; leaves `pos` at the `,`, the line feed or the end that ends it.
    fn unquoted(&mut self) -> Result<Cow<'a, str>, String> {
        let b = self.text.as_bytes();
        let start = self.pos;
        let len = b[start..].iter().position(|&c| matches!(c, b',' | b'\n' | b'"'));
        self.pos = len.map_or(b.len(), |l| start + l);
        if b.get(self.pos) == Some(&b'"') {
            return Err("a double quote inside an unquoted field (RFC 4180: quote the \
                        field and double the quote)"
                .to_string());
        }
        let cell = &self.text[start..self.pos];
        // The CR of a CRLF ends the row, it is not content.
        let cell = match b.get(self.pos) {
            Some(b'\n') | None => cell.strip_suffix('\r').unwrap_or(cell),
            _ => cell,
        };
        Ok(Cow::Borrowed(cell))
    }

    /// A quoted cell, from its opening quote; leaves `pos` after the closing quote.
    fn quoted(&mut self) -> Result<Cow<'a, str>, String> {
        let b = self.text.as_bytes();
        self.pos += 1;
        let mut cell = Cow::Borrowed("");
        loop {
            let start = self.pos;
            let Some(len) = b[start..].iter().position(|&c| c == b'"') else {
                self.pos = b.len();
                return Err("a quoted field is not closed before the end of the file, so \
                            every line after it was read as part of it"
                    .to_string());
            };
            let end = start + len;
            self.line += b[start..end].iter().filter(|&&c| c == b'\n').count();
            let part = &self.text[start..end];
            if b.get(end + 1) == Some(&b'"') {
                cell.to_mut().push_str(part);
                cell.to_mut().push('"');
                self.pos = end + 2;
            } else {
                match &mut cell {
                    Cow::Borrowed(_) => cell = Cow::Borrowed(part),
                    Cow::Owned(s) => s.push_str(part),
                }
                self.pos = end + 1;
                return Ok(cell);
            }
        }
    }

    /// Moves past the end of the current line, to resume after a broken row.
    fn skip_line(&mut self) {
        let b = self.text.as_bytes();
        match b[self.pos..].iter().position(|&c| c == b'\n') {
            Some(len) => {
                self.pos += len + 1;
                self.line += 1;
            }
            None => self.pos = b.len(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEADER: &str = "id,usageDate,usageType,quantity,unit";

    fn csv(text: &str) -> ParsedUsage {
        parse_usage_file(UsageFormat::Csv, text.as_bytes()).unwrap()
    }

    fn ndjson(text: &str) -> ParsedUsage {
        parse_usage_file(UsageFormat::Ndjson, text.as_bytes()).unwrap()
    }

    fn lines(p: &ParsedUsage) -> (Vec<usize>, Vec<usize>) {
        (p.records.iter().map(|(l, _)| *l).collect(), p.refused.iter().map(|r| r.line).collect())
    }

    fn fields(p: &ParsedUsage) -> Vec<(usize, Option<&str>)> {
        p.refused.iter().map(|r| (r.line, r.field.as_deref())).collect()
    }

    #[test]
    fn good_csv() {
        let p = csv(&format!(
            "{HEADER}\ncdr-1,2026-11-01T00:01:00Z,voice,125,s\ncdr-2,1793491320,data,2048,kB\n"
        ));
        assert!(p.refused.is_empty(), "{:?}", p.refused);
        let voice = UsageRecord::new("cdr-1", 1_793_491_260, "voice", 125, Unit::Second).unwrap();
        let data = UsageRecord::new("cdr-2", 1_793_491_320, "data", 2048, Unit::Kilobyte).unwrap();
        assert_eq!(p.records, vec![(2, voice), (3, data)]);
        // the same without a final line break, with CRLF, and with a byte order mark
        assert_eq!(csv(&format!("{HEADER}\ncdr-1,1,voice,1,event")).records.len(), 1);
        let crlf = csv(&format!("{HEADER}\r\ncdr-1,1,voice,1,B\r\ncdr-2,1,voice,1,msg\r\n"));
        assert_eq!(lines(&crlf), (vec![2, 3], vec![]));
        assert_eq!(crlf.records[1].1.unit, Unit::Message);
        assert_eq!(csv(&format!("\u{feff}{HEADER}\ncdr-1,1,voice,1,s")).records.len(), 1);
    }

    #[test]
    fn quoted_fields_and_any_column_order() {
        let text = "unit,quantity,\"usageType\",id,usageDate\n\
                    s,60,\"voice, premium\",\"cdr \"\"1\"\"\",5\n\
                    s,\"7\",voice,\"multi\nline\",6\n\
                    msg,1,sms,\"\",7\n\
                    msg,1,sms,cdr-4,8\n";
        let p = csv(text);
        let (a, b, d) = (&p.records[0].1, &p.records[1].1, &p.records[2]);
        assert_eq!((a.id.as_str(), a.usage_type.0.as_str()), ("cdr \"1\"", "voice, premium"));
        assert_eq!((a.quantity, a.unit, a.usage_date), (60, Unit::Second, 5));
        assert_eq!((b.id.as_str(), b.quantity), ("multi\nline", 7));
        // the row after a line break inside quotes is numbered by the file's lines
        assert_eq!((d.0, d.1.id.as_str()), (6, "cdr-4"));
        assert_eq!(fields(&p), vec![(5, Some("id"))]);
    }

    #[test]
    fn bad_lines_name_field_and_line_and_keep_the_good_ones() {
        let text = format!(
            "{HEADER}\n\
             ok-1,5,voice,1,s\n\
             q,5,voice,12.5,s\n\
             u,5,voice,1,sec\n\
             d,yesterday,voice,1,s\n\
             ,5,voice,1,s\n\
             t,5,,1,s\n\
             big,5,voice,281474976710656,s\n\
             neg,5,voice,-3,s\n\
             plus,5,voice,+3,s\n\
             short,5,voice,1\n\
             ok-2,2026-11-01T00:01:00Z,voice,1,s\n\
             d2,2026-13-01T00:01:00Z,voice,1,s\n\
             x\"y,5,voice,1,s\n\
             \"q\"x,5,voice,1,s\n\
             ok-3,5,voice,0,s\n"
        );
        let p = csv(&text);
        assert_eq!(
            p.records.iter().map(|(l, r)| (*l, r.id.as_str())).collect::<Vec<_>>(),
            vec![(2, "ok-1"), (12, "ok-2"), (16, "ok-3")]
        );
        assert_eq!(
            fields(&p),
            vec![
                (3, Some("quantity")),
                (4, Some("unit")),
                (5, Some("usageDate")),
                (6, Some("id")),
                (7, Some("usageType")),
                (8, Some("quantity")),
                (9, Some("quantity")),
                (10, Some("quantity")),
                (11, None),
                (13, Some("usageDate")),
                (14, None),
                (15, None),
            ]
        );
        let reason = |line: usize| &p.refused.iter().find(|r| r.line == line).unwrap().reason;
        assert!(reason(3).contains("\"12.5\"") && reason(3).contains("\"q\""), "{}", reason(3));
        assert!(reason(4).contains("\"sec\"") && reason(4).contains("`kB`"), "{}", reason(4));
        assert!(reason(8).contains("exceeds 2^48"), "{}", reason(8));
        assert!(reason(11).contains("4 fields, but the header has 5"), "{}", reason(11));
        assert!(reason(14).contains("double quote"), "{}", reason(14));
        assert!(reason(15).contains("after its closing quote"), "{}", reason(15));
        assert_eq!(p.refused[0].to_string(), format!("line 3 (quantity): {}", reason(3)));
    }

    #[test]
    fn an_unclosed_quote_refuses_its_line_and_says_what_it_swallowed() {
        let p = csv(&format!("{HEADER}\nok,5,voice,1,s\nbad,5,\"voice,1,s\nlost,5,voice,1,s\n"));
        assert_eq!(lines(&p), (vec![2], vec![3]));
        assert!(p.refused[0].reason.contains("not closed"), "{}", p.refused[0].reason);
    }

    #[test]
    fn header_faults_refuse_the_whole_file() {
        let err = |text: &str| parse_usage_file(UsageFormat::Csv, text.as_bytes()).unwrap_err();
        let e = err("id,usageDate,usageType,quantity,units\nr,5,voice,1,s\n");
        assert_eq!(e, UsageFileError::MissingColumn { line: 1, column: "unit" });
        assert!(e.to_string().contains("no column \"unit\""), "{e}");
        // names are case-sensitive
        let e = err("\n\nID,usageDate,usageType,quantity,unit\n");
        assert_eq!(e, UsageFileError::MissingColumn { line: 3, column: "id" });
        let e = err(&format!("{HEADER},unit\n"));
        assert_eq!(e, UsageFileError::DuplicateColumn { line: 1, column: "unit".into() });
        let e = err(&format!("{HEADER},\n"));
        assert_eq!(e, UsageFileError::UnnamedColumn { line: 1, position: 6 });
        assert_eq!(err(""), UsageFileError::MissingHeader);
        assert_eq!(err(" \n\n"), UsageFileError::MissingHeader);
        assert!(matches!(err("id,\"usageDate\n"), UsageFileError::BadHeader { line: 1, .. }));
    }

    #[test]
    fn extra_columns_are_characteristics() {
        let p = csv("originCountry,id,usageDate,usageType,quantity,unit,note\n\
                     DE,r1,5,voice,1,s,\"late, \"\"retried\"\"\"\n\
                     ,r2,5,voice,1,s,\n");
        let chars = |i: usize| {
            p.records[i]
                .1
                .characteristics
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_str()))
                .collect::<Vec<_>>()
        };
        assert_eq!(chars(0), vec![("originCountry", "DE"), ("note", "late, \"retried\"")]);
        // an empty cell is no characteristic
        assert!(chars(1).is_empty());
    }

    #[test]
    fn empty_lines_are_skipped_and_counted() {
        let p = csv(&format!("\n{HEADER}\n\nr1,5,voice,1,s\r\n\r\n   \n,,,,\nr2,5,voice,1,s\n\n"));
        assert_eq!(lines(&p), (vec![4, 8], vec![]));
        let good =
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}}"#;
        let p = ndjson(&format!("\n{good}\r\n\r\n  \t\n{good}\n"));
        assert_eq!(lines(&p), (vec![2, 5], vec![]));
        assert_eq!(ndjson(""), ParsedUsage::default());
        assert_eq!(csv(HEADER), ParsedUsage::default());
    }

    #[test]
    fn ndjson_good_and_bad_lines() {
        let rec = |id: &str, date: &str, qty: &str| {
            format!(
                r#"{{"id":"{id}","usageDate":{date},"usageType":"voice","quantity":{qty},"usageCharacteristic":[{{"name":"originCountry","value":"DE"}}]}}"#
            )
        };
        let text = [
            rec("ok-1", "5", r#"{"amount":125,"units":"s"}"#),
            rec("neg", "5", r#"{"amount":-3,"units":"s"}"#),
            rec("unit", "5", r#"{"amount":1,"units":"sec"}"#),
            rec("date", "\"yesterday\"", r#"{"amount":1,"units":"s"}"#),
            r#"{"id":"type","usageDate":5,"quantity":{"amount":1,"units":"s"}}"#.to_string(),
            rec("no-units", "5", r#"{"amount":1}"#),
            r#"{"id":"cut","usageDate":"#.to_string(),
            rec("", "5", r#"{"amount":1,"units":"s"}"#),
            rec("ok-2", "\"2026-11-01T00:01:00Z\"", r#"{"amount":1,"units":"msg"}"#),
        ]
        .join("\n");
        let p = ndjson(&text);
        assert_eq!(p.records.len(), 2);
        assert_eq!((p.records[0].0, p.records[1].0), (1, 9));
        assert_eq!(p.records[0].1.characteristics[0].value, "DE");
        assert_eq!(p.records[1].1.usage_date, 1_793_491_260);
        assert_eq!(
            fields(&p),
            vec![
                (2, Some("quantity")),
                (3, Some("unit")),
                (4, Some("usageDate")),
                (5, Some("usageType")),
                (6, Some("unit")),
                (7, None),
                (8, Some("id")),
            ]
        );
        // the reason is the domain model's own error text
        for r in &p.refused {
            let line = text.lines().nth(r.line - 1).unwrap();
            assert_eq!(r.reason, UsageRecord::from_tmf635_json(line).unwrap_err().to_string());
        }
    }

    #[test]
    fn large_files_keep_their_order() {
        let mut text = String::from(HEADER);
        for i in 0..5000 {
            let q = if i % 1000 == 7 { "x".to_string() } else { i.to_string() };
            text.push_str(&format!("\nr{i},5,voice,{q},s"));
        }
        let p = csv(&text);
        assert_eq!(p.records.len(), 4995);
        assert!(p.records.iter().all(|(l, r)| r.id == format!("r{}", l - 2)));
        assert_eq!(lines(&p).1, vec![9, 1009, 2009, 3009, 4009]);
    }

    #[test]
    fn too_many_records_refuse_the_whole_file() {
        let too_many = MAX_FILE_RECORDS + 1;
        let nd = "{}\n".repeat(too_many);
        let err = parse_usage_file(UsageFormat::Ndjson, nd.as_bytes()).unwrap_err();
        assert_eq!(err, UsageFileError::TooManyRecords { max: MAX_FILE_RECORDS });
        let rows = format!("{HEADER}\n{}", "x\n".repeat(too_many));
        let err = parse_usage_file(UsageFormat::Csv, rows.as_bytes()).unwrap_err();
        assert_eq!(err, UsageFileError::TooManyRecords { max: MAX_FILE_RECORDS });
        // exactly the limit is fine, and blank lines do not count
        let rows = format!("{HEADER}\n\n{}", "x\n".repeat(MAX_FILE_RECORDS));
        assert_eq!(csv(&rows).refused.len(), MAX_FILE_RECORDS);
    }

    #[test]
    fn not_utf8_refuses_the_whole_file() {
        let mut bytes = format!("{HEADER}\nr1,5,voice,1,s\nr2,5,").into_bytes();
        bytes.extend_from_slice(&[0xff, b'\n']);
        let err = parse_usage_file(UsageFormat::Csv, &bytes).unwrap_err();
        assert_eq!(err, UsageFileError::NotUtf8 { line: 3, offset: bytes.len() - 2 });
    }

    #[test]
    fn formats_by_name_and_extension() {
        assert_eq!(UsageFormat::from_name("CSV"), Some(UsageFormat::Csv));
        assert_eq!(UsageFormat::from_name("ndjson"), Some(UsageFormat::Ndjson));
        assert_eq!(UsageFormat::from_name("JsonL"), Some(UsageFormat::Ndjson));
        assert_eq!(UsageFormat::from_name("json"), None);
        assert_eq!(UsageFormat::from_path(Path::new("/tmp/usage.csv")), Some(UsageFormat::Csv));
        assert_eq!(UsageFormat::from_path(Path::new("u.JSONL")), Some(UsageFormat::Ndjson));
        assert_eq!(UsageFormat::from_path(Path::new("u.ndjson")), Some(UsageFormat::Ndjson));
        assert_eq!(UsageFormat::from_path(Path::new("csv")), None);
        for f in [UsageFormat::Csv, UsageFormat::Ndjson] {
            assert_eq!(UsageFormat::from_name(f.name()), Some(f));
        }
    }
}
