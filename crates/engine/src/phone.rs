//! Phone numbers to E.164 (`+` and digits). Numbers without a country code are taken
//! as French (Sellsy's home market) when they start with a single `0`.

/// `None` when the text holds no usable number.
pub fn to_e164(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return None;
    }
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 6 || digits.len() > 15 {
        return None;
    }
    let e164 = if trimmed.starts_with('+') {
        format!("+{digits}")
    } else if let Some(rest) = digits.strip_prefix("00") {
        format!("+{rest}")
    } else if digits.starts_with('0') && digits.len() == 10 {
        format!("+33{}", &digits[1..])
    } else {
        format!("+{digits}")
    };
    Some(e164)
}

#[cfg(test)]
mod tests {
    use super::to_e164;

    #[test]
    fn normalises_common_shapes() {
        assert_eq!(
            to_e164("+1 (555) 100-0001").as_deref(),
            Some("+15551000001")
        );
        assert_eq!(to_e164("06 12 34 56 78").as_deref(), Some("+33612345678"));
        assert_eq!(
            to_e164("0033 6 12 34 56 78").as_deref(),
            Some("+33612345678")
        );
        assert_eq!(to_e164("n/a"), None);
        assert_eq!(to_e164(""), None);
    }
}
