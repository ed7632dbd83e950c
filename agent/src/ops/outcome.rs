/// What a mutation did: its result, whether the kernel's state changed, and problems the kernel accepted.
#[derive(Debug)]
pub struct Outcome<T> {
    pub value: T,
    pub changed: bool,
    pub warnings: Vec<Warning>,
}

impl<T> Outcome<T> {
    pub fn changed(value: T) -> Self {
        Self {
            value,
            changed: true,
            warnings: Vec::new(),
        }
    }

    pub fn unchanged(value: T) -> Self {
        Self {
            value,
            changed: false,
            warnings: Vec::new(),
        }
    }

    pub fn with_warnings(mut self, warnings: Vec<Warning>) -> Self {
        self.warnings.extend(warnings);
        self
    }

    /// Warnings worked out after the change was applied. They are advice about a change already made:
    /// failing to work them out must not report the change as failed (the caller would see a failure
    /// while the host has changed), so the failure becomes a warning of its own.
    pub fn with_checked_warnings(self, warnings: Result<Vec<Warning>, super::OpError>) -> Self {
        match warnings {
            Ok(warnings) => self.with_warnings(warnings),
            Err(error) => self.with_warnings(vec![Warning {
                code: WarningCode::WarningsUnavailable,
                message: format!("the change was applied, but checking it for known problems failed: {error}"),
                fix: "look at the link's master and addresses (`nsfleet link show`, `nsfleet address list`)".to_string(),
            }]),
        }
    }
}

/// A request that succeeded but leaves traffic broken, with the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub code: WarningCode,
    pub message: String,
    pub fix: String,
}

/// The kinds of warning; callers match on the code's text, so a code once published keeps its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarningCode {
    /// An address on a bridge port keeps a prefix route that beats the bridge's.
    AddressOnBridgePort,
    /// A NAT rule changed, but conntrack entries of flows that predate it were not flushed.
    ConntrackFlushFailed,
    /// The change was applied, but the checks that produce warnings could not run.
    WarningsUnavailable,
    /// A masquerade without output interface where bridged traffic passes netfilter: traffic between
    /// ports of the same bridge is rewritten too.
    MasqueradeWithoutOutputInterface,
    /// NAT rules in a namespace that does not forward: only its own traffic is translated.
    NatWithoutForwarding,
    /// A route via a gateway that no address of the namespace makes on-link: the kernel refuses it.
    GatewayNotOnLink,
    /// Ports of one bridge with different MTUs: frames larger than the smallest are dropped.
    BridgePortMtuMismatch,
    /// A VXLAN link's MTU is larger than its underlay carries once encapsulated.
    VxlanMtuExceedsUnderlay,
    /// A bridge port's MTU is larger than the VXLAN link of its bridge: larger frames are dropped silently.
    BridgePortMtuAboveVxlan,
}

impl WarningCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AddressOnBridgePort => "ADDRESS_ON_BRIDGE_PORT",
            Self::ConntrackFlushFailed => "CONNTRACK_FLUSH_FAILED",
            Self::WarningsUnavailable => "WARNINGS_UNAVAILABLE",
            Self::MasqueradeWithoutOutputInterface => "MASQUERADE_WITHOUT_OUTPUT_INTERFACE",
            Self::NatWithoutForwarding => "NAT_WITHOUT_FORWARDING",
            Self::GatewayNotOnLink => "GATEWAY_NOT_ON_LINK",
            Self::BridgePortMtuMismatch => "BRIDGE_PORT_MTU_MISMATCH",
            Self::VxlanMtuExceedsUnderlay => "VXLAN_MTU_EXCEEDS_UNDERLAY",
            Self::BridgePortMtuAboveVxlan => "BRIDGE_PORT_MTU_ABOVE_VXLAN",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::OpError;

    #[test]
    fn a_failed_check_after_the_change_is_a_warning_not_a_failure() {
        let outcome = Outcome::changed(()).with_checked_warnings(Err(OpError::TaskLost));
        assert!(outcome.changed);
        assert_eq!(outcome.warnings.len(), 1);
        assert_eq!(outcome.warnings[0].code, WarningCode::WarningsUnavailable);
        assert!(
            outcome.warnings[0]
                .message
                .contains("ended without a result"),
            "{:?}",
            outcome.warnings
        );
    }
}
