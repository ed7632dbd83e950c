//! What a host answered to plan, apply, drift and destroy, for people (`+ ~ - -/+` lines, coloured on
//! a terminal) and for programs (one JSON line per host).

use nsfleet_proto::v1::{ChangeAction, ObjectKind, ObjectRef, PlannedChange, Warning};

use crate::{
    failure::HostFailure,
    output::{
        json::{to_json, JsonError, ProtoMessage},
        line::JsonLine,
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
        Ok(result) => JsonLine::success(host, result).to_line(),
        Err(error) => failure_line(host, &json_failure(&error)),
    }
}

/// `{"host":…,"ok":false,"error":{"code":…,"message":…}}`.
pub fn failure_line(host: &str, failure: &HostFailure) -> String {
    JsonLine::failure(host, failure).to_line()
}

/// `nsfleet: host1: CODE: message` for stderr.
pub fn failure_text(host: &str, failure: &HostFailure) -> String {
    format!("nsfleet: {host}: {}\n", shown(&failure.to_string()))
}

fn json_failure(error: &JsonError) -> HostFailure {
    HostFailure::new(tonic::Code::Internal, error.to_string())
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1::PlanTopologyResponse;

    use super::*;
    use crate::topology::verbs::{Tally, EXIT_CHANGES, EXIT_FAILED, EXIT_SUCCESS};

    fn change(
        action: ChangeAction,
        kind: ObjectKind,
        namespace: &str,
        name: &str,
    ) -> PlannedChange {
        PlannedChange {
            action: action.into(),
            object: Some(ObjectRef {
                kind: kind.into(),
                namespace: namespace.into(),
                name: name.into(),
                link: String::new(),
            }),
            reason: "because".into(),
            operations: Vec::new(),
        }
    }

    #[test]
    fn colour_only_on_the_symbols_when_asked() {
        let changes = [
            change(ChangeAction::Create, ObjectKind::Namespace, "", "n1"),
            change(ChangeAction::Delete, ObjectKind::NatRule, "n1", "abc123"),
        ];
        let plain = changes_text("h: x", &changes, &[], Style::PLAIN);
        assert_eq!(
            plain,
            "h: x\n  + namespace n1: because\n  - nat rule abc123 in n1: because\n"
        );
        let coloured = changes_text("h: x", &changes, &[], Style { colour: true });
        assert_eq!(
            coloured,
            "h: x\n  \x1b[32m+\x1b[0m namespace n1: because\n  \x1b[31m-\x1b[0m nat rule abc123 in n1: because\n"
        );
    }

    #[test]
    fn labels_name_the_object_where_it_is() {
        let address = ObjectRef {
            kind: ObjectKind::Address.into(),
            namespace: "n1".into(),
            name: "172.20.0.11/16".into(),
            link: "ceth1".into(),
        };
        assert_eq!(
            object_label(Some(&address)),
            "address 172.20.0.11/16 on ceth1 in n1"
        );
        let forwarding = ObjectRef {
            kind: ObjectKind::Forwarding.into(),
            name: "ipv4".into(),
            ..ObjectRef::default()
        };
        assert_eq!(object_label(Some(&forwarding)), "forwarding ipv4");
        assert_eq!(object_label(None), "(no object)");
        // Text from the agent cannot break the line structure.
        let hostile = ObjectRef {
            kind: ObjectKind::Link.into(),
            name: "a\nb".into(),
            ..ObjectRef::default()
        };
        assert_eq!(object_label(Some(&hostile)), "link a\\nb");
    }

    #[test]
    fn summary_counts_each_action_in_a_fixed_order() {
        let changes = [
            change(ChangeAction::Delete, ObjectKind::Route, "", "default"),
            change(ChangeAction::Create, ObjectKind::Link, "", "a"),
            change(ChangeAction::Create, ObjectKind::Link, "", "b"),
            change(ChangeAction::Replace, ObjectKind::Link, "", "c"),
        ];
        assert_eq!(summary(&changes), "2 to create, 1 to replace, 1 to delete");
        assert_eq!(plan_header("h", &[]), "h: no changes");
    }

    #[test]
    fn json_lines_carry_the_response_with_the_api_mapping() {
        let response = PlanTopologyResponse {
            changes: vec![change(ChangeAction::Replace, ObjectKind::Link, "n1", "c1")],
            fingerprint: "f".into(),
            warnings: Vec::new(),
        };
        let line: serde_json::Value =
            serde_json::from_str(&success_line("host1", &response)).unwrap();
        assert_eq!(line["host"], "host1");
        assert_eq!(line["ok"], true);
        assert_eq!(line["result"]["changes"][0]["action"], "replace");
        assert_eq!(line["result"]["changes"][0]["object"]["kind"], "link");
        assert_eq!(line["result"]["fingerprint"], "f");
        let failure = HostFailure::new(tonic::Code::FailedPrecondition, "host changed");
        assert_eq!(
            failure_line("host2", &failure),
            "{\"host\":\"host2\",\"ok\":false,\"error\":{\"code\":\"FAILED_PRECONDITION\",\"message\":\"host changed\"}}\n"
        );
    }

    #[test]
    fn exit_status_error_beats_changes_and_changes_count_only_when_asked() {
        let failure = HostFailure::new(tonic::Code::Unavailable, "down");
        let mut tally = Tally::default();
        tally.count(Ok(false));
        assert_eq!(tally.status(true), EXIT_SUCCESS);
        tally.count(Ok(true));
        assert_eq!(tally.status(false), EXIT_SUCCESS);
        assert_eq!(tally.status(true), EXIT_CHANGES);
        tally.count(Err(&failure));
        assert_eq!(tally.status(true), EXIT_FAILED);
    }
}
