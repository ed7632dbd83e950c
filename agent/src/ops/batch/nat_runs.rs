//! Which NAT changes of a batch go to nftables together: a pure function, so it is tested without a
//! kernel. Each `nft` run costs milliseconds; a run of rules in one transaction costs about one.

/// For each operation, the first index of the run it belongs to, or `None` when it runs alone. `keys`
/// holds what may group each NAT change (its kind and namespace), `None` for every other operation. A
/// run is two or more consecutive changes with equal keys: consecutive, so the batch's order is kept
/// exactly (nothing else can fall between them), of one kind, and in one namespace, because one `nft`
/// transaction acts in one.
pub fn leaders<K: PartialEq>(keys: &[Option<K>]) -> Vec<Option<usize>> {
    let mut leaders = vec![None; keys.len()];
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        if let Some(key) = &keys[start] {
            while end < keys.len() && keys[end].as_ref() == Some(key) {
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
    use crate::domain::NamespaceRef;
    use crate::ops::NatRunKey;

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
    fn additions_and_deletions_never_share_a_run() {
        let a = ns("a");
        let keys = [
            Some(NatRunKey::Add(&a)),
            Some(NatRunKey::Add(&a)),
            Some(NatRunKey::Delete(&a)),
            Some(NatRunKey::Delete(&a)),
            Some(NatRunKey::Delete(&a)),
            Some(NatRunKey::Add(&a)),
        ];
        assert_eq!(
            leaders(&keys),
            vec![Some(0), Some(0), Some(2), Some(2), Some(2), None]
        );
    }

    #[test]
    fn nothing_to_group_in_an_empty_or_nat_free_batch() {
        assert!(leaders::<&NamespaceRef>(&[]).is_empty());
        assert_eq!(leaders::<&NamespaceRef>(&[None, None]), vec![None, None]);
    }
}
