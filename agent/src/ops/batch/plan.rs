//! Which operations of a batch must wait for which: a pure function of the operations' namespaces, so it
//! is tested without a kernel.

use std::collections::HashMap;

use crate::domain::NamespaceRef;

/// What an operation touches, for ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Footprint {
    /// Runs after every earlier operation that shares one of these namespaces, and before every later one.
    Namespaces(Vec<NamespaceRef>),
    /// Runs alone: after everything before it, before everything after it. For operations whose effects
    /// reach namespaces the request does not name (deleting a veth deletes its peer, wherever it is).
    Barrier,
}

/// For each operation, the earlier operations it waits for (directly; the rest follows transitively).
pub fn dependencies(footprints: &[Footprint]) -> Vec<Vec<usize>> {
    let mut last_in: HashMap<&NamespaceRef, usize> = HashMap::new();
    let mut last_barrier: Option<usize> = None;
    let mut since_barrier: Vec<usize> = Vec::new();
    let mut waits = Vec::with_capacity(footprints.len());
    for (index, footprint) in footprints.iter().enumerate() {
        let mut deps: Vec<usize> = Vec::new();
        match footprint {
            Footprint::Barrier => {
                deps.append(&mut since_barrier);
                deps.extend(last_barrier);
                last_in.clear();
                last_barrier = Some(index);
            }
            Footprint::Namespaces(namespaces) => {
                for namespace in namespaces {
                    // A veth with both ends in one namespace names it twice: the second insert returns
                    // this very operation, and waiting for oneself never ends.
                    if let Some(previous) = last_in
                        .insert(namespace, index)
                        .filter(|&previous| previous != index)
                    {
                        deps.push(previous);
                    }
                }
                deps.extend(last_barrier);
                since_barrier.push(index);
            }
        }
        deps.sort_unstable();
        deps.dedup();
        waits.push(deps);
    }
    waits
}

#[cfg(test)]
mod tests {
    use super::super::test_namespace as ns;
    use super::*;

    fn touching(names: &[&str]) -> Footprint {
        Footprint::Namespaces(
            names
                .iter()
                .map(|n| {
                    if n.is_empty() {
                        NamespaceRef::Host
                    } else {
                        ns(n)
                    }
                })
                .collect(),
        )
    }

    #[test]
    fn disjoint_namespaces_run_concurrently_shared_ones_in_order() {
        let plan = dependencies(&[
            touching(&["a"]),     // 0: netns add a
            touching(&["b"]),     // 1: netns add b
            touching(&["", "a"]), // 2: veth in host, peer in a
            touching(&["", "b"]), // 3: veth in host, peer in b
            touching(&["a"]),     // 4: addr in a
            touching(&["b"]),     // 5: addr in b
        ]);
        assert_eq!(
            plan,
            vec![vec![], vec![], vec![0], vec![1, 2], vec![2], vec![3]]
        );
    }

    #[test]
    fn a_barrier_waits_for_everything_and_everything_waits_for_it() {
        let plan = dependencies(&[
            touching(&["a"]),
            touching(&["b"]),
            Footprint::Barrier,
            touching(&["a"]),
            touching(&["c"]),
        ]);
        assert_eq!(plan, vec![vec![], vec![], vec![0, 1], vec![2], vec![2]]);
    }

    #[test]
    fn an_operation_naming_one_namespace_twice_never_waits_for_itself() {
        let plan = dependencies(&[touching(&[""]), touching(&["", ""]), touching(&["", ""])]);
        assert_eq!(plan, vec![vec![], vec![0], vec![1]]);
    }

    #[test]
    fn consecutive_barriers_chain() {
        let plan = dependencies(&[Footprint::Barrier, Footprint::Barrier, touching(&["a"])]);
        assert_eq!(plan, vec![vec![], vec![0], vec![1]]);
    }
}
