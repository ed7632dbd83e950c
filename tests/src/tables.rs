//! Rows that `ip -j` and `nsfleet -o json` can be compared on: each side is normalised to what both
//! say, with iproute2's omitted defaults filled in (no `scope` = global, no `protocol` = boot, ...).
//! Routes and addresses are compared for IPv4, the tutorial's family: `ip route show` lists only IPv4,
//! and IPv6 link-local addresses come and go (DAD) on their own time.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteRow {
    /// "default", "172.20.0.0/16", or a bare address for a host route, as `ip route` prints it.
    pub destination: String,
    pub gateway: String,
    pub device: String,
    pub protocol: String,
    pub scope: String,
    pub source: String,
    pub metric: u64,
    pub route_type: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AddressRow {
    pub link: String,
    pub address: String,
    pub prefix_len: u64,
    pub broadcast: String,
    pub scope: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NeighbourRow {
    pub address: String,
    pub link: String,
    pub mac: String,
    /// Lower-case NUD state: "reachable", "stale", ...
    pub state: String,
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn text_or(value: &Value, default: &str) -> String {
    value.as_str().unwrap_or(default).to_string()
}

fn items(value: &Value) -> &[Value] {
    value.as_array().map_or(&[][..], Vec::as_slice)
}

fn sorted<T: Ord>(mut rows: Vec<T>) -> Vec<T> {
    rows.sort();
    rows
}

/// From `ip -j route show`.
pub fn ip_route_rows(routes: &[Value]) -> Vec<RouteRow> {
    sorted(
        routes
            .iter()
            .map(|r| RouteRow {
                destination: text(&r["dst"]),
                gateway: text(&r["gateway"]),
                device: text(&r["dev"]),
                protocol: text_or(&r["protocol"], "boot"),
                scope: text_or(&r["scope"], "global"),
                source: text(&r["prefsrc"]),
                metric: r["metric"].as_u64().unwrap_or(0),
                route_type: text_or(&r["type"], "unicast"),
            })
            .collect(),
    )
}

/// From an `nsfleet route list` result, IPv4 only.
pub fn cli_route_rows(result: &Value) -> Vec<RouteRow> {
    sorted(
        items(&result["routes"])
            .iter()
            .filter(|r| r["family"] == "ipv4")
            .map(|r| RouteRow {
                destination: ip_style_destination(r),
                gateway: text(&r["gateway"]),
                device: text(&r["device"]),
                protocol: text(&r["protocol"]),
                scope: text(&r["scope"]),
                source: text(&r["source"]),
                metric: r["metric"].as_u64().unwrap_or(u64::MAX),
                route_type: text(&r["type"]),
            })
            .collect(),
    )
}

fn ip_style_destination(route: &Value) -> String {
    let destination = text(&route["destination"]);
    match route["prefix_len"].as_u64() {
        Some(0) if destination.is_empty() || destination == "0.0.0.0" => "default".into(),
        Some(32) => destination,
        Some(len) => format!("{destination}/{len}"),
        None => format!("{destination}/?"),
    }
}

/// From `ip -j addr show`, IPv4 only.
pub fn ip_address_rows(links: &[Value]) -> Vec<AddressRow> {
    let mut rows = Vec::new();
    for link in links {
        for info in items(&link["addr_info"])
            .iter()
            .filter(|a| a["family"] == "inet")
        {
            rows.push(AddressRow {
                link: text(&link["ifname"]),
                address: text(&info["local"]),
                prefix_len: info["prefixlen"].as_u64().unwrap_or(u64::MAX),
                broadcast: text(&info["broadcast"]),
                scope: text_or(&info["scope"], "global"),
            });
        }
    }
    sorted(rows)
}

/// From an `nsfleet addr list` result, IPv4 only.
pub fn cli_address_rows(result: &Value) -> Vec<AddressRow> {
    sorted(
        items(&result["addresses"])
            .iter()
            .filter(|a| a["family"] == "ipv4")
            .map(|a| AddressRow {
                link: text(&a["link"]),
                address: text(&a["address"]),
                prefix_len: a["prefix_len"].as_u64().unwrap_or(u64::MAX),
                broadcast: text(&a["broadcast"]),
                scope: text(&a["scope"]),
            })
            .collect(),
    )
}

/// From `ip -j neigh show` (which leaves out NOARP entries).
pub fn ip_neighbour_rows(neighbours: &[Value]) -> Vec<NeighbourRow> {
    sorted(
        neighbours
            .iter()
            .map(|n| NeighbourRow {
                address: text(&n["dst"]),
                link: text(&n["dev"]),
                mac: text(&n["lladdr"]),
                state: items(&n["state"])
                    .first()
                    .map(text)
                    .unwrap_or_default()
                    .to_lowercase(),
            })
            .collect(),
    )
}

/// From an `nsfleet neigh list` result, without NOARP entries, to match `ip neigh show`.
pub fn cli_neighbour_rows(result: &Value) -> Vec<NeighbourRow> {
    sorted(
        items(&result["neighbors"])
            .iter()
            .filter(|n| n["state"] != "noarp")
            .map(|n| NeighbourRow {
                address: text(&n["address"]),
                link: text(&n["link"]),
                mac: text(&n["mac"]),
                state: text(&n["state"]),
            })
            .collect(),
    )
}
