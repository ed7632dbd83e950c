//! Adding, replacing, deleting and listing routes.

use std::net::IpAddr;

use crate::domain::{Family, FieldError, IpPrefix, LinkName, NamespaceRef, Scope};
use crate::kernel::link;
use crate::kernel::route::{self, Mode, Route, RouteType, MAIN_TABLE, PROTOCOL_BOOT};
use crate::netns::NamespaceRegistry;

use super::address::referenced_link;
use super::link::namespace_handle;
use super::{OpError, Outcome};

/// A validated route request. Fields left `None` are "not given".
#[derive(Debug, Clone)]
pub struct RouteRequest {
    pub namespace: NamespaceRef,
    /// A network (host bits clear); prefix length 0 is the default route.
    pub destination: IpPrefix,
    pub gateway: Option<IpAddr>,
    pub device: Option<LinkName>,
    pub metric: Option<u32>,
    pub table: Option<u32>,
    pub scope: Option<Scope>,
    pub source: Option<IpAddr>,
    /// Add the route with nsfleet's protocol number instead of `boot`: only a topology does.
    pub marked: bool,
}

impl RouteRequest {
    /// Checks what can be checked without the kernel: families agree, the destination is a network.
    pub fn validate(self) -> Result<Self, FieldError> {
        let family = self.destination.family();
        for (field, address) in [
            ("route.gateway", self.gateway),
            ("route.source", self.source),
        ] {
            if let Some(address) = address {
                if Family::of(&address) != family {
                    return Err(FieldError::new(
                        field,
                        format!(
                            "{address} is {} but the destination {} is {family}",
                            Family::of(&address),
                            self.destination
                        ),
                    ));
                }
            }
        }
        if !self.destination.is_network() {
            let network = self.destination.network();
            return Err(FieldError::new(
                "route.destination",
                format!(
                    "{} has host bits set; the network is {network}",
                    self.destination
                ),
            ));
        }
        if self.table == Some(0) {
            return Err(FieldError::new(
                "route.table",
                "0 is not a table; leave it unset for main (254)",
            ));
        }
        Ok(self)
    }

    /// An added route must say where traffic goes; without either the kernel answers ENODEV, which would
    /// read as a missing object. Deletes may leave both out ("delete the default route").
    pub fn require_next_hop(self) -> Result<Self, FieldError> {
        if self.gateway.is_none() && self.device.is_none() {
            return Err(FieldError::new(
                "route",
                "needs a gateway, a device or both",
            ));
        }
        Ok(self)
    }

    fn table(&self) -> u32 {
        self.table.unwrap_or(MAIN_TABLE)
    }
}

#[derive(Debug, Clone)]
pub struct RouteView {
    pub namespace: NamespaceRef,
    pub route: Route,
    pub device: Option<String>,
}

/// Adds (or replaces) a route. The same route already present is success without change; another route
/// to the same destination, table and metric is a conflict for `Add` and replaced for `Replace`. The
/// outcome's value is the route that was replaced, if any: what an undo restores.
pub async fn add(
    registry: &NamespaceRegistry,
    request: &RouteRequest,
    mode: Mode,
) -> Result<Outcome<Option<Route>>, OpError> {
    let handle = namespace_handle(registry, &request.namespace).await?;
    let device_index = match &request.device {
        Some(device) => Some(
            referenced_link(&handle, "route.device", device)
                .await?
                .index,
        ),
        None => None,
    };
    let wanted = wanted_route(request, device_index);
    let existing = route::list(handle.route(), Some(request.destination.family()))?
        .into_iter()
        .find(|r| same_key(r, &wanted));
    if let Some(existing) = &existing {
        if matches_request(existing, request, device_index) {
            return Ok(Outcome::unchanged(None));
        }
        if let Mode::Add = mode {
            return Err(OpError::RouteExists {
                namespace: request.namespace.clone(),
                route: describe_destination(&wanted.destination),
                table: wanted.table,
                metric: wanted.effective_metric(),
                existing: describe_next_hop(existing),
            });
        }
    }
    let context = format!(
        "{} route {} in {}",
        verb(&mode),
        describe_destination(&wanted.destination),
        request.namespace
    );
    route::add(handle.route(), &wanted, mode, &context)?;
    Ok(Outcome::changed(existing))
}

fn wanted_route(request: &RouteRequest, device_index: Option<u32>) -> Route {
    Route {
        destination: request.destination,
        gateway: request.gateway,
        device_index,
        metric: request.metric,
        table: request.table(),
        // As `ip route add`: a route without a gateway is on-link.
        scope: request.scope.unwrap_or(if request.gateway.is_some() {
            Scope::Global
        } else {
            Scope::Link
        }),
        protocol: if request.marked {
            route::RouteProtocol::from(super::marker::NSFLEET_PROTOCOL)
        } else {
            PROTOCOL_BOOT
        },
        kind: RouteType::Unicast,
        source: request.source,
        flags: Vec::new(),
    }
}

/// The route with the request's key (table, destination, metric) as it is now, `Ok(None)` when there is
/// none or the request names a device or namespace that does not exist (it would fail). Read before a
/// journaled add.
pub(super) async fn existing(
    registry: &NamespaceRegistry,
    request: &RouteRequest,
) -> Result<Option<Route>, OpError> {
    let Ok(handle) = namespace_handle(registry, &request.namespace).await else {
        return Ok(None);
    };
    let device_index = match &request.device {
        Some(device) => match link::get_by_name(handle.route(), device.as_str())? {
            Some(device) => Some(device.index),
            None => return Ok(None),
        },
        None => None,
    };
    let wanted = wanted_route(request, device_index);
    Ok(
        route::list(handle.route(), Some(request.destination.family()))?
            .into_iter()
            .find(|r| same_key(r, &wanted)),
    )
}

/// Puts back a route exactly as the kernel reported it (undo of a replace).
pub async fn restore(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    previous: &Route,
) -> Result<(), OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let context = format!(
        "restore route {} in {namespace}",
        describe_destination(&previous.destination)
    );
    route::add(handle.route(), previous, Mode::Replace, &context)?;
    Ok(())
}

fn verb(mode: &Mode) -> &'static str {
    match mode {
        Mode::Add => "add",
        Mode::Replace => "replace",
    }
}

/// The kernel's identity of a route: table, destination and metric (tos is always 0 here).
fn same_key(existing: &Route, wanted: &Route) -> bool {
    existing.table == wanted.table
        && existing.destination == wanted.destination
        && existing.effective_metric() == wanted.effective_metric()
}

/// Whether an existing route already is what the request asks for (fields not given match anything).
fn matches_request(existing: &Route, request: &RouteRequest, device_index: Option<u32>) -> bool {
    existing.gateway == request.gateway
        && device_index.is_none_or(|index| existing.device_index == Some(index))
        && request.scope.is_none_or(|scope| existing.scope == scope)
        && request
            .source
            .is_none_or(|source| existing.source == Some(source))
}

pub async fn delete(
    registry: &NamespaceRegistry,
    request: &RouteRequest,
    ignore_missing: bool,
) -> Result<Outcome<()>, OpError> {
    let handle = namespace_handle(registry, &request.namespace).await?;
    let device_index = match &request.device {
        Some(device) => Some(
            referenced_link(&handle, "route.device", device)
                .await?
                .index,
        ),
        None => None,
    };
    let found = route::list(handle.route(), Some(request.destination.family()))?
        .into_iter()
        .find(|r| {
            r.table == request.table()
                && r.destination == request.destination
                && request
                    .gateway
                    .is_none_or(|gateway| r.gateway == Some(gateway))
                && device_index.is_none_or(|index| r.device_index == Some(index))
                && request
                    .metric
                    .is_none_or(|metric| r.effective_metric() == metric)
        });
    let Some(found) = found else {
        return if ignore_missing {
            Ok(Outcome::unchanged(()))
        } else {
            Err(OpError::RouteNotFound {
                namespace: request.namespace.clone(),
                route: describe_destination(&request.destination),
                table: request.table(),
            })
        };
    };
    let context = format!(
        "delete route {} in {}",
        describe_destination(&found.destination),
        request.namespace
    );
    route::delete(handle.route(), &found, &context)?;
    Ok(Outcome::changed(()))
}

/// Routes of one table (main unless told otherwise), or of every table.
pub async fn list(
    registry: &NamespaceRegistry,
    namespace: &NamespaceRef,
    family: Option<Family>,
    table: Option<u32>,
) -> Result<Vec<RouteView>, OpError> {
    let handle = namespace_handle(registry, namespace).await?;
    let links = link::list(handle.route())?;
    let routes = route::list(handle.route(), family)?;
    Ok(routes
        .into_iter()
        .filter(|r| table.is_none_or(|t| r.table == t))
        .map(|route| RouteView {
            namespace: namespace.clone(),
            device: route
                .device_index
                .and_then(|i| links.iter().find(|l| l.index == i))
                .map(|l| l.name.clone()),
            route,
        })
        .collect())
}

fn describe_destination(destination: &IpPrefix) -> String {
    if destination.prefix_len == 0 {
        "default".to_string()
    } else {
        destination.to_string()
    }
}

fn describe_next_hop(route: &Route) -> String {
    match (route.gateway, route.device_index) {
        (Some(gateway), _) => format!("via {gateway}"),
        (None, Some(index)) => format!("out of link #{index}"),
        (None, None) => "without a next hop".to_string(),
    }
}
