//! Validated request values. Everything a request carries is parsed into these types before any side
//! effect, so the layers below take only values that are already known to be well formed.

mod field_error;
mod mac;
mod names;

pub use field_error::FieldError;
pub use mac::MacAddr;
pub use names::{LinkName, NamespaceName, NamespaceRef};
