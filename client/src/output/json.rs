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
use serde_json::{Map, Number, Value};

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

    pub fn to_json(&self) -> Result<Value, JsonError> {
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
        Ok(message_json(&message))
    }
}

pub fn to_json<M: ProtoMessage>(message: &M) -> Result<Value, JsonError> {
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

fn message_json(message: &DynamicMessage) -> Value {
    let mut object = Map::new();
    for field in message.descriptor().fields() {
        let is_set = message.has_field(&field);
        if let Some(oneof) = field.containing_oneof() {
            // A real oneof shows only its chosen field; a proto3 `optional` (a synthetic oneof) shows null.
            if !is_set {
                if oneof.is_synthetic() {
                    object.insert(field.name().to_owned(), Value::Null);
                }
                continue;
            }
        } else if !is_set && is_singular_message(&field) {
            object.insert(field.name().to_owned(), Value::Null);
            continue;
        }
        object.insert(
            field.name().to_owned(),
            field_json(&field, &message.get_field(&field)),
        );
    }
    Value::Object(object)
}

fn is_singular_message(field: &FieldDescriptor) -> bool {
    !field.is_list() && !field.is_map() && matches!(field.kind(), Kind::Message(_))
}

fn field_json(field: &FieldDescriptor, value: &ProtoValue) -> Value {
    let kind = field.kind();
    match value {
        ProtoValue::List(items) => {
            Value::Array(items.iter().map(|item| value_json(item, &kind)).collect())
        }
        ProtoValue::Map(entries) => {
            let value_kind = match &kind {
                Kind::Message(entry) => entry.map_entry_value_field().kind(),
                other => other.clone(),
            };
            let mut sorted: Vec<(String, Value)> = entries
                .iter()
                .map(|(key, item)| (map_key_text(key), value_json(item, &value_kind)))
                .collect();
            sorted.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(sorted.into_iter().collect())
        }
        single => value_json(single, &kind),
    }
}

fn value_json(value: &ProtoValue, kind: &Kind) -> Value {
    match value {
        ProtoValue::Bool(flag) => Value::Bool(*flag),
        ProtoValue::I32(number) => Value::from(*number),
        ProtoValue::I64(number) => Value::from(*number),
        ProtoValue::U32(number) => Value::from(*number),
        ProtoValue::U64(number) => Value::from(*number),
        ProtoValue::F32(number) => float_json(f64::from(*number)),
        ProtoValue::F64(number) => float_json(*number),
        ProtoValue::String(text) => Value::String(text.clone()),
        ProtoValue::Bytes(bytes) => Value::String(base64(bytes)),
        ProtoValue::EnumNumber(number) => match kind {
            Kind::Enum(descriptor) => enum_json(descriptor, *number),
            _ => Value::from(*number),
        },
        ProtoValue::Message(message) => message_json(message),
        ProtoValue::List(items) => {
            Value::Array(items.iter().map(|item| value_json(item, kind)).collect())
        }
        ProtoValue::Map(_) => Value::Null, // maps only occur as fields, handled in field_json
    }
}

fn float_json(number: f64) -> Value {
    Number::from_f64(number).map_or(Value::Null, Value::Number)
}

/// `OPER_STATE_LOWER_LAYER_DOWN` of `OperState` -> "lower_layer_down". A number the client's descriptors do
/// not know (a value added to the API later) stays a number.
fn enum_json(descriptor: &EnumDescriptor, number: i32) -> Value {
    let Some(value) = descriptor.get_value(number) else {
        return Value::from(number);
    };
    let prefix = format!("{}_", screaming_snake(descriptor.name()));
    let name = value.name();
    Value::String(
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
