use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::statfs::{fstatfs, statfs, NSFS_MAGIC};

use super::mount_point::{leftover_kind, mark_as_ours, Leftover};
use super::{cookie, MountNamespace, NamespaceHandle, NetnsError, NsidMemo};
use crate::domain::{NamespaceName, NamespaceRef};
use crate::kernel::RouteSocket;

/// Where iproute2 keeps named namespaces; sharing it is what makes `ip netns` and nsfleet see each other.
pub const NETNS_DIR: &str = "/run/netns";

/// Creations and deletions of one name are serialized through one of these locks (chosen by the name's
/// hash), so concurrent callers asking for the same namespace all see one outcome; different names rarely
/// share a lock.
const NAME_LOCKS: usize = 64;

/// A named namespace as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceInfo {
    pub name: NamespaceName,
    pub inode: u64,
}

/// The host's named namespaces, and one open [`NamespaceHandle`] per namespace in use.
///
/// The files under /run/netns are the truth: a cached handle is reused only while the name still leads to
/// the same namespace (same inode), so a namespace deleted or replaced behind the agent's back (by
/// `ip netns del`, say) is noticed at the next request.
pub struct NamespaceRegistry {
    dir: PathBuf,
    /// Where `dir` is read and changed (see [`MountNamespace`]).
    mounts: MountNamespace,
    host: Arc<NamespaceHandle>,
    handles: Mutex<HashMap<NamespaceName, Arc<NamespaceHandle>>>,
    nsids: NsidMemo,
    name_locks: Vec<tokio::sync::Mutex<()>>,
}

impl NamespaceRegistry {
    /// Opens the agent's own network namespace as "the host"; named namespaces are mounted under
    /// /run/netns as `mounts` sees it.
    pub async fn new(mounts: MountNamespace) -> Result<Self, NetnsError> {
        // /proc/self is the main thread's namespace: the one the agent was started in, whatever thread
        // runs this.
        let fd = open_namespace_file(Path::new("/proc/self/ns/net"))?;
        let inode = inode_of(&fd, "/proc/self/ns/net")?;
        let host = NamespaceHandle::open(NamespaceRef::Host, fd, inode).await?;
        let registry = Self {
            dir: PathBuf::from(NETNS_DIR),
            mounts,
            host: Arc::new(host.agents_own()),
            handles: Mutex::default(),
            nsids: NsidMemo::default(),
            name_locks: (0..NAME_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        };
        registry.clear_our_leftovers();
        Ok(registry)
    }

    /// Removes the mount points of nsfleet's own creations that a killed agent left unmounted. Only
    /// files carrying nsfleet's mark: anything else under /run/netns is someone else's.
    fn clear_our_leftovers(&self) {
        let dir = self.dir.clone();
        if let Err(e) = self.mounts.run(move || clear_our_leftovers_in(&dir)) {
            tracing::warn!(error = %e, "cannot look for interrupted namespace creations");
        }
    }

    /// Runs file system work on /run/netns in the mount namespace it belongs to.
    fn in_mounts<T, F>(&self, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> Result<T, NetnsError> + Send + 'static,
        T: Send + 'static,
    {
        self.mounts.run(work).and_then(|result| result)
    }

    /// Opens the namespace file of `name` (whatever it is: callers check).
    pub fn open_file(&self, name: &NamespaceName) -> Result<OwnedFd, NetnsError> {
        let path = self.path_of(name);
        self.in_mounts(move || open_namespace_file(&path))
    }

    fn name_lock(&self, name: &NamespaceName) -> &tokio::sync::Mutex<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(name.as_str());
        &self.name_locks[(hash % NAME_LOCKS as u64) as usize]
    }

    /// What nsids namespaces give each other, as learnt so far.
    pub fn nsids(&self) -> &NsidMemo {
        &self.nsids
    }

    pub fn host(&self) -> Arc<NamespaceHandle> {
        self.host.clone()
    }

    fn path_of(&self, name: &NamespaceName) -> PathBuf {
        self.dir.join(name.as_str())
    }

    /// The handle for `namespace`, opening (and caching) it if needed.
    pub async fn handle(
        &self,
        namespace: &NamespaceRef,
    ) -> Result<Arc<NamespaceHandle>, NetnsError> {
        let name = match namespace {
            NamespaceRef::Host => return Ok(self.host()),
            NamespaceRef::Named(name) => name,
        };
        let info = self.get(name)?;
        if let Some(handle) = self.cached(name) {
            if handle.inode() == info.inode {
                return Ok(handle);
            }
        }
        let path = self.path_of(name);
        let fd = self
            .open_file(name)
            .map_err(|e| not_found_or(e, namespace))?;
        let inode = inode_of(&fd, &path.display().to_string())?;
        let handle = Arc::new(NamespaceHandle::open(namespace.clone(), fd, inode).await?);
        self.lock().insert(name.clone(), handle.clone());
        Ok(handle)
    }

    fn cached(&self, name: &NamespaceName) -> Option<Arc<NamespaceHandle>> {
        self.lock().get(name).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<NamespaceName, Arc<NamespaceHandle>>> {
        // The map holds no invariant a panicking holder could break half-way.
        self.handles.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cookie of the namespace `info` lists, if the agent holds a handle on it. The handle keeps its
    /// namespace alive, so no other namespace can have its inode meanwhile: equal inodes prove identity.
    pub fn cached_cookie(&self, info: &NamespaceInfo) -> Option<u64> {
        self.cached(&info.name)
            .filter(|handle| handle.inode() == info.inode)
            .map(|handle| handle.cookie())
    }

    /// Drops cached handles whose namespace is gone or was replaced (by `ip netns del`, say): an open
    /// socket would keep a deleted namespace (and its links) alive. Costs two syscalls per cached handle,
    /// whatever else /run/netns holds. Then forgets the nsids learnt from or about the namespaces let go.
    pub fn forget_stale(&self) {
        let cached: Vec<(NamespaceName, Arc<NamespaceHandle>)> = self
            .lock()
            .iter()
            .map(|(name, handle)| (name.clone(), handle.clone()))
            .collect();
        // Checked outside the lock: requests must not wait on a sweep's file system calls.
        let paths: Vec<PathBuf> = cached.iter().map(|(name, _)| self.path_of(name)).collect();
        let inodes = match self.mounts.run(move || {
            paths
                .iter()
                .map(|path| namespace_inode(path).ok().flatten())
                .collect::<Vec<_>>()
        }) {
            Ok(inodes) => inodes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot sweep the namespace cache");
                return;
            }
        };
        let stale: Vec<(NamespaceName, Arc<NamespaceHandle>)> = cached
            .into_iter()
            .zip(inodes)
            .filter(|((_, handle), inode)| *inode != Some(handle.inode()))
            .map(|(cached, _)| cached)
            .collect();
        let live_cookies = {
            let mut handles = self.lock();
            for (name, handle) in &stale {
                // Only the handle judged stale: a request may have cached a fresh one meanwhile.
                if handles
                    .get(name)
                    .is_some_and(|now| Arc::ptr_eq(now, handle))
                {
                    handles.remove(name);
                    tracing::debug!(namespace = %name, "let go of a namespace deleted or replaced");
                }
            }
            handles
                .values()
                .map(|handle| handle.cookie())
                .chain([self.host.cookie()])
                .collect()
        };
        self.nsids.retain_only(&live_cookies);
    }

    /// Sweeps the cache every `period`, so that a namespace deleted by anyone is let go of within about
    /// that time, not only when someone next asks for it. Holds only a weak reference: the sweep ends
    /// with the registry.
    pub fn sweep_every(self: &Arc<Self>, period: std::time::Duration) {
        let registry = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                registry.forget_stale();
            }
        });
    }

    /// Looks up one named namespace.
    pub fn get(&self, name: &NamespaceName) -> Result<NamespaceInfo, NetnsError> {
        let path = self.path_of(name);
        let found = {
            let path = path.clone();
            self.mounts.run(move || namespace_inode(&path))?
        };
        match found {
            Ok(Some(inode)) => Ok(NamespaceInfo {
                name: name.clone(),
                inode,
            }),
            Ok(None) => Err(NetnsError::NotANamespace {
                path: path.display().to_string(),
            }),
            Err(e) => Err(not_found_or(
                NetnsError::io(format!("stat {}", path.display()), e),
                &NamespaceRef::Named(name.clone()),
            )),
        }
    }

    /// Every named namespace, sorted by name. Files under /run/netns that are not namespace mounts (left
    /// over from a crash, say) are skipped.
    pub fn list(&self) -> Result<Vec<NamespaceInfo>, NetnsError> {
        let dir = self.dir.clone();
        self.in_mounts(move || list_in(&dir))
    }

    /// Creates a named namespace the way `ip netns add` does, without forking: a throwaway thread
    /// unshares its network namespace and bind-mounts it under /run/netns. Returns `changed: false` if it
    /// already exists.
    pub async fn create(&self, name: &NamespaceName) -> Result<(NamespaceInfo, bool), NetnsError> {
        let _same_name = self.name_lock(name).lock().await;
        match self.get(name) {
            Ok(info) => return Ok((info, false)),
            Err(NetnsError::NotFound { .. }) => {}
            Err(not_a_namespace @ NetnsError::NotANamespace { .. }) => {
                let path = self.path_of(name);
                let removed = self.in_mounts(move || {
                    if !matches!(leftover_kind(&path), Ok(Leftover::Ours)) {
                        return Ok(false);
                    }
                    fs::remove_file(&path).map(|()| true).map_err(|e| {
                        NetnsError::io(format!("remove the leftover {}", path.display()), e)
                    })
                })?;
                if !removed {
                    return Err(not_a_namespace);
                }
            }
            Err(other) => return Err(other),
        }
        let dir = self.dir.clone();
        let path = self.path_of(name);
        let mounts = self.mounts.clone();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::Builder::new()
            .name("nsfleet-netns-add".into())
            .spawn(move || {
                let created = mounts
                    .join_on_this_thread()
                    .and_then(|()| create_on_this_thread(&dir, &path));
                let _ = sender.send(created.map(|()| open_here(&path)));
            })
            .map_err(|e| NetnsError::io("spawn namespace creation thread", e))?;
        let opened = match receiver.await {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(NetnsError::ThreadLost {
                    context: format!("create namespace {name}"),
                })
            }
        };
        let info = self.get(name)?;
        // The creating thread was inside the new namespace anyway: its socket spares the first request a
        // thread of its own to enter the namespace. Without one, the handle is opened on first use.
        if let Some((fd, socket, cookie)) = opened {
            let namespace = NamespaceRef::Named(name.clone());
            let handle = NamespaceHandle::with_socket(namespace, fd, info.inode, cookie, socket);
            self.lock().insert(name.clone(), Arc::new(handle));
        }
        Ok((info, true))
    }

    /// Deletes a named namespace as `ip netns del` does: detach the mount, remove the file. The kernel frees
    /// the namespace when nothing else holds it; the agent's own cached socket is dropped first so it is not
    /// what keeps it alive.
    pub async fn delete(&self, name: &NamespaceName) -> Result<(), NetnsError> {
        let _same_name = self.name_lock(name).lock().await;
        match self.get(name) {
            Ok(_) => {}
            // An empty file where a namespace was to be mounted: what `ip netns del` would remove too.
            Err(not_a_namespace @ NetnsError::NotANamespace { .. }) => {
                let path = self.path_of(name);
                return self.in_mounts(move || match leftover_kind(&path) {
                    Ok(Leftover::Ours | Leftover::Unmarked) => fs::remove_file(&path)
                        .map_err(|e| NetnsError::io(format!("remove {}", path.display()), e)),
                    _ => Err(not_a_namespace),
                });
            }
            Err(other) => return Err(other),
        }
        self.lock().remove(name);
        // Inline, not on the blocking pool: an unmount and an unlink take microseconds, less than handing
        // them to another thread and waking this task again (a teardown runs a thousand of them in a row).
        let path = self.path_of(name);
        self.in_mounts(move || delete_mount(&path))
    }
}

/// See [`NamespaceRegistry::clear_our_leftovers`].
fn clear_our_leftovers_in(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for path in entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
    {
        if matches!(namespace_inode(&path), Ok(None))
            && matches!(leftover_kind(&path), Ok(Leftover::Ours))
        {
            match fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed the mount point of an interrupted namespace creation")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove the mount point of an interrupted namespace creation")
                }
            }
        }
    }
}

fn create_on_this_thread(dir: &Path, path: &Path) -> Result<(), NetnsError> {
    make_shared_mount_dir(dir)?;
    // The mount point is made first and exclusively, so a racing creator of the same name loses cleanly.
    let mount_point = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o000)
        .open(path)
        .map_err(|e| NetnsError::io(format!("create {}", path.display()), e))?;
    // Before anything can be interrupted: a file left unmounted must be recognisable as ours.
    mark_as_ours(&mount_point);
    drop(mount_point);
    let result = unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| NetnsError::io("unshare the network namespace", e))
        .and_then(|()| {
            // /proc/self would name the process's (main thread's) namespace, not this thread's new one.
            mount(
                Some("/proc/thread-self/ns/net"),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(|e| {
                NetnsError::io(
                    format!("bind-mount the new namespace on {}", path.display()),
                    e,
                )
            })
        });
    if result.is_err() {
        let _ = fs::remove_file(path);
    }
    result
}

/// iproute2 makes /run/netns a shared mount point, so namespaces mounted later show up in every mount
/// namespace that has it (e.g. inside `ip netns exec`). Done on every create, as iproute2 does: it is one
/// cheap syscall when already in place.
fn make_shared_mount_dir(dir: &Path) -> Result<(), NetnsError> {
    fs::create_dir_all(dir).map_err(|e| NetnsError::io(format!("create {}", dir.display()), e))?;
    let share = || {
        mount(
            None::<&str>,
            dir,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
    };
    match share() {
        Ok(()) => Ok(()),
        // EINVAL: not a mount point yet; bind it onto itself, then share it.
        Err(Errno::EINVAL) => mount(
            Some(dir),
            dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .and_then(|()| share())
        .map_err(|e| NetnsError::io(format!("make {} a shared mount", dir.display()), e)),
        Err(e) => Err(NetnsError::io(
            format!("make {} a shared mount", dir.display()),
            e,
        )),
    }
}

/// The namespace file, a route socket and the namespace's cookie, taken by a thread that is inside the
/// namespace `path` names; `None` if one fails (the handle is then opened the usual way when first needed).
fn open_here(path: &Path) -> Option<(OwnedFd, RouteSocket, u64)> {
    let fd = open_namespace_file(path).ok()?;
    let socket = RouteSocket::open().ok()?;
    Some((fd, socket, cookie::this_thread_namespace()))
}

fn delete_mount(path: &Path) -> Result<(), NetnsError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(NetnsError::io(format!("unmount {}", path.display()), e)),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetnsError::io(format!("remove {}", path.display()), e)),
    }
}

/// Opens a namespace file and checks what was opened, not the path: a `netns del` between a check of
/// the path and the open leaves the empty mount point there, and `setns` on that fails with EINVAL.
/// The descriptor either keeps a namespace alive from here on or is refused as NotANamespace.
fn open_namespace_file(path: &Path) -> Result<OwnedFd, NetnsError> {
    let fd = File::open(path)
        .map(OwnedFd::from)
        .map_err(|e| NetnsError::io(format!("open {}", path.display()), e))?;
    match fstatfs(&fd) {
        Ok(fs) if fs.filesystem_type() == NSFS_MAGIC => Ok(fd),
        _ => Err(NetnsError::NotANamespace {
            path: path.display().to_string(),
        }),
    }
}

fn inode_of(fd: &OwnedFd, what: &str) -> Result<u64, NetnsError> {
    nix::sys::stat::fstat(fd)
        .map(|st| st.st_ino)
        .map_err(|e| NetnsError::io(format!("stat {what}"), e))
}

/// `Some(inode)` if `path` is a namespace bind mount, `None` if it is some other file.
fn namespace_inode(path: &Path) -> io::Result<Option<u64>> {
    let metadata = fs::metadata(path)?;
    let is_nsfs = statfs(path)
        .map(|fs| fs.filesystem_type() == NSFS_MAGIC)
        .unwrap_or(false);
    Ok(is_nsfs.then(|| metadata.ino()))
}

fn not_found_or(error: NetnsError, namespace: &NamespaceRef) -> NetnsError {
    match &error {
        NetnsError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => {
            NetnsError::NotFound {
                namespace: namespace.clone(),
            }
        }
        _ => error,
    }
}

/// Every namespace mount in `dir`, sorted by name; see [`NamespaceRegistry::list`].
fn list_in(dir: &Path) -> Result<Vec<NamespaceInfo>, NetnsError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NetnsError::io(format!("read {}", dir.display()), e)),
    };
    let mut namespaces = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| NetnsError::io(format!("read {}", dir.display()), e))?;
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Ok(name) = NamespaceName::parse("name", &file_name) else {
            continue;
        };
        if let Ok(Some(inode)) = namespace_inode(&entry.path()) {
            namespaces.push(NamespaceInfo { name, inode });
        }
    }
    namespaces.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(namespaces)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a panic is how a test fails
mod tests {
    use super::*;

    #[test]
    fn only_a_namespace_file_opens_as_one() {
        assert!(open_namespace_file(Path::new("/proc/self/ns/net")).is_ok());
        // What `ip netns del` leaves for a moment, and an interrupted creation for good.
        let mount_point = tempfile::NamedTempFile::new().unwrap();
        assert!(matches!(
            open_namespace_file(mount_point.path()),
            Err(NetnsError::NotANamespace { .. })
        ));
    }
}
