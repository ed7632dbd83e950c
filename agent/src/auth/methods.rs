//! The one table of what each gRPC method needs, by full path. A method missing here needs `admin`:
//! a method added to the API is closed to `read` callers until someone decides otherwise here (and the
//! test below fails until they do).

/// What calling a method takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Looks, changes nothing: the `read` role may call it.
    Read,
    /// Changes the host (or is unknown): `admin` only. These calls are audited.
    Admin,
}

use Access::{Admin, Read};

pub const METHODS: &[(&str, Access)] = &[
    ("/nsfleet.v1.NamespaceService/CreateNamespace", Admin),
    ("/nsfleet.v1.NamespaceService/DeleteNamespace", Admin),
    ("/nsfleet.v1.NamespaceService/ListNamespaces", Read),
    ("/nsfleet.v1.NamespaceService/GetNamespace", Read),
    ("/nsfleet.v1.LinkService/CreateLink", Admin),
    ("/nsfleet.v1.LinkService/DeleteLink", Admin),
    ("/nsfleet.v1.LinkService/ListLinks", Read),
    ("/nsfleet.v1.LinkService/GetLink", Read),
    ("/nsfleet.v1.LinkService/SetLink", Admin),
    ("/nsfleet.v1.AddressService/AddAddress", Admin),
    ("/nsfleet.v1.AddressService/DeleteAddress", Admin),
    ("/nsfleet.v1.AddressService/ListAddresses", Read),
    ("/nsfleet.v1.RouteService/AddRoute", Admin),
    ("/nsfleet.v1.RouteService/ReplaceRoute", Admin),
    ("/nsfleet.v1.RouteService/DeleteRoute", Admin),
    ("/nsfleet.v1.RouteService/ListRoutes", Read),
    ("/nsfleet.v1.NatService/AddNatRule", Admin),
    ("/nsfleet.v1.NatService/DeleteNatRule", Admin),
    ("/nsfleet.v1.NatService/ListNatRules", Read),
    ("/nsfleet.v1.ForwardingService/GetForwarding", Read),
    ("/nsfleet.v1.ForwardingService/SetForwarding", Admin),
    ("/nsfleet.v1.NeighborService/ListNeighbors", Read),
    ("/nsfleet.v1.DiagnosticsService/Ping", Read),
    ("/nsfleet.v1.DiagnosticsService/GetAgentInfo", Read),
    // A connection attempt changes nothing on the host, like a ping.
    ("/nsfleet.v1.DiagnosticsService/TcpConnect", Read),
    ("/nsfleet.v1.WatchService/Watch", Read),
    ("/nsfleet.v1.BatchService/ApplyBatch", Admin),
    // A plan changes nothing; applying and destroying do.
    ("/nsfleet.v1.TopologyService/Plan", Read),
    ("/nsfleet.v1.TopologyService/Apply", Admin),
    ("/nsfleet.v1.TopologyService/GetState", Read),
    ("/nsfleet.v1.TopologyService/Destroy", Admin),
    ("/nsfleet.v1.TopologyService/ListTopologies", Read),
    ("/nsfleet.v1.TopologyService/Confirm", Admin),
    ("/nsfleet.v1.TopologyService/Rollback", Admin),
    ("/nsfleet.v1.TopologyService/GetCommit", Read),
    ("/grpc.health.v1.Health/Check", Read),
    ("/grpc.health.v1.Health/Watch", Read),
    (
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        Read,
    ),
    (
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        Read,
    ),
];

/// What `path` ("/package.Service/Method") takes; `Admin` for anything not in [`METHODS`].
pub fn access(path: &str) -> Access {
    METHODS
        .iter()
        .find(|(known, _)| *known == path)
        .map_or(Admin, |(_, access)| *access)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost_reflect::DescriptorPool;

    use super::*;

    fn served_methods() -> BTreeSet<String> {
        let mut paths = BTreeSet::new();
        for set in [
            nsfleet_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            let pool = DescriptorPool::decode(set).expect("a valid descriptor set");
            for service in pool.services() {
                for method in service.methods() {
                    paths.insert(format!("/{}/{}", service.full_name(), method.name()));
                }
            }
        }
        for version in ["v1", "v1alpha"] {
            paths.insert(format!(
                "/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo"
            ));
        }
        paths
    }

    #[test]
    fn every_served_method_is_in_the_table_and_nothing_else() {
        let table: BTreeSet<String> = METHODS.iter().map(|(path, _)| path.to_string()).collect();
        let served = served_methods();
        let unlisted: Vec<_> = served.difference(&table).collect();
        let stale: Vec<_> = table.difference(&served).collect();
        assert!(
            unlisted.is_empty(),
            "methods without an access decision (they default to admin): {unlisted:?}"
        );
        assert!(
            stale.is_empty(),
            "table entries for methods nobody serves: {stale:?}"
        );
    }

    #[test]
    fn read_is_exactly_listing_getting_planning_ping_health_and_reflection() {
        for (path, access) in METHODS {
            let method = path.rsplit('/').next().unwrap_or_default();
            let looks = ["List", "Get"].iter().any(|p| method.starts_with(p))
                || [
                    "Plan",
                    "Ping",
                    "TcpConnect",
                    "Check",
                    "Watch",
                    "ServerReflectionInfo",
                ]
                .contains(&method);
            assert_eq!(*access == Read, looks, "{path}");
        }
    }

    #[test]
    fn unknown_methods_need_admin() {
        assert_eq!(access("/nsfleet.v1.LinkService/FlushEverything"), Admin);
        assert_eq!(access(""), Admin);
        assert_eq!(access("/nsfleet.v1.LinkService/ListLinks"), Read);
        assert_eq!(access("/nsfleet.v1.LinkService/ListLinks/"), Admin);
    }
}
