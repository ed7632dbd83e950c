//! The one validation layer: every request message has a pure `validate` that turns it into domain
//! values or an `INVALID_ARGUMENT` naming the field, without touching the kernel. A mutating request
//! becomes the [`Operation`] it asks for (with its `force`), which the single call and a batch apply alike.
//! Handlers call it first, so a malformed request never reaches `ops`; the table in `validate/tests.rs` pins the status
//! code for each kind of malformed input, and a property test checks that no input panics and that
//! whatever is accepted is well formed.

use nsfleet_proto::v1 as pb;
use tonic::Status;

use super::convert::{family_from_proto, parse_list_filter};
use super::status::StatusError;
use super::{address, batch, diagnostics, forwarding, link, nat, route};
use crate::domain::{Family, FieldError, LinkName, NamespaceName, NamespaceRef};
use crate::kernel::ping::PingParams;
use crate::ops::{Operation, Requested};

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

// Every mutating request becomes the operation it asks for, here and nowhere else: the single call and
// the same request inside a batch are parsed by the same function (the batch only adds its position).
fn requested(operation: Operation, force: bool) -> Requested {
    Requested { operation, force }
}

validate!(pb::CreateNamespaceRequest => Requested, |r| {
    fields(NamespaceName::parse_new("name", &r.name)).map(|name| requested(Operation::CreateNamespace(name), false))
});
validate!(pb::DeleteNamespaceRequest => Requested, |r| fields(NamespaceName::parse("name", &r.name)).map(|name| {
    requested(Operation::DeleteNamespace { name, ignore_missing: r.ignore_missing }, r.force)
}));
validate!(pb::GetNamespaceRequest => NamespaceName, |r| fields(NamespaceName::parse("name", &r.name)));
validate!(pb::ListNamespacesRequest => (), |_r| Ok(()));

validate!(pb::CreateLinkRequest => Requested, |r| {
    fields(link::parse_create(r)).map(|spec| requested(Operation::CreateLink(spec), false))
});
validate!(pb::DeleteLinkRequest => Requested, |r| fields(link::parse_delete(r)).map(|(namespace, name)| {
    requested(Operation::DeleteLink { namespace, name, ignore_missing: r.ignore_missing }, r.force)
}));
validate!(pb::SetLinkRequest => Requested, |r| fields(link::parse_set_request(r)).map(|(namespace, name, change)| {
    requested(Operation::SetLink { namespace, name, change }, r.force)
}));
validate!(pb::GetLinkRequest => (NamespaceRef, LinkName), |r| fields((|| {
    Ok((NamespaceRef::parse("namespace", &r.namespace)?, LinkName::parse("name", &r.name)?))
})()));
// `None`: every namespace.
validate!(pb::ListLinksRequest => Option<NamespaceRef>, |r| {
    if r.all_namespaces { Ok(None) } else { fields(NamespaceRef::parse("namespace", &r.namespace).map(Some)) }
});

validate!(pb::AddAddressRequest => Requested, |r| {
    fields(address::parse_add(r)).map(|spec| requested(Operation::AddAddress(spec), false))
});
validate!(pb::DeleteAddressRequest => Requested, |r| fields(address::parse_delete(r)).map(|(namespace, link, prefix)| {
    requested(Operation::DeleteAddress { namespace, link, prefix, ignore_missing: r.ignore_missing }, r.force)
}));
validate!(pb::ListAddressesRequest => (NamespaceRef, Option<LinkName>, Option<Family>), |r| {
    fields(parse_list_filter(&r.namespace, &r.link, r.family))
});

validate!(pb::AddRouteRequest => Requested, |r| fields(route::parse_spec(&r.namespace, r.route.as_ref()).and_then(|s| s.require_next_hop())).map(|request| {
    requested(Operation::AddRoute { request, replace: false }, false)
}));
validate!(pb::ReplaceRouteRequest => Requested, |r| fields(route::parse_spec(&r.namespace, r.route.as_ref()).and_then(|s| s.require_next_hop())).map(|request| {
    requested(Operation::AddRoute { request, replace: true }, r.force)
}));
validate!(pb::DeleteRouteRequest => Requested, |r| fields(route::parse_spec(&r.namespace, r.route.as_ref())).map(|request| {
    requested(Operation::DeleteRoute { request, ignore_missing: r.ignore_missing }, r.force)
}));
// The table: `None` for every table.
validate!(pb::ListRoutesRequest => (NamespaceRef, Option<Family>, Option<u32>), |r| fields((|| {
    if r.table == Some(0) {
        return Err(FieldError::new("table", "0 is not a table; leave it unset for main (254)"));
    }
    let table = if r.all_tables { None } else { Some(r.table.unwrap_or(crate::kernel::route::MAIN_TABLE)) };
    Ok((NamespaceRef::parse("namespace", &r.namespace)?, family_from_proto("family", r.family)?, table))
})()));

validate!(pb::GetForwardingRequest => NamespaceRef, |r| fields(NamespaceRef::parse("namespace", &r.namespace)));
validate!(pb::SetForwardingRequest => Requested, |r| fields(forwarding::parse_set(r)).map(|(namespace, family)| {
    requested(Operation::SetForwarding { namespace, family, enabled: r.enabled }, false)
}));

validate!(pb::ListNeighborsRequest => (NamespaceRef, Option<LinkName>, Option<Family>), |r| {
    fields(parse_list_filter(&r.namespace, &r.link, r.family))
});

validate!(pb::PingRequest => (NamespaceRef, PingParams), |r| fields(diagnostics::parse(r)));
validate!(pb::TcpConnectRequest => diagnostics::TcpConnectTarget, |r| fields(diagnostics::parse_tcp_connect(r)));

validate!(pb::AddNatRuleRequest => Requested, |r| nat::parse_add(r).map(|rule| requested(Operation::AddNatRule(rule), false)));
validate!(pb::DeleteNatRuleRequest => Requested, |r| {
    let namespace = fields(NamespaceRef::parse("namespace", &r.namespace))?;
    if r.id.is_empty() {
        return fields(Err(FieldError::new("id", "must not be empty")));
    }
    Ok(requested(Operation::DeleteNatRule { namespace, id: r.id.clone(), ignore_missing: r.ignore_missing }, false))
});
validate!(pb::ListNatRulesRequest => NamespaceRef, |r| fields(NamespaceRef::parse("namespace", &r.namespace)));

// Whether NAT is available is the host's business, not the request's: checked by the handler.
validate!(pb::ApplyBatchRequest => Vec<Requested>, |r| batch::parse_operations(&r.operations, None));

#[cfg(test)]
mod tests;

#[cfg(test)]
mod raw_bytes_tests;
