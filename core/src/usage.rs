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
    pub fn from_tmf635_json(json: &str) -> Result<UsageRecord> {
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

/// Parses `YYYY-MM-DDTHH:MM:SSZ` (UTC only) into seconds since the epoch.
pub fn parse_rfc3339_utc(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
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

    #[test]
    fn canonical_encoding_is_pinned() {
        let r = UsageRecord::new("cdr-1", 1_793_491_260, "voice", 125, Unit::Second).unwrap();
        assert_eq!(
            crate::Hash32::digest("omni/usage-record", &crate::encode(&r)).to_hex(),
            "b123d176674bd75ea90f6a9aa8f5bd39e750ee1325bd799aea81ea248d1ac768"
        );
    }
}
