//! YAML text to the file's serde types, with a position on every error.
//!
//! Why saphyr (0.3): it is pure Rust, YAML 1.2, maintained by the saphyr-rs project (the continuation of
//! yaml-rust and yaml-rust2), needs Rust 1.85 (nsfleet builds with 1.88), and its `MarkedYaml` tree keeps
//! the line and column of every node, keys included. serde_yaml is deprecated and serde_yml has a
//! security advisory; serde-saphyr (a serde layer over a fork of the same parser) needs Rust 1.89 and
//! formats errors its own way, while the file's errors here must name `FILE:LINE:COL` and suggest the
//! key that was meant. So the serde `Deserializer` below walks saphyr's tree itself: the types in
//! `file.rs` derive `Deserialize` and `JsonSchema`, and the schema and the parser cannot disagree.
//!
//! Two things of saphyr's are kept away from input by a pass of its event parser before the loader
//! runs: aliases (the loader expands one by copying the anchored subtree, so a few lines of nested
//! aliases would take all memory) and nesting deeper than a topology needs (the loader and the decoder
//! recurse per level: a few thousand levels of indentation overflow the stack).

use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use saphyr_parser::{Event, Parser};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

/// A place in the file, both numbers counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    fn of(node: &MarkedYaml<'_>) -> Self {
        Self::from_marker(&node.span.start)
    }

    fn from_marker(marker: &saphyr::Marker) -> Self {
        Self {
            line: marker.line(),
            column: marker.col() + 1,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}", self.line, self.column)
    }
}

/// What is wrong, and where once known: serde's derived code reports without a place, and the node
/// being decoded when the error passes by adds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub at: Option<Pos>,
    pub message: String,
}

impl YamlError {
    fn at(pos: Pos, message: impl Into<String>) -> Self {
        Self {
            at: Some(pos),
            message: message.into(),
        }
    }

    fn located(mut self, pos: Pos) -> Self {
        self.at.get_or_insert(pos);
        self
    }
}

impl fmt::Display for YamlError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for YamlError {}

impl de::Error for YamlError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self {
            at: None,
            message: message.to_string(),
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format!(
            "unknown key \"{field}\"{}",
            suggestion(field, expected)
        ))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::custom(format!(
            "unknown value \"{variant}\"{}",
            suggestion(variant, expected)
        ))
    }
}

/// `; did you mean "x"?` for the closest of `expected`, or the list of what is allowed.
pub fn suggestion(given: &str, expected: &[&str]) -> String {
    let closest = expected
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(given, candidate), *candidate))
        .min();
    match closest {
        Some((distance, candidate)) if distance <= given.len().max(candidate.len()) / 2 => {
            format!("; did you mean \"{candidate}\"?")
        }
        _ if expected.is_empty() => String::new(),
        _ => format!(" (expected one of: {})", expected.join(", ")),
    }
}

/// Parses `text` (one YAML document) into `T`.
pub fn from_str<T: de::DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    refuse_aliases_and_deep_nesting(text)?;
    let documents = MarkedYaml::load_from_str(text)
        .map_err(|error| YamlError::at(Pos::from_marker(error.marker()), error.info()))?;
    let root = match documents.as_slice() {
        [root] => root,
        [] => {
            return Err(YamlError::at(
                Pos { line: 1, column: 1 },
                "the file is empty",
            ))
        }
        [_, second, ..] => {
            return Err(YamlError::at(
                Pos::of(second),
                "a second YAML document: a topology file holds one",
            ))
        }
    };
    T::deserialize(Node(root)).map_err(|error| error.located(Pos::of(root)))
}

/// How deep mappings and lists may nest. A topology file needs about eight levels; the loader and the
/// decoder recurse per level, and a few thousand levels of indentation overflow the stack.
const MAX_DEPTH: usize = 32;

/// One pass of the event parser before the loader: aliases and runaway nesting never reach it.
fn refuse_aliases_and_deep_nesting(text: &str) -> Result<(), YamlError> {
    let mut depth = 0usize;
    for event in Parser::new_from_str(text) {
        match event {
            Ok((Event::Alias(_), span)) => {
                return Err(YamlError::at(
                    Pos::from_marker(&span.start),
                    "aliases (*name) are not supported: write the value out",
                ))
            }
            Ok((Event::MappingStart(..) | Event::SequenceStart(..), span)) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlError::at(
                        Pos::from_marker(&span.start),
                        format!("nested deeper than {MAX_DEPTH} levels"),
                    ));
                }
            }
            Ok((Event::MappingEnd | Event::SequenceEnd, _)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
            // The loader reports the same error with its place.
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// serde's name for [`crate::topology::file::Located`]: a struct of this name is decoded as the
/// node's position plus its value.
pub const LOCATED: &str = "$nsfleet::Located";
pub const LOCATED_FIELDS: &[&str] = &["line", "column", "value"];

#[derive(Clone, Copy)]
struct Node<'a, 'input>(&'a MarkedYaml<'input>);

impl<'a, 'input> Node<'a, 'input> {
    fn pos(&self) -> Pos {
        Pos::of(self.0)
    }

    fn error(&self, message: impl Into<String>) -> YamlError {
        YamlError::at(self.pos(), message)
    }

    /// The text of a scalar, whatever YAML type it resolved to: a name like `1` or `true` is a string
    /// where the file expects one.
    fn scalar_text(&self) -> Option<String> {
        match &self.0.data {
            YamlData::Value(Scalar::String(text)) => Some(text.to_string()),
            YamlData::Value(Scalar::Integer(value)) => Some(value.to_string()),
            YamlData::Value(Scalar::FloatingPoint(value)) => Some(value.to_string()),
            YamlData::Value(Scalar::Boolean(value)) => Some(value.to_string()),
            YamlData::Representation(text, _, _) => Some(text.to_string()),
            _ => None,
        }
    }

    /// What the file's types never take, whatever the key.
    fn refuse_unsupported(&self) -> Result<(), YamlError> {
        match &self.0.data {
            YamlData::Tagged(..) => Err(self.error("YAML tags (!name) are not supported")),
            YamlData::Alias(_) => Err(self.error("aliases (*name) are not supported")),
            YamlData::BadValue => Err(self.error("not a valid YAML value")),
            _ => Ok(()),
        }
    }

    fn kind(&self) -> &'static str {
        match &self.0.data {
            YamlData::Value(Scalar::Null) => "nothing (null)",
            YamlData::Value(Scalar::Boolean(_)) => "a boolean",
            YamlData::Value(Scalar::Integer(_)) => "an integer",
            YamlData::Value(Scalar::FloatingPoint(_)) => "a number",
            YamlData::Value(Scalar::String(_)) | YamlData::Representation(..) => "a string",
            YamlData::Sequence(_) => "a list",
            YamlData::Mapping(_) => "a mapping",
            YamlData::Tagged(..) => "a tagged value",
            YamlData::Alias(_) => "an alias",
            YamlData::BadValue => "an invalid value",
        }
    }
}

impl<'de> de::Deserializer<'de> for Node<'_, '_> {
    type Error = YamlError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        let pos = self.pos();
        let result = match &self.0.data {
            YamlData::Value(Scalar::Null) => visitor.visit_unit(),
            YamlData::Value(Scalar::Boolean(value)) => visitor.visit_bool(*value),
            YamlData::Value(Scalar::Integer(value)) => visitor.visit_i64(*value),
            YamlData::Value(Scalar::FloatingPoint(value)) => visitor.visit_f64(value.0),
            YamlData::Value(Scalar::String(text)) => visitor.visit_str(text),
            YamlData::Representation(text, _, _) => visitor.visit_str(text),
            YamlData::Sequence(items) => visitor.visit_seq(Items {
                items: items.iter(),
            }),
            YamlData::Mapping(entries) => visitor.visit_map(Entries {
                entries: entries.iter().collect::<Vec<_>>().into_iter(),
                value: None,
            }),
            YamlData::Tagged(..) => Err(self.error("YAML tags (!name) are not supported")),
            YamlData::Alias(_) => Err(self.error("aliases (*name) are not supported")),
            YamlData::BadValue => Err(self.error("not a valid YAML value")),
        };
        result.map_err(|error| error.located(pos))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.refuse_unsupported()?;
        match self.scalar_text() {
            Some(text) => visitor
                .visit_string(text)
                .map_err(|error: YamlError| error.located(self.pos())),
            None => Err(self.error(format!("expected a string, found {}", self.kind()))),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, YamlError> {
        match &self.0.data {
            YamlData::Value(Scalar::Null) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        if name == LOCATED {
            return visitor.visit_map(LocatedAccess {
                node: self,
                next: 0,
            });
        }
        match &self.0.data {
            YamlData::Mapping(_) => self.deserialize_any(visitor),
            // `netns1:` with nothing after it: an entry with every default.
            YamlData::Value(Scalar::Null) => visitor
                .visit_map(Entries {
                    entries: Vec::new().into_iter(),
                    value: None,
                })
                .map_err(|error| error.located(self.pos())),
            _ => Err(self.error(format!(
                "expected a mapping (with {}), found {}",
                fields.join(", "),
                self.kind()
            ))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, YamlError> {
        // The file's enums are plain words (`lo: up`).
        self.refuse_unsupported()?;
        match self.scalar_text() {
            Some(text) => visitor
                .visit_enum(text.into_deserializer())
                .map_err(|error: YamlError| error.located(self.pos())),
            None => Err(self.error(format!("expected a word, found {}", self.kind()))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map ignored_any
    }
}

struct Items<'a, 'input> {
    items: std::slice::Iter<'a, MarkedYaml<'input>>,
}

impl<'de> de::SeqAccess<'de> for Items<'_, '_> {
    type Error = YamlError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, YamlError> {
        match self.items.next() {
            None => Ok(None),
            Some(item) => seed
                .deserialize(Node(item))
                .map(Some)
                .map_err(|error| error.located(Pos::of(item))),
        }
    }
}

struct Entries<'a, 'input> {
    entries: std::vec::IntoIter<(&'a MarkedYaml<'input>, &'a MarkedYaml<'input>)>,
    value: Option<&'a MarkedYaml<'input>>,
}

impl<'de> de::MapAccess<'de> for Entries<'_, '_> {
    type Error = YamlError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, YamlError> {
        match self.entries.next() {
            None => Ok(None),
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(Node(key))
                    .map(Some)
                    .map_err(|error| error.located(Pos::of(key)))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, YamlError> {
        match self.value.take() {
            Some(value) => seed
                .deserialize(Node(value))
                .map_err(|error| error.located(Pos::of(value))),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }
}

/// Hands a node to `Located`'s derived code as `{line, column, value}`.
struct LocatedAccess<'a, 'input> {
    node: Node<'a, 'input>,
    next: usize,
}

impl<'de> de::MapAccess<'de> for LocatedAccess<'_, '_> {
    type Error = YamlError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, YamlError> {
        match LOCATED_FIELDS.get(self.next) {
            None => Ok(None),
            Some(field) => seed.deserialize((*field).into_deserializer()).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, YamlError> {
        let pos = self.node.pos();
        let field = self.next;
        self.next += 1;
        match field {
            0 => seed.deserialize(pos.line.into_deserializer()),
            1 => seed.deserialize(pos.column.into_deserializer()),
            _ => seed.deserialize(self.node),
        }
    }
}
