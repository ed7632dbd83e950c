use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::neighbor_service_server::NeighborService;
use tonic::{Request, Response, Status};

use super::convert::family_to_proto;
use super::status::StatusError;
use super::validate::Validate;
use crate::domain::Family;
use crate::kernel::neighbor::NudState;
use crate::netns::NamespaceRegistry;
use crate::ops::neighbor::{self as neighbor_ops, NeighborView};

pub struct NeighborApi {
    registry: Arc<NamespaceRegistry>,
}

impl NeighborApi {
    pub fn new(registry: Arc<NamespaceRegistry>) -> Self {
        Self { registry }
    }
}

fn state_to_proto(state: NudState) -> pb::NeighborState {
    match state {
        NudState::Incomplete => pb::NeighborState::Incomplete,
        NudState::Reachable => pb::NeighborState::Reachable,
        NudState::Stale => pb::NeighborState::Stale,
        NudState::Delay => pb::NeighborState::Delay,
        NudState::Probe => pb::NeighborState::Probe,
        NudState::Failed => pb::NeighborState::Failed,
        NudState::Noarp => pb::NeighborState::Noarp,
        NudState::Permanent => pb::NeighborState::Permanent,
        NudState::None => pb::NeighborState::None,
    }
}

fn to_proto(view: NeighborView) -> pb::Neighbor {
    let NeighborView {
        namespace,
        link,
        neighbor,
    } = view;
    pb::Neighbor {
        namespace: namespace.as_api_str().to_string(),
        family: family_to_proto(Family::of(&neighbor.address)),
        address: neighbor.address.to_string(),
        link,
        link_index: neighbor.link_index,
        mac: neighbor.mac.map(|m| m.to_string()).unwrap_or_default(),
        state: state_to_proto(neighbor.state) as i32,
        router: neighbor.router,
    }
}

#[tonic::async_trait]
impl NeighborService for NeighborApi {
    async fn list_neighbors(
        &self,
        request: Request<pb::ListNeighborsRequest>,
    ) -> Result<Response<pb::ListNeighborsResponse>, Status> {
        let (namespace, link, family) = request.get_ref().validate()?;
        let views = neighbor_ops::list(&self.registry, &namespace, link.as_ref(), family)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::ListNeighborsResponse {
            neighbors: views.into_iter().map(to_proto).collect(),
        }))
    }
}
