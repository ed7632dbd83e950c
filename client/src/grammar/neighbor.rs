//! `neigh show [[dev] DEV] [nud all|STATE]...`.

use nsfleet_proto::v1::{AddressFamily, ListNeighborsRequest, NeighborState};

use super::{set_once, GrammarError, Words};

/// Which entries a listing shows. The agent lists the whole table; like `ip neigh`, the CLI hides the
/// entries that take no part in address resolution (NOARP: multicast and the like; NONE) unless `nud`
/// asks for them. Filtering here keeps the API a plain listing that other clients filter as they like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateFilter {
    /// What `ip neigh show` shows: everything but NOARP and NONE.
    Resolving,
    All,
    /// `nud STATE`, repeatable.
    Only(Vec<NeighborState>),
}

impl StateFilter {
    pub fn shows(&self, state: NeighborState) -> bool {
        match self {
            StateFilter::Resolving => !matches!(state, NeighborState::Noarp | NeighborState::None),
            StateFilter::All => true,
            StateFilter::Only(states) => states.contains(&state),
        }
    }
}

pub fn parse_list(
    words: &[String],
    family: AddressFamily,
) -> Result<(ListNeighborsRequest, StateFilter), GrammarError> {
    let mut cursor = Words::new(words);
    let mut link = None;
    let mut filter = StateFilter::Resolving;
    while let Some(word) = cursor.next() {
        match word {
            "dev" => set_once(&mut link, "dev", cursor.value("dev")?.to_owned())?,
            "nud" => {
                let state = cursor.value("nud")?;
                filter = match (filter, parse_state(state)?) {
                    (StateFilter::All, _) | (_, None) => StateFilter::All,
                    (StateFilter::Only(mut states), Some(state)) => {
                        states.push(state);
                        StateFilter::Only(states)
                    }
                    (StateFilter::Resolving, Some(state)) => StateFilter::Only(vec![state]),
                };
            }
            name if link.is_none() => link = Some(name.to_owned()),
            other => {
                return Err(GrammarError::UnexpectedWord {
                    word: other.to_owned(),
                    expected: "nud",
                })
            }
        }
    }
    let request = ListNeighborsRequest {
        namespace: String::new(),
        link: link.unwrap_or_default(),
        family: family.into(),
    };
    Ok((request, filter))
}

/// A state as `ip neigh` spells it; `None` for `all`.
fn parse_state(word: &str) -> Result<Option<NeighborState>, GrammarError> {
    Ok(Some(match word {
        "all" => return Ok(None),
        "permanent" => NeighborState::Permanent,
        "reachable" => NeighborState::Reachable,
        "stale" => NeighborState::Stale,
        "delay" => NeighborState::Delay,
        "probe" => NeighborState::Probe,
        "failed" => NeighborState::Failed,
        "incomplete" => NeighborState::Incomplete,
        "noarp" => NeighborState::Noarp,
        "none" => NeighborState::None,
        _ => {
            return Err(GrammarError::InvalidValue {
                keyword: "nud",
                what: "state",
                value: word.to_owned(),
                reason: "expected all, permanent, reachable, stale, delay, probe, failed, \
                         incomplete, noarp or none"
                    .to_owned(),
            })
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn optional_device() {
        let (all, _) = parse_list(&[], AddressFamily::Unspecified).unwrap();
        assert_eq!(all.link, "");
        let (one, _) = parse_list(&words("dev br0"), AddressFamily::Ipv4).unwrap();
        assert_eq!(
            (one.link.as_str(), one.family()),
            ("br0", AddressFamily::Ipv4)
        );
        let (bare, _) = parse_list(&words("br0"), AddressFamily::Unspecified).unwrap();
        assert_eq!(bare.link, "br0");
        assert!(parse_list(&words("proxy x"), AddressFamily::Unspecified).is_err());
        assert!(parse_list(&words("dev a dev b"), AddressFamily::Unspecified).is_err());
    }

    #[test]
    fn noarp_and_none_are_hidden_unless_asked_for() {
        let (_, default) = parse_list(&[], AddressFamily::Unspecified).unwrap();
        assert!(!default.shows(NeighborState::Noarp));
        assert!(!default.shows(NeighborState::None));
        assert!(default.shows(NeighborState::Permanent));
        assert!(default.shows(NeighborState::Reachable));
        assert!(default.shows(NeighborState::Failed));
        let (_, all) = parse_list(&words("dev br0 nud all"), AddressFamily::Unspecified).unwrap();
        assert!(all.shows(NeighborState::Noarp) && all.shows(NeighborState::None));
        let (_, some) =
            parse_list(&words("nud noarp nud stale"), AddressFamily::Unspecified).unwrap();
        assert!(some.shows(NeighborState::Noarp) && some.shows(NeighborState::Stale));
        assert!(!some.shows(NeighborState::Reachable));
        let error = parse_list(&words("nud sleepy"), AddressFamily::Unspecified).unwrap_err();
        assert!(error
            .to_string()
            .starts_with("invalid state \"sleepy\" after \"nud\""));
    }
}
