//! The picture of what the hosts hold: per host, the namespace list, every link of every namespace
//! (one ListLinks with `all_namespaces`), and the addresses and NAT rules of each namespace.

use crate::channel::AgentChannel;
use nsfleet_proto::v1::{
    address_service_client::AddressServiceClient, link_service_client::LinkServiceClient,
    namespace_service_client::NamespaceServiceClient, nat_rule::Kind as NatKind,
    nat_service_client::NatServiceClient, Address, Link, ListAddressesRequest, ListLinksRequest,
    ListNamespacesRequest, ListNatRulesRequest, NatRule, Scope,
};

use super::{
    model::{HostBuilder, HostNode, LinkKind, LinkNode, Vxlan},
    nat::{self, Rule},
};
use crate::{
    app::{call_failure, MAX_CONNECT_TIMEOUT},
    commands::CallContext,
    connect::{ClientSecurity, Host},
    failure::HostFailure,
};

/// What one host holds, read in one connection.
pub struct Snapshot {
    pub namespaces: Vec<String>,
    pub links: Vec<Link>,
    /// (namespace asked for, address)
    pub addresses: Vec<(String, Address)>,
    /// (namespace, rule)
    pub nat_rules: Vec<(String, NatRule)>,
    /// Namespaces whose NAT rules could not be listed (no `nft` on the host), with why.
    pub nat_unavailable: Option<String>,
}

pub async fn read(
    host: &Host,
    security: &ClientSecurity,
    context: CallContext,
) -> Result<Snapshot, HostFailure> {
    let context = context.for_host(host);
    let channel = host
        .connect(context.timeout.min(MAX_CONNECT_TIMEOUT), security)
        .await?;
    match tokio::time::timeout(context.timeout, calls(channel, &context)).await {
        Ok(Ok(snapshot)) => Ok(snapshot),
        Ok(Err(status)) => Err(call_failure(host, security, status)),
        Err(_) => Err(HostFailure::deadline(context.timeout)),
    }
}

async fn calls(channel: AgentChannel, context: &CallContext) -> Result<Snapshot, tonic::Status> {
    let namespaces: Vec<String> = NamespaceServiceClient::new(channel.clone())
        .list_namespaces(context.request(ListNamespacesRequest {}))
        .await?
        .into_inner()
        .namespaces
        .into_iter()
        .map(|namespace| namespace.name)
        .collect();
    let links = LinkServiceClient::new(channel.clone())
        .list_links(context.request(ListLinksRequest {
            namespace: String::new(),
            all_namespaces: true,
        }))
        .await?
        .into_inner()
        .links;
    let mut addresses = Vec::new();
    let mut nat_rules = Vec::new();
    let mut nat_unavailable = None;
    let mut address_client = AddressServiceClient::new(channel.clone());
    let mut nat_client = NatServiceClient::new(channel);
    for namespace in std::iter::once(String::new()).chain(namespaces.iter().cloned()) {
        addresses.extend(
            address_client
                .list_addresses(context.request(ListAddressesRequest {
                    namespace: namespace.clone(),
                    ..ListAddressesRequest::default()
                }))
                .await?
                .into_inner()
                .addresses
                .into_iter()
                .map(|address| (namespace.clone(), address)),
        );
        if nat_unavailable.is_some() {
            continue;
        }
        let listed = nat_client
            .list_nat_rules(context.request(ListNatRulesRequest {
                namespace: namespace.clone(),
            }))
            .await;
        match listed {
            Ok(response) => nat_rules.extend(
                response
                    .into_inner()
                    .rules
                    .into_iter()
                    .map(|rule| (namespace.clone(), rule)),
            ),
            // The agent serves NAT only where `nft` exists; the rest of the picture is still true.
            Err(status) if status.code() == tonic::Code::FailedPrecondition => {
                nat_unavailable = Some(status.message().to_owned());
            }
            Err(status) => return Err(status),
        }
    }
    Ok(Snapshot {
        namespaces,
        links,
        addresses,
        nat_rules,
        nat_unavailable,
    })
}

/// The host as the model sees it. Link-scoped addresses are left out: IPv6 ones are made by the
/// kernel from the MAC, which differs on every run.
pub fn host(name: &str, snapshot: &Snapshot) -> HostNode {
    let mut builder = HostBuilder::new(name);
    for namespace in &snapshot.namespaces {
        builder.namespace(namespace);
    }
    for link in &snapshot.links {
        let kind = match link.kind.as_str() {
            "bridge" => LinkKind::Bridge,
            "veth" => LinkKind::Veth(
                link.peer
                    .as_ref()
                    .filter(|peer| peer.known)
                    .map(|peer| (peer.namespace.clone(), peer.name.clone())),
            ),
            "vxlan" => {
                let spec = link.vxlan.clone().unwrap_or_default();
                LinkKind::Vxlan(Vxlan {
                    vni: spec.vni,
                    local: spec.local,
                    remotes: spec.remotes,
                    port: spec.port,
                })
            }
            other => LinkKind::Other(other.to_owned()),
        };
        let mut node = LinkNode::new(&link.name, kind);
        node.up = link.admin_up;
        node.master = link.master.clone();
        builder.link(&link.namespace, node);
    }
    for (namespace, address) in &snapshot.addresses {
        if address.scope() == Scope::Link {
            continue;
        }
        builder.address(
            namespace,
            &address.link,
            format!("{}/{}", address.address, address.prefix_len),
        );
    }
    for (namespace, rule) in &snapshot.nat_rules {
        let Some(kind) = &rule.kind else { continue };
        let rule_of = || match kind {
            NatKind::Masquerade(rule) => Rule::Masquerade(rule),
            NatKind::Snat(rule) => Rule::Snat(rule),
            NatKind::Dnat(rule) => Rule::Dnat(rule),
        };
        let (interface, at_link) = nat::describe(rule_of(), false);
        let (_, alone) = nat::describe(rule_of(), true);
        builder.nat(namespace, &interface, at_link, alone);
    }
    builder.finish()
}
