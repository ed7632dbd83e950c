//! Who may change the host right now. Every change passes [`Operation::apply`](super::Operation::apply),
//! which takes a [`Permit`]: the only way to get one is [`Gate::admit`] (or, for the pending commit's own
//! apply and rollback, [`Gate::admit_commit`]). So while a confirmed commit is pending, no service can
//! change the host by forgetting a check: the refusal is made here, once, for single calls, batches and
//! topologies alike. Reads need no permit.

use std::sync::{Arc, PoisonError};

use tokio::sync::{OwnedRwLockReadGuard, RwLock};

/// The pending commit that holds the host, as a refusal names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub commit_id: String,
    pub topology: String,
    /// RFC 3339 UTC.
    pub deadline: String,
}

/// A change refused because a commit is pending.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "commit {id} of topology {topology} is pending until {deadline}: confirm it (`nsfleet confirm {id}`) \
     or roll it back (`nsfleet rollback {id}`) first",
    id = .0.commit_id,
    topology = .0.topology,
    deadline = .0.deadline
)]
pub struct Held(pub Hold);

/// Proof that a change was admitted. Held for the whole change (a batch holds one for all of its
/// operations): a commit cannot start while a change admitted before it is still running.
#[derive(Debug)]
pub struct Permit {
    _admitted: OwnedRwLockReadGuard<Option<Hold>>,
}

#[derive(Debug, Default)]
pub struct Gate {
    hold: Arc<RwLock<Option<Hold>>>,
    /// A copy of the hold for lookers (metrics) that must not wait behind changes under way.
    shown: std::sync::Mutex<Option<Hold>>,
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    /// A permit for an ordinary change; refused while a commit is pending.
    pub async fn admit(&self) -> Result<Permit, Held> {
        let admitted = self.hold.clone().read_owned().await;
        match admitted.as_ref() {
            Some(hold) => Err(Held(hold.clone())),
            None => Ok(Permit {
                _admitted: admitted,
            }),
        }
    }

    /// A permit for the apply or the rollback of commit `commit_id`: granted when it is the one pending
    /// (or none is).
    pub async fn admit_commit(&self, commit_id: &str) -> Result<Permit, Held> {
        let admitted = self.hold.clone().read_owned().await;
        match admitted.as_ref() {
            Some(hold) if hold.commit_id != commit_id => Err(Held(hold.clone())),
            _ => Ok(Permit {
                _admitted: admitted,
            }),
        }
    }

    /// Holds the host for a commit. Waits for the changes already admitted to end.
    pub async fn hold(&self, hold: Hold) {
        let mut held = self.hold.write().await;
        *held = Some(hold);
        self.show(held.clone());
    }

    pub async fn release(&self) {
        *self.hold.write().await = None;
        self.show(None);
    }

    fn show(&self, hold: Option<Hold>) {
        // Replaced whole: a panicking holder cannot leave it half written.
        *self.shown.lock().unwrap_or_else(PoisonError::into_inner) = hold;
    }

    /// The pending commit, if any, without waiting for changes under way.
    pub fn pending(&self) -> Option<Hold> {
        self.shown
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// A permit for tests and for code that runs before any caller can reach the agent.
    #[cfg(test)]
    pub async fn test_permit() -> Permit {
        let gate = Gate::new();
        match gate.admit().await {
            Ok(permit) => permit,
            Err(e) => panic!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hold(id: &str) -> Hold {
        Hold {
            commit_id: id.into(),
            topology: "lab".into(),
            deadline: "2026-01-01T00:00:00.000Z".into(),
        }
    }

    #[tokio::test]
    async fn a_pending_commit_refuses_every_other_change_and_names_the_way_out() {
        let gate = Gate::new();
        drop(gate.admit().await.expect("free"));
        gate.hold(hold("c1")).await;
        let refused = gate.admit().await.expect_err("held");
        let message = refused.to_string();
        for part in [
            "c1",
            "lab",
            "2026-01-01",
            "nsfleet confirm c1",
            "nsfleet rollback c1",
        ] {
            assert!(message.contains(part), "{message} lacks {part}");
        }
        assert!(gate.admit_commit("c2").await.is_err());
        drop(gate.admit_commit("c1").await.expect("its own"));
        assert_eq!(gate.pending().map(|h| h.commit_id).as_deref(), Some("c1"));
        gate.release().await;
        assert!(gate.pending().is_none());
        drop(gate.admit().await.expect("free again"));
    }
}
