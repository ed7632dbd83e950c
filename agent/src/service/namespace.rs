use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::namespace_service_server::NamespaceService;
use tonic::{Request, Response, Status};

use super::status::{unexpected_detail, StatusError};
use super::validate::Validate;
use super::{apply_one, management_path, warnings_to_proto};
use crate::netns::{NamespaceInfo, NamespaceRegistry};
use crate::ops::gate::Gate;
use crate::ops::Detail;

pub struct NamespaceApi {
    registry: Arc<NamespaceRegistry>,
    gate: Arc<Gate>,
}

impl NamespaceApi {
    pub fn new(registry: Arc<NamespaceRegistry>, gate: Arc<Gate>) -> Self {
        Self { registry, gate }
    }
}

fn to_proto(info: NamespaceInfo) -> pb::Namespace {
    pb::Namespace {
        name: info.name.to_string(),
        inode: info.inode,
    }
}

#[tonic::async_trait]
impl NamespaceService for NamespaceApi {
    async fn create_namespace(
        &self,
        request: Request<pb::CreateNamespaceRequest>,
    ) -> Result<Response<pb::CreateNamespaceResponse>, Status> {
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, None, requested).await?;
        let Detail::Namespace(info) = applied.detail else {
            return Err(unexpected_detail("create namespace"));
        };
        Ok(Response::new(pb::CreateNamespaceResponse {
            namespace: Some(to_proto(info)),
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn delete_namespace(
        &self,
        request: Request<pb::DeleteNamespaceRequest>,
    ) -> Result<Response<pb::DeleteNamespaceResponse>, Status> {
        let path = management_path(&request);
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, path.as_ref(), requested).await?;
        Ok(Response::new(pb::DeleteNamespaceResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn list_namespaces(
        &self,
        request: Request<pb::ListNamespacesRequest>,
    ) -> Result<Response<pb::ListNamespacesResponse>, Status> {
        request.get_ref().validate()?;
        let namespaces = self.registry.list().map_err(StatusError::from)?;
        // The registry's sweep lets go of namespaces deleted behind the agent's back within half a
        // second; a caller who lists right after such a delete should not see it held a moment longer.
        self.registry.forget_stale();
        Ok(Response::new(pb::ListNamespacesResponse {
            namespaces: namespaces.into_iter().map(to_proto).collect(),
        }))
    }

    async fn get_namespace(
        &self,
        request: Request<pb::GetNamespaceRequest>,
    ) -> Result<Response<pb::GetNamespaceResponse>, Status> {
        let name = request.get_ref().validate()?;
        let info = self.registry.get(&name).map_err(StatusError::from)?;
        Ok(Response::new(pb::GetNamespaceResponse {
            namespace: Some(to_proto(info)),
        }))
    }
}
