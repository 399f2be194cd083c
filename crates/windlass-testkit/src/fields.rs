//! The field names of a serde struct, as its derived `Deserialize` knows
//! them (renames applied), so a test can check that docs name every field.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// The field names of the struct `T` (its `#[serde(rename_all)]` applied),
/// in declaration order.
///
/// # Panics
///
/// When `T` does not deserialize as a struct (a map, an enum, a type with
/// a hand-written `Deserialize` that asks for something else).
pub fn serde_fields<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let found = Cell::new(None);
    let _ = T::deserialize(FieldsProbe { found: &found });
    found
        .get()
        .unwrap_or_else(|| panic!("{} is not a serde struct", std::any::type_name::<T>()))
}

/// A deserializer that records the fields it is asked for, then fails.
struct FieldsProbe<'a> {
    found: &'a Cell<Option<&'static [&'static str]>>,
}

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("fields recorded")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for FieldsProbe<'_> {
    type Error = Stop;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Stop> {
        self.found.set(Some(fields));
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The dotted keys of a configuration section's tables, sorted:
/// `("wheel", ["out", ...])` gives `wheel.out`, ... A section's
/// "every field is documented" test compares them with the key registry.
pub fn section_keys(tables: &[(&str, &[&str])]) -> Vec<String> {
    let mut keys: Vec<String> = tables
        .iter()
        .flat_map(|(prefix, fields)| fields.iter().map(move |f| format!("{prefix}.{f}")))
        .collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "kebab-case")]
    #[allow(dead_code, reason = "only the field names matter")]
    struct Example {
        plain: u32,
        two_words: Option<String>,
    }

    #[test]
    fn names_renamed_fields() {
        assert_eq!(super::serde_fields::<Example>(), ["plain", "two-words"]);
    }
}
