use std::sync::Arc;

use nsfleet_proto::v1 as pb;
use pb::address_service_server::AddressService;
use tonic::{Request, Response, Status};

use super::convert::{family_to_proto, scope_from_proto, scope_to_proto};
use super::status::{unexpected_detail, StatusError};
use super::validate::Validate;
use super::{apply_one, management_path, warnings_to_proto};
use crate::domain::{parse_ip, FieldError, IpPrefix, LinkName, NamespaceRef};
use crate::netns::NamespaceRegistry;
use crate::ops::address::{
    self as address_ops, check_assignable, check_ipv4_only_fields, AddAddress, AddressView,
    Broadcast,
};
use crate::ops::gate::Gate;
use crate::ops::Detail;

pub struct AddressApi {
    registry: Arc<NamespaceRegistry>,
    gate: Arc<Gate>,
}

impl AddressApi {
    pub fn new(registry: Arc<NamespaceRegistry>, gate: Arc<Gate>) -> Self {
        Self { registry, gate }
    }
}

pub(super) fn parse_add(request: &pb::AddAddressRequest) -> Result<AddAddress, FieldError> {
    let broadcast = match pb::BroadcastMode::try_from(request.broadcast_mode) {
        Ok(pb::BroadcastMode::None) => Broadcast::None,
        Ok(pb::BroadcastMode::Computed) => Broadcast::Computed,
        Ok(pb::BroadcastMode::Explicit) => match parse_ip("broadcast", &request.broadcast)? {
            std::net::IpAddr::V4(address) => Broadcast::Explicit(address),
            std::net::IpAddr::V6(_) => {
                return Err(FieldError::new(
                    "broadcast",
                    "broadcast addresses are IPv4 only",
                ))
            }
        },
        Err(_) => {
            return Err(FieldError::new(
                "broadcast_mode",
                format!("{} is not a BroadcastMode", request.broadcast_mode),
            ))
        }
    };
    let spec = AddAddress {
        namespace: NamespaceRef::parse("namespace", &request.namespace)?,
        link: LinkName::parse("link", &request.link)?,
        prefix: IpPrefix::parse(
            "address",
            &request.address,
            "prefix_len",
            request.prefix_len,
        )?,
        broadcast,
        label: Some(request.label.clone()).filter(|l| !l.is_empty()),
        scope: scope_from_proto("scope", request.scope)?,
        marked: false,
    };
    check_assignable(&spec.prefix)?;
    check_ipv4_only_fields(&spec)?;
    Ok(spec)
}

pub(super) fn parse_delete(
    request: &pb::DeleteAddressRequest,
) -> Result<(NamespaceRef, LinkName, IpPrefix), FieldError> {
    Ok((
        NamespaceRef::parse("namespace", &request.namespace)?,
        LinkName::parse("link", &request.link)?,
        IpPrefix::parse(
            "address",
            &request.address,
            "prefix_len",
            request.prefix_len,
        )?,
    ))
}

fn to_proto(view: AddressView) -> pb::Address {
    let AddressView {
        namespace,
        link,
        address,
    } = view;
    pb::Address {
        namespace: namespace.as_api_str().to_string(),
        link,
        link_index: address.link_index,
        family: family_to_proto(address.prefix.family()),
        address: address.prefix.address.to_string(),
        prefix_len: u32::from(address.prefix.prefix_len),
        broadcast: address.broadcast.map(|b| b.to_string()).unwrap_or_default(),
        label: address.label.unwrap_or_default(),
        scope: scope_to_proto(address.scope),
        flags: address.flags.iter().map(|f| f.to_string()).collect(),
    }
}

#[tonic::async_trait]
impl AddressService for AddressApi {
    async fn add_address(
        &self,
        request: Request<pb::AddAddressRequest>,
    ) -> Result<Response<pb::AddAddressResponse>, Status> {
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, None, requested).await?;
        let Detail::Address(view) = applied.detail else {
            return Err(unexpected_detail("add address"));
        };
        Ok(Response::new(pb::AddAddressResponse {
            address: Some(to_proto(view)),
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn delete_address(
        &self,
        request: Request<pb::DeleteAddressRequest>,
    ) -> Result<Response<pb::DeleteAddressResponse>, Status> {
        let path = management_path(&request);
        let requested = request.get_ref().validate()?;
        let applied = apply_one(&self.registry, &self.gate, None, path.as_ref(), requested).await?;
        Ok(Response::new(pb::DeleteAddressResponse {
            changed: applied.changed,
            warnings: warnings_to_proto(applied.warnings),
        }))
    }

    async fn list_addresses(
        &self,
        request: Request<pb::ListAddressesRequest>,
    ) -> Result<Response<pb::ListAddressesResponse>, Status> {
        let (namespace, link, family) = request.get_ref().validate()?;
        let views = address_ops::list(&self.registry, &namespace, link.as_ref(), family)
            .await
            .map_err(StatusError::from)?;
        Ok(Response::new(pb::ListAddressesResponse {
            addresses: views.into_iter().map(to_proto).collect(),
        }))
    }
}
