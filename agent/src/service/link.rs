use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::link_service_server::LinkService;
use tonic::{Request, Response, Status};

use super::status::{unexpected_detail, StatusError};
use super::validate::Validate;
use super::{apply_one, management_path, warnings_to_proto};
use crate::domain::{FieldError, LinkName, MacAddr, NamespaceRef, RawVxlan, VxlanParams};
use crate::kernel::link::OperState;
use crate::netns::NamespaceRegistry;
use crate::ops::gate::Gate;
use crate::ops::link::{
    self as link_ops, CreateLink, LinkKindSpec, LinkView, MasterChange, SetLink,
};
use crate::ops::Detail;

pub struct LinkApi {
    registry: Arc<NamespaceRegistry>,
    gate: Arc<Gate>,
}

impl LinkApi {
    pub fn new(registry: Arc<NamespaceRegistry>, gate: Arc<Gate>) -> Self {
        Self { registry, gate }
    }

    /// The link a change left, read from the kernel where it is now.
    async fn read_back(&self, detail: &Detail, operation: &str) -> Result<pb::Link, Status> {
        let Detail::Link { namespace, name } = detail else {
            return Err(unexpected_detail(operation));
        };
        let view = link_ops::get(&self.registry, namespace, name)
            .await
            .map_err(StatusError::from)?;
        Ok(to_proto(view))
    }
}

pub(super) fn parse_create(request: &pb::CreateLinkRequest) -> Result<CreateLink, FieldError> {
    let namespace = NamespaceRef::parse("namespace", &request.namespace)?;
    let name = LinkName::parse_new("name", &request.name)?;
    let kind = match &request.kind {
        Some(pb::create_link_request::Kind::Veth(veth)) => LinkKindSpec::Veth {
            peer: LinkName::parse_new("veth.peer_name", &veth.peer_name)?,
            peer_namespace: match &veth.peer_namespace {
                Some(peer_namespace) => NamespaceRef::parse("veth.peer_namespace", peer_namespace)?,
                None => namespace.clone(),
            },
        },
        Some(pb::create_link_request::Kind::Bridge(_)) => LinkKindSpec::Bridge,
        Some(pb::create_link_request::Kind::Vxlan(vxlan)) => {
            LinkKindSpec::Vxlan(VxlanParams::parse(
                "vxlan",
                RawVxlan {
                    vni: vxlan.vni,
                    local: &vxlan.local,
                    remotes: &vxlan.remotes,
                    port: vxlan.port,
                    device: &vxlan.device,
                    learning: vxlan.learning,
                },
            )?)
        }
        None => {
            return Err(FieldError::new(
                "kind",
                "one of veth, bridge or vxlan is required",
            ))
        }
    };
    Ok(CreateLink {
        namespace,
        name,
        kind,
        mtu: (request.mtu != 0).then_some(request.mtu),
        marker: None,
    })
}

/// The namespace, the link, and the change.
pub(super) fn parse_set_request(
    request: &pb::SetLinkRequest,
) -> Result<(NamespaceRef, LinkName, SetLink), FieldError> {
    Ok((
        NamespaceRef::parse("namespace", &request.namespace)?,
        LinkName::parse("name", &request.name)?,
        parse_set(request)?,
    ))
}

pub(super) fn parse_delete(
    request: &pb::DeleteLinkRequest,
) -> Result<(NamespaceRef, LinkName), FieldError> {
    Ok((
        NamespaceRef::parse("namespace", &request.namespace)?,
        LinkName::parse("name", &request.name)?,
    ))
}

fn parse_set(request: &pb::SetLinkRequest) -> Result<SetLink, FieldError> {
    let mac = match &request.mac {
        Some(mac) => {
            let mac: MacAddr = mac
                .parse()
                .map_err(|reason| FieldError::new("mac", reason))?;
            if mac.is_multicast() || mac.is_zero() {
                return Err(FieldError::new(
                    "mac",
                    format!("{mac} is not a unicast address"),
                ));
            }
            Some(mac)
        }
        None => None,
    };
    let master = match &request.master_change {
        Some(pb::set_link_request::MasterChange::Master(master)) => {
            Some(MasterChange::Set(LinkName::parse("master", master)?))
        }
        Some(pb::set_link_request::MasterChange::Nomaster(true)) => Some(MasterChange::Release),
        Some(pb::set_link_request::MasterChange::Nomaster(false)) | None => None,
    };
    let move_to = match &request.move_to_namespace {
        Some(target) => Some(NamespaceRef::parse("move_to_namespace", target)?),
        None => None,
    };
    if request.mtu == Some(0) {
        return Err(FieldError::new("mtu", "must be positive"));
    }
    Ok(SetLink {
        up: request.up,
        mtu: request.mtu,
        mac,
        master,
        move_to,
    })
}

fn to_proto(view: LinkView) -> pb::Link {
    let LinkView {
        namespace,
        link,
        master,
        peer,
        vxlan,
    } = view;
    pb::Link {
        namespace: namespace.as_api_str().to_string(),
        name: link.name,
        index: link.index,
        kind: link.kind.unwrap_or_default(),
        admin_up: link.admin_up,
        oper_state: oper_state_to_proto(link.oper_state) as i32,
        mtu: link.mtu,
        mac: link.mac.map(|m| m.to_string()).unwrap_or_default(),
        master: master.unwrap_or_default(),
        flags: link.flags.iter().map(|f| f.to_string()).collect(),
        peer: peer.map(|peer| pb::VethPeer {
            index: peer.index,
            known: peer.namespace.is_some(),
            name: peer.name.unwrap_or_default(),
            namespace: peer
                .namespace
                .map(|ns| ns.as_api_str().to_string())
                .unwrap_or_default(),
        }),
        vxlan: vxlan.as_ref().map(vxlan_to_proto),
    }
}

/// A VXLAN link's parameters on the wire: the port always explicit, learning always set.
pub(super) fn vxlan_to_proto(params: &VxlanParams) -> pb::VxlanSpec {
    pb::VxlanSpec {
        vni: params.vni,
        local: params.local.map(|a| a.to_string()).unwrap_or_default(),
        remotes: params.remotes.iter().map(|a| a.to_string()).collect(),
        port: u32::from(params.port),
        device: params
            .device
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        learning: Some(params.learning),
    }
}

fn oper_state_to_proto(state: OperState) -> pb::OperState {
    match state {
        OperState::Unknown => pb::OperState::Unknown,
        OperState::NotPresent => pb::OperState::NotPresent,
        OperState::Down => pb::OperState::Down,
        OperState::LowerLayerDown => pb::OperState::LowerLayerDown,
        OperState::Testing => pb::OperState::Testing,
        OperState::Dormant => pb::OperState::Dormant,
        OperState::Up => pb::OperState::Up,
    }
}

#[tonic::async_trait]
impl LinkService for LinkApi {
    async fn create_link(
        &self,
        request: Request<pb::CreateLinkRequest>,
    ) -> Result<Response<pb::CreateLinkResponse>, Status> {
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, None, requested).await?;
        let link = self.read_back(&applied.detail, "create link").await?;
        Ok(Response::new(pb::CreateLinkResponse {
            link: Some(link),
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn delete_link(
        &self,
        request: Request<pb::DeleteLinkRequest>,
    ) -> Result<Response<pb::DeleteLinkResponse>, Status> {
        let path = management_path(&request);
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, path.as_ref(), requested).await?;
        Ok(Response::new(pb::DeleteLinkResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn list_links(
        &self,
        request: Request<pb::ListLinksRequest>,
    ) -> Result<Response<pb::ListLinksResponse>, Status> {
        let views = match request.get_ref().validate()? {
            None => link_ops::list_all(&self.registry).await,
            Some(namespace) => link_ops::list(&self.registry, &namespace).await,
        }
        .map_err(StatusError::from)?;
        Ok(Response::new(pb::ListLinksResponse {
            links: views.into_iter().map(to_proto).collect(),
        }))
    }

    async fn get_link(
        &self,
        request: Request<pb::GetLinkRequest>,
    ) -> Result<Response<pb::GetLinkResponse>, Status> {
        let (namespace, name) = request.get_ref().validate()?;
        let view = link_ops::get(&self.registry, &namespace, &name)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::GetLinkResponse {
            link: Some(to_proto(view)),
        }))
    }

    async fn set_link(
        &self,
        request: Request<pb::SetLinkRequest>,
    ) -> Result<Response<pb::SetLinkResponse>, Status> {
        let path = management_path(&request);
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, path.as_ref(), requested).await?;
        let link = self.read_back(&applied.detail, "set link").await?;
        Ok(Response::new(pb::SetLinkResponse {
            link: Some(link),
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }
}
