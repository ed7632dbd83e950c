//! `neigh show [dev DEV]`.

use nsfleet_proto::v1::{AddressFamily, ListNeighborsRequest};

use super::{parse_optional_device, GrammarError};

pub fn parse_list(
    words: &[String],
    family: AddressFamily,
) -> Result<ListNeighborsRequest, GrammarError> {
    let link = parse_optional_device(words)?.unwrap_or_default();
    Ok(ListNeighborsRequest {
        namespace: String::new(),
        link,
        family: family.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_device() {
        let all = parse_list(&[], AddressFamily::Unspecified).unwrap();
        assert_eq!(all.link, "");
        let words = vec!["dev".to_owned(), "br0".to_owned()];
        let one = parse_list(&words, AddressFamily::Ipv4).unwrap();
        assert_eq!(
            (one.link.as_str(), one.family()),
            ("br0", AddressFamily::Ipv4)
        );
        assert!(parse_list(
            &["proxy".to_owned(), "x".to_owned()],
            AddressFamily::Unspecified
        )
        .is_err());
    }
}
