//! Outputs of one line per item: namespaces (`ip netns list`) and forwarding (as `sysctl` prints it).

use super::shown;
use nsfleet_proto::v1::{GetForwardingResponse, ListNamespacesResponse};

pub fn namespaces(response: &ListNamespacesResponse) -> String {
    response
        .namespaces
        .iter()
        .map(|namespace| format!("{}\n", shown(&namespace.name)))
        .collect()
}

pub fn forwarding(response: &GetForwardingResponse) -> String {
    format!(
        "net.ipv4.ip_forward = {}\nnet.ipv6.conf.all.forwarding = {}\n",
        u8::from(response.ipv4),
        u8::from(response.ipv6)
    )
}

#[cfg(test)]
mod tests {
    use nsfleet_proto::v1::Namespace;

    use super::*;

    #[test]
    fn namespace_names_one_per_line() {
        let response = ListNamespacesResponse {
            namespaces: vec![
                Namespace {
                    name: "netns1".into(),
                    inode: 4026532281,
                },
                Namespace {
                    name: "netns2".into(),
                    inode: 4026532345,
                },
            ],
        };
        assert_eq!(namespaces(&response), "netns1\nnetns2\n");
        assert_eq!(namespaces(&ListNamespacesResponse::default()), "");
    }

    #[test]
    fn forwarding_like_sysctl() {
        let text = forwarding(&GetForwardingResponse {
            ipv4: true,
            ipv6: false,
        });
        assert_eq!(
            text,
            "net.ipv4.ip_forward = 1\nnet.ipv6.conf.all.forwarding = 0\n"
        );
    }
}
