//! The `-o json` mapping of responses, as the contract states it: field names as in the .proto, unset
//! message fields as null, enums as their lower-case value name without the enum's prefix, 64-bit
//! integers as JSON numbers, and a oneof as just its chosen field.
//!
//! The mapping walks the proto descriptors embedded in `nsfleet-proto` instead of hand-written code per
//! message, so fields added to the API later appear in the output without client changes.

use std::sync::{Mutex, PoisonError};

use nsfleet_proto::v1;
use prost_reflect::{
    DescriptorPool, DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MapKey, ReflectMessage,
    Value as ProtoValue,
};
use serde::ser::{Serialize, SerializeMap, Serializer};

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("the embedded nsfleet.v1 descriptors do not decode: {0}")]
    Descriptors(String),
    #[error("no descriptor for message {0}")]
    UnknownMessage(&'static str),
    #[error("cannot re-read a {name} for JSON output: {source}")]
    Decode {
        name: &'static str,
        source: prost::DecodeError,
    },
}

/// A generated message that knows its full proto name, so its descriptor can be found.
pub trait ProtoMessage: prost::Message {
    const FULL_NAME: &'static str;
}

macro_rules! proto_messages {
    ($($name:ident),* $(,)?) => {
        $(impl ProtoMessage for v1::$name {
            const FULL_NAME: &'static str = concat!("nsfleet.v1.", stringify!($name));
        })*
        #[cfg(test)]
        const ALL_NAMES: &[&str] = &[$(concat!("nsfleet.v1.", stringify!($name))),*];
    };
}

proto_messages!(
    CreateNamespaceResponse,
    DeleteNamespaceResponse,
    ListNamespacesResponse,
    CreateLinkResponse,
    DeleteLinkResponse,
    SetLinkResponse,
    ListLinksResponse,
    Link,
    AddAddressResponse,
    DeleteAddressResponse,
    ListAddressesResponse,
    AddRouteResponse,
    ReplaceRouteResponse,
    DeleteRouteResponse,
    ListRoutesResponse,
    GetForwardingResponse,
    SetForwardingResponse,
    ListNeighborsResponse,
    AddNatRuleResponse,
    DeleteNatRuleResponse,
    ListNatRulesResponse,
    PingReply,
    PingSummary,
    ApplyBatchResponse,
    HostTopology,
    PlanTopologyResponse,
    ApplyTopologyResponse,
    GetTopologyStateResponse,
    DestroyTopologyResponse,
    ConfirmCommitResponse,
    RollbackCommitResponse,
    GetCommitResponse,
);

/// A response kept as its encoded bytes and name, for outcomes that only ever need its JSON form.
#[derive(Debug, Clone)]
pub struct EncodedMessage {
    full_name: &'static str,
    bytes: Vec<u8>,
}

impl EncodedMessage {
    pub fn of<M: ProtoMessage>(message: &M) -> Self {
        Self {
            full_name: M::FULL_NAME,
            bytes: message.encode_to_vec(),
        }
    }

    /// The message in the API's JSON mapping, ready to serialize.
    pub fn to_json(&self) -> Result<MessageJson, JsonError> {
        let descriptor = pool_declaring(self.full_name)?
            .get_message_by_name(self.full_name)
            .ok_or(JsonError::UnknownMessage(self.full_name))?;
        let message =
            DynamicMessage::decode(descriptor, self.bytes.as_slice()).map_err(|source| {
                JsonError::Decode {
                    name: self.full_name,
                    source,
                }
            })?;
        Ok(MessageJson(message))
    }
}

pub fn to_json<M: ProtoMessage>(message: &M) -> Result<MessageJson, JsonError> {
    EncodedMessage::of(message).to_json()
}

/// The pools built so far, each from the descriptor set it was built from. A run prints one or two kinds
/// of message; a pool of every nsfleet.v1 file was 90% of an `-o json` invocation's instructions.
static POOLS: Mutex<Vec<(&'static [u8], DescriptorPool)>> = Mutex::new(Vec::new());

/// A pool of the file that declares the top-level message `full_name`, and of the files it imports.
fn pool_declaring(full_name: &'static str) -> Result<DescriptorPool, JsonError> {
    let set = nsfleet_proto::descriptor_set_declaring(full_name)
        .ok_or(JsonError::UnknownMessage(full_name))?;
    // Nothing is left half-changed by a panic while the lock is held: a pool is pushed whole or not.
    let mut pools = POOLS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, pool)) = pools.iter().find(|(built, _)| std::ptr::eq(*built, set)) {
        return Ok(pool.clone());
    }
    let pool =
        DescriptorPool::decode(set).map_err(|error| JsonError::Descriptors(error.to_string()))?;
    pools.push((set, pool.clone()));
    Ok(pool)
}

/// A message in the API's JSON mapping, serialized as it is walked: no tree of `Value`s in between,
/// which for a listing of 600 links was half of the invocation's instructions.
pub struct MessageJson(DynamicMessage);

impl Serialize for MessageJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Fields(&self.0).serialize(serializer)
    }
}

struct Fields<'a>(&'a DynamicMessage);

impl Serialize for Fields<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let message = self.0;
        let mut object = serializer.serialize_map(None)?;
        for field in message.descriptor().fields() {
            let is_set = message.has_field(&field);
            if let Some(oneof) = field.containing_oneof() {
                // A real oneof shows only its chosen field; a proto3 `optional` (a synthetic oneof) shows
                // null.
                if !is_set {
                    if oneof.is_synthetic() {
                        object.serialize_entry(field.name(), &())?;
                    }
                    continue;
                }
            } else if !is_set && is_singular_message(&field) {
                object.serialize_entry(field.name(), &())?;
                continue;
            }
            let value = message.get_field(&field);
            object.serialize_entry(
                field.name(),
                &FieldValue {
                    field: &field,
                    value: &value,
                },
            )?;
        }
        object.end()
    }
}

fn is_singular_message(field: &FieldDescriptor) -> bool {
    !field.is_list() && !field.is_map() && matches!(field.kind(), Kind::Message(_))
}

struct FieldValue<'a> {
    field: &'a FieldDescriptor,
    value: &'a ProtoValue,
}

impl Serialize for FieldValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let kind = self.field.kind();
        let ProtoValue::Map(entries) = self.value else {
            return KindValue {
                value: self.value,
                kind: &kind,
            }
            .serialize(serializer);
        };
        let value_kind = match &kind {
            Kind::Message(entry) => entry.map_entry_value_field().kind(),
            other => other.clone(),
        };
        let mut sorted: Vec<(String, &ProtoValue)> = entries
            .iter()
            .map(|(key, item)| (map_key_text(key), item))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        let mut object = serializer.serialize_map(Some(sorted.len()))?;
        for (key, item) in &sorted {
            object.serialize_entry(
                key,
                &KindValue {
                    value: item,
                    kind: &value_kind,
                },
            )?;
        }
        object.end()
    }
}

/// A value of a field (or an item of a repeated one), with the field's kind for enum names.
struct KindValue<'a> {
    value: &'a ProtoValue,
    kind: &'a Kind,
}

impl Serialize for KindValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            ProtoValue::Bool(flag) => serializer.serialize_bool(*flag),
            ProtoValue::I32(number) => serializer.serialize_i32(*number),
            ProtoValue::I64(number) => serializer.serialize_i64(*number),
            ProtoValue::U32(number) => serializer.serialize_u32(*number),
            ProtoValue::U64(number) => serializer.serialize_u64(*number),
            // serde_json writes NaN and the infinities, which JSON cannot hold, as null.
            ProtoValue::F32(number) => serializer.serialize_f64(f64::from(*number)),
            ProtoValue::F64(number) => serializer.serialize_f64(*number),
            ProtoValue::String(text) => serializer.serialize_str(text),
            ProtoValue::Bytes(bytes) => serializer.serialize_str(&base64(bytes)),
            ProtoValue::EnumNumber(number) => match self.kind {
                Kind::Enum(descriptor) => match enum_name(descriptor, *number) {
                    Some(name) => serializer.serialize_str(&name),
                    None => serializer.serialize_i32(*number),
                },
                _ => serializer.serialize_i32(*number),
            },
            ProtoValue::Message(message) => Fields(message).serialize(serializer),
            ProtoValue::List(items) => serializer.collect_seq(items.iter().map(|item| KindValue {
                value: item,
                kind: self.kind,
            })),
            // Maps only occur as fields, handled by `FieldValue`.
            ProtoValue::Map(_) => serializer.serialize_unit(),
        }
    }
}

/// `OPER_STATE_LOWER_LAYER_DOWN` of `OperState` -> "lower_layer_down". `None` for a number the client's
/// descriptors do not know (a value added to the API later), which stays a number.
fn enum_name(descriptor: &EnumDescriptor, number: i32) -> Option<String> {
    let value = descriptor.get_value(number)?;
    let prefix = format!("{}_", screaming_snake(descriptor.name()));
    let name = value.name();
    Some(
        name.strip_prefix(&prefix)
            .unwrap_or(name)
            .to_ascii_lowercase(),
    )
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (index, character) in camel.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            out.push('_');
        }
        out.push(character.to_ascii_uppercase());
    }
    out
}

fn map_key_text(key: &MapKey) -> String {
    match key {
        MapKey::Bool(flag) => flag.to_string(),
        MapKey::I32(number) => number.to_string(),
        MapKey::I64(number) => number.to_string(),
        MapKey::U32(number) => number.to_string(),
        MapKey::U64(number) => number.to_string(),
        MapKey::String(text) => text.clone(),
    }
}

/// Standard base64 with padding, as proto3's JSON mapping writes `bytes`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let triple = chunk.iter().enumerate().fold(0u32, |acc, (i, byte)| {
            acc | u32::from(*byte) << (16 - 8 * i)
        });
        for position in 0..4 {
            if position <= chunk.len() {
                out.push(char::from(
                    ALPHABET[(triple >> (18 - 6 * position)) as usize & 63],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
