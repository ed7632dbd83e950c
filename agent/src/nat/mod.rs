//! NAT in nsfleet's own nftables table. Nothing here knows gRPC or the proto.
//!
//! The pieces:
//! - [`spec`]: what a rule is ([`NatRuleSpec`]) and its stable id; [`validate`]: the pure checks the gRPC
//!   layer runs before anything touches the kernel.
//! - [`NatBackend`]: the narrow interface the service uses, so a pure-netlink backend can replace nft.
//! - [`NftBackend`]: the implementation on nftables' JSON (table layout and comment format in
//!   `nft_rule.rs`, id scheme in [`spec`]), run by libnftables in process or by `nft -j`
//!   (`nft_runner.rs`); `conntrack.rs` flushes a deleted rule's conntrack entries.
//!
//! Threading: every call is blocking and acts in the network namespace of the calling thread
//! (libnftables and the ctnetlink socket open their sockets on it, an `nft` child inherits it). The
//! agent enters the namespace first.
//!
//! Mapping to gRPC codes: `Invalid` -> INVALID_ARGUMENT; `NotFound` -> NOT_FOUND (or `changed: false`
//! with `ignore_missing`); `Conflict` -> ALREADY_EXISTS; `NftMissing` -> FAILED_PRECONDITION; `NftFailed`
//! -> PERMISSION_DENIED when [`NatError::is_permission_denied`], else FAILED_PRECONDITION (the host's
//! nftables refused: missing kernel support, a hand-made chain in the way); `NftOutput` -> INTERNAL;
//! `Conntrack` only ever arrives as a [`DeleteOutcome::conntrack_error`], which becomes a warning on a
//! successful response.

mod conntrack;
mod error;
mod libnftables;
mod nft;
mod nft_rule;
mod nft_runner;
pub mod spec;
pub mod validate;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

pub use error::NatError;
pub use nft::{nft_available, NftBackend};
pub use spec::{
    IpFamily, IpPrefix, NatProtocol, NatRule, NatRuleSpec, PortRange, MAX_COMMENT_BYTES,
};
pub use validate::{
    parse_address, parse_optional_port, parse_port_range, parse_source, validate_comment,
    validate_spec,
};

/// Result of [`NatBackend::add`].
#[derive(Debug)]
pub struct AddOutcome {
    /// The rule now in the kernel: the new one, or the existing identical one (with its own comment).
    pub rule: NatRule,
    /// False when an identical rule (same kind and match, comment ignored) was already there.
    pub changed: bool,
    /// Flushing the untranslated flows the new rule matches failed after the rule was added: those flows
    /// keep bypassing it until they expire.
    pub conntrack_error: Option<NatError>,
}

/// Result of [`NatBackend::delete`]. The rule is gone even when `conntrack_error` is set.
#[derive(Debug)]
pub struct DeleteOutcome {
    pub changed: bool,
    /// Conntrack entries the rule had NATed that were removed.
    pub conntrack_entries_flushed: usize,
    /// Flushing failed after the rule was deleted: old flows may keep the old mapping until they expire.
    pub conntrack_error: Option<NatError>,
}

/// What `nat list` sees in nsfleet's table: its rules, and what does not belong there.
#[derive(Debug, Default)]
pub struct NatListing {
    /// Exactly the rules nsfleet made, in evaluation order per chain, with their counters.
    pub rules: Vec<NatRule>,
    /// The table does not exist: no rule was ever added in this namespace, or something outside nsfleet
    /// (`nft flush ruleset`, `nft delete table inet nsfleet`) removed it with every rule in it.
    pub table_missing: bool,
    /// Rules in the table that nsfleet did not make, or that were edited out of nsfleet's shape.
    pub foreign: Vec<ForeignRule>,
}

/// A rule of nsfleet's table that is not one of nsfleet's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignRule {
    pub chain: String,
    /// nft's handle, for `nft delete rule inet nsfleet CHAIN handle N`.
    pub handle: u32,
    pub comment: String,
    pub reason: String,
}

/// The NAT operations the service needs.
pub trait NatBackend: Send + Sync {
    /// All calls are blocking and are made on a thread that is already inside the target network
    /// namespace (the agent does the setns; nftables works in the namespace of the calling thread).
    ///
    /// nsfleet's rules, and how the table drifted from what nsfleet made.
    fn listing(&self) -> Result<NatListing, NatError>;

    /// Exactly the rules nsfleet made, in evaluation order per chain, with their counters.
    fn list(&self) -> Result<Vec<NatRule>, NatError> {
        Ok(self.listing()?.rules)
    }

    /// Validates and adds rules in one atomic transaction (one nftables run to read the table, one to
    /// change it), in order: all of them or, on any error, none. A rule identical to one already there,
    /// or to an earlier one of the same call, changes nothing. One outcome per rule, in order.
    fn add_all(&self, rules: &[(NatRuleSpec, String)]) -> Result<Vec<AddOutcome>, NatError>;

    /// [`NatBackend::add_all`] of one rule.
    fn add(&self, spec: &NatRuleSpec, comment: &str) -> Result<AddOutcome, NatError> {
        let rules = [(spec.clone(), comment.to_string())];
        self.add_all(&rules)?
            .pop()
            .ok_or_else(|| NatError::NftOutput {
                context: format!("adding NAT rule {}", spec.id()),
                reason: "the backend reported no outcome".into(),
            })
    }

    /// Deletes rules nsfleet made in one transaction (`NotFound` for a missing one unless
    /// `ignore_missing`, which makes its outcome `changed: false`) and flushes the conntrack entries each
    /// created. Deleting the last rules removes the table in the same transaction.
    fn delete_all(
        &self,
        ids: &[String],
        ignore_missing: bool,
    ) -> Result<Vec<DeleteOutcome>, NatError>;

    /// Deletes a rule nsfleet made (`NotFound` otherwise) and flushes the conntrack entries it created.
    /// Deleting the last rule removes the table in the same transaction.
    fn delete(&self, id: &str) -> Result<DeleteOutcome, NatError> {
        self.delete_all(&[id.to_string()], false)?
            .pop()
            .ok_or_else(|| NatError::NftOutput {
                context: format!("deleting NAT rule {id}"),
                reason: "the backend reported no outcome".into(),
            })
    }
}
