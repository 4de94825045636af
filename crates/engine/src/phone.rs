//! Phone numbers to E.164 (`+`, country code, national number) with the `phonenumber`
//! crate (Google's libphonenumber metadata). Phone is a match key: two spellings of one
//! number must give the same text on both sides.
//!
//! A number written without `+` (or the `00` international prefix) is read in a default
//! region: `sync.default_phone_region`, else the GHL location's country, else FR
//! ([`resolve_region`]). The region travels with the [`Mapping`](crate::mapping::Mapping)
//! so that several pairs with different regions can run in one process.
//!
//! What counts as a number ([`to_e164`]):
//! - a number valid in its country's numbering plan;
//! - or a *plausible* one: its length is possible for its country code and it fits the
//!   plan's general shape. This keeps the test numbers users type (`+1 555 100 0001`,
//!   unassigned ranges) while refusing a number read in the wrong plan (`06 12 34 56 78`
//!   read as a US number);
//! - a number without `+` that is no number of the default region but is valid once
//!   read as international (`447400123456`) is taken as international (only when
//!   valid: a `+` is not made up for a merely plausible number).
//!
//! Numbers with a `+` (or `00`, or the region's own international prefix such as US
//! `011`) are parsed without the default region: the crate would otherwise strip the
//! default region's national prefix from them (US `1` off `+33 1 42 68 53 00`).
//!
//! Anything else (text, too short, too long, no such country code) is `None`: the field
//! counts as empty and is no match key. An extension (`ext. 12`) is dropped: E.164 has
//! none.

use std::fmt;

use phonenumber::country::{Id, Source};
use phonenumber::metadata::DATABASE;
use phonenumber::PhoneNumber;

/// A default region for numbers without a country code: an ISO 3166 alpha-2 code known
/// to the numbering metadata. Resolve it once ([`parse_region`]) and pass it along.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Region {
    id: Id,
    code: [u8; 2],
}

impl Region {
    /// France, the default when nothing else is known (Sellsy's home market).
    pub const FR: Region = Region::known(Id::FR, *b"FR");
    pub const US: Region = Region::known(Id::US, *b"US");
    pub const GB: Region = Region::known(Id::GB, *b"GB");
    pub const DE: Region = Region::known(Id::DE, *b"DE");

    const fn known(id: Id, code: [u8; 2]) -> Region {
        Region { id, code }
    }

    /// The ISO 3166 alpha-2 code (`FR`).
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).unwrap_or("FR")
    }
}

impl Default for Region {
    fn default() -> Self {
        Region::FR
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({})", self.code())
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Region {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        parse_region(s)
    }
}

/// A region from an ISO 3166 alpha-2 code, case-insensitive (`fr`, `US`).
pub fn parse_region(code: &str) -> Result<Region, String> {
    let trimmed = code.trim();
    let upper = trimmed.to_ascii_uppercase();
    let known = upper.len() == 2
        && upper.bytes().all(|b| b.is_ascii_uppercase())
        && DATABASE.by_id(upper.as_str()).is_some();
    match upper.parse::<Id>() {
        Ok(id) if known => {
            let b = upper.as_bytes();
            Ok(Region::known(id, [b[0], b[1]]))
        }
        _ => Err(format!(
            "sync.default_phone_region = \"{trimmed}\": not a country code with a phone numbering plan; use an ISO 3166 alpha-2 code such as \"FR\", \"US\", \"GB\" or \"DE\""
        )),
    }
}

/// The region to read phone numbers in: the configured one, else the GHL location's
/// country (when it is a known code), else FR. A configured code that is unknown is an
/// error; an unusable location country is ignored.
pub fn resolve_region(
    configured: Option<&str>,
    location_country: Option<&str>,
) -> Result<Region, String> {
    if let Some(code) = configured.filter(|c| !c.trim().is_empty()) {
        return parse_region(code);
    }
    Ok(location_country
        .and_then(|c| parse_region(c).ok())
        .unwrap_or_default())
}

/// `raw` in E.164, reading a number without a country code in `region`; `None` when
/// the text holds no usable number (see the module notes for what counts).
pub fn to_e164(raw: &str, region: Region) -> Option<String> {
    let text = raw.trim();
    // Cheap refusals before the parser: no digits, or far too few or too many.
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if !(3..=24).contains(&digits) {
        return None;
    }
    // `00` is the international prefix in most of the world (and the one people type),
    // whatever the default region's own prefix is (US: 011).
    let owned;
    let text = match text.strip_prefix("00") {
        Some(rest) => {
            owned = format!("+{rest}");
            owned.as_str()
        }
        None => text,
    };
    // With a `+` the region plays no part, and must not: the parser strips the
    // *default* region's national prefix from the national number (read in US,
    // `+33 1 41 00 00 07` would lose its `1`).
    let international = text.contains('+');
    let first = parse((!international).then_some(region.id), text).and_then(|n| {
        if n.code().source() != Source::Idd {
            return Some(n);
        }
        // The same for the region's own international prefix (US `011`): read again
        // from the country code on.
        parse(None, &after_international_prefix(text, region)?)
    });
    if let Some(n) = first {
        if n.is_valid() || plausible(&n) {
            return Some(e164(&n));
        }
    }
    if !international {
        // Written without its `+`: accept it only when valid as international.
        if let Some(n) = parse(None, &format!("+{text}")) {
            if n.is_valid() {
                return Some(e164(&n));
            }
        }
    }
    None
}

/// `text` with `+` in place of the region's international prefix (`011 33 6…` in US
/// → `+33 6…`).
fn after_international_prefix(text: &str, region: Region) -> Option<String> {
    let idd = DATABASE.by_id(region.code())?.international_prefix()?;
    let digits: String = text
        .chars()
        .take_while(|c| c.is_ascii_digit() || " .-()/".contains(*c))
        .filter(char::is_ascii_digit)
        .collect();
    let prefix = idd.find(&digits).filter(|m| m.start() == 0)?;
    let mut left = prefix.end();
    let rest = text.char_indices().find_map(|(i, c)| {
        if c.is_ascii_digit() {
            left = left.checked_sub(1)?;
            if left == 0 {
                return Some(i + c.len_utf8());
            }
        }
        None
    })?;
    Some(format!("+{}", &text[rest..]))
}

fn parse(region: Option<Id>, text: &str) -> Option<PhoneNumber> {
    // The parser must never take a sync cycle down: a panic on odd input is a `None`.
    std::panic::catch_unwind(|| phonenumber::parse(region, text).ok())
        .ok()
        .flatten()
}

/// A possible length for its country code and the general shape of that plan.
fn plausible(n: &PhoneNumber) -> bool {
    let national = n.national().to_string();
    let len = national.len() as u16;
    DATABASE.by_code(&n.code().value()).is_some_and(|metas| {
        metas.iter().any(|m| {
            let d = m.descriptors();
            // The general description's lengths are the union of the number types'
            // (libphonenumber's rule; the metadata leaves them out of the general one).
            let typed = [
                d.fixed_line(),
                d.mobile(),
                d.toll_free(),
                d.premium_rate(),
                d.shared_cost(),
                d.personal_number(),
                d.voip(),
                d.pager(),
                d.uan(),
                d.voicemail(),
            ];
            let possible = d.general().possible_length().contains(&len)
                || typed
                    .into_iter()
                    .flatten()
                    .any(|t| t.possible_length().contains(&len));
            possible && d.general().is_match(&national)
        })
    })
}

fn e164(n: &PhoneNumber) -> String {
    format!("+{}{}", n.code().value(), n.national())
}

/// The country (ISO 3166 alpha-2, upper case) of a GHL location, from Find Location by
/// ID (`location.country`, else `location.business.country`); `None` when the location
/// cannot be read or names no two-letter country.
pub async fn location_country(
    client: &hlbridge_ghl::GhlClient,
    location_id: &str,
) -> Option<String> {
    let input = hlbridge_core::call::CallInput::new().param("locationId", location_id);
    let body = match client.call("locations.get-location", input).await {
        Ok(body) => body,
        Err(e) => {
            tracing::debug!(location_id, error = %e, "GHL location not readable; no phone region from it");
            return None;
        }
    };
    let location = body.get("location").unwrap_or(&body);
    let country = [
        location.get("country"),
        location.pointer("/business/country"),
    ]
    .into_iter()
    .flatten()
    .filter_map(serde_json::Value::as_str)
    .map(str::trim)
    .find(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
    .map(str::to_ascii_uppercase);
    country
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(raw: &str, region: Region) -> Option<String> {
        to_e164(raw, region)
    }

    #[test]
    fn french_national_numbers_in_fr() {
        assert_eq!(
            e("06 12 34 56 78", Region::FR).as_deref(),
            Some("+33612345678")
        );
        assert_eq!(
            e("01.42.68.53.00", Region::FR).as_deref(),
            Some("+33142685300")
        );
        // The dropped leading 0.
        assert_eq!(e("612345678", Region::FR).as_deref(), Some("+33612345678"));
    }

    #[test]
    fn us_numbers_in_us() {
        assert_eq!(
            e("(555) 100-0001", Region::US).as_deref(),
            Some("+15551000001")
        );
        assert_eq!(
            e("415-555-2671", Region::US).as_deref(),
            Some("+14155552671")
        );
        assert_eq!(
            e("1 (415) 555 2671", Region::US).as_deref(),
            Some("+14155552671")
        );
        // The US international prefix.
        assert_eq!(
            e("011 33 6 12 34 56 78", Region::US).as_deref(),
            Some("+33612345678")
        );
        assert_eq!(
            e("011 33 1 41 00 00 07", Region::US).as_deref(),
            Some("+33141000007")
        );
    }

    #[test]
    fn gb_numbers_in_gb() {
        assert_eq!(
            e("07700 900123", Region::GB).as_deref(),
            Some("+447700900123")
        );
        assert_eq!(
            e("020 7946 0018", Region::GB).as_deref(),
            Some("+442079460018")
        );
    }

    #[test]
    fn international_numbers_ignore_the_region() {
        for region in [Region::FR, Region::US, Region::GB, Region::DE] {
            assert_eq!(
                e("+1 (555) 100-0001", region).as_deref(),
                Some("+15551000001"),
                "{region}"
            );
            assert_eq!(
                e("+33 6 12 34 56 78", region).as_deref(),
                Some("+33612345678"),
                "{region}"
            );
            assert_eq!(
                e("+44 7700 900123", region).as_deref(),
                Some("+447700900123"),
                "{region}"
            );
            // A country code whose national number starts like the region's national
            // prefix (US `1`).
            assert_eq!(
                e("+33 1 42 68 53 00", region).as_deref(),
                Some("+33142685300"),
                "{region}"
            );
            assert_eq!(
                e("(+33) 1 42 68 53 00", region).as_deref(),
                Some("+33142685300"),
                "{region}"
            );
            // `00` is accepted whatever the region's own international prefix.
            assert_eq!(
                e("0033 6 12 34 56 78", region).as_deref(),
                Some("+33612345678"),
                "{region}"
            );
            assert_eq!(
                e("00 44 20 7946 0018", region).as_deref(),
                Some("+442079460018"),
                "{region}"
            );
        }
        // The seeds of the emulators.
        assert_eq!(
            e("+15551000007", Region::FR).as_deref(),
            Some("+15551000007")
        );
        assert_eq!(
            e("+33141000007", Region::US).as_deref(),
            Some("+33141000007")
        );
    }

    #[test]
    fn a_missing_plus_is_restored_only_for_valid_numbers() {
        assert_eq!(
            e("447400123456", Region::FR).as_deref(),
            Some("+447400123456")
        );
        // Not valid (a drama number): no `+` is made up for it.
        assert_eq!(e("447700900123", Region::FR), None);
        assert_eq!(
            e("33612345678", Region::FR).as_deref(),
            Some("+33612345678")
        );
    }

    #[test]
    fn unusable_text_is_none() {
        for raw in [
            "",
            "   ",
            "n/a",
            "call me",
            "12",
            "+",
            "00",
            "+999 123 456",
            "06 12 34",
            "1234567890123456789012",
            "  2 22#:",
            "tel:",
            "+33 6 12 34 56 78 90 12",
        ] {
            assert_eq!(e(raw, Region::FR), None, "{raw:?}");
        }
        // A French mobile read as a US number does not fit the US plan.
        assert_eq!(e("06 12 34 56 78", Region::US), None);
    }

    #[test]
    fn two_spellings_give_one_match_key() {
        let spellings = [
            "06 12 34 56 78",
            "0612345678",
            "06.12.34.56.78",
            "06-12-34-56-78",
            "+33 6 12 34 56 78",
            "+33 (0)6 12 34 56 78",
            "0033612345678",
            "+33612345678",
            "tel:+33-6-12-34-56-78",
        ];
        for s in spellings {
            assert_eq!(e(s, Region::FR).as_deref(), Some("+33612345678"), "{s:?}");
        }
        assert_eq!(
            e("(555) 100-0001", Region::US),
            e("+1 555-100-0001", Region::FR)
        );
        assert_eq!(
            e("+1 415 555 2671 ext. 12", Region::FR).as_deref(),
            Some("+14155552671")
        );
    }

    #[test]
    fn regions_parse_case_insensitively_and_refuse_unknown_codes() {
        assert_eq!(parse_region("fr"), Ok(Region::FR));
        assert_eq!(parse_region(" Us "), Ok(Region::US));
        assert_eq!(parse_region("GB").unwrap().code(), "GB");
        assert_eq!(parse_region("de").unwrap().to_string(), "DE");
        for bad in ["", "ZZ", "France", "001", "U", "uk"] {
            let err = parse_region(bad).unwrap_err();
            assert!(err.contains("sync.default_phone_region"), "{err}");
            assert!(
                ["\"FR\"", "\"US\"", "\"GB\"", "\"DE\""]
                    .iter()
                    .all(|c| err.contains(c)),
                "{err}"
            );
        }
    }

    #[test]
    fn the_configured_region_wins_then_the_location_then_fr() {
        assert_eq!(resolve_region(Some("gb"), Some("US")), Ok(Region::GB));
        assert_eq!(resolve_region(None, Some("us")), Ok(Region::US));
        assert_eq!(resolve_region(Some(" "), Some("US")), Ok(Region::US));
        assert_eq!(resolve_region(None, Some("Atlantis")), Ok(Region::FR));
        assert_eq!(resolve_region(None, None), Ok(Region::FR));
        assert!(resolve_region(Some("XX"), Some("US")).is_err());
    }

    #[test]
    fn normalising_is_cheap_once_warm() {
        // The metadata and the regexes load on first use; after that a number costs
        // microseconds (a generous bound, to stay stable on a busy debug build).
        let _ = e("06 12 34 56 78", Region::FR);
        let start = std::time::Instant::now();
        for i in 0..2_000u32 {
            let raw = format!("06 12 34 {:02} {:02}", i % 100, (i / 100) % 100);
            assert!(e(&raw, Region::FR).is_some(), "{raw}");
        }
        let per = start.elapsed() / 2_000;
        assert!(
            per < std::time::Duration::from_millis(2),
            "{per:?} per number"
        );
    }
}
