//! JSON written by hand for the largest answers, byte for byte as `serde_json` writes it. Most
//! stored values have one or two decimals (a provider's rounding): for those the shortest form
//! that reads back the same is that decimal, printed with integer arithmetic; the shortest-digit
//! search (`serde_json`'s float writer) was an eighth of an uncached 2-year answer.

/// A number as `serde_json` writes an `f64` (`null` when not finite).
pub fn number(out: &mut Vec<u8>, value: f64) {
    if value == 0.0 {
        out.extend_from_slice(if value.is_sign_negative() {
            b"-0.0"
        } else {
            b"0.0"
        });
        return;
    }
    // Below 1e9 doubles lie under 1e-6 apart, so no other decimal of as few digits reads back
    // as the same double: the decimal found is the shortest form.
    if value.abs() < 1e9 {
        for (scale, places) in [(10.0, 1), (100.0, 2)] {
            // Rounded by truncation (`f64::round` is a library call on baseline x86-64); a
            // value that is no such decimal fails the exact test whatever this gives.
            let scaled = value * scale;
            let scaled = (scaled + 0.5f64.copysign(scaled)) as i64;
            if scaled as f64 / scale == value {
                fixed(out, scaled, places);
                return;
            }
        }
    }
    let _ = serde_json::to_writer(out, &value);
}

/// `scaled / 10^places` in decimal, trailing zeros dropped down to one place (`12.0`, `0.05`).
fn fixed(out: &mut Vec<u8>, scaled: i64, mut places: u32) {
    if scaled < 0 {
        out.push(b'-');
    }
    let scaled = scaled.unsigned_abs();
    let unit = 10u64.pow(places);
    let (whole, mut fraction) = (scaled / unit, scaled % unit);
    while places > 1 && fraction % 10 == 0 {
        fraction /= 10;
        places -= 1;
    }
    out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
    out.push(b'.');
    let mut digits = [b'0'; 2];
    for digit in digits[..places as usize].iter_mut().rev() {
        *digit = b'0' + (fraction % 10) as u8;
        fraction /= 10;
    }
    out.extend_from_slice(&digits[..places as usize]);
}

/// A string as `serde_json` writes it: quoted as it is when nothing in it needs escaping.
pub fn string(out: &mut Vec<u8>, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(out, text);
    }
}

/// [`number`] of one column's values, which recur (two years of hourly temperatures take a few
/// hundred distinct values): each kept written in a small table by its bits, so most are copied
/// rather than formatted again.
pub struct Numbers {
    /// (bits, length, text) by a hash of the bits; length 0 is an empty slot.
    slots: Box<[(u64, u8, [u8; NUMBER_TEXT])]>,
    scratch: Vec<u8>,
}

/// The longest text a slot keeps: every one- or two-decimal value's (`-123456789.25`) and most
/// other doubles'; a longer one is written without the table.
const NUMBER_TEXT: usize = 23;
const SLOT_BITS: u32 = 9;

impl Default for Numbers {
    fn default() -> Self {
        Self {
            slots: vec![(0, 0, [0; NUMBER_TEXT]); 1 << SLOT_BITS].into_boxed_slice(),
            scratch: Vec::with_capacity(32),
        }
    }
}

impl Numbers {
    pub fn write(&mut self, out: &mut Vec<u8>, value: f64) {
        let bits = value.to_bits();
        let slot = &mut self.slots
            [(bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - SLOT_BITS)) as usize];
        if slot.1 == 0 || slot.0 != bits {
            self.scratch.clear();
            number(&mut self.scratch, value);
            let Some(text) = slot.2.get_mut(..self.scratch.len()) else {
                out.extend_from_slice(&self.scratch);
                return;
            };
            text.copy_from_slice(&self.scratch);
            (slot.0, slot.1) = (bits, self.scratch.len() as u8);
        }
        // The whole slot, then the part past the text dropped: a copy of constant length.
        out.extend_from_slice(&slot.2);
        out.truncate(out.len() - (NUMBER_TEXT - slot.1 as usize));
    }
}

/// [`string`] of strings that come back again and again (each row's source and description):
/// quoted once while the same one (the same borrowed text) comes back.
#[derive(Default)]
pub struct Strings<'a> {
    last: Option<&'a str>,
    quoted: Vec<u8>,
}

impl<'a> Strings<'a> {
    pub fn write(&mut self, out: &mut Vec<u8>, text: &'a str) {
        if !self.last.is_some_and(|last| std::ptr::eq(last, text)) {
            self.quoted.clear();
            string(&mut self.quoted, text);
            self.last = Some(text);
        }
        out.extend_from_slice(&self.quoted);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_serde(value: f64) {
        let serde = serde_json::to_string(&value).unwrap();
        let mut out = Vec::new();
        number(&mut out, value);
        assert_eq!(String::from_utf8(out).unwrap(), serde, "{value:?}");
        let mut numbers = Numbers::default();
        for _ in 0..2 {
            let mut out = b"[".to_vec();
            numbers.write(&mut out, value);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("[{serde}"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_table_of_numbers_writes_each_as_serde_does_whatever_collides() {
        let mut numbers = Numbers::default();
        let values: Vec<f64> = (0..5_000)
            .map(|i| f64::from(i % 1_700) / 10.0 - 20.0)
            .collect();
        let mut out = Vec::new();
        let mut want = Vec::new();
        for &v in values.iter().chain(values.iter().rev()) {
            numbers.write(&mut out, v);
            out.push(b',');
            want.extend_from_slice(serde_json::to_string(&v).unwrap().as_bytes());
            want.push(b',');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(want).unwrap()
        );
    }

    #[test]
    fn numbers_read_as_serde_writes_them() {
        for value in [
            0.0,
            -0.0,
            0.1,
            -0.1,
            0.05,
            0.01,
            -0.01,
            12.0,
            100.0,
            1013.25,
            -3.7038,
            1e-7,
            999_999_999.9,
            1e9,
            1.5e9,
            1e17,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::NAN,
            f64::INFINITY,
            0.1 + 0.2,
            2.675,
        ] {
            same_as_serde(value);
        }
    }

    proptest! {
        #[test]
        fn decimals_read_as_serde_writes_them(k in -2_000_000_000i64..2_000_000_000, places in 0u32..4) {
            same_as_serde(k as f64 / 10f64.powi(places as i32));
        }

        #[test]
        fn any_double_reads_as_serde_writes_it(bits in any::<u64>()) {
            same_as_serde(f64::from_bits(bits));
        }

        #[test]
        fn strings_read_as_serde_writes_them(texts in proptest::collection::vec(".{0,12}", 1..4)) {
            let mut strings = Strings::default();
            for text in texts.iter().chain(&texts).chain(texts.iter().rev()) {
                let (mut out, mut again) = (Vec::new(), Vec::new());
                string(&mut out, text);
                strings.write(&mut again, text);
                let serde = serde_json::to_string(text).unwrap();
                prop_assert_eq!(String::from_utf8(out).unwrap(), serde.clone());
                prop_assert_eq!(String::from_utf8(again).unwrap(), serde);
            }
        }
    }
}
