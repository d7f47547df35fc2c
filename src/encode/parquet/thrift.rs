//! The Thrift compact protocol, as far as Parquet's page headers and footer need it: structs
//! (field headers with id deltas), booleans, zigzag varint integers, binary and lists. Writing
//! only; the value is built as a tree first, like the flatbuffers of `http::arrow`.

/// One Thrift value.
pub enum Value {
    Bool(bool),
    I32(i32),
    I64(i64),
    Binary(Vec<u8>),
    List(Vec<Value>),
    /// Fields by id, in increasing order. A union is a struct of one field.
    Struct(Vec<(i16, Value)>),
}

const TRUE: u8 = 1;
const FALSE: u8 = 2;
const I32: u8 = 5;
const I64: u8 = 6;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const STRUCT: u8 = 12;

impl Value {
    /// A UTF-8 string (Thrift's `string` is `binary` on the wire).
    pub fn string(s: &str) -> Value {
        Value::Binary(s.as_bytes().to_vec())
    }

    /// The compact type id; a boolean field carries its value in it.
    fn type_id(&self) -> u8 {
        match self {
            Value::Bool(true) => TRUE,
            Value::Bool(false) => FALSE,
            Value::I32(_) => I32,
            Value::I64(_) => I64,
            Value::Binary(_) => BINARY,
            Value::List(_) => LIST,
            Value::Struct(_) => STRUCT,
        }
    }

    /// Appends the value's encoding to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Value::Bool(b) => out.push(if *b { TRUE } else { FALSE }),
            Value::I32(n) => varint(out, zigzag(i64::from(*n))),
            Value::I64(n) => varint(out, zigzag(*n)),
            Value::Binary(bytes) => {
                varint(out, bytes.len() as u64);
                out.extend(bytes);
            }
            Value::List(items) => {
                let element = items.first().map_or(STRUCT, Value::type_id);
                // Booleans in a list are a byte each, typed as true.
                let element = if element == FALSE { TRUE } else { element };
                if items.len() < 15 {
                    out.push((items.len() as u8) << 4 | element);
                } else {
                    out.push(0xF0 | element);
                    varint(out, items.len() as u64);
                }
                for item in items {
                    item.write(out);
                }
            }
            Value::Struct(fields) => {
                let mut last = 0i16;
                for (id, value) in fields {
                    let delta = id.wrapping_sub(last);
                    if (1..=15).contains(&delta) {
                        out.push((delta as u8) << 4 | value.type_id());
                    } else {
                        out.push(value.type_id());
                        varint(out, zigzag(i64::from(*id)));
                    }
                    last = *id;
                    if !matches!(value, Value::Bool(_)) {
                        value.write(out);
                    }
                }
                out.push(0);
            }
        }
    }
}

/// Small magnitudes of either sign to small unsigned numbers: 0, -1, 1, -2 → 0, 1, 2, 3.
fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// Unsigned LEB128: seven bits a byte, the high bit saying more follow.
pub fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7F) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        value.write(&mut out);
        out
    }

    #[test]
    fn integers_are_zigzag_varints() {
        assert_eq!(
            [0, -1, 1, -2, 2, i64::from(i32::MAX), i64::from(i32::MIN)].map(zigzag),
            [0, 1, 2, 3, 4, 4_294_967_294, 4_294_967_295]
        );
        assert_eq!(bytes(&Value::I32(0)), [0x00]);
        assert_eq!(bytes(&Value::I32(-1)), [0x01]);
        assert_eq!(bytes(&Value::I32(150)), [0xAC, 0x02]);
        assert_eq!(bytes(&Value::I64(-65)), [0x81, 0x01]);
        assert_eq!(
            bytes(&Value::I64(1_700_000_000_000)),
            [0x80, 0xA0, 0xAB, 0xFE, 0xF9, 0x62]
        );
    }

    #[test]
    fn structs_carry_field_deltas_and_end_with_a_stop() {
        let value = Value::Struct(vec![
            (1, Value::I32(5)),
            (2, Value::Bool(true)),
            (3, Value::Bool(false)),
            (4, Value::string("ab")),
            // A jump of more than 15: the type, then the id as a zigzag varint.
            (20, Value::I64(1)),
            (21, Value::Struct(vec![(1, Value::I32(1))])),
        ]);
        assert_eq!(
            bytes(&value),
            [
                0x15, 0x0A, // 1: i32 5
                0x11, // 2: true (delta 1)
                0x12, // 3: false
                0x18, 0x02, b'a', b'b', // 4: binary "ab"
                0x06, 0x28, 0x02, // 20: i64 1
                0x1C, 0x15, 0x02, 0x00, // 21: struct {1: i32 1}
                0x00,
            ]
        );
    }

    #[test]
    fn lists_give_their_size_and_element_type() {
        let short = Value::List(vec![Value::I32(0), Value::I32(3), Value::I32(8)]);
        assert_eq!(bytes(&short), [0x35, 0x00, 0x06, 0x10]);
        let long = Value::List((0..20).map(|_| Value::I32(1)).collect());
        let encoded = bytes(&long);
        assert_eq!(encoded[..2], [0xF5, 20]);
        assert_eq!(encoded.len(), 22);
        let structs = Value::List(vec![Value::Struct(Vec::new())]);
        assert_eq!(bytes(&structs), [0x1C, 0x00]);
    }
}
