//! `nsfleet batch FILE|-`: a file of nsfleet command lines (without the leading `nsfleet`) turned into
//! one `ApplyBatchRequest`.
//!
//! Each line goes through the same clap definition and keyword parsers as a command line, so a batch
//! line means exactly what the same words mean after `nsfleet`; there is no second grammar. What the
//! line parsers give is then narrowed to the changes `BatchOperation` can carry. `-n`, `-4`/`-6` and
//! `--force` given to `nsfleet batch` are every line's defaults, so a file written for one namespace
//! does not have to repeat it.

mod line;

use std::io::Read;

use clap::{parser::ValueSource, CommandFactory, FromArgMatches};
use nsfleet_proto::v1::{batch_operation::Operation, BatchOperation};

use crate::{
    cli::{BatchArgs, Cli, Object},
    commands::{
        address::AddressAction, batch::BatchAction, forwarding::ForwardingAction, link::LinkAction,
        nat::NatAction, netns::NetnsAction, route::RouteAction, Action,
    },
    plan::{self, RequestOptions, UsageError},
};

pub use line::split_words;

/// What is wrong with a batch file; always a usage error (exit status 2), found before any host is
/// contacted.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot read {source_name}: {error}")]
    Read {
        source_name: String,
        error: std::io::Error,
    },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("line {line}: {source}")]
    Command {
        line: usize,
        #[source]
        source: Box<UsageError>,
    },
    #[error("{0} contains no command")]
    Empty(String),
}

impl ScriptError {
    /// Where to read the grammar of the line that went wrong.
    pub fn help_hint(&self) -> Option<String> {
        match self {
            ScriptError::Command { source, .. } => source.help_hint(),
            _ => Some("nsfleet batch --help".to_owned()),
        }
    }
}

/// Reads the file (or stdin for `-`) and parses every line, with `defaults` for what a line leaves out.
pub(crate) fn load(
    arguments: BatchArgs,
    defaults: &RequestOptions,
) -> Result<BatchAction, ScriptError> {
    let text = read_source(&arguments.file)?;
    let script = parse(&text, defaults)?;
    if script.operations.is_empty() {
        return Err(ScriptError::Empty(describe_source(&arguments.file)));
    }
    Ok(BatchAction::new(script, arguments.keep_going))
}

fn describe_source(file: &str) -> String {
    if file == "-" {
        "standard input".to_owned()
    } else {
        file.to_owned()
    }
}

fn read_source(file: &str) -> Result<String, ScriptError> {
    let read_error = |error| ScriptError::Read {
        source_name: describe_source(file),
        error,
    };
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(read_error)?;
        Ok(text)
    } else {
        std::fs::read_to_string(file).map_err(read_error)
    }
}

/// The operations of a batch, each with the line (from 1) it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub operations: Vec<BatchOperation>,
    /// `lines[i]` is the line of `operations[i]`, and of the result with `index` i.
    pub lines: Vec<usize>,
}

/// Parses every line; the first bad one is the error.
pub(crate) fn parse(text: &str, defaults: &RequestOptions) -> Result<Script, ScriptError> {
    // Built once: constructing clap's command tree costs far more than parsing one short line with it.
    let mut command = Cli::command().no_binary_name(true);
    let mut script = Script::default();
    for (offset, text) in text.lines().enumerate() {
        let line = offset + 1;
        let words = split_words(text).map_err(|message| ScriptError::Line { line, message })?;
        if words.is_empty() {
            continue;
        }
        let operation =
            parse_line(&mut command, &words, defaults).map_err(|error| match error {
                LineError::Usage(source) => ScriptError::Command {
                    line,
                    source: Box::new(source),
                },
                LineError::Other(message) => ScriptError::Line { line, message },
            })?;
        script.operations.push(BatchOperation {
            operation: Some(operation),
        });
        script.lines.push(line);
    }
    Ok(script)
}

enum LineError {
    Usage(UsageError),
    Other(String),
}

/// Options of the `nsfleet batch` invocation itself, which a line may not override.
const INVOCATION_OPTIONS: [(&str, &str); 3] = [
    ("hosts", "--host"),
    ("output", "-o/--output"),
    ("timeout", "--timeout"),
];

fn parse_line(
    command: &mut clap::Command,
    words: &[String],
    defaults: &RequestOptions,
) -> Result<Operation, LineError> {
    let matches = command
        .try_get_matches_from_mut(words)
        .map_err(|error| LineError::Other(clap_message(&error)))?;
    for (id, flag) in INVOCATION_OPTIONS {
        if matches.value_source(id) == Some(ValueSource::CommandLine) {
            return Err(LineError::Other(format!(
                "{flag} belongs to the batch command, not to a line (nsfleet {flag} ... batch FILE)"
            )));
        }
    }
    let cli =
        Cli::from_arg_matches(&matches).map_err(|error| LineError::Other(clap_message(&error)))?;
    if let Object::Batch(_) = cli.object {
        return Err(LineError::Other("a batch cannot contain batch".to_owned()));
    }
    let options = RequestOptions::of(&cli.global).within(defaults);
    let action = plan::action(cli.object, &options).map_err(LineError::Usage)?;
    to_operation(action).map_err(|what| {
        LineError::Other(format!(
            "{what} is not a change: only changes can be batched (run listings and ping on their own)"
        ))
    })
}

/// clap's first line, without its "error: " prefix (the rest is usage text for a whole command line).
fn clap_message(error: &clap::Error) -> String {
    use clap::error::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return "help and version cannot be asked for inside a batch; try nsfleet COMMAND --help"
            .to_owned();
    }
    let rendered = error.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

/// The change an action makes, or the name of the query it is.
fn to_operation(action: Action) -> Result<Operation, &'static str> {
    Ok(match action {
        Action::Netns(NetnsAction::Create(request)) => Operation::CreateNamespace(request),
        Action::Netns(NetnsAction::Delete(request)) => Operation::DeleteNamespace(request),
        Action::Netns(NetnsAction::List) => return Err("netns list"),
        Action::Link(LinkAction::Create(request)) => Operation::CreateLink(request),
        Action::Link(LinkAction::Delete(request)) => Operation::DeleteLink(request),
        Action::Link(LinkAction::Set(request)) => Operation::SetLink(request),
        Action::Link(LinkAction::List(_) | LinkAction::Get(_)) => return Err("link list"),
        Action::Address(AddressAction::Add(request)) => Operation::AddAddress(request),
        Action::Address(AddressAction::Delete(request)) => Operation::DeleteAddress(request),
        Action::Address(AddressAction::List(_)) => return Err("address list"),
        Action::Route(RouteAction::Add(request)) => Operation::AddRoute(request),
        Action::Route(RouteAction::Replace(request)) => Operation::ReplaceRoute(request),
        Action::Route(RouteAction::Delete(request)) => Operation::DeleteRoute(request),
        Action::Route(RouteAction::List(_)) => return Err("route list"),
        Action::Forwarding(ForwardingAction::Set(request)) => Operation::SetForwarding(request),
        Action::Forwarding(ForwardingAction::Get(_)) => return Err("forwarding show"),
        Action::Nat(NatAction::Add(request)) => Operation::AddNatRule(request),
        Action::Nat(NatAction::Delete(request)) => Operation::DeleteNatRule(request),
        Action::Nat(NatAction::List(_)) => return Err("nat list"),
        Action::Neighbor(_) => return Err("neighbour list"),
        Action::Ping(_) => return Err("ping"),
        Action::Batch(_) => return Err("batch"),
    })
}

#[cfg(test)]
mod tests;
