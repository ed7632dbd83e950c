use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::forwarding_service_server::ForwardingService;
use tonic::{Request, Response, Status};

use super::convert::family_from_proto;
use super::status::{unexpected_detail, StatusError};
use super::validate::Validate;
use super::{apply_one, warnings_to_proto};
use crate::domain::{Family, FieldError, NamespaceRef};
use crate::netns::NamespaceRegistry;
use crate::ops::gate::Gate;
use crate::ops::{forwarding, Detail};

pub struct ForwardingApi {
    registry: Arc<NamespaceRegistry>,
    gate: Arc<Gate>,
}

impl ForwardingApi {
    pub fn new(registry: Arc<NamespaceRegistry>, gate: Arc<Gate>) -> Self {
        Self { registry, gate }
    }
}

pub(super) fn parse_set(
    request: &pb::SetForwardingRequest,
) -> Result<(NamespaceRef, Family), FieldError> {
    let family = family_from_proto("family", request.family)?
        .ok_or_else(|| FieldError::new("family", "must be IPv4 or IPv6"))?;
    Ok((
        NamespaceRef::parse("namespace", &request.namespace)?,
        family,
    ))
}

#[tonic::async_trait]
impl ForwardingService for ForwardingApi {
    async fn get_forwarding(
        &self,
        request: Request<pb::GetForwardingRequest>,
    ) -> Result<Response<pb::GetForwardingResponse>, Status> {
        let namespace = request.get_ref().validate()?;
        let (ipv4, ipv6) = forwarding::get(&self.registry, &namespace)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::GetForwardingResponse { ipv4, ipv6 }))
    }

    async fn set_forwarding(
        &self,
        request: Request<pb::SetForwardingRequest>,
    ) -> Result<Response<pb::SetForwardingResponse>, Status> {
        let applied = apply_one(
            &self.registry,
            &self.gate,
            None,
            None,
            request.get_ref().validate()?,
        )
        .await?;
        let Detail::Forwarding { previous } = applied.detail else {
            return Err(unexpected_detail("set forwarding"));
        };
        Ok(Response::new(pb::SetForwardingResponse {
            previous,
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }
}
