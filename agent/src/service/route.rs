use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::route_service_server::RouteService;
use tonic::{Request, Response, Status};

use super::convert::{family_from_proto, family_to_proto, scope_from_proto, scope_to_proto};
use super::status::StatusError;
use super::validate::Validate;
use super::{apply_one, management_path, warnings_to_proto};
use crate::domain::{
    check_prefix_len, parse_ip, parse_optional_ip, Family, FieldError, IpPrefix, LinkName,
    NamespaceRef,
};
use crate::kernel::route::{protocol_name, type_name};
use crate::netns::NamespaceRegistry;
use crate::ops::gate::Gate;
use crate::ops::route::{self as route_ops, RouteRequest, RouteView};

pub struct RouteApi {
    registry: Arc<NamespaceRegistry>,
    gate: Arc<Gate>,
}

impl RouteApi {
    pub fn new(registry: Arc<NamespaceRegistry>, gate: Arc<Gate>) -> Self {
        Self { registry, gate }
    }
}

pub(super) fn parse_spec(
    namespace: &str,
    spec: Option<&pb::RouteSpec>,
) -> Result<RouteRequest, FieldError> {
    let namespace = NamespaceRef::parse("namespace", namespace)?;
    let spec = spec.ok_or_else(|| FieldError::new("route", "is required"))?;
    let gateway = parse_optional_ip("route.gateway", &spec.gateway)?;
    let declared = family_from_proto("route.family", spec.family)?;
    let destination = if spec.destination.is_empty() {
        if spec.prefix_len != 0 {
            return Err(FieldError::new(
                "route.prefix_len",
                "must be 0 when destination is empty (the default route)",
            ));
        }
        let family = declared
            .or(gateway.as_ref().map(Family::of))
            .unwrap_or(Family::V4);
        IpPrefix {
            address: family.unspecified(),
            prefix_len: 0,
        }
    } else {
        let address = parse_ip("route.destination", &spec.destination)?;
        IpPrefix {
            address,
            prefix_len: check_prefix_len(
                "route.prefix_len",
                Family::of(&address),
                spec.prefix_len,
            )?,
        }
    };
    if let Some(declared) = declared.filter(|f| *f != destination.family()) {
        return Err(FieldError::new(
            "route.family",
            format!("{declared} disagrees with the destination {destination}"),
        ));
    }
    let device = match spec.device.as_str() {
        "" => None,
        name => Some(LinkName::parse("route.device", name)?),
    };
    RouteRequest {
        namespace,
        destination,
        gateway,
        device,
        metric: spec.metric,
        table: spec.table,
        scope: scope_from_proto("route.scope", spec.scope)?,
        source: parse_optional_ip("route.source", &spec.source)?,
        marked: false,
    }
    .validate()
}

fn to_proto(view: RouteView) -> pb::Route {
    let RouteView {
        namespace,
        route,
        device,
    } = view;
    let default = route.destination.prefix_len == 0;
    pb::Route {
        namespace: namespace.as_api_str().to_string(),
        family: family_to_proto(route.destination.family()),
        destination: if default {
            String::new()
        } else {
            route.destination.address.to_string()
        },
        prefix_len: u32::from(route.destination.prefix_len),
        gateway: route.gateway.map(|g| g.to_string()).unwrap_or_default(),
        device: device.unwrap_or_default(),
        device_index: route.device_index.unwrap_or(0),
        metric: route.effective_metric(),
        table: route.table,
        scope: scope_to_proto(route.scope),
        protocol: protocol_name(route.protocol),
        r#type: type_name(route.kind),
        source: route.source.map(|s| s.to_string()).unwrap_or_default(),
        flags: route.flags.iter().map(|f| f.to_string()).collect(),
    }
}

#[tonic::async_trait]
impl RouteService for RouteApi {
    async fn add_route(
        &self,
        request: Request<pb::AddRouteRequest>,
    ) -> Result<Response<pb::AddRouteResponse>, Status> {
        let applied = apply_one(
            &self.registry,
            &self.gate,
            None,
            None,
            request.get_ref().validate()?,
        )
        .await?;
        Ok(Response::new(pb::AddRouteResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn replace_route(
        &self,
        request: Request<pb::ReplaceRouteRequest>,
    ) -> Result<Response<pb::ReplaceRouteResponse>, Status> {
        let path = management_path(&request);
        let applied = apply_one(
            &self.registry,
            &self.gate,
            None,
            path.as_ref(),
            request.get_ref().validate()?,
        )
        .await?;
        Ok(Response::new(pb::ReplaceRouteResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn delete_route(
        &self,
        request: Request<pb::DeleteRouteRequest>,
    ) -> Result<Response<pb::DeleteRouteResponse>, Status> {
        let path = management_path(&request);
        let applied = apply_one(
            &self.registry,
            &self.gate,
            None,
            path.as_ref(),
            request.get_ref().validate()?,
        )
        .await?;
        Ok(Response::new(pb::DeleteRouteResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn list_routes(
        &self,
        request: Request<pb::ListRoutesRequest>,
    ) -> Result<Response<pb::ListRoutesResponse>, Status> {
        let (namespace, family, table) = request.get_ref().validate()?;
        let views = route_ops::list(&self.registry, &namespace, family, table)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::ListRoutesResponse {
            routes: views.into_iter().map(to_proto).collect(),
        }))
    }
}
