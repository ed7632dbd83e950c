use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::namespace_service_server::NamespaceService;
use tonic::{Request, Response, Status};

use super::status::StatusError;
use super::validate::Validate;
use super::{guard_one, management_path};
use crate::netns::{NamespaceInfo, NamespaceRegistry, NetnsError};
use crate::ops::guard::Change;

pub struct NamespaceApi {
    registry: Arc<NamespaceRegistry>,
}

impl NamespaceApi {
    pub fn new(registry: Arc<NamespaceRegistry>) -> Self {
        Self { registry }
    }
}

fn to_proto(info: NamespaceInfo) -> pb::Namespace {
    pb::Namespace { name: info.name.to_string(), inode: info.inode }
}

#[tonic::async_trait]
impl NamespaceService for NamespaceApi {
    async fn create_namespace(
        &self,
        request: Request<pb::CreateNamespaceRequest>,
    ) -> Result<Response<pb::CreateNamespaceResponse>, Status> {
        let name = request.get_ref().validate()?;
        let (info, changed) = self.registry.create(&name).await.map_err(StatusError::from)?;
        Ok(Response::new(pb::CreateNamespaceResponse { namespace: Some(to_proto(info)), changed, warnings: vec![] }))
    }

    async fn delete_namespace(
        &self,
        request: Request<pb::DeleteNamespaceRequest>,
    ) -> Result<Response<pb::DeleteNamespaceResponse>, Status> {
        let path = management_path(&request);
        let request = request.into_inner();
        let name = request.validate()?;
        guard_one(&self.registry, path.as_ref(), Change::DeleteNamespace(&name), request.force).await?;
        let changed = match self.registry.delete(&name).await {
            Ok(()) => true,
            Err(NetnsError::NotFound { .. }) if request.ignore_missing => false,
            Err(e) => return Err(StatusError::from(e).into()),
        };
        Ok(Response::new(pb::DeleteNamespaceResponse { changed, warnings: vec![] }))
    }

    async fn list_namespaces(
        &self,
        request: Request<pb::ListNamespacesRequest>,
    ) -> Result<Response<pb::ListNamespacesResponse>, Status> {
        request.get_ref().validate()?;
        let namespaces = self.registry.list().map_err(StatusError::from)?;
        // Listing is where the agent notices namespaces deleted behind its back (by `ip netns del`):
        // dropping their cached sockets lets the kernel free them.
        self.registry.forget_stale();
        Ok(Response::new(pb::ListNamespacesResponse { namespaces: namespaces.into_iter().map(to_proto).collect() }))
    }

    async fn get_namespace(
        &self,
        request: Request<pb::GetNamespaceRequest>,
    ) -> Result<Response<pb::GetNamespaceResponse>, Status> {
        let name = request.get_ref().validate()?;
        let info = self.registry.get(&name).map_err(StatusError::from)?;
        Ok(Response::new(pb::GetNamespaceResponse { namespace: Some(to_proto(info)) }))
    }
}
