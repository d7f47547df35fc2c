//! Text as upstreams really send it: ISO-8859-15 bodies, UTF-16LE files without a BOM, files
//! that mix Latin-1 and UTF-8, and numbers with decimal commas.

use crate::sources::SourceError;

/// ISO-8859-15 (Latin-9) bytes as text: Latin-1 except eight code points (€ at 0xA4, …).
pub fn latin9(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0xA4 => '€',
            0xA6 => 'Š',
            0xA8 => 'š',
            0xB4 => 'Ž',
            0xB8 => 'ž',
            0xBC => 'Œ',
            0xBD => 'œ',
            0xBE => 'Ÿ',
            _ => char::from(b),
        })
        .collect()
}

/// UTF-16LE bytes (with or without a BOM) as text.
pub fn utf16le(bytes: &[u8]) -> Result<String, SourceError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(SourceError::Malformed(format!(
            "an odd number of bytes ({}) cannot be UTF-16",
            bytes.len()
        )));
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]));
    let text: String = char::decode_utf16(units)
        .collect::<Result<_, _>>()
        .map_err(|e| SourceError::Malformed(format!("invalid UTF-16LE: {e}")))?;
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_owned)
        .unwrap_or(text))
}

/// Whether bytes look like UTF-16LE text that starts with ASCII (`I\0d\0…`), BOM or not.
pub fn looks_utf16le(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE])
        || (bytes.len() >= 4 && bytes[0] != 0 && bytes[1] == 0 && bytes[2] != 0 && bytes[3] == 0)
}

/// Bytes that are UTF-8 where they can be and Latin-1 where they cannot (the Madrid location
/// files mix both within one file): every valid UTF-8 run is kept, every other byte is Latin-1.
pub fn utf8_or_latin1(mut bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(valid) => {
                text.push_str(valid);
                return text;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                // Checked just above: the prefix is valid UTF-8.
                text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                text.push(char::from(rest[0]));
                bytes = &rest[1..];
            }
        }
    }
}

/// A number written with a decimal comma or point (`"22,6"`, `"-0.3"`), never with thousands
/// separators: `"438.963.314"` is refused rather than misread.
pub fn decimal(text: &str) -> Option<f64> {
    let text = text.trim();
    let separators = text.matches([',', '.']).count();
    if text.is_empty() || separators > 1 {
        return None;
    }
    let value: f64 = if text.contains(',') {
        text.replace(',', ".").parse().ok()?
    } else {
        text.parse().ok()?
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_latin9_utf16_and_mixed_files() {
        assert_eq!(latin9(b"OL\xcdMPIC \xa4"), "OLÍMPIC €");
        assert_eq!(utf16le(b"I\0d\0;\0").unwrap(), "Id;");
        assert_eq!(utf16le(b"\xff\xfeA\0").unwrap(), "A");
        assert!(utf16le(b"I\0d").is_err());
        assert!(looks_utf16le(b"I\0d\0"));
        assert!(!looks_utf16le(b"Id;x"));
        assert_eq!(utf8_or_latin1("Nº".as_bytes()), "Nº");
        assert_eq!(utf8_or_latin1(b"N\xba 5 Espa\xc3\xb1a"), "Nº 5 España");
    }

    #[test]
    fn reads_decimal_commas_and_refuses_thousands_separators() {
        assert_eq!(decimal("22,6"), Some(22.6));
        assert_eq!(decimal(" -0.3 "), Some(-0.3));
        assert_eq!(decimal("7"), Some(7.0));
        assert_eq!(decimal("438.963.314.634.858"), None);
        assert_eq!(decimal(""), None);
        assert_eq!(decimal("Ip"), None);
        assert_eq!(decimal("NaN"), None);
    }
}
