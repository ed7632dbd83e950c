//! iproute2-style text for each outcome. Every renderer returns whole lines, each ending in '\n'; a
//! mutation renders as nothing, as `ip` prints nothing on success.

pub mod address;
pub mod batch;
pub mod link;
pub mod nat;
pub mod neighbor;
pub mod ping;
pub mod route;
mod simple;

use nsfleet_proto::v1::Scope;

use crate::commands::Outcome;

pub fn render(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Mutation(_) | Outcome::Batch(_) => String::new(),
        Outcome::Namespaces(response) => simple::namespaces(response),
        Outcome::Links(listing) => link::render(listing),
        Outcome::Addresses(listing) => address::render(listing),
        Outcome::Routes(response) => route::render(response),
        Outcome::Forwarding(response) => simple::forwarding(response),
        Outcome::Neighbors(response) => neighbor::render(response),
        Outcome::NatRules(response) => nat::render(response),
        Outcome::Ping(run) => ping::render(run),
    }
}

/// Scope as `ip` names it; None for an unspecified scope, which is left out of the line.
fn scope_name(scope: Scope) -> Option<&'static str> {
    match scope {
        Scope::Unspecified => None,
        Scope::Global => Some("global"),
        Scope::Site => Some("site"),
        Scope::Link => Some("link"),
        Scope::Host => Some("host"),
        Scope::Nowhere => Some("nowhere"),
    }
}

/// A name or other text from an agent, as it may be printed on a terminal. Names made behind nsfleet's
/// back (with `ip`) can hold a newline (one name looks like two lines), an escape sequence (it recolours
/// or rewrites the screen) or an invisible character (two names look alike). Those are written as
/// `\u{…}` (`\n`, `\t`, `\r` as themselves), and a backslash as `\\`, so every escaped text reads back
/// unambiguously. Escaped: Unicode Cc, Cf, Zl and Zp (what the agent refuses in names), and every
/// whitespace character other than the ASCII space, which `ip` output never shows either.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    c == '\\' || c.is_control() || (c.is_whitespace() && c != ' ') || is_format(c)
}

/// Unicode general category Cf (format characters: zero-width, bidirectional controls, tags), Unicode 16.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod shown_tests {
    use super::shown;

    #[test]
    fn printable_names_are_unchanged() {
        for name in ["veth1", "br0", "a b", "ünïcode", "中文"] {
            assert_eq!(shown(name), name);
        }
    }

    #[test]
    fn what_fools_a_terminal_is_escaped() {
        assert_eq!(shown("one\ntwo"), "one\\ntwo");
        assert_eq!(shown("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(shown("net\u{200b}ns"), "net\\u{200b}ns");
        assert_eq!(shown("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(shown("a\u{2028}b"), "a\\u{2028}b");
        assert_eq!(shown("a\u{a0}b"), "a\\u{a0}b");
        assert_eq!(shown("a\\u{1b}"), "a\\\\u{1b}");
    }
}
