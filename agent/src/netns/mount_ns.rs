//! The mount namespace /run/netns is read and changed in.
//!
//! `ip netns` finds namespaces by the bind mounts under /run/netns, so the mounts must be made in the
//! mount namespace the operator's tools live in. A hardened systemd unit (PrivateTmp, ProtectSystem, ...)
//! runs the agent in a mount namespace of its own whose root is a slave of the host's: mounts made there
//! never reach the host, and die with the service. With `--host-mount-namespace` every file operation on
//! /run/netns runs on a thread that joined the host's mount namespace instead.
//!
//! `setns(CLONE_NEWNS)` refuses (EINVAL) a thread that shares its root and working directory with other
//! threads, so such a thread first unshares `CLONE_FS`; it then stays in the other namespace for its whole
//! life. It needs CAP_SYS_ADMIN and CAP_SYS_CHROOT.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;

use nix::sched::{setns, unshare, CloneFlags};

use super::NetnsError;

type Job = Box<dyn FnOnce() + Send>;

/// Where /run/netns lives for this agent: its own mount namespace, or another one entered by threads.
#[derive(Clone, Default)]
pub struct MountNamespace {
    other: Option<Arc<OtherNamespace>>,
}

struct OtherNamespace {
    path: PathBuf,
    fd: OwnedFd,
    /// The long-lived thread inside it that runs every short file operation, one at a time.
    jobs: mpsc::Sender<Job>,
}

impl MountNamespace {
    /// The agent's own mount namespace: operations run inline on the calling thread.
    pub fn own() -> Self {
        Self::default()
    }

    /// The mount namespace behind `path` (`/proc/1/ns/mnt` for the host's init): checked now by entering
    /// it once, so a wrong path or a missing capability stops the agent at start. Opening another
    /// process's namespace file needs CAP_SYS_PTRACE when that process has capabilities this one lacks.
    pub fn enter(path: &Path) -> Result<Self, NetnsError> {
        let context = || format!("--host-mount-namespace {}", path.display());
        let fd = OwnedFd::from(File::open(path).map_err(|e| NetnsError::io(context(), e))?);
        let worker_fd = fd.try_clone().map_err(|e| NetnsError::io(context(), e))?;
        let (jobs, incoming) = mpsc::channel::<Job>();
        let (entered, entry) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("nsfleet-host-mnt".into())
            .spawn(move || {
                let joined = join(&worker_fd);
                let failed = joined.is_err();
                let _ = entered.send(joined);
                if failed {
                    return;
                }
                // Ends when the last sender (the last clone of this MountNamespace) is dropped.
                for job in incoming {
                    job();
                }
            })
            .map_err(|e| NetnsError::io(format!("{}: spawn its thread", context()), e))?;
        match entry.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e.in_context(&context())),
            Err(_) => return Err(NetnsError::ThreadLost { context: context() }),
        }
        tracing::info!(path = %path.display(), "namespace mounts are made in this mount namespace");
        Ok(Self {
            other: Some(Arc::new(OtherNamespace {
                path: path.to_path_buf(),
                fd,
                jobs,
            })),
        })
    }

    /// Runs `work` (file system calls on /run/netns) in this mount namespace and waits for it. Meant for
    /// work of microseconds: the calling thread blocks meanwhile.
    pub fn run<T, F>(&self, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Some(other) = &self.other else {
            return Ok(work());
        };
        let lost = || NetnsError::ThreadLost {
            context: format!("work in the mount namespace {}", other.path.display()),
        };
        let (done, result) = mpsc::sync_channel(1);
        other
            .jobs
            .send(Box::new(move || {
                let _ = done.send(work());
            }))
            .map_err(|_| lost())?;
        result.recv().map_err(|_| lost())
    }

    /// Moves the calling thread, which must be a throwaway one, into this mount namespace for the rest
    /// of its life (a namespace creation: that thread also unshares its network namespace).
    pub fn join_on_this_thread(&self) -> Result<(), NetnsError> {
        match &self.other {
            None => Ok(()),
            Some(other) => join(&other.fd)
                .map_err(|e| e.in_context(&format!("enter {}", other.path.display()))),
        }
    }
}

fn join(namespace: &OwnedFd) -> Result<(), NetnsError> {
    unshare(CloneFlags::CLONE_FS)
        .map_err(|e| NetnsError::io("unshare the file system attributes (CLONE_FS)", e))?;
    setns(namespace, CloneFlags::CLONE_NEWNS).map_err(|e| {
        NetnsError::io(
            "setns into the mount namespace (needs CAP_SYS_ADMIN and CAP_SYS_CHROOT)",
            e,
        )
    })
}
