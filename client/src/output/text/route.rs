//! `ip route`: `default via 172.20.0.1 dev veth1 proto static`, `172.20.0.0/16 dev br0 proto kernel scope
//! link src 172.20.0.1`.

use std::fmt::Write;

use nsfleet_proto::v1::{AddressFamily, ListRoutesResponse, Route, Scope};

use super::{scope_name, shown};

const MAIN_TABLE: u32 = 254;

pub fn render(response: &ListRoutesResponse) -> String {
    response.routes.iter().map(route_line).collect()
}

pub fn route_line(route: &Route) -> String {
    let mut line = String::new();
    if !route.r#type.is_empty() && route.r#type != "unicast" {
        let _ = write!(line, "{} ", route.r#type);
    }
    line.push_str(&destination(route));
    if !route.gateway.is_empty() {
        let _ = write!(line, " via {}", route.gateway);
    }
    if !route.device.is_empty() {
        let _ = write!(line, " dev {}", shown(&route.device));
    }
    if route.table != MAIN_TABLE && route.table != 0 {
        let _ = write!(line, " table {}", table_name(route.table));
    }
    if !route.protocol.is_empty() && route.protocol != "boot" {
        let _ = write!(line, " proto {}", route.protocol);
    }
    if route.scope() != Scope::Global {
        if let Some(scope) = scope_name(route.scope()) {
            let _ = write!(line, " scope {scope}");
        }
    }
    if !route.source.is_empty() {
        let _ = write!(line, " src {}", route.source);
    }
    if route.metric != 0 {
        let _ = write!(line, " metric {}", route.metric);
    }
    for flag in &route.flags {
        let _ = write!(line, " {flag}");
    }
    line.push('\n');
    line
}

/// `default`, a host address without its /32 or /128, or PREFIX/PLEN, as `ip route` writes them.
fn destination(route: &Route) -> String {
    let is_zero =
        route.destination.is_empty() || route.destination == "0.0.0.0" || route.destination == "::";
    if route.prefix_len == 0 && is_zero {
        return "default".to_owned();
    }
    let host_len = if route.family() == AddressFamily::Ipv6 {
        128
    } else {
        32
    };
    if route.prefix_len == host_len {
        route.destination.clone()
    } else {
        format!("{}/{}", route.destination, route.prefix_len)
    }
}

fn table_name(table: u32) -> String {
    match table {
        255 => "local".to_owned(),
        253 => "default".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(destination: &str, prefix_len: u32) -> Route {
        Route {
            namespace: "netns1".into(),
            family: AddressFamily::Ipv4.into(),
            destination: destination.into(),
            prefix_len,
            table: MAIN_TABLE,
            scope: Scope::Global.into(),
            protocol: "boot".into(),
            r#type: "unicast".into(),
            ..Route::default()
        }
    }

    #[test]
    fn tutorial_routes() {
        let default = Route {
            gateway: "172.20.0.1".into(),
            device: "ceth1".into(),
            protocol: "static".into(),
            ..route("", 0)
        };
        let connected = Route {
            device: "ceth1".into(),
            protocol: "kernel".into(),
            scope: Scope::Link.into(),
            source: "172.20.0.11".into(),
            ..route("172.20.0.0", 16)
        };
        let text = render(&ListRoutesResponse {
            routes: vec![default, connected],
        });
        assert_eq!(
            text,
            "default via 172.20.0.1 dev ceth1 proto static\n\
             172.20.0.0/16 dev ceth1 proto kernel scope link src 172.20.0.11\n"
        );
    }

    #[test]
    fn local_table_host_routes_metrics_and_flags() {
        let local = Route {
            r#type: "local".into(),
            device: "lo".into(),
            table: 255,
            protocol: "kernel".into(),
            scope: Scope::Host.into(),
            source: "127.0.0.1".into(),
            ..route("127.0.0.1", 32)
        };
        assert_eq!(
            route_line(&local),
            "local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1\n"
        );
        let ipv6 = Route {
            family: AddressFamily::Ipv6.into(),
            device: "br0".into(),
            metric: 1024,
            flags: vec!["linkdown".into()],
            ..route("2001:db8::", 64)
        };
        assert_eq!(
            route_line(&ipv6),
            "2001:db8::/64 dev br0 metric 1024 linkdown\n"
        );
        let unreachable = Route {
            r#type: "unreachable".into(),
            table: 10,
            ..route("0.0.0.0", 0)
        };
        assert_eq!(route_line(&unreachable), "unreachable default table 10\n");
    }
}
