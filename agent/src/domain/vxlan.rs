//! The parameters of a VXLAN tunnel endpoint, checked whole before any of them reaches the kernel.

use std::net::IpAddr;

use super::{parse_ip, parse_optional_ip, Family, FieldError, LinkName};

/// IANA's VXLAN port; the kernel's own default (8472) predates the assignment.
pub const VXLAN_DEFAULT_PORT: u16 = 4789;

/// The largest VNI: the field is 24 bits wide.
pub const VXLAN_MAX_VNI: u32 = (1 << 24) - 1;

/// A VXLAN link's parameters, as wanted or as the kernel holds them. `remotes` is sorted and free of
/// duplicates, so two values compare equal when the tunnels are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VxlanParams {
    pub vni: u32,
    pub local: Option<IpAddr>,
    pub remotes: Vec<IpAddr>,
    pub port: u16,
    pub device: Option<LinkName>,
    pub learning: bool,
}

/// A VXLAN request as it arrives, fields still text.
#[derive(Debug, Clone, Copy)]
pub struct RawVxlan<'a> {
    pub vni: u32,
    pub local: &'a str,
    pub remotes: &'a [String],
    pub port: u32,
    pub device: &'a str,
    pub learning: Option<bool>,
}

impl VxlanParams {
    /// Checks a request; `prefix` is the field path of the spec ("vxlan").
    pub fn parse(prefix: &str, raw: RawVxlan<'_>) -> Result<Self, FieldError> {
        let field = |name: &str| format!("{prefix}.{name}");
        if raw.vni == 0 || raw.vni > VXLAN_MAX_VNI {
            return Err(FieldError::new(
                field("vni"),
                format!("{} is not a VNI: 1 to {VXLAN_MAX_VNI}", raw.vni),
            ));
        }
        let port = match raw.port {
            0 => VXLAN_DEFAULT_PORT,
            port => u16::try_from(port).map_err(|_| {
                FieldError::new(
                    field("port"),
                    format!("{port} is not a UDP port: 1 to 65535"),
                )
            })?,
        };
        let local = parse_optional_ip(&field("local"), raw.local)?;
        if let Some(local) = local {
            if local.is_unspecified() || local.is_multicast() {
                return Err(FieldError::new(
                    field("local"),
                    format!("{local} is not a unicast address"),
                ));
            }
        }
        let mut remotes = Vec::with_capacity(raw.remotes.len());
        for (i, text) in raw.remotes.iter().enumerate() {
            let name = field(&format!("remotes[{i}]"));
            let remote = parse_ip(&name, text)?;
            if remote.is_unspecified() || remote.is_multicast() {
                return Err(FieldError::new(
                    name,
                    format!(
                        "{remote} is not a unicast address (multicast groups are not supported)"
                    ),
                ));
            }
            let family = Family::of(&remote);
            let first = local.or(remotes.first().copied());
            if let Some(first) = first.filter(|f| Family::of(f) != family) {
                return Err(FieldError::new(
                    name,
                    format!(
                        "{remote} is not of the family of {first}: one tunnel carries one family"
                    ),
                ));
            }
            if Some(remote) == local {
                return Err(FieldError::new(
                    name,
                    format!("{remote} is the local address itself"),
                ));
            }
            if remotes.contains(&remote) {
                return Err(FieldError::new(name, format!("{remote} is listed twice")));
            }
            remotes.push(remote);
        }
        remotes.sort();
        let device = match raw.device {
            "" => None,
            device => Some(LinkName::parse(&field("device"), device)?),
        };
        Ok(Self {
            vni: raw.vni,
            local,
            remotes,
            port,
            device,
            learning: raw.learning.unwrap_or(true),
        })
    }

    /// The tunnel's family, where an address decides it.
    pub fn family(&self) -> Option<Family> {
        self.local
            .or(self.remotes.first().copied())
            .map(|a| Family::of(&a))
    }

    /// What differs from `wanted`, as "vni 42 (wanted 43)" phrases; empty if nothing does.
    pub fn differences(&self, wanted: &Self) -> Vec<String> {
        let mut out = Vec::new();
        let shown = |a: Option<String>| a.unwrap_or_else(|| "none".to_string());
        if self.vni != wanted.vni {
            out.push(format!("vni {} (wanted {})", self.vni, wanted.vni));
        }
        if self.local != wanted.local {
            out.push(format!(
                "local {} (wanted {})",
                shown(self.local.map(|a| a.to_string())),
                shown(wanted.local.map(|a| a.to_string()))
            ));
        }
        if self.remotes != wanted.remotes {
            out.push(format!(
                "remotes [{}] (wanted [{}])",
                join(&self.remotes),
                join(&wanted.remotes)
            ));
        }
        if self.port != wanted.port {
            out.push(format!("port {} (wanted {})", self.port, wanted.port));
        }
        if self.device != wanted.device {
            out.push(format!(
                "device {} (wanted {})",
                shown(self.device.as_ref().map(|d| d.to_string())),
                shown(wanted.device.as_ref().map(|d| d.to_string()))
            ));
        }
        if self.learning != wanted.learning {
            out.push(format!(
                "learning {} (wanted {})",
                self.learning, wanted.learning
            ));
        }
        out
    }
}

fn join(addresses: &[IpAddr]) -> String {
    addresses
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw<'a>(remotes: &'a [String]) -> RawVxlan<'a> {
        RawVxlan {
            vni: 42,
            local: "192.0.2.1",
            remotes,
            port: 0,
            device: "wire0",
            learning: None,
        }
    }

    fn refused(raw: RawVxlan<'_>) -> FieldError {
        VxlanParams::parse("vxlan", raw).expect_err("should be refused")
    }

    #[test]
    fn a_valid_spec_gets_the_iana_port_learning_and_sorted_remotes() {
        let remotes = ["192.0.2.9".to_string(), "192.0.2.2".to_string()];
        let params = VxlanParams::parse("vxlan", raw(&remotes)).expect("valid");
        assert_eq!(params.port, 4789);
        assert!(params.learning);
        assert_eq!(params.remotes[0].to_string(), "192.0.2.2");
        assert_eq!(params.family(), Some(Family::V4));
    }

    #[test]
    fn each_bad_field_is_named() {
        let none: [String; 0] = [];
        let cases: Vec<(RawVxlan<'_>, &str)> = vec![
            (
                RawVxlan {
                    vni: 0,
                    ..raw(&none)
                },
                "vxlan.vni",
            ),
            (
                RawVxlan {
                    vni: 1 << 24,
                    ..raw(&none)
                },
                "vxlan.vni",
            ),
            (
                RawVxlan {
                    port: 65536,
                    ..raw(&none)
                },
                "vxlan.port",
            ),
            (
                RawVxlan {
                    local: "192.0.2",
                    ..raw(&none)
                },
                "vxlan.local",
            ),
            (
                RawVxlan {
                    local: "239.1.1.1",
                    ..raw(&none)
                },
                "vxlan.local",
            ),
            (
                RawVxlan {
                    device: "a/b",
                    ..raw(&none)
                },
                "vxlan.device",
            ),
        ];
        for (raw, field) in cases {
            assert_eq!(refused(raw).field, field, "{raw:?}");
        }
        let mixed = ["2001:db8::2".to_string()];
        assert_eq!(refused(raw(&mixed)).field, "vxlan.remotes[0]");
        let multicast = ["239.1.1.1".to_string()];
        assert!(refused(raw(&multicast)).reason.contains("multicast"));
        let twice = ["192.0.2.2".to_string(), "192.0.2.2".to_string()];
        assert_eq!(refused(raw(&twice)).field, "vxlan.remotes[1]");
        let itself = ["192.0.2.1".to_string()];
        assert_eq!(refused(raw(&itself)).field, "vxlan.remotes[0]");
        let bad = ["nope".to_string()];
        assert_eq!(refused(raw(&bad)).field, "vxlan.remotes[0]");
    }

    #[test]
    fn differences_name_each_parameter() {
        let remotes = ["192.0.2.2".to_string()];
        let wanted = VxlanParams::parse("vxlan", raw(&remotes)).expect("valid");
        let mut other = wanted.clone();
        assert!(other.differences(&wanted).is_empty());
        other.vni = 43;
        other.port = 8472;
        let differences = other.differences(&wanted);
        assert_eq!(
            differences,
            vec!["vni 43 (wanted 42)", "port 8472 (wanted 4789)"]
        );
    }
}
