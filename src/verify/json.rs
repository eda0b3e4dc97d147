//! A strict, allocation-free reader for the only JSON the API accepts: a flat object of scalar
//! values, or an array of such objects (batch orders).
//!
//! Hand-written rather than serde_json because it runs for every signed request on the verify
//! threads, and because the signing string needs each value's **raw token** (`"150.50"` → `150.50`,
//! `42`, `true`): a value is kept as a slice of the request body, never copied or re-encoded.
//!
//! What is refused (→ `Invalid JSON body`): anything that is not JSON; `null`; nested arrays or
//! objects as values; duplicate keys; numbers other than plain non-negative integers (so the raw
//! token is canonical); strings holding `"`-escapes, `\` or control characters; invalid UTF-8.

/// Most fields one object may have (an order has at most ~20 legitimate ones).
pub const FIELDS_MAX: usize = 32;

/// The kind of a scalar value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// A string; the value slice excludes the quotes.
    String,
    /// A plain non-negative integer.
    Number,
    /// `true` or `false`.
    Bool,
}

/// One `"key": value` pair, borrowing the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The key, without quotes.
    pub key: &'a [u8],
    /// The value's raw text (without quotes for strings).
    pub value: &'a [u8],
    /// Its kind.
    pub kind: ValueKind,
}

const EMPTY_FIELD: Field<'static> = Field { key: b"", value: b"", kind: ValueKind::Bool };

/// A flat object's fields in body order.
#[derive(Clone, Copy, Debug)]
pub struct FlatObject<'a> {
    fields: [Field<'a>; FIELDS_MAX],
    len: usize,
}

impl<'a> Default for FlatObject<'a> {
    fn default() -> Self {
        FlatObject { fields: [EMPTY_FIELD; FIELDS_MAX], len: 0 }
    }
}

impl<'a> FlatObject<'a> {
    /// The fields in body order.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields[..self.len]
    }

    /// The field with this key.
    pub fn get(&self, key: &[u8]) -> Option<Field<'a>> {
        self.fields().iter().find(|field| field.key == key).copied()
    }
}

/// The body is not acceptable JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidJson;

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn skip_whitespace(&mut self) {
        while let Some(&byte) = self.bytes.get(self.position) {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.position += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.position).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), InvalidJson> {
        if self.peek() == Some(byte) {
            self.position += 1;
            Ok(())
        } else {
            Err(InvalidJson)
        }
    }

    fn string(&mut self) -> Result<&'a [u8], InvalidJson> {
        self.expect(b'"')?;
        let start = self.position;
        loop {
            match self.bytes.get(self.position) {
                None => return Err(InvalidJson),
                Some(b'"') => break,
                // Escapes and control characters are refused outright (see the module doc).
                Some(&byte) if byte == b'\\' || byte < 0x20 => return Err(InvalidJson),
                Some(_) => self.position += 1,
            }
        }
        let text = &self.bytes[start..self.position];
        self.position += 1;
        std::str::from_utf8(text).map_err(|_| InvalidJson)?;
        Ok(text)
    }

    fn value(&mut self) -> Result<(&'a [u8], ValueKind), InvalidJson> {
        match self.peek() {
            Some(b'"') => Ok((self.string()?, ValueKind::String)),
            Some(b'0'..=b'9') => {
                let start = self.position;
                while self.bytes.get(self.position).is_some_and(u8::is_ascii_digit) {
                    self.position += 1;
                }
                let token = &self.bytes[start..self.position];
                // No leading zeros, fractions or exponents: the raw token must be canonical.
                if (token.len() > 1 && token[0] == b'0')
                    || matches!(self.bytes.get(self.position), Some(b'.' | b'e' | b'E'))
                {
                    return Err(InvalidJson);
                }
                Ok((token, ValueKind::Number))
            }
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            _ => Err(InvalidJson),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(&'a [u8], ValueKind), InvalidJson> {
        if self.bytes[self.position..].starts_with(word) {
            self.position += word.len();
            Ok((word, ValueKind::Bool))
        } else {
            Err(InvalidJson)
        }
    }

    fn object(&mut self) -> Result<FlatObject<'a>, InvalidJson> {
        let mut object = FlatObject::default();
        self.expect(b'{')?;
        if self.peek() == Some(b'}') {
            self.position += 1;
            return Ok(object);
        }
        loop {
            let key = self.string()?;
            self.expect(b':')?;
            let (value, kind) = self.value()?;
            if object.len == FIELDS_MAX || object.fields().iter().any(|field| field.key == key) {
                return Err(InvalidJson);
            }
            object.fields[object.len] = Field { key, value, kind };
            object.len += 1;
            match self.peek() {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(object);
                }
                _ => return Err(InvalidJson),
            }
        }
    }

    fn end(&mut self) -> Result<(), InvalidJson> {
        if self.peek().is_none() { Ok(()) } else { Err(InvalidJson) }
    }
}

/// Parses a body that must be one flat object.
pub fn parse_object(body: &[u8]) -> Result<FlatObject<'_>, InvalidJson> {
    let mut reader = Reader { bytes: body, position: 0 };
    let object = reader.object()?;
    reader.end()?;
    Ok(object)
}

/// Parses a body that must be an array of flat objects into `out`; returns how many.
/// More objects than `out` holds is an error (the caller sizes `out` to the batch limit + 1 to
/// tell "too many" from "invalid").
pub fn parse_array<'a>(body: &'a [u8], out: &mut [FlatObject<'a>]) -> Result<usize, InvalidJson> {
    let mut reader = Reader { bytes: body, position: 0 };
    reader.expect(b'[')?;
    let mut count = 0;
    if reader.peek() == Some(b']') {
        reader.position += 1;
        reader.end()?;
        return Ok(0);
    }
    loop {
        if count == out.len() {
            return Err(InvalidJson);
        }
        out[count] = reader.object()?;
        count += 1;
        match reader.peek() {
            Some(b',') => reader.position += 1,
            Some(b']') => {
                reader.position += 1;
                reader.end()?;
                return Ok(count);
            }
            _ => return Err(InvalidJson),
        }
    }
}

/// Whether the body's first non-blank byte opens an array.
pub fn is_array(body: &[u8]) -> bool {
    body.iter().find(|byte| !byte.is_ascii_whitespace()) == Some(&b'[')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_flat_objects() {
        let body =
            br#" { "symbol" : "SOL_USDC", "price":"150.50", "clientId": 42, "postOnly": true } "#;
        let object = parse_object(body).unwrap();
        let pairs: Vec<(&[u8], &[u8], ValueKind)> =
            object.fields().iter().map(|f| (f.key, f.value, f.kind)).collect();
        assert_eq!(
            pairs,
            vec![
                (&b"symbol"[..], &b"SOL_USDC"[..], ValueKind::String),
                (b"price", b"150.50", ValueKind::String),
                (b"clientId", b"42", ValueKind::Number),
                (b"postOnly", b"true", ValueKind::Bool),
            ]
        );
        assert_eq!(parse_object(b"{}").unwrap().fields().len(), 0);
        assert_eq!(object.get(b"price").unwrap().value, b"150.50");
    }

    #[test]
    fn refuses_everything_else() {
        let bad: &[&[u8]] = &[
            b"",
            b"[]",
            b"{",
            b"{}}",
            b"{} x",
            br#"{"a":null}"#,
            br#"{"a":[1]}"#,
            br#"{"a":{"b":1}}"#,
            br#"{"a":1,"a":2}"#,
            br#"{"a":-1}"#,
            br#"{"a":1.5}"#,
            br#"{"a":1e3}"#,
            br#"{"a":01}"#,
            br#"{"a":"x\"y"}"#,
            br#"{"a":"x\\y"}"#,
            b"{\"a\":\"x\ny\"}",
            b"{\"a\":\"\xff\"}",
            br#"{"a":tru}"#,
            br#"{"a":1,}"#,
            br#"{a:1}"#,
            b"\"x\"",
        ];
        for body in bad {
            assert_eq!(
                parse_object(body).map(|_| ()),
                Err(InvalidJson),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn arrays_of_objects() {
        let body = br#"[{"symbol":"SOL_USDC","price":"141"},{"symbol":"SOL_USDC","price":"142"}]"#;
        let mut out = [FlatObject::default(); 3];
        assert_eq!(parse_array(body, &mut out), Ok(2));
        assert_eq!(out[1].get(b"price").unwrap().value, b"142");
        assert_eq!(parse_array(b"[{},{},{},{}]", &mut out), Err(InvalidJson));
        assert_eq!(parse_array(b"[1]", &mut out), Err(InvalidJson));
        assert_eq!(parse_array(b" [ ] ", &mut out), Ok(0));
        assert!(is_array(b"  [{}]"));
        assert!(!is_array(b"{}"));
    }
}
