//! Which hosts change together. Pure, so the order of a rollout is decided before any host is touched.

use std::collections::HashMap;

/// Splits `hosts` (file order) into stages: first the canary (the first `canary` hosts, or fewer), then
/// stages of at most `max_unavailable` hosts. Hosts of one group (both ends of an overlay) always land
/// in the same stage, which may then hold more than `max_unavailable`: splitting them would leave an
/// overlay half changed. A group joins the stage of its first member in file order.
pub fn plan_stages(
    hosts: &[String],
    groups: &[Vec<String>],
    canary: Option<usize>,
    max_unavailable: Option<usize>,
) -> Vec<Vec<String>> {
    let group_of = group_index(hosts, groups);
    // Units: a host alone, or a whole group at the place of its first member.
    let mut units: Vec<Vec<String>> = Vec::new();
    let mut unit_of_group: HashMap<usize, usize> = HashMap::new();
    for host in hosts {
        match group_of.get(host.as_str()) {
            Some(group) => match unit_of_group.get(group) {
                Some(unit) => units[*unit].push(host.clone()),
                None => {
                    unit_of_group.insert(*group, units.len());
                    units.push(vec![host.clone()]);
                }
            },
            None => units.push(vec![host.clone()]),
        }
    }
    let mut stages = Vec::new();
    let mut rest = units.into_iter().peekable();
    if let Some(canary) = canary {
        stages.push(fill(&mut rest, canary.max(1)));
    }
    let size = max_unavailable.unwrap_or(usize::MAX).max(1);
    while rest.peek().is_some() {
        stages.push(fill(&mut rest, size));
    }
    stages.retain(|stage| !stage.is_empty());
    stages
}

/// Takes whole units while the stage has room; a stage always takes at least one unit.
fn fill(
    units: &mut std::iter::Peekable<impl Iterator<Item = Vec<String>>>,
    size: usize,
) -> Vec<String> {
    let mut stage: Vec<String> = Vec::new();
    while let Some(unit) = units.peek() {
        if !stage.is_empty() && stage.len() + unit.len() > size {
            break;
        }
        if let Some(unit) = units.next() {
            stage.extend(unit);
        }
    }
    stage
}

/// Each host's group, groups that share a host merged (an overlay chain joins them all).
fn group_index<'h>(hosts: &'h [String], groups: &[Vec<String>]) -> HashMap<&'h str, usize> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (number, group) in groups.iter().enumerate() {
        let joined: Vec<usize> = group
            .iter()
            .filter_map(|host| index.get(host.as_str()).copied())
            .collect();
        for value in index.values_mut() {
            if joined.contains(value) {
                *value = number;
            }
        }
        for host in hosts.iter().filter(|host| group.contains(host)) {
            index.insert(host.as_str(), number);
        }
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    fn stages(
        hosts: &str,
        groups: &[&str],
        canary: Option<usize>,
        max: Option<usize>,
    ) -> Vec<String> {
        let groups: Vec<Vec<String>> = groups.iter().map(|group| names(group)).collect();
        plan_stages(&names(hosts), &groups, canary, max)
            .iter()
            .map(|stage| stage.join(" "))
            .collect()
    }

    #[test]
    fn without_limits_every_host_is_one_stage() {
        assert_eq!(stages("a b c", &[], None, None), ["a b c"]);
        assert!(stages("", &[], Some(1), Some(2)).is_empty());
    }

    #[test]
    fn the_canary_goes_first_then_stages_of_max_unavailable() {
        assert_eq!(
            stages("a b c d e", &[], Some(1), Some(2)),
            ["a", "b c", "d e"]
        );
        assert_eq!(stages("a b c d", &[], Some(2), None), ["a b", "c d"]);
        assert_eq!(stages("a b c", &[], None, Some(2)), ["a b", "c"]);
        // A canary larger than the fleet is the whole fleet, and nothing follows it.
        assert_eq!(stages("a b", &[], Some(5), Some(1)), ["a b"]);
    }

    #[test]
    fn a_group_lands_whole_in_the_stage_of_its_first_member() {
        // b and d are the ends of one overlay: the canary b takes d with it.
        assert_eq!(
            stages("a b c d e", &["b d"], Some(1), Some(1)),
            ["a", "b d", "c", "e"]
        );
        assert_eq!(
            stages("a b c d", &["a c"], Some(1), Some(2)),
            ["a c", "b d"]
        );
        // A group larger than max_unavailable is not split.
        assert_eq!(stages("a b c d", &["a b c"], None, Some(2)), ["a b c", "d"]);
    }

    #[test]
    fn groups_sharing_a_host_are_one() {
        assert_eq!(
            stages("a b c d e", &["a c", "c e"], None, Some(1)),
            ["a c e", "b", "d"]
        );
    }

    #[test]
    fn names_not_in_the_file_are_ignored() {
        assert_eq!(stages("a b", &["b zz"], None, Some(1)), ["a", "b"]);
    }
}
