//! IP forwarding of a namespace, read and written from a thread inside it.

use std::io;

use crate::domain::{Family, NamespaceRef};
use crate::kernel::sysctl;
use crate::netns::NamespaceRegistry;

use super::link::namespace_handle;
use super::{OpError, Outcome};

/// A missing sysctl file means the family is off in that namespace; any other errno goes through the same
/// errno table as netlink errors (EPERM is PERMISSION_DENIED, not a precondition).
pub(crate) fn sysctl_error(namespace: &NamespaceRef, family: Family, error: io::Error) -> OpError {
    if error.kind() == io::ErrorKind::NotFound {
        OpError::FamilyDisabled {
            namespace: namespace.clone(),
            family,
        }
    } else {
        OpError::Sysctl {
            context: format!("{family} forwarding in {namespace}"),
            source: error,
        }
    }
}

/// (IPv4, IPv6) forwarding; IPv6 reads as off where IPv6 is disabled.
pub async fn get(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
) -> Result<(bool, bool), OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let (v4, v6) = handle
        .run_brief("read forwarding sysctls", || {
            (
                sysctl::forwarding(Family::V4),
                sysctl::forwarding(Family::V6),
            )
        })
        .await?;
    let v4 = v4.map_err(|e| sysctl_error(namespace, Family::V4, e))?;
    Ok((v4, v6.unwrap_or(false)))
}

/// Sets forwarding for one family; the outcome's value is the previous setting.
pub async fn set(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    family: Family,
    enabled: bool,
) -> Result<Outcome<bool>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let previous = handle
        .run_brief("write a forwarding sysctl", move || {
            sysctl::set_forwarding(family, enabled)
        })
        .await?
        .map_err(|e| sysctl_error(namespace, family, e))?;
    Ok(if previous == enabled {
        Outcome::unchanged(previous)
    } else {
        Outcome::changed(previous)
    })
}
