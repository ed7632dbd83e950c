//! The command line as clap sees it: global options, objects and verbs. The iproute2 keyword tails after
//! the verb stay word lists here; `grammar` parses them.

use std::{net::IpAddr, path::PathBuf, time::Duration};

use clap::{Args, Command, Parser, Subcommand, ValueEnum};

/// Manage network namespaces, links, addresses, routes, NAT and forwarding on one host or a fleet of
/// hosts running nsfleet-agent, with iproute2's grammar.
///
/// Exit status: 0 every host succeeded; 1 at least one host failed (for ping: a host got no reply);
/// 2 usage error. The topology verbs (validate, plan, apply, drift, destroy) differ: see their --help.
#[derive(Debug, Parser)]
#[command(name = "nsfleet", version, infer_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub object: Object,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalOptions {
    /// Agent endpoint (HOST:PORT, [IPV6]:PORT or unix:PATH), host NAME or @GROUP of the inventory;
    /// repeat (or separate with commas) for several hosts [default: unix:/run/nsfleet/agent.sock, the
    /// agent's default]
    #[arg(
        long = "host",
        value_name = "ENDPOINT|NAME|@GROUP",
        global = true,
        env = "NSFLEET_HOSTS",
        value_delimiter = ','
    )]
    pub hosts: Vec<String>,

    /// Inventory of named hosts and groups (YAML) [default: $XDG_CONFIG_HOME/nsfleet/hosts.yaml, or
    /// ~/.config/nsfleet/hosts.yaml, if it exists]
    #[arg(long, value_name = "FILE", env = "NSFLEET_INVENTORY", global = true)]
    pub inventory: Option<PathBuf>,

    /// Network namespace to act in (as with `ip -n NS`); the agent's own namespace if not given
    #[arg(short = 'n', long = "netns", value_name = "NS", global = true)]
    pub netns: Option<String>,

    /// Output format: iproute2-like text, or one JSON line per host
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Text, global = true)]
    pub output: OutputFormat,

    /// Seconds each host may take to answer; for ping, the whole run, replies included
    /// [default: 30; for ping: 30 plus the time -c, -i and -W need]
    #[arg(long, value_name = "SECONDS", value_parser = parse_seconds, global = true)]
    pub timeout: Option<Duration>,

    /// IPv4 only (route, address and neighbour listings; routes without a destination or gateway)
    #[arg(short = '4', global = true, conflicts_with = "ipv6")]
    pub ipv4: bool,

    /// IPv6 only (route, address and neighbour listings; routes without a destination or gateway)
    #[arg(short = '6', global = true)]
    pub ipv6: bool,

    /// CA certificate (PEM) that signed the agents' certificates: TCP hosts are then reached over TLS
    #[arg(
        long,
        value_name = "FILE",
        env = "NSFLEET_CA",
        global = true,
        help_heading = "Security"
    )]
    pub ca: Option<PathBuf>,

    /// Client certificate (PEM) for agents that require one (mTLS); needs --key and --ca
    #[arg(
        long,
        value_name = "FILE",
        env = "NSFLEET_CERT",
        global = true,
        help_heading = "Security"
    )]
    pub cert: Option<PathBuf>,

    /// Private key (PEM) of --cert
    #[arg(
        long,
        value_name = "FILE",
        env = "NSFLEET_KEY",
        global = true,
        help_heading = "Security"
    )]
    pub key: Option<PathBuf>,

    /// File holding the bearer token for agents started with --tokens (or put the token itself in
    /// NSFLEET_TOKEN)
    #[arg(
        long,
        value_name = "FILE",
        env = "NSFLEET_TOKEN_FILE",
        global = true,
        help_heading = "Security"
    )]
    pub token_file: Option<PathBuf>,

    /// Do it even if the agent says the change would cut it off from this client (deleting, downing or
    /// moving the link it is reached over, removing that address or route); in a batch, every line
    #[arg(long, global = true, help_heading = "Security")]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .parse()
        .map_err(|_| format!("\"{text}\" is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| format!("\"{text}\" is not a positive number of seconds"))
}

// The bounds diagnostics.proto promises the agent enforces; checked here too so that a typo is a usage
// error before any host is contacted.
const MAX_PING_COUNT: i64 = 10_000;
const MIN_PING_INTERVAL: Duration = Duration::from_millis(10);
const MAX_PING_WAIT: Duration = Duration::from_secs(60);
const MAX_PING_PAYLOAD: i64 = 65_000;

fn parse_ping_interval(text: &str) -> Result<Duration, String> {
    let interval = parse_seconds(text)?;
    if interval < MIN_PING_INTERVAL {
        return Err(format!("\"{text}\" is below the minimum of 0.01 seconds"));
    }
    Ok(interval)
}

fn parse_ping_wait(text: &str) -> Result<Duration, String> {
    let wait = parse_seconds(text)?;
    if wait > MAX_PING_WAIT {
        return Err(format!("\"{text}\" is above the maximum of 60 seconds"));
    }
    Ok(wait)
}

fn parse_target(text: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("\"{text}\" is not an IPv4 or IPv6 address"))
}

// The objects, each with its verbs. Every verb enum is `#[command(defer = true)]`: a verb's arguments are
// made only when a command line names that verb, which took 13-21 page faults and 6% of the client's
// instructions off each invocation (BENCHMARKS.md, "One invocation per command"). Not this enum: clap
// copies the objects' verbs into its `help` subcommand before it expands anything deferred, so the
// completion script would lose them.
//
// `objects!` derives `Object` and, from the same declarations, one single-object enum per object
// (`single`), so that the narrow parse (`command_line.rs`) makes only the object a command line names:
// making all of them to keep one was a fifth of an invocation's instructions (BENCHMARKS.md).
macro_rules! objects {
    ($( $(#[$meta:meta])* $object:ident $({ $($named:tt)* })? $(( $($unnamed:tt)* ))? ),* $(,)?) => {
        #[derive(Debug, Subcommand)]
        pub enum Object {
            $( $(#[$meta])* $object $({ $($named)* })? $(( $($unnamed)* ))? ),*
        }

        /// Each object of [`Object`] alone, declared by the same tokens. Only their commands are used:
        /// what clap parses with one of them is read back into [`Object`].
        #[allow(dead_code)]
        mod single {
            use super::*;
            $(
                #[derive(Subcommand)]
                pub(crate) enum $object {
                    $(#[$meta])* $object $({ $($named)* })? $(( $($unnamed)* ))?
                }
            )*
        }

        /// The command of the object `word` names (its name or an alias), made without the others; as
        /// `Object`'s command tree would hold it.
        pub(crate) fn object_command(word: &str) -> Option<Command> {
            fn made<O: Subcommand>() -> Option<Command> {
                O::augment_subcommands(Command::new("object"))
                    .get_subcommands()
                    .next()
                    .cloned()
            }
            // By name first, which needs no command made; an alias is found by making them in turn.
            $(
                if <single::$object as Subcommand>::has_subcommand(word) {
                    return made::<single::$object>();
                }
            )*
            $(
                if let Some(object) = made::<single::$object>() {
                    if object.get_all_aliases().any(|alias| alias == word) {
                        return Some(object);
                    }
                }
            )*
            None
        }
    };
}

objects! {
    /// Named network namespaces (ip netns); with no verb: list
    Netns {
        #[command(subcommand)]
        verb: Option<NetnsVerb>,
    },
    /// Network devices: veth pairs, bridges, state of any link (ip link); with no verb: list
    #[command(visible_alias = "l", infer_subcommands = true)]
    Link {
        #[command(subcommand)]
        verb: Option<LinkVerb>,
    },
    /// IPv4 and IPv6 addresses (ip address); with no verb: list
    #[command(visible_aliases = ["addr", "a"], infer_subcommands = true)]
    Address {
        #[command(subcommand)]
        verb: Option<AddressVerb>,
    },
    /// Routing tables (ip route); with no verb: list
    // `ro` as iproute2 takes it, though `rollback` now shares the prefix.
    #[command(visible_alias = "r", alias = "ro", infer_subcommands = true)]
    Route {
        #[command(subcommand)]
        verb: Option<RouteVerb>,
    },
    /// The ARP / NDP neighbour table (ip neighbour); with no verb: list
    #[command(visible_aliases = ["neighbor", "neigh"], infer_subcommands = true)]
    Neighbour {
        #[command(subcommand)]
        verb: Option<NeighbourVerb>,
    },
    /// IP forwarding (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding); with no verb: show
    #[command(infer_subcommands = true)]
    Forwarding {
        #[command(subcommand)]
        verb: Option<ForwardingVerb>,
    },
    /// NAT rules in nsfleet's own nftables table; with no verb: list
    #[command(infer_subcommands = true)]
    Nat {
        #[command(subcommand)]
        verb: Option<NatVerb>,
    },
    /// ICMP echo sent by the agent from inside the namespace (like iputils ping)
    // `p` was ping's unambiguous abbreviation before `plan` existed; it stays ping's.
    #[command(alias = "p")]
    Ping(PingArgs),
    /// Apply many changes in one call per host: one nsfleet command per line, without "nsfleet"
    #[command(after_help = BATCH_HELP)]
    Batch(BatchArgs),
    /// Print changes as they happen (like `ip monitor label`), merged over the --host hosts, until
    /// Ctrl-C; each line says whether nsfleet made the change or someone else did
    Monitor(crate::monitor::MonitorArgs),
    /// List the inventory's hosts (or the --host ones) with reachability (gRPC health) and agent
    /// version; exit status 1 if one is unreachable
    Hosts,
    /// Simulated hosts on this machine to rehearse on: each an agent in throwaway network and mount
    /// namespaces, on a unix socket; `lab up NAME --hosts N` prints their --endpoint lines
    #[command(subcommand)]
    Lab(crate::lab::LabVerb),
    /// Check a topology file (YAML) without contacting any agent; -o json prints each host's
    /// HostTopology
    #[command(after_help = TOPOLOGY_HELP)]
    Validate(ValidateArgs),
    /// Show, per host, what applying a topology file would change (+ create, ~ change, - delete,
    /// -/+ replace)
    #[command(after_help = TOPOLOGY_HELP)]
    Plan(PlanArgs),
    /// Bring every host of a topology file to what it declares: shows the plan, asks, then applies
    /// host by host in parallel
    #[command(after_help = TOPOLOGY_HELP)]
    Apply(ApplyArgs),
    /// Show, per host, how the host differs from a topology file; exit status 2 when one does
    #[command(after_help = TOPOLOGY_HELP)]
    Drift(DriftArgs),
    /// Remove everything a topology made on the --host hosts, from what each host recorded (no file
    /// needed)
    Destroy(DestroyArgs),
    /// Draw the topology (DOT, Mermaid or SVG) as the hosts hold it, or with --declared as a file
    /// declares it: hosts, namespaces, bridges, veths, VXLAN tunnels, addresses, NAT at its link
    #[command(after_help = GRAPH_HELP)]
    Graph(crate::graph::GraphArgs),
    /// Make a pending confirmed commit permanent on every host of FILE (or the --host hosts); exit
    /// status 1 if a host failed
    Confirm(CommitArgs),
    /// Undo a pending confirmed commit now on every host of FILE (or the --host hosts)
    Rollback(CommitArgs),
    /// Confirmed commits: `commit status [COMMIT_ID] [FILE]` shows one commit (or the pending one) on
    /// every host of FILE (or the --host hosts)
    #[command(subcommand)]
    Commit(CommitVerb),
    /// Print a shell completion script (contacts no agent):
    /// `nsfleet completions bash > /etc/bash_completion.d/nsfleet`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the nsfleet(1) man page, or with --dir write it and one page per subcommand
    /// (nsfleet-link(1), ...) into DIR (contacts no agent)
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

const BATCH_HELP: &str = "Each line is a change as on the command line, without the leading \"nsfleet\":\n  \
    netns add n1\n  \
    link add veth1 type veth peer name ceth1 netns n1\n  \
    -n n1 addr add 172.20.0.11/16 dev ceth1\n  \
    -n n1 route add default via 172.20.0.10\n\
Blank lines and lines starting with # are skipped. Listings and ping cannot be batched; --host, -o and \
--timeout belong to the batch command, not to its lines. -n NS, -4/-6 and --force given before \"batch\" \
apply to every line (a line's own -n, -4 or -6 wins; --force on a line forces that line only). Each host \
gets the whole file as one ApplyBatch call: on the first failure the agent stops and undoes what the batch changed, unless --continue is given.";

const TOPOLOGY_HELP: &str = "The file names its hosts; each host's agent is the file's `endpoint:` for it, or \
--endpoint NAME=ENDPOINT, which wins (so one file runs in a lab and in production). --host and \
NSFLEET_HOSTS are not used. Exit status: 0 success (plan: no changes; drift: no drift), 1 an error \
(the file, or a host), 2 changes (plan --detailed-exitcode) or drift. -o json prints one line per host: \
{\"host\":NAME,\"ok\":true,\"result\":RESPONSE} or {\"host\":NAME,\"ok\":false,\"error\":{...}}.";

const GRAPH_HELP: &str = "Hosts: with FILE, the file's hosts (their `endpoint:`, --endpoint NAME=ENDPOINT or \
the inventory, as for apply), or those --host names of them; without FILE, --host or the inventory. Not drawn: \
`lo`, and link-scoped addresses (IPv6 ones change with every MAC). Links that are down are drawn dashed. \
-o json is refused: a picture has no JSON form. A host that cannot be read fails the whole picture \
(exit status 1). Exit status: 0 drawn, 1 a host, the file or the output failed, 2 usage error.";

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The topology file
    pub file: String,
}

#[derive(Debug, Args)]
pub struct TopologyEndpoints {
    /// Where host NAME's agent is (HOST:PORT, [IPV6]:PORT or unix:PATH); wins over the file; repeatable
    #[arg(long = "endpoint", value_name = "NAME=ENDPOINT")]
    pub endpoints: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The topology file
    pub file: String,
    /// Exit with status 2 when a host has changes (0: none, 1: an error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    #[command(flatten)]
    pub endpoints: TopologyEndpoints,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The topology file
    pub file: String,
    /// Apply without asking (it never asks when standard input is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Apply as a confirmed commit: each host rolls back by itself after DURATION (90s, 2m, 1h; 1 s to
    /// 1 h) unless confirmed. The file's probes run after the change; when they pass the client
    /// confirms, when one fails it rolls the stage back at once
    #[arg(long, value_name = "DURATION", value_parser = crate::topology::rollout::parse_confirm_timeout)]
    pub confirm: Option<std::time::Duration>,
    /// With --confirm: leave the hosts pending after the probes pass, for `nsfleet confirm ID` later
    #[arg(long, requires = "confirm", conflicts_with_all = ["canary", "max_unavailable"])]
    pub no_auto_confirm: bool,
    /// With --confirm: change the first K hosts of the file alone, probed and confirmed, before the rest
    #[arg(long, value_name = "K", requires = "confirm", value_parser = clap::value_parser!(u32).range(1..))]
    pub canary: Option<u32>,
    /// With --confirm: hosts changed at once per stage [default: all]
    #[arg(long, value_name = "N", requires = "confirm", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unavailable: Option<u32>,
    /// With --confirm: stop the rollout when this many hosts failed
    #[arg(long, value_name = "F", default_value_t = 1, requires = "confirm", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_failures: u32,
    /// Allow changes to the agents' management path (sends `force`); needs --confirm, so that a mistake
    /// costs one timeout, not a lost host
    #[arg(long, requires = "confirm")]
    pub allow_mgmt_change: bool,
    #[command(flatten)]
    pub endpoints: TopologyEndpoints,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// The commit's id, as the apply printed it
    pub commit_id: String,
    /// A topology file: its hosts are asked (else the --host hosts)
    pub file: Option<String>,
    #[command(flatten)]
    pub endpoints: TopologyEndpoints,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum CommitVerb {
    /// Where a commit stands on each host: pending (with the seconds left), confirmed, rolled back
    Status(CommitStatusArgs),
}

#[derive(Debug, Args)]
pub struct CommitStatusArgs {
    /// `[COMMIT_ID] [FILE]`: without an id, the pending commit; one argument naming an existing file is
    /// the file (commit ids have no `/`)
    #[arg(num_args = 0..=2, value_name = "COMMIT_ID|FILE")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub endpoints: TopologyEndpoints,
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The topology file
    pub file: String,
    #[command(flatten)]
    pub endpoints: TopologyEndpoints,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The topology's name
    pub name: String,
    /// Succeed without a change on a host that holds no record of the topology
    #[arg(long)]
    pub ignore_missing: bool,
}

#[derive(Debug, Args)]
pub struct BatchArgs {
    /// File of commands, one per line; - reads standard input
    #[arg(value_name = "FILE|-")]
    pub file: String,
    /// Keep going after a failed line and undo nothing (every line gets its own result)
    #[arg(long = "continue")]
    pub keep_going: bool,
}

#[derive(Debug, Subcommand)]
#[command(defer = true, infer_subcommands = true)]
pub enum NetnsVerb {
    /// Create a named namespace (succeeds if it already exists)
    Add { name: String },
    /// Delete a named namespace
    #[command(visible_alias = "delete")]
    Del {
        name: String,
        /// Succeed without a change if it does not exist (for teardown scripts run twice)
        #[arg(long)]
        ignore_missing: bool,
    },
    /// List the named namespaces
    #[command(visible_aliases = ["ls", "show", "sh"])]
    List,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum LinkVerb {
    /// Create a link: NAME [mtu N] type veth peer [name] PEER [netns PEER_NS] | NAME [mtu N] type bridge |
    /// NAME type vxlan id VNI [local ADDR] [remote ADDR]... [dstport PORT] [dev DEV] [nolearning] [mtu N]
    /// [netns NS]
    #[command(
        after_help = "Examples:\n  nsfleet link add veth2 type veth peer name ceth2 netns netns2\n  \
                            nsfleet link add br0 type bridge\n  \
                            nsfleet link add vx42 type vxlan id 42 local 192.0.2.1 remote 192.0.2.2 dev eth0"
    )]
    Add {
        #[arg(value_name = "NAME type veth|bridge|vxlan ...", required = true)]
        words: Vec<String>,
    },
    /// Delete a link (both ends of a veth pair): [dev] NAME
    #[command(visible_alias = "delete")]
    Del {
        #[arg(value_name = "[dev] NAME", required = true)]
        words: Vec<String>,
        /// Succeed without a change if it does not exist (for teardown scripts run twice)
        #[arg(long)]
        ignore_missing: bool,
    },
    /// Change a link: [dev] NAME [up|down] [master BR|nomaster] [mtu N] [address MAC] [netns NS]
    ///
    /// Several changes may be given at once. `netns ''` moves the link to the agent's own namespace.
    #[command(after_help = "Examples:\n  nsfleet link set veth1 master br0 up\n  \
                            nsfleet link set ceth1 netns netns1")]
    Set {
        #[arg(value_name = "[dev] NAME CHANGE...", required = true)]
        words: Vec<String>,
    },
    /// List links, or show one: [[dev] NAME]
    #[command(visible_aliases = ["ls", "show", "sh"])]
    List {
        #[arg(value_name = "[dev] NAME")]
        words: Vec<String>,
        /// List the host namespace and every named namespace
        #[arg(long)]
        all_namespaces: bool,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum AddressVerb {
    /// Add an address: ADDR[/PLEN] [brd +|ADDR] [label L] [scope global|site|link|host] dev DEV
    #[command(after_help = "Example:\n  nsfleet -n netns1 addr add 172.20.0.11/16 dev ceth1")]
    Add {
        #[arg(value_name = "ADDR/PLEN ... dev DEV", required = true)]
        words: Vec<String>,
    },
    /// Remove an address: ADDR[/PLEN] dev DEV
    #[command(visible_alias = "delete")]
    Del {
        #[arg(value_name = "ADDR/PLEN dev DEV", required = true)]
        words: Vec<String>,
        /// Succeed without a change if it does not exist (for teardown scripts run twice)
        #[arg(long)]
        ignore_missing: bool,
    },
    /// List addresses: [[dev] DEV]
    #[command(visible_aliases = ["ls", "show", "sh"])]
    List {
        #[arg(value_name = "[dev] DEV")]
        words: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum RouteVerb {
    /// Add a route: default|PREFIX[/PLEN] [via GW] [dev DEV] [metric M] [table T] [scope S] [src A]
    ///
    /// The family comes from the destination, then the gateway; `-6` makes `default dev DEV` IPv6.
    #[command(after_help = "Example:\n  nsfleet -n netns1 route add default via 172.20.0.1")]
    Add {
        #[arg(value_name = "ROUTE", required = true)]
        words: Vec<String>,
    },
    /// Add a route or replace the one to the same destination, table and metric (same words as add)
    Replace {
        #[arg(value_name = "ROUTE", required = true)]
        words: Vec<String>,
    },
    /// Delete a route; words left out match any value (same words as add)
    #[command(visible_alias = "delete")]
    Del {
        #[arg(value_name = "ROUTE", required = true)]
        words: Vec<String>,
        /// Succeed without a change if it does not exist (for teardown scripts run twice)
        #[arg(long)]
        ignore_missing: bool,
    },
    /// List routes of the main table, or: table T|all
    #[command(visible_aliases = ["ls", "show", "sh"])]
    List {
        #[arg(value_name = "table T|all")]
        words: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NeighbourVerb {
    /// List neighbours: [[dev] DEV] [nud all|STATE]...
    ///
    /// As with `ip neigh`, NOARP and NONE entries (multicast and the like) are hidden unless `nud all` or
    /// `nud noarp` asks for them.
    #[command(visible_aliases = ["ls", "show", "sh"])]
    List {
        #[arg(value_name = "[dev] DEV nud STATE")]
        words: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ForwardingVerb {
    /// Show whether IPv4 and IPv6 forwarding are on
    #[command(visible_aliases = ["list", "ls", "sh"])]
    Show,
    /// Turn forwarding on or off: ipv4|ipv6 on|off
    Set {
        #[arg(value_name = "ipv4|ipv6 on|off", required = true)]
        words: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NatVerb {
    /// Add a rule: masquerade, snat or dnat (port forwarding)
    ///
    ///   masquerade from PREFIX [oif IFACE] [comment TEXT]
    ///   snat from PREFIX oif IFACE to ADDR [comment TEXT]
    ///   dnat proto tcp|udp dport PORT[-PORT] [iif IFACE] [dst ADDR] to ADDR[:PORT] [comment TEXT]
    #[command(
        verbatim_doc_comment,
        after_help = "Examples:\n  nsfleet -n gw nat add masquerade from 172.20.0.0/16 oif eth0 comment lab\n  \
                      nsfleet -n gw nat add dnat proto tcp dport 8080 to 172.20.0.11:80"
    )]
    Add {
        #[arg(value_name = "RULE", required = true)]
        words: Vec<String>,
    },
    /// Delete a rule by the ID `nat list` shows
    #[command(visible_alias = "delete")]
    Del {
        id: String,
        /// Succeed without a change if it does not exist (for teardown scripts run twice)
        #[arg(long)]
        ignore_missing: bool,
    },
    /// List the rules nsfleet made, with counters
    #[command(visible_aliases = ["ls", "show", "sh"])]
    List,
}

#[derive(Debug, Args)]
pub struct PingArgs {
    /// IPv4 or IPv6 address to ping
    #[arg(value_parser = parse_target)]
    pub target: IpAddr,
    /// Send out of this link, or from this source address
    #[arg(short = 'I', value_name = "DEV|ADDR")]
    pub interface: Option<String>,
    /// Echo requests to send, 1-10000
    #[arg(
        short = 'c',
        value_name = "COUNT",
        default_value_t = 4,
        value_parser = clap::value_parser!(u32).range(1..=MAX_PING_COUNT)
    )]
    pub count: u32,
    /// Seconds between requests, at least 0.01 [agent default: 1]
    #[arg(short = 'i', value_name = "SECONDS", value_parser = parse_ping_interval)]
    pub interval: Option<Duration>,
    /// Seconds to wait for a reply after the last request, at most 60 [agent default: 1]
    #[arg(short = 'W', value_name = "SECONDS", value_parser = parse_ping_wait)]
    pub wait: Option<Duration>,
    /// ICMP payload bytes, 1-65000 [agent default: 56]
    #[arg(
        short = 's',
        value_name = "SIZE",
        value_parser = clap::value_parser!(u32).range(1..=MAX_PING_PAYLOAD)
    )]
    pub size: Option<u32>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// What the shell completion of `nsfleet help OBJECT <TAB>` offers: every object keeps its verbs
    /// in clap's `help` subtree although the verbs' arguments are deferred.
    #[test]
    fn the_help_subtree_lists_every_verb() {
        let mut command = Cli::command();
        command.build();
        let help = command.find_subcommand("help").expect("a help subcommand");
        for object in command.get_subcommands().filter(|o| o.get_name() != "help") {
            let verbs: Vec<&str> = object.get_subcommands().map(|v| v.get_name()).collect();
            let copied = help
                .find_subcommand(object.get_name())
                .expect("every object under help");
            for verb in verbs.iter().filter(|v| **v != "help") {
                assert!(
                    copied.find_subcommand(verb).is_some(),
                    "help {} lacks {verb}",
                    object.get_name()
                );
            }
        }
        let link = help.find_subcommand("link").expect("help link");
        assert!(link.find_subcommand("add").is_some());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
