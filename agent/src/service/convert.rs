//! Proto <-> domain conversions shared by several services.

use nsfleet_proto::v1 as pb;

use crate::domain::{Family, FieldError, LinkName, NamespaceRef, Scope};

pub fn family_to_proto(family: Family) -> i32 {
    match family {
        Family::V4 => pb::AddressFamily::Ipv4 as i32,
        Family::V6 => pb::AddressFamily::Ipv6 as i32,
    }
}

/// `None` = unspecified (both families, or inferred).
pub fn family_from_proto(field: &str, value: i32) -> Result<Option<Family>, FieldError> {
    match pb::AddressFamily::try_from(value) {
        Ok(pb::AddressFamily::Unspecified) => Ok(None),
        Ok(pb::AddressFamily::Ipv4) => Ok(Some(Family::V4)),
        Ok(pb::AddressFamily::Ipv6) => Ok(Some(Family::V6)),
        Err(_) => Err(FieldError::new(
            field,
            format!("{value} is not an AddressFamily"),
        )),
    }
}

pub fn scope_to_proto(scope: Scope) -> i32 {
    (match scope {
        Scope::Global => pb::Scope::Global,
        Scope::Site => pb::Scope::Site,
        Scope::Link => pb::Scope::Link,
        Scope::Host => pb::Scope::Host,
        Scope::Nowhere => pb::Scope::Nowhere,
        Scope::Other(_) => pb::Scope::Unspecified,
    }) as i32
}

pub fn scope_from_proto(field: &str, value: i32) -> Result<Option<Scope>, FieldError> {
    match pb::Scope::try_from(value) {
        Ok(pb::Scope::Unspecified) => Ok(None),
        Ok(pb::Scope::Global) => Ok(Some(Scope::Global)),
        Ok(pb::Scope::Site) => Ok(Some(Scope::Site)),
        Ok(pb::Scope::Link) => Ok(Some(Scope::Link)),
        Ok(pb::Scope::Host) => Ok(Some(Scope::Host)),
        Ok(pb::Scope::Nowhere) => Ok(Some(Scope::Nowhere)),
        Err(_) => Err(FieldError::new(field, format!("{value} is not a Scope"))),
    }
}

/// The filter of a per-namespace listing: namespace, optional link ("" = every link), optional family.
pub fn parse_list_filter(
    namespace: &str,
    link: &str,
    family: i32,
) -> Result<(NamespaceRef, Option<LinkName>, Option<Family>), FieldError> {
    let link = match link {
        "" => None,
        name => Some(LinkName::parse("link", name)?),
    };
    Ok((
        NamespaceRef::parse("namespace", namespace)?,
        link,
        family_from_proto("family", family)?,
    ))
}
