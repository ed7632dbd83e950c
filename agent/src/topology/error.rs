//! Why a topology call failed.

use crate::ops::OpError;

use super::desired::TopologyName;
use super::ledger::LedgerError;
use super::plan::OwnershipError;

#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error(transparent)]
    Ownership(#[from] OwnershipError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Reading the kernel failed.
    #[error(transparent)]
    Observe(#[from] OpError),
    #[error("the host changed since the plan (fingerprint {given} is stale): plan again")]
    StaleFingerprint { given: String },
    /// The management-path guard refused one of the plan's operations.
    #[error("the plan's {changes} changes were refused: {error}")]
    Refused { changes: usize, error: Box<OpError> },
    /// An operation failed; the batch took back what it had applied, except `not_undone`.
    #[error("{change}: {error}{}", not_undone_text(.not_undone))]
    Failed {
        change: String,
        error: Box<OpError>,
        not_undone: Vec<String>,
    },
    /// `force` passed a change of the management path without a deadline to take it back.
    #[error(
        "the plan changes the management path: a change of the management path needs a confirmed \
         commit (--confirm DURATION, the request's confirm field) besides force"
    )]
    ManagementPathNeedsCommit,
    #[error("the apply finished but the kernel does not show it: {}", .changes.join("; "))]
    DidNotStick { changes: Vec<String> },
    #[error("this host holds no record of topology {name}")]
    Unknown { name: TopologyName },
    #[error("the apply did not finish: {0}")]
    Unfinished(String),
}

fn not_undone_text(not_undone: &[String]) -> String {
    if not_undone.is_empty() {
        String::new()
    } else {
        format!(" (not taken back: {})", not_undone.join("; "))
    }
}
