//! The tutorial's topology for N namespaces, as command words that mean the same to `ip` and to
//! `nsfleet` (their grammars agree on every line used here).
//!
//! Host: br0 (a bridge, up, 172.20.0.1/16). Per namespace i: `ip netns add`, a veth whose peer is
//! created inside the namespace, the host end enslaved to br0 and up, an address 172.20.x.y/16 on the
//! peer, the peer and lo up, a default route via br0's address.

/// One command: optionally inside a named namespace (`-n NS`), then the words after `ip`/`nsfleet`.
#[derive(Debug, Clone)]
pub struct Step {
    pub netns: Option<String>,
    pub words: Vec<String>,
}

impl Step {
    pub fn host(line: &str) -> Self {
        Self {
            netns: None,
            words: split(line),
        }
    }

    pub fn inside(netns: &str, line: &str) -> Self {
        Self {
            netns: Some(netns.to_string()),
            words: split(line),
        }
    }

    /// `[-n NS] WORDS...`: the arguments for `ip` or `nsfleet`, and a line of `nsfleet batch`.
    pub fn args(&self) -> Vec<String> {
        let mut args = Vec::with_capacity(self.words.len() + 2);
        if let Some(netns) = &self.netns {
            args.extend(["-n".to_string(), netns.clone()]);
        }
        args.extend(self.words.iter().cloned());
        args
    }
}

fn split(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

pub const BRIDGE: &str = "br0";
pub const GATEWAY: &str = "172.20.0.1";

pub fn namespace(i: usize) -> String {
    format!("ns{i}")
}

/// 172.20.0.2, 172.20.0.3, ... spread over the /16 (N=1000 needs more than one /24).
fn address(i: usize) -> String {
    let host = i + 1;
    format!("172.20.{}.{}/16", host / 256, host % 256)
}

/// Bridge first, then per namespace in the tutorial's order.
pub fn setup(n: usize) -> (Vec<Step>, Vec<Vec<Step>>) {
    let bridge = vec![
        Step::host(&format!("link add {BRIDGE} type bridge")),
        Step::host(&format!("link set {BRIDGE} up")),
        Step::host(&format!("addr add {GATEWAY}/16 dev {BRIDGE}")),
    ];
    let per_namespace = (1..=n)
        .map(|i| {
            let ns = namespace(i);
            vec![
                Step::host(&format!("netns add {ns}")),
                Step::host(&format!(
                    "link add veth{i} type veth peer name ceth{i} netns {ns}"
                )),
                Step::host(&format!("link set veth{i} master {BRIDGE}")),
                Step::host(&format!("link set veth{i} up")),
                Step::inside(&ns, &format!("addr add {} dev ceth{i}", address(i))),
                Step::inside(&ns, &format!("link set ceth{i} up")),
                Step::inside(&ns, "link set lo up"),
                Step::inside(&ns, &format!("route add default via {GATEWAY}")),
            ]
        })
        .collect();
    (bridge, per_namespace)
}

/// Every setup step in order.
pub fn setup_steps(n: usize) -> Vec<Step> {
    let (bridge, per_namespace) = setup(n);
    bridge
        .into_iter()
        .chain(per_namespace.into_iter().flatten())
        .collect()
}

/// Teardown as people do it with `ip`: each veth deleted, each namespace deleted, then the bridge.
pub fn teardown_one_by_one(n: usize) -> Vec<Step> {
    let mut steps: Vec<Step> = (1..=n)
        .flat_map(|i| {
            [
                Step::host(&format!("link del veth{i}")),
                Step::host(&format!("netns del {}", namespace(i))),
            ]
        })
        .collect();
    steps.push(Step::host(&format!("link del {BRIDGE}")));
    steps
}

/// The cheap teardown: deleting a namespace takes its veth ends (and their host peers) with it.
pub fn teardown_by_namespace(n: usize) -> Vec<Step> {
    let mut steps: Vec<Step> = (1..=n)
        .map(|i| Step::host(&format!("netns del {}", namespace(i))))
        .collect();
    steps.push(Step::host(&format!("link del {BRIDGE}")));
    steps
}
