//! A fast JSON deserializer for the common shape of event lines, with serde_json as the
//! reference.
//!
//! `herald route` spends most of its time reading event lines, and most of a line is fields no
//! rule reads. [`Fast`] is a [`serde::Deserializer`] over one line that handles the JSON CRMs
//! export, and gives up (with [`Bail`]) on anything else: a backslash escape or a control
//! character in a string, a malformed token, a method the visitors of the record parser do not
//! use. The caller then parses the same line again with serde_json, which either gives the same
//! result the slow way or the precise error message. The same visitors run in both cases, so the
//! two paths agree whenever the fast one succeeds:
//!
//! - it accepts only valid JSON (strict grammar for numbers and literals, no control character
//!   in a string, nothing after the value but whitespace), whether a value is read or skipped;
//! - it calls the visitors exactly as serde_json does for the same input: `visit_borrowed_str`
//!   for strings, `visit_map`/`visit_seq` then the closing bracket, `visit_unit` for `null`;
//! - numbers that a visitor reads are handed to serde_json itself (the token alone), so integer
//!   overflow, `-0` and float rounding follow serde_json exactly.
//!
//! Nesting is bounded here as serde_json bounds it: a container at a depth serde_json refuses
//! bails (serde_json then words the error) instead of recursing. `herald route` also checks
//! the line's depth before parsing (`route::MAX_LINE_DEPTH`); `CompactRecord::parse_into`
//! relies on this bound alone.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Deepest nesting the fast path recurses into; deeper input bails. serde_json refuses the
/// 128th nested container ("recursion limit exceeded"), so the fast path stops at 127: it must
/// not accept what serde_json refuses.
const MAX_DEPTH: u32 = 127;

/// The fast path does not handle this input: parse it again with serde_json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bail;

impl fmt::Display for Bail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not handled by the fast JSON path")
    }
}

impl std::error::Error for Bail {}

impl de::Error for Bail {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Bail
    }
}

type R<T> = Result<T, Bail>;

/// A deserializer over one JSON text (see the module documentation).
pub struct Fast<'de> {
    text: &'de str,
    pos: usize,
    depth: u32,
}

impl<'de> Fast<'de> {
    /// A deserializer at the start of `text`.
    pub fn new(text: &'de str) -> Fast<'de> {
        Fast {
            text,
            pos: 0,
            depth: 0,
        }
    }

    /// Succeeds when only whitespace is left.
    pub fn end(&mut self) -> R<()> {
        match self.ws() {
            None => Ok(()),
            Some(_) => Err(Bail),
        }
    }

    #[inline]
    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    /// Skips whitespace and returns the next byte, not consumed.
    #[inline]
    pub(crate) fn ws(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(b);
            }
            self.pos += 1;
        }
        None
    }

    /// Consumes `lit` (a literal's bytes after its first, already matched, byte).
    #[inline]
    pub(crate) fn literal(&mut self, lit: &[u8]) -> R<()> {
        let end = self.pos + 1 + lit.len();
        match self.bytes().get(self.pos + 1..end) {
            Some(b) if b == lit => {
                self.pos = end;
                Ok(())
            }
            _ => Err(Bail),
        }
    }

    /// Reads a string at `pos` without escapes or control characters, and returns its
    /// content; gives up when `pos` holds no `"`.
    #[inline]
    pub(crate) fn string(&mut self) -> R<&'de str> {
        let bytes = self.bytes();
        if bytes.get(self.pos) != Some(&b'"') {
            return Err(Bail);
        }
        let start = self.pos + 1;
        let mut i = start;
        // Eight bytes at a time while they are plain string content.
        while let Some(word) = bytes.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            let stop = special_bytes(u64::from_le_bytes(w));
            if stop != 0 {
                i += (stop.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        loop {
            match bytes.get(i) {
                Some(b'"') => break,
                Some(b'\\' | 0..=0x1f) | None => return Err(Bail),
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        // `start` and `i` sit next to ASCII quotes, so both are character boundaries.
        self.text.get(start..i).ok_or(Bail)
    }

    /// Reads a number at `pos` with JSON's grammar and returns its text.
    #[inline]
    pub(crate) fn number(&mut self) -> R<&'de str> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return Err(Bail),
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return Err(Bail);
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return Err(Bail);
            }
        }
        self.pos = i;
        self.text.get(start..i).ok_or(Bail)
    }

    pub(crate) fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Bail);
        }
        Ok(())
    }

    /// Enters the container whose opening bracket is at `pos`.
    #[inline]
    pub(crate) fn open(&mut self) -> R<()> {
        self.enter()?;
        self.pos += 1;
        Ok(())
    }

    /// Skips one value, checking it as strictly as serde_json does when it ignores one.
    pub(crate) fn skip(&mut self) -> R<()> {
        match self.ws() {
            Some(b'"') => self.string().map(drop),
            Some(b'-' | b'0'..=b'9') => self.number().map(drop),
            Some(b't') => self.literal(b"rue"),
            Some(b'f') => self.literal(b"alse"),
            Some(b'n') => self.literal(b"ull"),
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                let mut first = true;
                while self.next_item(b'}', &mut first)? {
                    self.string()?;
                    self.colon()?;
                    self.skip()?;
                }
                self.close(b'}')
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let mut first = true;
                while self.next_item(b']', &mut first)? {
                    self.skip()?;
                }
                self.close(b']')
            }
            _ => Err(Bail),
        }
    }

    /// Moves to a container's next element: false at `close` (not consumed), true at the start
    /// of an element, after the comma that separates it from the one before.
    pub(crate) fn next_item(&mut self, close: u8, first: &mut bool) -> R<bool> {
        match self.ws() {
            Some(b) if b == close => return Ok(false),
            Some(b',') if !*first => self.pos += 1,
            Some(_) if *first => {}
            _ => return Err(Bail),
        }
        *first = false;
        // An element must follow: not the end, and no trailing comma.
        match self.ws() {
            Some(b) if b != close => Ok(true),
            _ => Err(Bail),
        }
    }

    pub(crate) fn colon(&mut self) -> R<()> {
        if self.ws() != Some(b':') {
            return Err(Bail);
        }
        self.pos += 1;
        Ok(())
    }

    /// Consumes `close` after a container's visitor returned.
    pub(crate) fn close(&mut self, close: u8) -> R<()> {
        if self.ws() != Some(close) {
            return Err(Bail);
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }
}

/// A word with bit 7 of each byte set where that byte is `"`, `\` or below 0x20 (little
/// endian: the lowest set bit marks the first such byte exactly; bits above it may be set by
/// a borrow and are never used).
#[inline]
fn special_bytes(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero_byte(w ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(w ^ (ONES * u64::from(b'\\')));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

/// The `deserialize_*` methods for Rust's named types (structs, tuples, enums), which the
/// record visitors never ask for: they give up.
macro_rules! bail_on_named_types {
    () => {
        fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> R<V::Value> {
            Err(Bail)
        }
        fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> R<V::Value> {
            Err(Bail)
        }
        fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> R<V::Value> {
            Err(Bail)
        }
        fn deserialize_tuple_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: usize,
            _: V,
        ) -> R<V::Value> {
            Err(Bail)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> R<V::Value> {
            Err(Bail)
        }
        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _: &'static str,
            _: &'static [&'static str],
            _: V,
        ) -> R<V::Value> {
            Err(Bail)
        }
    };
}

/// `deserialize_*` methods that give up, for the value types the record visitors never ask
/// for by name.
macro_rules! bail_methods {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, _visitor: V) -> R<V::Value> {
                Err(Bail)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut Fast<'de> {
    type Error = Bail;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match self.ws() {
            Some(b'"') => visitor.visit_borrowed_str(self.string()?),
            Some(b'n') => {
                self.literal(b"ull")?;
                visitor.visit_unit()
            }
            Some(b't') => {
                self.literal(b"rue")?;
                visitor.visit_bool(true)
            }
            Some(b'f') => {
                self.literal(b"alse")?;
                visitor.visit_bool(false)
            }
            Some(b'-' | b'0'..=b'9') => {
                // serde_json reads the number token exactly as it would in place.
                let token = self.number()?;
                let mut de = serde_json::Deserializer::from_str(token);
                let v = de::Deserializer::deserialize_any(&mut de, visitor).map_err(|_| Bail)?;
                de.end().map_err(|_| Bail)?;
                Ok(v)
            }
            Some(b'[') => {
                self.enter()?;
                self.pos += 1;
                let v = visitor.visit_seq(Seq {
                    de: &mut *self,
                    first: true,
                })?;
                self.close(b']')?;
                Ok(v)
            }
            Some(b'{') => {
                self.enter()?;
                self.pos += 1;
                let v = visitor.visit_map(Map {
                    de: &mut *self,
                    first: true,
                })?;
                self.close(b'}')?;
                Ok(v)
            }
            _ => Err(Bail),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.skip()?;
        visitor.visit_unit()
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match self.ws() {
            Some(b'{') => self.deserialize_any(visitor),
            _ => Err(Bail),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        match self.ws() {
            Some(b'"') => visitor.visit_borrowed_str(self.string()?),
            _ => Err(Bail),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_str(visitor)
    }

    bail_methods! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_identifier
    }

    bail_on_named_types!();
}

/// The entries of an object, after its `{`.
struct Map<'a, 'de> {
    de: &'a mut Fast<'de>,
    first: bool,
}

impl<'de> MapAccess<'de> for Map<'_, 'de> {
    type Error = Bail;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> R<Option<K::Value>> {
        if !self.de.next_item(b'}', &mut self.first)? {
            return Ok(None);
        }
        seed.deserialize(Key { de: &mut *self.de }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> R<V::Value> {
        self.de.colon()?;
        seed.deserialize(&mut *self.de)
    }
}

/// The elements of an array, after its `[`.
struct Seq<'a, 'de> {
    de: &'a mut Fast<'de>,
    first: bool,
}

impl<'de> SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Bail;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> R<Option<T::Value>> {
        if !self.de.next_item(b']', &mut self.first)? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.de).map(Some)
    }
}

/// An object key at its opening quote. Keys are read as strings; a visitor that wants
/// anything else from a key (serde_json would parse numbers and booleans out of it) bails.
struct Key<'a, 'de> {
    de: &'a mut Fast<'de>,
}

impl<'de> de::Deserializer<'de> for Key<'_, 'de> {
    type Error = Bail;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        visitor.visit_borrowed_str(self.de.string()?)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_any(visitor)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.deserialize_any(visitor)
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> R<V::Value> {
        self.de.string()?;
        visitor.visit_unit()
    }

    bail_methods! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_f32
        deserialize_f64 deserialize_char deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    bail_on_named_types!();
}
