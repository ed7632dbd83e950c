use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::forwarding_service_server::ForwardingService;
use tonic::{Request, Response, Status};

use super::convert::family_from_proto;
use super::status::StatusError;
use super::{run_to_completion, warnings_to_proto};
use crate::domain::{Family, FieldError, NamespaceRef};
use crate::netns::NamespaceRegistry;
use crate::ops::forwarding;

pub struct ForwardingApi {
    registry: Arc<NamespaceRegistry>,
}

impl ForwardingApi {
    pub fn new(registry: Arc<NamespaceRegistry>) -> Self {
        Self { registry }
    }
}

pub(super) fn parse_set(request: &pb::SetForwardingRequest) -> Result<(NamespaceRef, Family), FieldError> {
    let family =
        family_from_proto("family", request.family)?.ok_or_else(|| FieldError::new("family", "must be IPv4 or IPv6"))?;
    Ok((NamespaceRef::parse("namespace", &request.namespace)?, family))
}

#[tonic::async_trait]
impl ForwardingService for ForwardingApi {
    async fn get_forwarding(&self, request: Request<pb::GetForwardingRequest>) -> Result<Response<pb::GetForwardingResponse>, Status> {
        let namespace = NamespaceRef::parse("namespace", &request.get_ref().namespace).map_err(StatusError::from)?;
        let (ipv4, ipv6) = forwarding::get(&self.registry, &namespace).await.map_err(StatusError::from)?;
        Ok(Response::new(pb::GetForwardingResponse { ipv4, ipv6 }))
    }

    async fn set_forwarding(&self, request: Request<pb::SetForwardingRequest>) -> Result<Response<pb::SetForwardingResponse>, Status> {
        let request = request.into_inner();
        let (namespace, family) = parse_set(&request).map_err(StatusError::from)?;
        let registry = self.registry.clone();
        let enabled = request.enabled;
        let outcome = run_to_completion(async move { forwarding::set(&registry, &namespace, family, enabled).await }).await?;
        Ok(Response::new(pb::SetForwardingResponse {
            previous: outcome.value,
            changed: outcome.changed,
            warnings: warnings_to_proto(outcome.warnings),
        }))
    }
}
