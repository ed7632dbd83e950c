//! What a [`PingParams`] must satisfy for the socket and the packets to work at all (sequence numbers,
//! payload sizes, one family, a name `SO_BINDTODEVICE` takes whole), checked by both halves of the API so
//! neither trusts the caller. What a request may ask for (limits, link-scoped targets, IPv4-mapped
//! targets) is the service's policy (`service/diagnostics.rs`).

use std::time::Duration;

use super::packet::Family;
use super::{PingError, PingParams};
use crate::domain::LinkName;

impl PingParams {
    /// Returns the wire family the run will use.
    pub(super) fn validate(&self) -> Result<Family, PingError> {
        let family = Family::of(self.target);
        let invalid = |reason: String| Err(PingError::InvalidParams { reason });

        if self.count == 0 || self.count > u32::from(u16::MAX) {
            return invalid(format!("count must be 1-{}, got {}", u16::MAX, self.count));
        }
        if self.interval == Duration::ZERO {
            return invalid("interval must not be zero".to_owned());
        }
        if self.payload_size > family.max_payload() {
            return invalid(format!(
                "payload size {} exceeds the {} bytes an {} echo request can carry",
                self.payload_size,
                family.max_payload(),
                family_name(family)
            ));
        }
        if let Some(interface) = &self.interface {
            validate_interface_name(interface)?;
        }
        if let Some(source) = self.source {
            if Family::of(source) != family {
                return invalid(format!(
                    "source {source} and target {} are of different families",
                    self.target
                ));
            }
        }
        Ok(family)
    }
}

/// The one link-name validator: `SO_BINDTODEVICE` silently cuts longer names, which could bind to a
/// different link.
fn validate_interface_name(name: &str) -> Result<(), PingError> {
    LinkName::parse("interface", name)
        .map(drop)
        .map_err(|e| PingError::InvalidParams {
            reason: format!("interface name {}", e.reason),
        })
}

fn family_name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    fn params(target: &str) -> PingParams {
        PingParams {
            target: target.parse().unwrap(),
            interface: None,
            source: None,
            count: 3,
            interval: Duration::from_millis(20),
            timeout: Duration::from_secs(1),
            payload_size: 56,
        }
    }

    fn reason(params: &PingParams) -> String {
        match params.validate() {
            Err(PingError::InvalidParams { reason }) => reason,
            other => panic!("expected InvalidParams, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_requests_pass_and_report_their_family() {
        assert_eq!(params("127.0.0.1").validate().unwrap(), Family::V4);
        assert_eq!(params("::1").validate().unwrap(), Family::V6);
        let mut scoped = params("fe80::1");
        scoped.interface = Some("veth0".to_owned());
        scoped.source = Some("fe80::2".parse().unwrap());
        assert_eq!(scoped.validate().unwrap(), Family::V6);
    }

    #[test]
    fn count_must_fit_a_sequence_number() {
        let mut p = params("127.0.0.1");
        p.count = 0;
        assert!(reason(&p).contains("count"));
        p.count = 65536;
        assert!(reason(&p).contains("count"));
        p.count = 65535;
        assert!(p.validate().is_ok());
    }

    #[test]
    fn zero_interval_is_rejected() {
        let mut p = params("127.0.0.1");
        p.interval = Duration::ZERO;
        assert!(reason(&p).contains("interval"));
    }

    #[test]
    fn payload_limit_depends_on_the_family() {
        let mut p = params("127.0.0.1");
        p.payload_size = 65508;
        assert!(reason(&p).contains("65507"));
        let mut p = params("::1");
        p.payload_size = 65508;
        assert!(p.validate().is_ok());
        p.payload_size = 65528;
        assert!(reason(&p).contains("65527"));
    }

    #[test]
    fn mixed_families_are_rejected() {
        let mut p = params("127.0.0.1");
        p.source = Some("::1".parse().unwrap());
        assert!(reason(&p).contains("different families"));
    }

    #[test]
    fn interface_names_the_kernel_would_mangle_are_rejected() {
        for bad in ["", "a-name-of-16-chr", "lo\0x"] {
            let mut p = params("127.0.0.1");
            p.interface = Some(bad.to_owned());
            assert!(reason(&p).contains("interface name"), "{bad:?}");
        }
        let mut p = params("127.0.0.1");
        p.interface = Some("exactly15bytes_".to_owned());
        assert!(p.validate().is_ok());
    }
}
