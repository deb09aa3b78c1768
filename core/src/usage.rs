//! Usage records, shaped after TM Forum TMF635 (Usage Management).
//!
//! A [`UsageRecord`] is one usage event of a product: its `id` (unique within a
//! bilateral; a record sent twice is rated once), `usageDate` (UTC seconds), `usageType`
//! (the product it is rated under), a quantity with unit, and free-form
//! `usageCharacteristic`s. The JSON wire form follows TMF635's field names:
//!
//! ```json
//! {"id":"cdr-1","usageDate":1793491260,"usageType":"voice-termination",
//!  "quantity":{"amount":125,"units":"s"},
//!  "usageCharacteristic":[{"name":"originCountry","value":"DE"}]}
//! ```
//!
//! `usageDate` may also be an RFC 3339 UTC string (`"2026-11-01T00:01:00Z"`). Quantities
//! are non-negative integers below 2⁴⁸ ([`MAX_QUANTITY`]) so that the rating circuit can
//! range-check them; anything else is refused with an error naming the record.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The largest quantity a usage record may carry (exclusive): 2⁴⁸.
pub const MAX_QUANTITY: u64 = 1 << 48;

/// Longest accepted record id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// A product identifier (TMF635 `usageType`), e.g. `"voice-termination"`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct ProductId(pub String);

impl ProductId {
    /// A product id from a string.
    pub fn new(s: impl Into<String>) -> ProductId {
        ProductId(s.into())
    }
}

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The unit a quantity is counted in.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Unit {
    /// Seconds of a call or session.
    #[serde(rename = "s")]
    Second,
    /// Bytes of data.
    #[serde(rename = "B")]
    Byte,
    /// Kilobytes (1000 bytes) of data.
    #[serde(rename = "kB")]
    Kilobyte,
    /// Messages (SMS, IoT uplinks).
    #[serde(rename = "msg")]
    Message,
    /// Generic countable events (API calls, activations).
    #[serde(rename = "event")]
    Event,
}

impl Unit {
    /// The TMF wire symbol.
    pub fn symbol(&self) -> &'static str {
        match self {
            Unit::Second => "s",
            Unit::Byte => "B",
            Unit::Kilobyte => "kB",
            Unit::Message => "msg",
            Unit::Event => "event",
        }
    }
}

/// A name/value characteristic of a usage record (TMF635 `usageCharacteristic`).
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct UsageCharacteristic {
    /// Name, e.g. `originCountry`.
    pub name: String,
    /// Value as text.
    pub value: String,
}

/// One usage event, validated.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct UsageRecord {
    /// Record id, unique within the bilateral.
    pub id: String,
    /// When the usage happened, UTC seconds.
    pub usage_date: u64,
    /// The product the record is rated under.
    pub usage_type: ProductId,
    /// How much was used, in `unit`.
    pub quantity: u64,
    /// Unit of `quantity`.
    pub unit: Unit,
    /// Further characteristics, kept but not rated.
    pub characteristics: Vec<UsageCharacteristic>,
}

impl UsageRecord {
    /// A record with no characteristics, validated.
    pub fn new(
        id: impl Into<String>,
        usage_date: u64,
        usage_type: impl Into<String>,
        quantity: u64,
        unit: Unit,
    ) -> Result<UsageRecord> {
        let r = UsageRecord {
            id: id.into(),
            usage_date,
            usage_type: ProductId(usage_type.into()),
            quantity,
            unit,
            characteristics: Vec::new(),
        };
        r.validate()?;
        Ok(r)
    }

    /// Checks the record's own invariants (id, quantity bound).
    pub fn validate(&self) -> Result<()> {
        let fail = |reason: String| Err(Error::InvalidUsage { id: self.id.clone(), reason });
        if self.id.is_empty() || self.id.len() > MAX_ID_LEN {
            return fail(format!("id must be 1..={MAX_ID_LEN} bytes"));
        }
        if self.usage_type.0.is_empty() {
            return fail("usageType is empty".into());
        }
        if self.quantity >= MAX_QUANTITY {
            return fail(format!("quantity {} exceeds 2^48", self.quantity));
        }
        Ok(())
    }

    /// Parses one TMF635-shaped JSON object and validates it.
    ///
    /// Records in the usual shape (no string escapes, no unknown fields, integer numbers)
    /// take a hand-written single-pass path, several times faster than `serde_json`; any
    /// other input, including every invalid one, goes through `serde_json`, which decides
    /// what is accepted and words the errors. The fast path returns a record only where
    /// `serde_json` would return the same one (tested against it).
    pub fn from_tmf635_json(json: &str) -> Result<UsageRecord> {
        match fast::parse(json) {
            Some(r) => Ok(r),
            None => UsageRecord::from_tmf635_json_serde(json),
        }
    }

    /// The `serde_json` path of [`UsageRecord::from_tmf635_json`].
    fn from_tmf635_json_serde(json: &str) -> Result<UsageRecord> {
        let wire: wire::Usage<'_> =
            serde_json::from_str(json).map_err(|e| Error::InvalidUsage {
                id: wire::sniff_id(json),
                reason: format!("malformed TMF635 JSON: {e}"),
            })?;
        wire.into_record()
    }

    /// The record as TMF635-shaped JSON.
    pub fn to_tmf635_json(&self) -> String {
        let chars: Vec<serde_json::Value> = self
            .characteristics
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "value": c.value}))
            .collect();
        serde_json::json!({
            "id": self.id,
            "usageDate": self.usage_date,
            "usageType": self.usage_type.0,
            "quantity": {"amount": self.quantity, "units": self.unit.symbol()},
            "usageCharacteristic": chars,
        })
        .to_string()
    }
}

mod wire {
    use super::*;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub(super) struct Usage<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        usage_date: serde_json::Value,
        #[serde(borrow)]
        usage_type: Cow<'a, str>,
        quantity: Quantity,
        #[serde(default)]
        usage_characteristic: Vec<UsageCharacteristic>,
    }

    #[derive(Deserialize)]
    struct Quantity {
        amount: serde_json::Number,
        units: Unit,
    }

    impl Usage<'_> {
        pub(super) fn into_record(self) -> Result<UsageRecord> {
            let id = self.id.into_owned();
            let fail = |reason: String| Error::InvalidUsage { id: id.clone(), reason };
            let quantity = match self.quantity.amount.as_u64() {
                Some(q) => q,
                None if self.quantity.amount.as_i64().is_some() => {
                    return Err(fail(format!("negative quantity {}", self.quantity.amount)))
                }
                None => {
                    return Err(fail(format!(
                        "quantity {} is not an integer in 0..2^48",
                        self.quantity.amount
                    )))
                }
            };
            let usage_date = match &self.usage_date {
                serde_json::Value::Number(n) => {
                    n.as_u64().ok_or_else(|| fail(format!("usageDate {n} is not UTC seconds")))?
                }
                serde_json::Value::String(s) => parse_rfc3339_utc(s)
                    .ok_or_else(|| fail(format!("usageDate {s:?} is not RFC 3339 UTC")))?,
                other => return Err(fail(format!("usageDate {other} is neither"))),
            };
            let r = UsageRecord {
                id: id.clone(),
                usage_date,
                usage_type: ProductId(self.usage_type.into_owned()),
                quantity,
                unit: self.quantity.units,
                characteristics: self.usage_characteristic,
            };
            r.validate()?;
            Ok(r)
        }
    }

    /// Best-effort id of a malformed record, so the error can name it.
    pub(super) fn sniff_id(json: &str) -> String {
        serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
            .unwrap_or_else(|| "<unknown>".to_string())
    }
}

/// The fast path of [`UsageRecord::from_tmf635_json`]: one pass over the bytes, no
/// intermediate values. It returns `None` — "ask `serde_json`" — on anything outside the
/// plain shape: escapes or control characters in strings, numbers with a sign, fraction,
/// exponent, leading zero or more than 64 bits, unknown or repeated fields, `null`s,
/// trailing characters, and any record that would fail validation. So it can only accept
/// what `serde_json` accepts, and never has to word an error.
mod fast {
    use super::*;

    struct Cursor<'a> {
        s: &'a str,
        b: &'a [u8],
        i: usize,
    }

    impl<'a> Cursor<'a> {
        /// Skips JSON whitespace (exactly the four characters RFC 8259 allows).
        fn ws(&mut self) {
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.i) {
                self.i += 1;
            }
        }

        /// Consumes `c` after optional whitespace.
        fn eat(&mut self, c: u8) -> Option<()> {
            self.ws();
            (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
        }

        /// Consumes `,` (returns `true`) or `close` (returns `false`).
        fn next_or(&mut self, close: u8) -> Option<bool> {
            self.ws();
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b',' => Some(true),
                c if c == close => Some(false),
                _ => None,
            }
        }

        /// A string without escapes or control characters, as it stands in the input.
        fn str(&mut self) -> Option<&'a str> {
            self.eat(b'"')?;
            let start = self.i;
            let len = self.b[start..].iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            self.i = start + len;
            if self.b[self.i] != b'"' {
                return None;
            }
            self.i += 1;
            // Both ends sit next to an ASCII '"', so they are character boundaries.
            self.s.get(start..start + len)
        }

        /// A non-negative integer without sign, fraction, exponent or leading zero that
        /// fits 64 bits.
        fn u64(&mut self) -> Option<u64> {
            self.ws();
            let digits = self.b[self.i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let d = &self.b[self.i..self.i + digits];
            if digits == 0 || (digits > 1 && d[0] == b'0') {
                return None;
            }
            if let Some(b'.' | b'e' | b'E') = self.b.get(self.i + digits) {
                return None;
            }
            self.i += digits;
            d.iter().try_fold(0u64, |n, &c| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))
        }

        /// The `:` between a key and its value.
        fn colon(&mut self) -> Option<()> {
            self.eat(b':')
        }
    }

    /// Sets a field that may appear once.
    fn once<T>(slot: &mut Option<T>, v: T) -> Option<()> {
        match slot {
            Some(_) => None,
            None => {
                *slot = Some(v);
                Some(())
            }
        }
    }

    fn unit(s: &str) -> Option<Unit> {
        Some(match s {
            "s" => Unit::Second,
            "B" => Unit::Byte,
            "kB" => Unit::Kilobyte,
            "msg" => Unit::Message,
            "event" => Unit::Event,
            _ => return None,
        })
    }

    fn quantity(c: &mut Cursor<'_>) -> Option<(u64, Unit)> {
        let (mut amount, mut units) = (None, None);
        c.eat(b'{')?;
        loop {
            match c.str()? {
                "amount" => {
                    c.colon()?;
                    once(&mut amount, c.u64()?)?;
                }
                "units" => {
                    c.colon()?;
                    once(&mut units, unit(c.str()?)?)?;
                }
                _ => return None,
            }
            if !c.next_or(b'}')? {
                return Some((amount?, units?));
            }
        }
    }

    fn characteristics(c: &mut Cursor<'_>) -> Option<Vec<UsageCharacteristic>> {
        let mut out = Vec::new();
        c.eat(b'[')?;
        c.ws();
        if c.b.get(c.i) == Some(&b']') {
            c.i += 1;
            return Some(out);
        }
        loop {
            let (mut name, mut value) = (None, None);
            c.eat(b'{')?;
            loop {
                match c.str()? {
                    "name" => {
                        c.colon()?;
                        once(&mut name, c.str()?)?;
                    }
                    "value" => {
                        c.colon()?;
                        once(&mut value, c.str()?)?;
                    }
                    _ => return None,
                }
                if !c.next_or(b'}')? {
                    break;
                }
            }
            out.push(UsageCharacteristic { name: name?.to_string(), value: value?.to_string() });
            if !c.next_or(b']')? {
                return Some(out);
            }
        }
    }

    pub(super) fn parse(json: &str) -> Option<UsageRecord> {
        let mut c = Cursor { s: json, b: json.as_bytes(), i: 0 };
        let (mut id, mut date, mut usage_type, mut qty, mut chars) = (None, None, None, None, None);
        c.eat(b'{')?;
        loop {
            match c.str()? {
                "id" => {
                    c.colon()?;
                    once(&mut id, c.str()?)?;
                }
                "usageDate" => {
                    c.colon()?;
                    c.ws();
                    let d = match c.b.get(c.i)? {
                        b'"' => parse_rfc3339_utc(c.str()?)?,
                        _ => c.u64()?,
                    };
                    once(&mut date, d)?;
                }
                "usageType" => {
                    c.colon()?;
                    once(&mut usage_type, c.str()?)?;
                }
                "quantity" => {
                    c.colon()?;
                    once(&mut qty, quantity(&mut c)?)?;
                }
                "usageCharacteristic" => {
                    c.colon()?;
                    once(&mut chars, characteristics(&mut c)?)?;
                }
                _ => return None,
            }
            if !c.next_or(b'}')? {
                break;
            }
        }
        c.ws();
        if c.i != c.b.len() {
            return None;
        }
        let (quantity, unit) = qty?;
        let r = UsageRecord {
            id: id?.to_string(),
            usage_date: date?,
            usage_type: ProductId(usage_type?.to_string()),
            quantity,
            unit,
            characteristics: chars.unwrap_or_default(),
        };
        r.validate().ok()?;
        Some(r)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC only) into seconds since the epoch.
pub fn parse_rfc3339_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // A day the month does not have (2026-02-31) is refused, not carried into the next.
    let month_days = crate::interval::days_in_month(y as i32, mo);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || d < 1 || d > month_days {
        return None;
    }
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let days = crate::interval::days_from_civil(y as i32, mo, d);
    Some(days * 86_400 + u64::from(h) * 3600 + u64::from(mi) * 60 + u64::from(se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_a_month_does_not_have_are_refused() {
        assert_eq!(parse_rfc3339_utc("2026-02-31T00:00:00Z"), None, "not 3 March");
        assert_eq!(parse_rfc3339_utc("2026-02-29T00:00:00Z"), None, "2026 is not a leap year");
        assert_eq!(parse_rfc3339_utc("2026-04-31T00:00:00Z"), None);
        assert_eq!(parse_rfc3339_utc("2100-02-29T00:00:00Z"), None, "a century not by 400");
        assert!(parse_rfc3339_utc("2028-02-29T00:00:00Z").is_some());
        assert!(parse_rfc3339_utc("2000-02-29T00:00:00Z").is_some());
        assert!(parse_rfc3339_utc("2026-12-31T23:59:59Z").is_some());
        assert_eq!(
            parse_rfc3339_utc("2026-03-01T00:00:00Z").unwrap()
                - parse_rfc3339_utc("2026-02-28T00:00:00Z").unwrap(),
            86_400
        );
    }

    #[test]
    fn tmf635_round_trip() {
        let json = r#"{"id":"cdr-1","usageDate":"2026-11-01T00:01:00Z","usageType":"voice",
            "quantity":{"amount":125,"units":"s"},
            "usageCharacteristic":[{"name":"originCountry","value":"DE"}]}"#;
        let r = UsageRecord::from_tmf635_json(json).unwrap();
        assert_eq!(r.usage_date, 1_793_491_260);
        assert_eq!(r.quantity, 125);
        assert_eq!(r.unit, Unit::Second);
        assert_eq!(r.characteristics[0].value, "DE");
        assert_eq!(UsageRecord::from_tmf635_json(&r.to_tmf635_json()).unwrap(), r);
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        let rec = |q: &str| {
            format!(
                r#"{{"id":"r9","usageDate":5,"usageType":"voice","quantity":{{"amount":{q},"units":"s"}}}}"#
            )
        };
        let err = UsageRecord::from_tmf635_json(&rec("-3")).unwrap_err().to_string();
        assert!(err.contains("r9") && err.contains("negative quantity -3"), "{err}");
        let err = UsageRecord::from_tmf635_json(&rec("281474976710656")).unwrap_err().to_string();
        assert!(err.contains("exceeds 2^48"), "{err}");
        let err = UsageRecord::from_tmf635_json(&rec("1e30")).unwrap_err().to_string();
        assert!(err.contains("not an integer"), "{err}");
        let err = UsageRecord::from_tmf635_json(&rec("99999999999999999999999")).unwrap_err();
        assert!(err.to_string().contains("r9"), "{err}");
        let err = UsageRecord::from_tmf635_json(r#"{"id":"r7","usageDate":"#).unwrap_err();
        assert!(err.to_string().contains("malformed TMF635 JSON"), "{err}");
        let err =
            UsageRecord::from_tmf635_json(r#"{"id":"r8","usageDate":"yesterday","usageType":"v","quantity":{"amount":1,"units":"s"}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("RFC 3339"), "{err}");
        assert!(UsageRecord::new("", 1, "voice", 1, Unit::Second).is_err());
    }

    /// Both paths on one input: the fast path may only answer where serde_json gives the
    /// same record, and the public parser must answer exactly as serde_json does.
    fn same_as_serde(json: &str) -> std::result::Result<(), String> {
        let serde = UsageRecord::from_tmf635_json_serde(json).map_err(|e| e.to_string());
        if let Some(fast) = fast::parse(json) {
            if serde.as_ref() != Ok(&fast) {
                return Err(format!("fast path accepted {json:?} as {fast:?}; serde: {serde:?}"));
            }
        }
        let public = UsageRecord::from_tmf635_json(json).map_err(|e| e.to_string());
        if public != serde {
            return Err(format!("{json:?}: parser gave {public:?}, serde_json {serde:?}"));
        }
        Ok(())
    }

    #[test]
    fn fast_path_takes_the_usual_shape() {
        let r = UsageRecord {
            characteristics: vec![UsageCharacteristic { name: "n".into(), value: "ü €".into() }],
            ..UsageRecord::new("cdr-1", 1_793_491_260, "voice", 125, Unit::Kilobyte).unwrap()
        };
        assert_eq!(fast::parse(&r.to_tmf635_json()), Some(r));
        let spaced = "\r\n { \"usageType\" : \"v\" ,\t\"quantity\":{ \"units\":\"event\", \"amount\" : 0 },\n\
             \"usageDate\" : \"2026-11-01T00:01:00Z\" , \"id\":\"x\", \"usageCharacteristic\": [ ] } \n";
        let r = fast::parse(spaced).unwrap();
        assert_eq!(
            (r.id.as_str(), r.usage_date, r.quantity, r.unit),
            ("x", 1_793_491_260, 0, Unit::Event)
        );
        same_as_serde(spaced).unwrap();
    }

    /// Inputs the fast path must leave to serde_json; each must parse, or fail, exactly as
    /// serde_json does.
    #[test]
    fn table_of_edge_cases_matches_serde() {
        let rec = |date: &str, q: &str, tail: &str| {
            format!(
                r#"{{"id":"r1","usageDate":{date},"usageType":"voice","quantity":{{"amount":{q},"units":"s"}}{tail}}}"#
            )
        };
        let cases = [
            rec("5", "1", ""),
            rec("5", "-3", ""),
            rec("5", "-0", ""),
            rec("5", "1.0", ""),
            rec("5", "1e3", ""),
            rec("5", "01", ""),
            rec("5", "281474976710655", ""),
            rec("5", "281474976710656", ""),
            rec("5", "18446744073709551615", ""),
            rec("5", "18446744073709551616", ""),
            rec("5", "99999999999999999999999", ""),
            rec("5", "null", ""),
            rec("5", "\"5\"", ""),
            rec("-5", "1", ""),
            rec("5.5", "1", ""),
            rec("null", "1", ""),
            rec("true", "1", ""),
            rec("[]", "1", ""),
            rec("\"2026-11-01T00:01:00Z\"", "1", ""),
            rec("\"2026-11-01T00:01:00+00:00\"", "1", ""),
            rec("\"2026-13-01T00:01:00Z\"", "1", ""),
            rec("\"2026-11-01T24:00:00Z\"", "1", ""),
            rec("\"1969-12-31T23:59:59Z\"", "1", ""),
            rec("\"yesterday\"", "1", ""),
            rec("\"2026-11-01T00:01:00\\u005a\"", "1", ""),
            rec("5", "1", ",\"usageCharacteristic\":[]"),
            rec("5", "1", ",\"usageCharacteristic\":null"),
            rec("5", "1", ",\"usageCharacteristic\":[{\"name\":\"a\",\"value\":\"b\"}]"),
            rec("5", "1", ",\"usageCharacteristic\":[{\"value\":\"b\",\"name\":\"a\"},{\"name\":\"c\",\"value\":\"\"}]"),
            rec("5", "1", ",\"usageCharacteristic\":[{\"name\":\"a\"}]"),
            rec("5", "1", ",\"usageCharacteristic\":[{\"name\":\"a\",\"value\":\"b\",\"x\":1}]"),
            rec("5", "1", ",\"usageCharacteristic\":[{\"name\":\"a\",\"value\":\"b\"},]"),
            rec("5", "1", ",\"usageCharacteristic\":[{\"name\":\"a\",\"value\":7}]"),
            rec("5", "1", ",\"extra\":{\"deep\":[1,2,3]}"),
            rec("5", "1", ",\"id\":\"r2\""),
            rec("5", "1", ","),
            rec("5", "1", "} "),
            r#"{"id":"r\"1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}}"#.into(),
            r#"{"id":"r\u0031","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}}"#.into(),
            "{\"id\":\"r\t1\",\"usageDate\":5,\"usageType\":\"voice\",\"quantity\":{\"amount\":1,\"units\":\"s\"}}".into(),
            r#"{"id":"","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}}"#.into(),
            format!(r#"{{"id":"{}","usageDate":5,"usageType":"voice","quantity":{{"amount":1,"units":"s"}}}}"#, "x".repeat(129)),
            r#"{"id":"r1","usageDate":5,"usageType":"","quantity":{"amount":1,"units":"s"}}"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"sec"}}"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1}}"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s","amount":2}}"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s","scale":2}}"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice"}"#.into(),
            r#"{"usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}}"#.into(),
            r#"{"id":7,"usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}}"#.into(),
            r#"["r1",5,"voice",{"amount":1,"units":"s"},[]]"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}"#.into(),
            r#"{"id":"r1","usageDate":5,"usageType":"voice","quantity":{"amount":1,"units":"s"}} x"#.into(),
            r#"{"id":"r1" "usageDate":5}"#.into(),
            String::new(),
            "{}".into(),
            "null".into(),
        ];
        for c in &cases {
            same_as_serde(c).unwrap();
        }
        // and the fast path does take the plain valid ones among them
        assert!(fast::parse(&cases[0]).is_some() && fast::parse(&cases[18]).is_some());
    }

    fn arb_record_json() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let string = prop_oneof![
            "[a-zA-Z0-9 _.-]{0,12}",
            "[a-z\"\\\\\u{1}\t é€]{0,6}",
            Just(String::new()),
        ];
        let quoted = string.prop_map(|s| serde_json::to_string(&s).unwrap_or_default());
        let raw_quoted = "[a-z\\\\\"\u{7}]{0,4}".prop_map(|s| format!("\"{s}\""));
        let number = prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            (0u64..1 << 49).prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            Just("1.5".to_string()),
            Just("2e3".to_string()),
            Just("00".to_string()),
            Just("18446744073709551616".to_string()),
            Just("null".to_string()),
        ];
        let date = prop_oneof![
            number.clone(),
            (1970u32..10000, 0u32..14, 0u32..33, 0u32..25, 0u32..61, 0u32..61).prop_map(
                |(y, mo, d, h, mi, s)| format!("\"{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z\"")
            ),
            Just("\"2026-11-01 00:01:00Z\"".to_string()),
        ];
        let units = prop_oneof![
            Just("\"s\""),
            Just("\"B\""),
            Just("\"kB\""),
            Just("\"msg\""),
            Just("\"event\""),
            Just("\"S\""),
            Just("1"),
        ];
        let ws = prop_oneof![Just(""), Just(" "), Just("\n\t"), Just("\u{a0}")];
        let chars = prop_oneof![
            Just("[]".to_string()),
            (quoted.clone(), quoted.clone())
                .prop_map(|(n, v)| format!("[{{\"name\":{n},\"value\":{v}}}]")),
            (quoted.clone(), quoted.clone()).prop_map(|(n, v)| format!(
                "[{{\"value\":{v},\"name\":{n}}},{{\"name\":\"k\",\"value\":\"v\"}}]"
            )),
            Just("null".to_string()),
            Just("[{\"name\":\"a\"}]".to_string()),
        ];
        let field =
            |k: &'static str, v: BoxedStrategy<String>| v.prop_map(move |v| format!("\"{k}\":{v}"));
        let quantity = (number.clone(), units, any::<bool>()).prop_map(|(a, u, flip)| {
            if flip {
                format!("{{\"units\":{u},\"amount\":{a}}}")
            } else {
                format!("{{\"amount\":{a},\"units\":{u}}}")
            }
        });
        let fields = (
            field("id", prop_oneof![quoted.clone(), raw_quoted.clone(), number.clone()].boxed()),
            field("usageDate", date.boxed()),
            field("usageType", prop_oneof![quoted.clone(), raw_quoted].boxed()),
            field("quantity", quantity.boxed()),
            field("usageCharacteristic", chars.boxed()),
            field("usageDate", Just("1".to_string()).boxed()),
            field("other", quoted.boxed()),
        );
        (fields, proptest::collection::vec(0usize..7, 0..8), ws.clone(), ws, any::<bool>())
            .prop_map(|((a, b, c, d, e, f, g), pick, w1, w2, usual)| {
                let all = [a, b, c, d, e, f, g];
                let chosen: Vec<&String> = if usual {
                    all[..4].iter().collect()
                } else {
                    pick.iter().map(|&i| &all[i]).collect()
                };
                let body: Vec<String> = chosen.iter().map(|f| f.to_string()).collect();
                format!("{w1}{{{}}}{w2}", body.join(&format!(",{w1}")))
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Generated records — valid, invalid, odd — parse exactly as with serde_json.
        #[test]
        fn parser_matches_serde_json(json in arb_record_json()) {
            proptest::prop_assert!(same_as_serde(&json).is_ok(), "{:?}", same_as_serde(&json));
        }

        /// So do valid records with one byte cut, doubled or replaced.
        #[test]
        fn mutated_records_match_serde_json(
            quantity in 0u64..1 << 48,
            at in 0usize..200,
            edit in 0u8..3,
            byte in proptest::sample::select(b"{}[]\",: 0123456789-.eE\\nu\t".to_vec()),
        ) {
            let r = UsageRecord {
                characteristics: vec![UsageCharacteristic { name: "originCountry".into(), value: "DE".into() }],
                ..UsageRecord::new("cdr-42", 1_793_491_260, "voice", quantity, Unit::Second).unwrap()
            };
            let mut b = r.to_tmf635_json().into_bytes();
            let at = at % b.len();
            match edit {
                0 => { b.remove(at); }
                1 => b.insert(at, b[at]),
                _ => b[at] = byte,
            }
            let json = String::from_utf8(b).unwrap();
            proptest::prop_assert!(same_as_serde(&json).is_ok(), "{:?}", same_as_serde(&json));
        }
    }

    #[test]
    fn canonical_encoding_is_pinned() {
        let r = UsageRecord::new("cdr-1", 1_793_491_260, "voice", 125, Unit::Second).unwrap();
        assert_eq!(
            crate::Hash32::digest("omni/usage-record", &crate::encode(&r)).to_hex(),
            "b123d176674bd75ea90f6a9aa8f5bd39e750ee1325bd799aea81ea248d1ac768"
        );
    }
}
