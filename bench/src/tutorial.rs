//! The tutorial's commands (README, "The tutorial, command by command") as pairs: the command people
//! type today and its nsfleet twin, in the tutorial's order, each with the `ip` steps that undo it.
//!
//! The pairs run against the state the tutorial has reached at that point: after a command's paired runs,
//! its `ip` form is applied once more, untimed, and the next command starts from there. Inside a
//! namespace `ip -n NS` stands for the tutorial's `ip netns exec NS ip`, which would add an exec and a
//! sysfs remount per command: this favours `ip`.
//!
//! The pings (one echo each: `ip netns exec NS ping -c 1` against `nsfleet ping -c 1`) and the NAT rule
//! (`iptables` against `nsfleet nat add`, which needs `nft` in the agent) run only where those programs
//! are installed; otherwise the report says they were skipped.

/// One tutorial command.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The `nsfleet` words, also the row's label.
    pub nsfleet: Vec<String>,
    /// The command the tutorial types: program first (`ip`, `bridge`, `sysctl`).
    pub classic: Vec<String>,
    /// Run once, untimed, before the pair's first run: a step of the tutorial that the table leaves out.
    pub before: Vec<Vec<String>>,
    /// Run after every timed run, untimed, so that each run changes the kernel for real.
    pub undo: Vec<Vec<String>>,
    /// Run after every timed nsfleet run instead of `undo`, where the classic undo does not fit.
    pub nsfleet_undo: Option<Vec<Vec<String>>>,
    /// Whether the command changes anything (then it is applied once more after its runs).
    pub mutation: bool,
    /// Programs the pair needs besides `ip` and nsfleet; missing ones skip it.
    pub requires: Vec<&'static str>,
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

fn lines(lines: &[&str]) -> Vec<Vec<String>> {
    lines.iter().map(|line| words(line)).collect()
}

fn ping(nsfleet: &str, classic: &str, before: &[&str]) -> Pair {
    let mut pair = query(nsfleet, classic);
    pair.before = lines(before);
    pair.requires = vec!["ping"];
    pair
}

fn query(nsfleet: &str, classic: &str) -> Pair {
    Pair {
        nsfleet: words(nsfleet),
        classic: words(classic),
        before: Vec::new(),
        undo: Vec::new(),
        nsfleet_undo: None,
        mutation: false,
        requires: Vec::new(),
    }
}

fn change(nsfleet: &str, classic: &str, undo: &[&str]) -> Pair {
    Pair {
        nsfleet: words(nsfleet),
        classic: words(classic),
        before: Vec::new(),
        undo: lines(undo),
        nsfleet_undo: None,
        mutation: true,
        requires: Vec::new(),
    }
}

pub fn pairs() -> Vec<Pair> {
    let mut veth2 = change(
        "link add veth2 type veth peer name ceth2 netns netns2",
        "ip link add veth2 type veth peer name ceth2 netns netns2",
        &["ip link del veth2"],
    );
    veth2.before.push(words("ip netns add netns2"));
    // The tutorial's rule has no output interface; nsfleet's needs one (README, NAT): br0 stands in.
    let mut masquerade = change(
        "nat add masquerade from 172.20.0.0/16 oif br0",
        "iptables -t nat -A POSTROUTING -s 172.20.0.0/16 -j MASQUERADE",
        &["iptables -t nat -D POSTROUTING -s 172.20.0.0/16 -j MASQUERADE"],
    );
    masquerade.nsfleet_undo = Some(lines(&["nft flush chain inet nsfleet postrouting"]));
    masquerade.requires = vec!["iptables", "nft"];
    vec![
        change(
            "netns add netns1",
            "ip netns add netns1",
            &["ip netns del netns1"],
        ),
        query("netns list", "ip netns list"),
        change(
            "link add veth1 type veth peer name ceth1",
            "ip link add veth1 type veth peer name ceth1",
            &["ip link del veth1"],
        ),
        query("link list", "ip link list"),
        change(
            "link set ceth1 netns netns1",
            "ip link set ceth1 netns netns1",
            // Never `netns 1` to bring it back: PID 1 lives in the machine's own namespace.
            &[
                "ip -n netns1 link del ceth1",
                "ip link add veth1 type veth peer name ceth1",
            ],
        ),
        query("-n netns1 link list", "ip -n netns1 link list"),
        change(
            "-n netns1 addr add 172.20.0.11/16 dev ceth1",
            "ip -n netns1 addr add 172.20.0.11/16 dev ceth1",
            &["ip -n netns1 addr del 172.20.0.11/16 dev ceth1"],
        ),
        change(
            "-n netns1 link set ceth1 up",
            "ip -n netns1 link set dev ceth1 up",
            &["ip -n netns1 link set dev ceth1 down"],
        ),
        change(
            "-n netns1 link set lo up",
            "ip -n netns1 link set lo up",
            &["ip -n netns1 link set lo down"],
        ),
        change(
            "addr add 172.20.0.1/16 dev veth1",
            "ip addr add 172.20.0.1/16 dev veth1",
            &["ip addr del 172.20.0.1/16 dev veth1"],
        ),
        change(
            "link set veth1 up",
            "ip link set dev veth1 up",
            &["ip link set dev veth1 down"],
        ),
        query("-n netns1 route list", "ip -n netns1 route list"),
        ping(
            "-n netns1 ping 172.20.0.1 -c 1",
            "ip netns exec netns1 ping -c 1 172.20.0.1",
            &[],
        ),
        query("-n netns1 neigh list", "ip -n netns1 neigh list"),
        veth2,
        ping(
            "ping 172.20.0.12 -I veth2 -c 1",
            "ping -c 1 -I veth2 172.20.0.12",
            // The steps the tutorial takes for netns2 without listing them.
            &[
                "ip -n netns2 addr add 172.20.0.12/16 dev ceth2",
                "ip -n netns2 link set dev ceth2 up",
                "ip addr add 172.20.0.2/16 dev veth2",
                "ip link set dev veth2 up",
            ],
        ),
        change(
            "link add br0 type bridge",
            "ip link add br0 type bridge",
            &["ip link del br0"],
        ),
        change(
            "link set br0 up",
            "ip link set br0 up",
            &["ip link set br0 down"],
        ),
        change(
            "link set veth1 master br0",
            "ip link set veth1 master br0",
            &["ip link set veth1 nomaster"],
        ),
        query("link list", "bridge link show br0"),
        change(
            "addr add 172.20.0.10/16 brd + dev br0",
            "ip addr add 172.20.0.10/16 brd + dev br0",
            &["ip addr del 172.20.0.10/16 dev br0"],
        ),
        change(
            "-n netns1 route add default via 172.20.0.10",
            "ip -n netns1 route add default via 172.20.0.10",
            &["ip -n netns1 route del default"],
        ),
        masquerade,
        change(
            "forwarding set ipv4 on",
            "sysctl -w net.ipv4.ip_forward=1",
            &["sysctl -w net.ipv4.ip_forward=0"],
        ),
    ]
}
