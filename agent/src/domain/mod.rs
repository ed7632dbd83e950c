//! Validated request values. Everything a request carries is parsed into these types before any side
//! effect, so the layers below take only values that are already known to be well formed.

mod field_error;
mod invisible;
mod ip;
mod mac;
mod names;
mod scope;
mod vxlan;

pub use field_error::FieldError;
pub use invisible::is_invisible;
pub use ip::{check_prefix_len, is_link_scoped, parse_ip, parse_optional_ip, Family, IpPrefix};
pub use mac::MacAddr;
pub use names::{LinkName, NamespaceName, NamespaceRef};
pub use scope::Scope;
pub use vxlan::{RawVxlan, VxlanParams, VXLAN_DEFAULT_PORT, VXLAN_MAX_VNI};
