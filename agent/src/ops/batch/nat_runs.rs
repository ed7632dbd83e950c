//! Which NAT additions of a batch go to nftables together: a pure function, so it is tested without a
//! kernel. Each `nft` run costs milliseconds; a run of rules in one transaction costs about one.

use crate::domain::NamespaceRef;

/// For each operation, the first index of the run it belongs to, or `None` when it runs alone. `keys`
/// holds the namespace of each NAT addition, `None` for every other operation. A run is two or more
/// consecutive additions to one namespace: consecutive, so the batch's order is kept exactly (nothing
/// else can fall between them), and in one namespace, because one `nft` transaction acts in one.
pub fn leaders(keys: &[Option<&NamespaceRef>]) -> Vec<Option<usize>> {
    let mut leaders = vec![None; keys.len()];
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        if let Some(namespace) = keys[start] {
            while end < keys.len() && keys[end] == Some(namespace) {
                end += 1;
            }
            if end - start > 1 {
                leaders[start..end].fill(Some(start));
            }
        }
        start = end;
    }
    leaders
}

#[cfg(test)]
mod tests {
    use super::super::test_namespace as ns;
    use super::*;

    #[test]
    fn consecutive_additions_to_one_namespace_form_a_run() {
        let (a, b) = (ns("a"), ns("b"));
        let host = NamespaceRef::Host;
        let keys = [
            Some(&a),
            Some(&a),
            Some(&a),
            None,
            Some(&a),
            Some(&b),
            Some(&b),
            Some(&host),
            None,
        ];
        assert_eq!(
            leaders(&keys),
            vec![
                Some(0),
                Some(0),
                Some(0),
                None,
                None,
                Some(5),
                Some(5),
                None,
                None
            ]
        );
    }

    #[test]
    fn nothing_to_group_in_an_empty_or_nat_free_batch() {
        assert!(leaders(&[]).is_empty());
        assert_eq!(leaders(&[None, None]), vec![None, None]);
    }
}
