//! `ip neigh`: `172.20.0.11 dev br0 lladdr 02:00:00:00:00:0b REACHABLE`.

use std::fmt::Write;

use super::shown;
use nsfleet_proto::v1::{ListNeighborsResponse, Neighbor, NeighborState};

pub fn render(response: &ListNeighborsResponse) -> String {
    response.neighbors.iter().map(neighbor_line).collect()
}

fn neighbor_line(neighbor: &Neighbor) -> String {
    let mut line = format!("{} dev {}", neighbor.address, shown(&neighbor.link));
    if !neighbor.mac.is_empty() {
        let _ = write!(line, " lladdr {}", neighbor.mac);
    }
    if neighbor.router {
        line.push_str(" router");
    }
    if let Some(state) = state_name(neighbor.state()) {
        let _ = write!(line, " {state}");
    }
    line.push('\n');
    line
}

fn state_name(state: NeighborState) -> Option<&'static str> {
    Some(match state {
        NeighborState::Unspecified => return None,
        NeighborState::Incomplete => "INCOMPLETE",
        NeighborState::Reachable => "REACHABLE",
        NeighborState::Stale => "STALE",
        NeighborState::Delay => "DELAY",
        NeighborState::Probe => "PROBE",
        NeighborState::Failed => "FAILED",
        NeighborState::Noarp => "NOARP",
        NeighborState::Permanent => "PERMANENT",
        NeighborState::None => "NONE",
    })
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1::AddressFamily;

    use super::*;

    #[test]
    fn resolved_unresolved_and_router() {
        let resolved = Neighbor {
            family: AddressFamily::Ipv4.into(),
            address: "172.20.0.11".into(),
            link: "br0".into(),
            link_index: 4,
            mac: "02:00:00:00:00:0b".into(),
            state: NeighborState::Reachable.into(),
            ..Neighbor::default()
        };
        let pending = Neighbor {
            address: "172.20.0.12".into(),
            link: "br0".into(),
            state: NeighborState::Incomplete.into(),
            ..Neighbor::default()
        };
        let router = Neighbor {
            address: "fe80::1".into(),
            link: "br0".into(),
            mac: "02:00:00:00:00:01".into(),
            router: true,
            state: NeighborState::Stale.into(),
            ..Neighbor::default()
        };
        assert_eq!(
            render(&ListNeighborsResponse {
                neighbors: vec![resolved, pending, router]
            }),
            "172.20.0.11 dev br0 lladdr 02:00:00:00:00:0b REACHABLE\n\
             172.20.0.12 dev br0 INCOMPLETE\n\
             fe80::1 dev br0 lladdr 02:00:00:00:00:01 router STALE\n"
        );
    }
}
