//! Parquet's RLE/bit-packed hybrid encoding (definition levels, dictionary indices) and its
//! bit packing (booleans): runs of at least 8 equal values as one repeated value, everything
//! else bit-packed in groups of 8, least significant bit first.

use super::thrift::varint;

/// `values` (each below `1 << width`) as runs, without a length prefix.
pub fn hybrid(values: &[u32], width: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut literals: Vec<u32> = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let run = values[i..].iter().take_while(|v| **v == values[i]).count();
        if run >= 8 && literals.len().is_multiple_of(8) {
            packed_run(&mut out, &literals, width);
            literals.clear();
            varint(&mut out, (run as u64) << 1);
            let bytes = values[i].to_le_bytes();
            out.extend(&bytes[..width.div_ceil(8) as usize]);
            i += run;
        } else {
            // A bit-packed run ends on a whole group: a long run first tops the group up.
            let take = if run >= 8 {
                8 - literals.len() % 8
            } else {
                run
            };
            literals.extend(&values[i..i + take]);
            i += take;
        }
    }
    packed_run(&mut out, &literals, width);
    out
}

/// One bit-packed run: its header, then the values, the last group padded with zeros.
fn packed_run(out: &mut Vec<u8>, values: &[u32], width: u32) {
    if values.is_empty() {
        return;
    }
    let groups = values.len().div_ceil(8);
    varint(out, (groups as u64) << 1 | 1);
    let mut bytes = vec![0u8; groups * width as usize];
    for (i, value) in values.iter().enumerate() {
        for b in 0..width as usize {
            if value >> b & 1 == 1 {
                let bit = i * width as usize + b;
                bytes[bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    out.extend(bytes);
}

/// The definition levels of an optional flat column (1 present, 0 null) as a v1 data page
/// holds them: a 4-byte little-endian length, then the runs at bit width 1.
pub fn levels(present: impl Iterator<Item = bool>) -> Vec<u8> {
    let values: Vec<u32> = present.map(u32::from).collect();
    let runs = hybrid(&values, 1);
    let mut out = Vec::with_capacity(4 + runs.len());
    out.extend((runs.len() as u32).to_le_bytes());
    out.extend(runs);
    out
}

/// Booleans bit-packed (PLAIN for Parquet's BOOLEAN), least significant bit first.
pub fn bits(values: &[bool]) -> Vec<u8> {
    let mut out = vec![0u8; values.len().div_ceil(8)];
    for (i, v) in values.iter().enumerate() {
        if *v {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_levels_are_runs_and_packed_groups_behind_a_length() {
        // Ten present values: one repeated run of 10 (header 10 << 1), the value in a byte.
        assert_eq!(levels([true; 10].into_iter()), [2, 0, 0, 0, 0x14, 0x01]);
        // Mixed values: one bit-packed group (header 1 << 1 | 1), the bits low first.
        let mixed = [true, false, true, true, false, false, false, true];
        assert_eq!(levels(mixed.into_iter()), [2, 0, 0, 0, 0x03, 0b1000_1101]);
        // Three values: one group, padded with zeros.
        assert_eq!(
            levels([false, true, true].into_iter()),
            [2, 0, 0, 0, 0x03, 0b110]
        );
    }

    #[test]
    fn a_long_run_after_odd_literals_tops_up_their_group_first() {
        // 3 literals, then 13 zeros: 5 zeros complete the group, 8 zeros make a run.
        let mut values = vec![1, 2, 3];
        values.extend([0; 13]);
        assert_eq!(
            hybrid(&values, 2),
            [0x03, 0b0011_1001, 0x00, 0x10, 0x00] // one group of 8 at 2 bits, then 8 × 0
        );
        // Wider values: the repeated value takes whole bytes.
        assert_eq!(hybrid(&[300; 9], 9), [0x12, 0x2C, 0x01]);
    }

    #[test]
    fn booleans_pack_low_bit_first() {
        assert_eq!(
            bits(&[true, false, false, true, true, false, false, false, true]),
            [0x19, 0x01]
        );
    }
}
