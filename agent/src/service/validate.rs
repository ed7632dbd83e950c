//! The one validation layer: every request message has a pure `validate` that turns it into domain
//! values or an `INVALID_ARGUMENT` naming the field, without touching the kernel. Handlers call it
//! first, so a malformed request never reaches `ops`; the table in `validate/tests.rs` pins the status
//! code for each kind of malformed input, and a property test checks that no input panics and that
//! whatever is accepted is well formed.

use nsfleet_proto::v1 as pb;
use tonic::Status;

use super::convert::{family_from_proto, parse_list_filter};
use super::status::StatusError;
use super::{address, batch, diagnostics, forwarding, link, nat, route};
use crate::domain::{Family, FieldError, IpPrefix, LinkName, NamespaceName, NamespaceRef};
use crate::kernel::ping::PingParams;
use crate::ops::address::{check_ipv4_only_fields, AddAddress};
use crate::ops::batch::Operation;
use crate::ops::link::{CreateLink, SetLink};
use crate::ops::nat::NatRuleRequest;
use crate::ops::route::RouteRequest;

/// A request message that can be checked on its own.
pub trait Validate {
    type Valid;

    fn validate(&self) -> Result<Self::Valid, Status>;
}

fn fields<T>(result: Result<T, FieldError>) -> Result<T, Status> {
    result.map_err(|e| StatusError::from(e).0)
}

macro_rules! validate {
    ($request:ty => $valid:ty, |$r:ident| $body:expr) => {
        impl Validate for $request {
            type Valid = $valid;

            fn validate(&self) -> Result<Self::Valid, Status> {
                let $r = self;
                $body
            }
        }
    };
}

validate!(pb::CreateNamespaceRequest => NamespaceName, |r| fields(NamespaceName::parse("name", &r.name)));
validate!(pb::DeleteNamespaceRequest => NamespaceName, |r| fields(NamespaceName::parse("name", &r.name)));
validate!(pb::GetNamespaceRequest => NamespaceName, |r| fields(NamespaceName::parse("name", &r.name)));
validate!(pb::ListNamespacesRequest => (), |_r| Ok(()));

validate!(pb::CreateLinkRequest => CreateLink, |r| fields(link::parse_create(r)));
validate!(pb::DeleteLinkRequest => (NamespaceRef, LinkName), |r| fields(link::parse_delete(r)));
validate!(pb::SetLinkRequest => (NamespaceRef, LinkName, SetLink), |r| fields(link::parse_set_request(r)));
validate!(pb::GetLinkRequest => (NamespaceRef, LinkName), |r| fields((|| {
    Ok((NamespaceRef::parse("namespace", &r.namespace)?, LinkName::parse("name", &r.name)?))
})()));
// `None`: every namespace.
validate!(pb::ListLinksRequest => Option<NamespaceRef>, |r| {
    if r.all_namespaces { Ok(None) } else { fields(NamespaceRef::parse("namespace", &r.namespace).map(Some)) }
});

validate!(pb::AddAddressRequest => AddAddress, |r| fields(address::parse_add(r).and_then(|spec| {
    check_ipv4_only_fields(&spec)?;
    Ok(spec)
})));
validate!(pb::DeleteAddressRequest => (NamespaceRef, LinkName, IpPrefix), |r| fields(address::parse_delete(r)));
validate!(pb::ListAddressesRequest => (NamespaceRef, Option<LinkName>, Option<Family>), |r| {
    fields(parse_list_filter(&r.namespace, &r.link, r.family))
});

validate!(pb::AddRouteRequest => RouteRequest, |r| fields(route::parse_spec(&r.namespace, r.route.as_ref())));
validate!(pb::ReplaceRouteRequest => RouteRequest, |r| fields(route::parse_spec(&r.namespace, r.route.as_ref())));
validate!(pb::DeleteRouteRequest => RouteRequest, |r| fields(route::parse_spec(&r.namespace, r.route.as_ref())));
// The table: `None` for every table.
validate!(pb::ListRoutesRequest => (NamespaceRef, Option<Family>, Option<u32>), |r| fields((|| {
    if r.table == Some(0) {
        return Err(FieldError::new("table", "0 is not a table; leave it unset for main (254)"));
    }
    let table = if r.all_tables { None } else { Some(r.table.unwrap_or(crate::kernel::route::MAIN_TABLE)) };
    Ok((NamespaceRef::parse("namespace", &r.namespace)?, family_from_proto("family", r.family)?, table))
})()));

validate!(pb::GetForwardingRequest => NamespaceRef, |r| fields(NamespaceRef::parse("namespace", &r.namespace)));
validate!(pb::SetForwardingRequest => (NamespaceRef, Family), |r| fields(forwarding::parse_set(r)));

validate!(pb::ListNeighborsRequest => (NamespaceRef, Option<LinkName>, Option<Family>), |r| {
    fields(parse_list_filter(&r.namespace, &r.link, r.family))
});

validate!(pb::PingRequest => (NamespaceRef, PingParams), |r| fields(diagnostics::parse(r)));

validate!(pb::AddNatRuleRequest => NatRuleRequest, |r| nat::parse_add(r));
validate!(pb::DeleteNatRuleRequest => (NamespaceRef, String), |r| {
    let namespace = fields(NamespaceRef::parse("namespace", &r.namespace))?;
    if r.id.is_empty() {
        return Err(Status::invalid_argument("id: must not be empty"));
    }
    Ok((namespace, r.id.clone()))
});
validate!(pb::ListNatRulesRequest => NamespaceRef, |r| fields(NamespaceRef::parse("namespace", &r.namespace)));

// Whether NAT is available is the host's business, not the request's: checked by the handler.
validate!(pb::ApplyBatchRequest => Vec<Operation>, |r| batch::parse_operations(&r.operations, None));

#[cfg(test)]
mod tests;
