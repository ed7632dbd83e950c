//! What a host answered to plan, apply, drift and destroy, for people (`+ ~ - -/+` lines, coloured on
//! a terminal) and for programs (one JSON line per host).

use nsfleet_proto::v1::{ChangeAction, ObjectKind, ObjectRef, PlannedChange, Warning};
use serde_json::{json, Value};

use crate::{
    failure::HostFailure,
    output::{
        json::{to_json, JsonError, ProtoMessage},
        text::shown,
    },
};

/// Whether to colour the change symbols: only for a person at a terminal who did not ask otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    pub fn for_stdout() -> Self {
        use std::io::IsTerminal;
        Self {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub const PLAIN: Self = Self { colour: false };

    fn paint(self, symbol: &str, action: ChangeAction) -> String {
        if !self.colour {
            return symbol.to_owned();
        }
        let code = match action {
            ChangeAction::Create => "32",
            ChangeAction::Update => "33",
            ChangeAction::Delete => "31",
            ChangeAction::Replace => "35",
            ChangeAction::Unspecified => "0",
        };
        format!("\x1b[{code}m{symbol}\x1b[0m")
    }
}

pub fn symbol(action: ChangeAction) -> &'static str {
    match action {
        ChangeAction::Create => "+",
        ChangeAction::Update => "~",
        ChangeAction::Delete => "-",
        ChangeAction::Replace => "-/+",
        ChangeAction::Unspecified => "?",
    }
}

/// `link ceth1 in netns1`, `address 172.20.0.10/16 on br0`, `route default in netns2`, ...
pub fn object_label(object: Option<&ObjectRef>) -> String {
    let Some(object) = object else {
        return "(no object)".to_owned();
    };
    let name = shown(&object.name);
    let mut label = match ObjectKind::try_from(object.kind).unwrap_or_default() {
        ObjectKind::Namespace => format!("namespace {name}"),
        ObjectKind::Link => format!("link {name}"),
        ObjectKind::Address if object.link.is_empty() => format!("address {name}"),
        ObjectKind::Address => format!("address {name} on {}", shown(&object.link)),
        ObjectKind::Route => format!("route {name}"),
        ObjectKind::Forwarding => format!("forwarding {name}"),
        ObjectKind::NatRule => format!("nat rule {name}"),
        ObjectKind::Unspecified => format!("object {name}"),
    };
    if !object.namespace.is_empty() {
        label.push_str(&format!(" in {}", shown(&object.namespace)));
    }
    label
}

/// `header` then one line per change and per warning.
pub fn changes_text(
    header: &str,
    changes: &[PlannedChange],
    warnings: &[Warning],
    style: Style,
) -> String {
    let mut text = format!("{header}\n");
    for change in changes {
        let action = ChangeAction::try_from(change.action).unwrap_or_default();
        text.push_str(&format!(
            "  {} {}",
            style.paint(symbol(action), action),
            object_label(change.object.as_ref())
        ));
        if !change.reason.is_empty() {
            text.push_str(&format!(": {}", shown(&change.reason)));
        }
        text.push('\n');
    }
    for warning in warnings {
        text.push_str(&format!("  warning: {}", shown(&warning.message)));
        if !warning.fix.is_empty() {
            text.push_str(&format!(" (fix: {})", shown(&warning.fix)));
        }
        text.push('\n');
    }
    text
}

/// `host1: 2 to create, 1 to delete`, or `host1: no changes`.
pub fn plan_header(host: &str, changes: &[PlannedChange]) -> String {
    if changes.is_empty() {
        format!("{host}: no changes")
    } else {
        format!("{host}: {}", summary(changes))
    }
}

/// `2 to create, 1 to change, 1 to replace, 3 to delete`, leaving out the kinds with none.
pub fn summary(changes: &[PlannedChange]) -> String {
    let count = |wanted: ChangeAction| {
        changes
            .iter()
            .filter(|change| change.action == wanted as i32)
            .count()
    };
    let parts: Vec<String> = [
        (ChangeAction::Create, "to create"),
        (ChangeAction::Update, "to change"),
        (ChangeAction::Replace, "to replace"),
        (ChangeAction::Delete, "to delete"),
    ]
    .into_iter()
    .filter_map(|(action, words)| match count(action) {
        0 => None,
        n => Some(format!("{n} {words}")),
    })
    .collect();
    if parts.is_empty() {
        format!("{} changes", changes.len())
    } else {
        parts.join(", ")
    }
}

/// `{"host":…,"ok":true,"result":{…}}`, the response with the API's JSON mapping.
pub fn success_line<M: ProtoMessage>(host: &str, response: &M) -> String {
    match to_json(response) {
        Ok(result) => line(json!({"host": host, "ok": true, "result": result})),
        Err(error) => failure_line(host, &json_failure(&error)),
    }
}

/// `{"host":…,"ok":false,"error":{"code":…,"message":…}}`.
pub fn failure_line(host: &str, failure: &HostFailure) -> String {
    line(json!({"host": host, "ok": false,
                "error": {"code": failure.code_name(), "message": failure.message}}))
}

/// `nsfleet: host1: CODE: message` for stderr.
pub fn failure_text(host: &str, failure: &HostFailure) -> String {
    format!("nsfleet: {host}: {}\n", shown(&failure.to_string()))
}

fn json_failure(error: &JsonError) -> HostFailure {
    HostFailure::new(tonic::Code::Internal, error.to_string())
}

fn line(value: Value) -> String {
    format!("{value}\n")
}
