//! Confirmed commits: a topology apply that undoes itself at a deadline unless confirmed. Knows nothing of
//! gRPC: the service parses requests and renders [`Status`] values.
//!
//! The order that makes it crash-safe: the commit (its deadline and its undo, the topology's desired state
//! before it) is recorded ([`record`]) before the apply's first change, and the gate
//! ([`crate::ops::gate`]) holds the host for it before that change too, so nothing else changes the host
//! while the commit may still be taken back. Taking it back is an ordinary apply of the previous desired
//! state (or a destroy, for a first apply), planned against the kernel as it is then. At start,
//! [`Commits::recover`] re-arms the deadline of a pending commit, or rolls it back at once when the
//! deadline passed while the agent was down.

pub mod record;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::Mutex;

use crate::audit::now_rfc3339;
use crate::domain::FieldError;
use crate::ops::gate::{Gate, Held, Hold};
use crate::ops::guard::ManagementPath;
use crate::topology::{Applied, ApplyOptions, Desired, Topologies, TopologyError, TopologyName};
use record::{Commit, RecordError, State, Store, Undo};

/// The longest a commit may stay pending.
pub const MAX_TIMEOUT_SECONDS: u32 = 3600;

/// Turns a recorded desired state (the encoded `HostTopology`) back into a [`Desired`]; the service
/// provides it, because only it knows the wire format.
pub type DecodeDesired = fn(&[u8]) -> Result<Desired, String>;

/// A commit's name: 1 to 64 characters from [A-Za-z0-9._-].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitId(String);

impl CommitId {
    pub fn parse(field: &str, text: &str) -> Result<Self, FieldError> {
        let fits = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if fits {
            Ok(Self(text.to_string()))
        } else {
            Err(FieldError::new(
                field,
                format!("{text:?} is not a commit id: 1 to 64 characters from [A-Za-z0-9._-]"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// One the host makes up: the time in milliseconds, unique since one commit is pending at a time.
    fn made_up() -> Self {
        Self(format!("commit-{}", now_ms()))
    }
}

/// A validated `CommitOptions`.
#[derive(Debug, Clone)]
pub struct CommitOptions {
    pub timeout: Duration,
    pub id: Option<CommitId>,
}

impl CommitOptions {
    pub fn parse(timeout_seconds: u32, commit_id: &str) -> Result<Self, FieldError> {
        if timeout_seconds == 0 || timeout_seconds > MAX_TIMEOUT_SECONDS {
            return Err(FieldError::new(
                "confirm.timeout_seconds",
                format!("{timeout_seconds} is out of range: 1 to {MAX_TIMEOUT_SECONDS} seconds"),
            ));
        }
        let id = match commit_id {
            "" => None,
            given => Some(CommitId::parse("confirm.commit_id", given)?),
        };
        Ok(Self {
            timeout: Duration::from_secs(u64::from(timeout_seconds)),
            id,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Pending(#[from] Held),
    #[error("commit id {id} was already used on this host ({state}): give another")]
    IdUsed { id: String, state: &'static str },
    #[error("this host knows no commit {id}")]
    Unknown { id: String },
    #[error("no commit is pending on this host")]
    NonePending,
    #[error("commit {id} was rolled back ({reason}): apply it again to get that state back")]
    RolledBack { id: String, reason: String },
    #[error("commit {id} is confirmed: it cannot be rolled back any more (apply the previous state instead)")]
    Confirmed { id: String },
    #[error("the state recorded to take commit {id} back does not decode: {reason}")]
    Undecodable { id: String, reason: String },
    #[error("steps that could not be taken back: {}", .0.join("; "))]
    StepsFailed(Vec<String>),
    #[error(transparent)]
    Topology(#[from] TopologyError),
}

/// A commit as a caller sees it.
#[derive(Debug, Clone)]
pub struct Status {
    pub id: String,
    pub topology: String,
    pub state: State,
    pub deadline_ms: u64,
    pub reason: String,
    pub updated_at: String,
}

impl Status {
    /// Whole seconds until the deadline; 0 once it is not pending.
    pub fn seconds_left(&self) -> u32 {
        if self.state != State::Pending {
            return 0;
        }
        let left = self.deadline_ms.saturating_sub(now_ms()).div_ceil(1000);
        u32::try_from(left).unwrap_or(u32::MAX)
    }
}

impl From<&Commit> for Status {
    fn from(commit: &Commit) -> Self {
        Self {
            id: commit.id.clone(),
            topology: commit.topology.clone(),
            state: commit.state,
            deadline_ms: commit.deadline_ms,
            reason: commit.reason.clone(),
            updated_at: commit.updated_at.clone(),
        }
    }
}

/// What a rollback did.
#[derive(Debug)]
pub struct RolledBack {
    pub commit: Status,
    pub applied: Option<Applied>,
}

/// The commits of this host. One transition at a time (apply, confirm, rollback, the deadline).
pub struct Commits {
    store: Store,
    topologies: Arc<Topologies>,
    gate: Arc<Gate>,
    decode: DecodeDesired,
    busy: Mutex<()>,
}

impl Commits {
    pub fn new(
        store: Store,
        topologies: Arc<Topologies>,
        gate: Arc<Gate>,
        decode: DecodeDesired,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            topologies,
            gate,
            decode,
            busy: Mutex::new(()),
        })
    }

    /// At start, before any listener: holds the host for a pending commit and arms its deadline, or
    /// rolls it back now if the deadline passed while the agent was down. A record that does not read
    /// back is reported and left alone: every commit call then answers with the same refusal.
    pub async fn recover(self: &Arc<Self>) {
        let _busy = self.busy.lock().await;
        let commits = match self.store.read() {
            Ok(commits) => commits,
            Err(error) => {
                tracing::error!("{error}");
                return;
            }
        };
        let Some(pending) = commits.pending else {
            return;
        };
        self.gate.hold(hold_of(&pending)).await;
        if now_ms() >= pending.deadline_ms {
            tracing::warn!(commit = %pending.id, topology = %pending.topology, "pending commit's deadline passed while the agent was down: rolling back");
            if let Err(error) = self
                .roll_back(pending, "deadline passed while the agent was down")
                .await
            {
                tracing::error!("rolling back at start: {error}");
            }
        } else {
            tracing::info!(commit = %pending.id, topology = %pending.topology, "a commit is pending: its deadline is armed again");
            self.arm(pending.id, pending.deadline_ms);
        }
    }

    /// Applies `desired` as a pending commit: recorded, the host held, then applied and verified as any
    /// apply; a failed apply (taken back by itself) leaves no commit.
    pub async fn apply(
        self: &Arc<Self>,
        desired: &Desired,
        encoded: &[u8],
        options: CommitOptions,
        fingerprint: Option<&str>,
        path: Option<&ManagementPath>,
        force: bool,
    ) -> Result<(Applied, Status), CommitError> {
        let _busy = self.busy.lock().await;
        let mut commits = self.store.read()?;
        let desired_hex = crate::topology::ledger::encode_hex(encoded);
        if let Some(pending) = &commits.pending {
            let retry = options
                .id
                .as_ref()
                .is_some_and(|id| id.as_str() == pending.id)
                && pending.desired == desired_hex
                && pending.topology == desired.name.as_str();
            if !retry {
                return Err(Held(hold_of(pending)).into());
            }
            let planned = self.topologies.plan(desired).await?;
            let applied = Applied {
                changes: Vec::new(),
                changed: false,
                warnings: planned.warnings,
                fingerprint: planned.plan.fingerprint,
                undo: Vec::new(),
            };
            return Ok((applied, Status::from(pending)));
        }
        if let Some(used) = options.id.as_ref().and_then(|id| commits.find(id.as_str())) {
            return Err(CommitError::IdUsed {
                id: used.id.clone(),
                state: state_name(used.state),
            });
        }
        let id = options.id.unwrap_or_else(CommitId::made_up);
        let undo = match self.topologies.record(&desired.name)? {
            Some(previous) => Undo::Restore { record: previous },
            None => Undo::Destroy,
        };
        let timeout_ms = u64::try_from(options.timeout.as_millis()).unwrap_or(u64::MAX);
        let commit = Commit {
            id: id.as_str().to_string(),
            topology: desired.name.to_string(),
            state: State::Pending,
            deadline_ms: now_ms().saturating_add(timeout_ms),
            reason: String::new(),
            updated_at: now_rfc3339(),
            desired: desired_hex,
            undo,
            steps: Vec::new(),
        };
        // Recorded and held before the first change: a crash from here on still rolls back.
        commits.pending = Some(commit.clone());
        self.store.write(&commits)?;
        self.gate.hold(hold_of(&commit)).await;
        let admitted = self.gate.admit_commit(&commit.id).await?;
        let how = ApplyOptions {
            fingerprint,
            path,
            force,
            confirmed: true,
            now: now_rfc3339(),
        };
        match self.topologies.apply(desired, encoded, how, admitted).await {
            Ok(applied) => {
                let commit = Commit {
                    steps: applied.undo.clone(),
                    ..commit
                };
                commits.pending = Some(commit.clone());
                self.store.write(&commits)?;
                self.arm(commit.id.clone(), commit.deadline_ms);
                Ok((applied, Status::from(&commit)))
            }
            Err(error) => {
                // The apply took itself back: there is nothing to confirm or roll back.
                commits.pending = None;
                self.store.write(&commits)?;
                self.gate.release().await;
                Err(error.into())
            }
        }
    }

    /// Makes the pending commit `id` permanent. Already confirmed: `changed` false.
    pub async fn confirm(self: &Arc<Self>, id: &CommitId) -> Result<(Status, bool), CommitError> {
        let _busy = self.busy.lock().await;
        let mut commits = self.store.read()?;
        let Some(found) = commits.find(id.as_str()).cloned() else {
            return Err(CommitError::Unknown {
                id: id.as_str().to_string(),
            });
        };
        match found.state {
            State::Confirmed => return Ok((Status::from(&found), false)),
            State::RolledBack | State::RollbackFailed => {
                return Err(CommitError::RolledBack {
                    id: found.id,
                    reason: found.reason,
                })
            }
            State::Pending => {}
        }
        if now_ms() >= found.deadline_ms {
            // Too late: the deadline won, whatever the timer has got to.
            let rolled = self.roll_back(found, "deadline passed").await?;
            return Err(CommitError::RolledBack {
                id: rolled.commit.id,
                reason: rolled.commit.reason,
            });
        }
        let confirmed = Commit {
            state: State::Confirmed,
            reason: "confirmed".to_string(),
            updated_at: now_rfc3339(),
            ..found
        };
        commits.finish(confirmed.clone());
        self.store.write(&commits)?;
        self.gate.release().await;
        Ok((Status::from(&confirmed), true))
    }

    /// Takes the pending commit `id` back now. Already rolled back: nothing to do.
    pub async fn rollback(self: &Arc<Self>, id: &CommitId) -> Result<RolledBack, CommitError> {
        let _busy = self.busy.lock().await;
        let commits = self.store.read()?;
        let Some(found) = commits.find(id.as_str()).cloned() else {
            return Err(CommitError::Unknown {
                id: id.as_str().to_string(),
            });
        };
        match found.state {
            State::Pending => self.roll_back(found, "rollback requested").await,
            State::Confirmed => Err(CommitError::Confirmed { id: found.id }),
            State::RolledBack | State::RollbackFailed => Ok(RolledBack {
                commit: Status::from(&found),
                applied: None,
            }),
        }
    }

    /// One commit, or the pending one.
    pub async fn get(&self, id: Option<&CommitId>) -> Result<Status, CommitError> {
        let _busy = self.busy.lock().await;
        let commits = self.store.read()?;
        match id {
            Some(id) => {
                commits
                    .find(id.as_str())
                    .map(Status::from)
                    .ok_or_else(|| CommitError::Unknown {
                        id: id.as_str().to_string(),
                    })
            }
            None => commits
                .pending
                .as_ref()
                .map(Status::from)
                .ok_or(CommitError::NonePending),
        }
    }

    /// Rolls the pending commit back when its deadline comes, unless it ended before.
    fn arm(self: &Arc<Self>, id: String, deadline_ms: u64) {
        let commits = Arc::clone(self);
        tokio::spawn(async move {
            // Wall clock, checked again on waking: the deadline is a time of day, not a duration.
            loop {
                let left = deadline_ms.saturating_sub(now_ms());
                if left == 0 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(left.min(60_000))).await;
            }
            let _busy = commits.busy.lock().await;
            let pending = match commits.store.read() {
                Ok(record) => record.pending.filter(|p| p.id == id),
                Err(error) => {
                    tracing::error!("at the deadline of commit {id}: {error}");
                    None
                }
            };
            if let Some(pending) = pending {
                tracing::warn!(commit = %id, "deadline passed: rolling back");
                if let Err(error) = commits.roll_back(pending, "deadline passed").await {
                    tracing::error!("rolling back commit {id} at its deadline: {error}");
                }
            }
        });
    }

    /// Undoes `pending` through an ordinary apply (or destroy), records how that went and lets the host
    /// go. Called with `busy` held.
    async fn roll_back(
        self: &Arc<Self>,
        pending: Commit,
        reason: &str,
    ) -> Result<RolledBack, CommitError> {
        let undone = self.undo(&pending).await;
        let (state, reason) = match &undone {
            Ok(_) => (State::RolledBack, reason.to_string()),
            Err(error) => (
                State::RollbackFailed,
                format!("{reason}; the rollback failed: {error}"),
            ),
        };
        let finished = Commit {
            state,
            reason,
            updated_at: now_rfc3339(),
            ..pending
        };
        let recorded = self.store.read().and_then(|mut commits| {
            commits.finish(finished.clone());
            self.store.write(&commits)
        });
        // Released whatever the record says: a host whose rollback is over must stay repairable.
        self.gate.release().await;
        recorded?;
        let applied = undone?;
        Ok(RolledBack {
            commit: Status::from(&finished),
            applied: Some(applied),
        })
    }

    /// The apply's own steps backwards (settings of objects it changed but did not make, and what it
    /// made), the ledger's record as before, then, when the topology existed, an ordinary apply of its
    /// previous desired state planned against the kernel as it is now (what the commit deleted comes back).
    async fn undo(&self, pending: &Commit) -> Result<Applied, CommitError> {
        let admitted = self.gate.admit_commit(&pending.id).await?;
        let undecodable = |reason: String| CommitError::Undecodable {
            id: pending.id.clone(),
            reason,
        };
        let name = TopologyName::parse("topology", &pending.topology)
            .map_err(|e| undecodable(e.to_string()))?;
        let previous = match &pending.undo {
            Undo::Restore { record } => Some(record),
            Undo::Destroy => None,
        };
        let failed = self
            .topologies
            .take_back(&name, &pending.steps, previous, &admitted)
            .await?;
        let applied = match previous {
            Some(record) => {
                let bytes = crate::topology::ledger::decode_hex(&record.desired)
                    .ok_or_else(|| undecodable("not hex".to_string()))?;
                let desired = (self.decode)(&bytes).map_err(undecodable)?;
                let how = ApplyOptions {
                    force: true,
                    confirmed: true,
                    now: now_rfc3339(),
                    ..ApplyOptions::default()
                };
                self.topologies
                    .apply(&desired, &bytes, how, admitted)
                    .await?
            }
            None => Applied {
                changes: Vec::new(),
                changed: true,
                warnings: Vec::new(),
                fingerprint: String::new(),
                undo: Vec::new(),
            },
        };
        if failed.is_empty() {
            Ok(applied)
        } else {
            Err(CommitError::StepsFailed(failed))
        }
    }
}

fn hold_of(commit: &Commit) -> Hold {
    Hold {
        commit_id: commit.id.clone(),
        topology: commit.topology.clone(),
        deadline: rfc3339_ms(commit.deadline_ms),
    }
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Pending => "pending",
        State::Confirmed => "confirmed",
        State::RolledBack => "rolled back",
        State::RollbackFailed => "its rollback failed",
    }
}

pub fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// A wall-clock time in milliseconds as RFC 3339 UTC.
pub fn rfc3339_ms(ms: u64) -> String {
    crate::audit::rfc3339(ms / 1000, u32::try_from(ms % 1000).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_name_the_field_that_is_wrong() {
        for (timeout, id, field) in [
            (0, "", "confirm.timeout_seconds"),
            (3601, "", "confirm.timeout_seconds"),
            (u32::MAX, "a", "confirm.timeout_seconds"),
            (60, "has space", "confirm.commit_id"),
            (60, "slash/no", "confirm.commit_id"),
            (60, &"x".repeat(65), "confirm.commit_id"),
        ] {
            let error = CommitOptions::parse(timeout, id).expect_err("refused");
            assert_eq!(error.field, field, "{timeout} {id:?}");
        }
        let fine = CommitOptions::parse(3600, "rollout-7.a_b").expect("fine");
        assert_eq!(fine.timeout, Duration::from_secs(3600));
        assert!(CommitOptions::parse(1, "").expect("fine").id.is_none());
    }
}
