//! From the parsed command line to what runs: the hosts, and one [`Action`] with its requests filled in
//! (keyword tails parsed, `-n` applied). Everything that can be wrong with the command line is found
//! here, before any host is contacted.

use std::{net::IpAddr, time::Duration};

use nsfleet_proto::v1::{
    AddRouteRequest, AddressFamily, CreateNamespaceRequest, DeleteAddressRequest,
    DeleteLinkRequest, DeleteNamespaceRequest, DeleteNatRuleRequest, DeleteRouteRequest,
    GetForwardingRequest, GetLinkRequest, ListAddressesRequest, ListLinksRequest,
    ListNatRulesRequest, PingRequest, ReplaceRouteRequest,
};

use crate::{
    cli::{
        AddressVerb, Cli, ForwardingVerb, GlobalOptions, LinkVerb, NatVerb, NeighbourVerb,
        NetnsVerb, Object, OutputFormat, PingArgs, RouteVerb,
    },
    commands::{
        address::AddressAction, forwarding::ForwardingAction, link::LinkAction, nat::NatAction,
        neighbor::NeighborAction, netns::NetnsAction, ping, route::RouteAction, Action,
    },
    connect::{ClientSecurity, EndpointError, Host, SecurityError, SecurityOptions},
    grammar::{self, GrammarError},
};

pub struct Plan {
    pub hosts: Vec<Host>,
    pub action: Action,
    pub format: OutputFormat,
    pub timeout: Duration,
    pub security: ClientSecurity,
}

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{command}: {source}")]
    Grammar {
        command: &'static str,
        source: GrammarError,
    },
    #[error("--host {0}")]
    Endpoint(#[from] EndpointError),
    #[error("{0}")]
    Security(#[from] SecurityError),
    #[error("batch: {0}")]
    Batch(#[from] crate::batch::ScriptError),
    #[error("{0}: prints locally and asks no agent; it is not a change a batch can carry")]
    Local(&'static str),
    #[error("{0}: works on whole topologies or fleets; it is not a change a batch can carry")]
    Topology(&'static str),
    #[error("{0}")]
    Inventory(#[from] crate::inventory::InventoryError),
    #[error("{0}")]
    Hosts(#[from] crate::inventory::ResolveError),
}

impl UsageError {
    /// Where to read the grammar of the command that went wrong.
    pub fn help_hint(&self) -> Option<String> {
        match self {
            UsageError::Grammar { command, .. } => Some(format!("nsfleet {command} --help")),
            UsageError::Endpoint(_)
            | UsageError::Inventory(_)
            | UsageError::Hosts(_)
            | UsageError::Security(_)
            | UsageError::Local(_)
            | UsageError::Topology(_) => None,
            UsageError::Batch(error) => error.help_hint(),
        }
    }
}

fn grammar_error(command: &'static str) -> impl Fn(GrammarError) -> UsageError {
    move |source| UsageError::Grammar { command, source }
}

/// How long a host may take when `--timeout` is not given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the global options say about every request: `-n`, `-4`/`-6` and `--force`. The options given to
/// `nsfleet batch` are the defaults of each line of the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RequestOptions {
    pub namespace: Option<String>,
    pub family: AddressFamily,
    pub force: bool,
}

impl RequestOptions {
    pub fn of(global: &GlobalOptions) -> Self {
        let family = if global.ipv4 {
            AddressFamily::Ipv4
        } else if global.ipv6 {
            AddressFamily::Ipv6
        } else {
            AddressFamily::Unspecified
        };
        Self {
            namespace: global.netns.clone(),
            family,
            force: global.force,
        }
    }

    /// These options, falling back to `outer`'s for what they leave unset. `-n ''` is set: it names the
    /// agent's own namespace. `--force` cannot be unset, so either one forces.
    pub fn within(self, outer: &RequestOptions) -> Self {
        Self {
            namespace: self.namespace.or_else(|| outer.namespace.clone()),
            family: match self.family {
                AddressFamily::Unspecified => outer.family,
                family => family,
            },
            force: self.force || outer.force,
        }
    }
}

pub fn plan(cli: Cli) -> Result<Plan, UsageError> {
    let global = cli.global;
    let options = RequestOptions::of(&global);
    let security_options = security_options(&global);
    let security = security_options.load()?;
    let action = action(cli.object, &options)?;
    // A ping's answer is its whole run: the default gives it the time its requests need on top, while an
    // explicit --timeout bounds it, as the help says.
    let timeout = match (global.timeout, &action) {
        (Some(timeout), _) => timeout,
        (None, Action::Ping(request)) => DEFAULT_TIMEOUT + ping::expected_duration(request),
        (None, _) => DEFAULT_TIMEOUT,
    };
    Ok(Plan {
        hosts: hosts(&global, &security_options)?,
        action,
        format: global.output,
        timeout,
        security,
    })
}

/// `--force` reaches every request that has the field; the others cannot cut an agent off.
fn force(action: &mut Action) {
    match action {
        Action::Link(LinkAction::Delete(request)) => request.force = true,
        Action::Link(LinkAction::Set(request)) => request.force = true,
        Action::Address(AddressAction::Delete(request)) => request.force = true,
        Action::Route(RouteAction::Delete(request)) => request.force = true,
        Action::Route(RouteAction::Replace(request)) => request.force = true,
        Action::Netns(NetnsAction::Delete(request)) => request.force = true,
        _ => {}
    }
}

/// The security options of the command line and environment, for hosts without their own.
pub(crate) fn security_options(global: &GlobalOptions) -> SecurityOptions {
    SecurityOptions {
        ca: global.ca.clone(),
        cert: global.cert.clone(),
        key: global.key.clone(),
        token_file: global.token_file.clone(),
        token: std::env::var("NSFLEET_TOKEN")
            .ok()
            .filter(|token| !token.is_empty()),
        ..Default::default()
    }
}

/// The `--host` hosts, through the inventory (see `inventory::resolve`). Empty entries (from
/// `NSFLEET_HOSTS="a,,b"` or a trailing comma) are skipped; none at all means the local agent.
pub(crate) fn hosts(
    global: &GlobalOptions,
    options: &SecurityOptions,
) -> Result<Vec<Host>, UsageError> {
    let (inventory, missing) = crate::inventory::load_chosen(global.inventory.as_deref())?;
    let mut hosts = crate::inventory::resolve_hosts(
        &global.hosts,
        inventory.as_ref(),
        options,
        missing.as_deref(),
    )?;
    if hosts.is_empty() {
        hosts.push(Host::parse(&format!(
            "unix:{}",
            nsfleet_proto::DEFAULT_AGENT_SOCKET
        ))?);
    }
    Ok(hosts)
}

/// Requests carry the namespace from `-n`; the grammar leaves it empty.
trait InNamespace: Sized {
    fn in_namespace(self, namespace: &str) -> Self;
}

macro_rules! in_namespace {
    ($($request:ident),* $(,)?) => {
        $(impl InNamespace for nsfleet_proto::v1::$request {
            fn in_namespace(mut self, namespace: &str) -> Self {
                self.namespace = namespace.to_owned();
                self
            }
        })*
    };
}

in_namespace!(
    CreateLinkRequest,
    DeleteLinkRequest,
    SetLinkRequest,
    AddAddressRequest,
    DeleteAddressRequest,
    ListRoutesRequest,
    ListNeighborsRequest,
    SetForwardingRequest,
    AddNatRuleRequest,
);

/// The action of one command line's object; also what each line of a batch goes through.
pub(crate) fn action(object: Object, options: &RequestOptions) -> Result<Action, UsageError> {
    let mut action = unforced_action(object, options)?;
    if options.force {
        force(&mut action);
    }
    Ok(action)
}

fn unforced_action(object: Object, options: &RequestOptions) -> Result<Action, UsageError> {
    let namespace = options.namespace.clone().unwrap_or_default();
    let family = options.family;
    let ns = namespace.as_str();
    Ok(match object {
        Object::Netns { verb } => Action::Netns(netns_action(verb)),
        Object::Link { verb } => Action::Link(link_action(verb, namespace)?),
        Object::Address { verb } => Action::Address(address_action(verb, namespace, family)?),
        Object::Route { verb } => Action::Route(route_action(verb, namespace, family)?),
        Object::Neighbour { verb } => {
            let NeighbourVerb::List { words } =
                verb.unwrap_or(NeighbourVerb::List { words: Vec::new() });
            let (request, states) = grammar::neighbor::parse_list(&words, family)
                .map_err(grammar_error("neighbour list"))?;
            Action::Neighbor(NeighborAction::List {
                request: request.in_namespace(ns),
                states,
            })
        }
        Object::Forwarding { verb } => {
            Action::Forwarding(match verb.unwrap_or(ForwardingVerb::Show) {
                ForwardingVerb::Show => ForwardingAction::Get(GetForwardingRequest { namespace }),
                ForwardingVerb::Set { words } => {
                    let request = grammar::forwarding::parse_set(&words)
                        .map_err(grammar_error("forwarding set"))?;
                    ForwardingAction::Set(request.in_namespace(ns))
                }
            })
        }
        Object::Nat { verb } => Action::Nat(match verb.unwrap_or(NatVerb::List) {
            NatVerb::Add { words } => {
                let request = grammar::nat::parse_add(&words).map_err(grammar_error("nat add"))?;
                NatAction::Add(request.in_namespace(ns))
            }
            NatVerb::Del { id, ignore_missing } => NatAction::Delete(DeleteNatRuleRequest {
                namespace,
                id,
                ignore_missing,
            }),
            NatVerb::List => NatAction::List(ListNatRulesRequest { namespace }),
        }),
        Object::Ping(arguments) => Action::Ping(ping_request(arguments, namespace)),
        Object::Batch(arguments) => Action::Batch(crate::batch::load(arguments, options)?),
        Object::Completions { .. } => return Err(UsageError::Local("completions")),
        Object::Man { .. } => return Err(UsageError::Local("man")),
        Object::Lab(_) => return Err(UsageError::Local("lab")),
        Object::Hosts => return Err(UsageError::Topology("hosts")),
        Object::Monitor(_) => return Err(UsageError::Topology("monitor")),
        Object::Validate(_) => return Err(UsageError::Topology("validate")),
        Object::Plan(_) => return Err(UsageError::Topology("plan")),
        Object::Apply(_) => return Err(UsageError::Topology("apply")),
        Object::Drift(_) => return Err(UsageError::Topology("drift")),
        Object::Destroy(_) => return Err(UsageError::Topology("destroy")),
        Object::Graph(_) => return Err(UsageError::Topology("graph")),
        Object::Confirm(_) => return Err(UsageError::Topology("confirm")),
        Object::Rollback(_) => return Err(UsageError::Topology("rollback")),
        Object::Commit(_) => return Err(UsageError::Topology("commit")),
    })
}

/// Namespaces are named by the verb's argument; `-n` has no meaning here and is ignored.
fn netns_action(verb: Option<NetnsVerb>) -> NetnsAction {
    match verb.unwrap_or(NetnsVerb::List) {
        NetnsVerb::Add { name } => NetnsAction::Create(CreateNamespaceRequest { name }),
        NetnsVerb::Del {
            name,
            ignore_missing,
        } => NetnsAction::Delete(DeleteNamespaceRequest {
            name,
            ignore_missing,
            force: false,
        }),
        NetnsVerb::List => NetnsAction::List,
    }
}

fn link_action(verb: Option<LinkVerb>, namespace: String) -> Result<LinkAction, UsageError> {
    let ns = namespace.as_str();
    Ok(
        match verb.unwrap_or(LinkVerb::List {
            words: Vec::new(),
            all_namespaces: false,
        }) {
            LinkVerb::Add { words } => {
                let request =
                    grammar::link::parse_add(&words).map_err(grammar_error("link add"))?;
                // A vxlan's `netns` names its namespace, as `-n` does: both may say the same.
                let request = match request.namespace.as_str() {
                    "" => request.in_namespace(ns),
                    given if ns.is_empty() || ns == given => request,
                    _ => {
                        return Err(grammar_error("link add")(GrammarError::Conflict {
                            first: "-n",
                            second: "netns",
                        }))
                    }
                };
                LinkAction::Create(request)
            }
            LinkVerb::Del {
                words,
                ignore_missing,
            } => LinkAction::Delete(DeleteLinkRequest {
                ignore_missing,
                ..grammar::link::parse_delete(&words)
                    .map_err(grammar_error("link del"))?
                    .in_namespace(ns)
            }),
            LinkVerb::Set { words } => LinkAction::Set(
                grammar::link::parse_set(&words)
                    .map_err(grammar_error("link set"))?
                    .in_namespace(ns),
            ),
            LinkVerb::List {
                words,
                all_namespaces,
            } => {
                match grammar::parse_optional_device(&words).map_err(grammar_error("link list"))? {
                    Some(name) if all_namespaces => {
                        return Err(UsageError::Grammar {
                            command: "link list",
                            source: GrammarError::Unsupported {
                                message: format!(
                                    "--all-namespaces lists every link; drop it to show \"{name}\""
                                ),
                            },
                        })
                    }
                    Some(name) => LinkAction::Get(GetLinkRequest { namespace, name }),
                    None => LinkAction::List(ListLinksRequest {
                        namespace,
                        all_namespaces,
                    }),
                }
            }
        },
    )
}

fn address_action(
    verb: Option<AddressVerb>,
    namespace: String,
    family: AddressFamily,
) -> Result<AddressAction, UsageError> {
    let ns = namespace.as_str();
    Ok(
        match verb.unwrap_or(AddressVerb::List { words: Vec::new() }) {
            AddressVerb::Add { words } => {
                let request =
                    grammar::address::parse_add(&words).map_err(grammar_error("address add"))?;
                AddressAction::Add(request.in_namespace(ns))
            }
            AddressVerb::Del {
                words,
                ignore_missing,
            } => {
                let request =
                    grammar::address::parse_delete(&words).map_err(grammar_error("address del"))?;
                AddressAction::Delete(DeleteAddressRequest {
                    ignore_missing,
                    ..request.in_namespace(ns)
                })
            }
            AddressVerb::List { words } => {
                let link = grammar::parse_optional_device(&words)
                    .map_err(grammar_error("address list"))?;
                AddressAction::List(ListAddressesRequest {
                    namespace,
                    link: link.unwrap_or_default(),
                    family: family.into(),
                })
            }
        },
    )
}

fn route_action(
    verb: Option<RouteVerb>,
    namespace: String,
    family: AddressFamily,
) -> Result<RouteAction, UsageError> {
    let spec = |words: &[String], command| {
        grammar::route::parse_spec(words, family)
            .map(Some)
            .map_err(grammar_error(command))
    };
    Ok(
        match verb.unwrap_or(RouteVerb::List { words: Vec::new() }) {
            RouteVerb::Add { words } => RouteAction::Add(AddRouteRequest {
                namespace,
                route: spec(&words, "route add")?,
            }),
            RouteVerb::Replace { words } => RouteAction::Replace(ReplaceRouteRequest {
                namespace,
                route: spec(&words, "route replace")?,
                force: false,
            }),
            RouteVerb::Del {
                words,
                ignore_missing,
            } => RouteAction::Delete(DeleteRouteRequest {
                namespace,
                route: spec(&words, "route del")?,
                ignore_missing,
                force: false,
            }),
            RouteVerb::List { words } => {
                let request = grammar::route::parse_list(&words, family)
                    .map_err(grammar_error("route list"))?;
                RouteAction::List(request.in_namespace(&namespace))
            }
        },
    )
}

/// `-I` is a source address when it parses as one, otherwise a link name, as with iputils.
fn ping_request(arguments: PingArgs, namespace: String) -> PingRequest {
    let (interface, source) = match arguments.interface {
        Some(value) if value.parse::<IpAddr>().is_ok() => (String::new(), value),
        Some(value) => (value, String::new()),
        None => (String::new(), String::new()),
    };
    PingRequest {
        namespace,
        target: arguments.target.to_string(),
        interface,
        source,
        count: arguments.count,
        interval_ms: arguments.interval.map_or(0, whole_milliseconds),
        timeout_ms: arguments.wait.map_or(0, whole_milliseconds),
        payload_size: arguments.size.unwrap_or(0),
    }
}

/// At least 1: 0 would mean "the agent's default" and silently turn `-i 0.0001` into one second.
fn whole_milliseconds(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis())
        .unwrap_or(u32::MAX)
        .max(1)
}

#[cfg(test)]
mod tests;
