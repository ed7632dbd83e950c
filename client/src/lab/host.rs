//! Starting one simulated host: an `nsfleet-agent` that runs in a network and mount namespace of its own,
//! detached from the command that started it (its own session, no terminal, output to its log file), so
//! it outlives `nsfleet lab up`. The namespaces are made between fork and exec, by the agent's process
//! itself: the agent is the one process that holds them, and when it ends the kernel frees them and
//! everything made inside.
//!
//! This forks, so it runs before any async runtime exists (see `app::main`).

use std::{
    ffi::CString,
    fs::{self, File},
    io,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use super::{layout::HostLayout, LabError};

/// Spawns the agent of `host`; returns as soon as it is exec'd (it may not accept connections yet).
/// `lab_dir` is the lab's directory, which the agent must see at the same path.
pub fn spawn(agent: &Path, lab_dir: &Path, host: &HostLayout) -> Result<Child, LabError> {
    fs::create_dir_all(&host.dir).map_err(|source| LabError::io("create", &host.dir, source))?;
    let log =
        File::create(&host.log).map_err(|source| LabError::io("create", &host.log, source))?;
    let log_copy = log
        .try_clone()
        .map_err(|source| LabError::io("open", &host.log, source))?;
    let setup = PrivateHostSetup::new(lab_dir)?;
    let mut command = Command::new(agent);
    command
        .arg("--listen")
        .arg(format!("unix:{}", host.socket.display()))
        .arg("--state-dir")
        .arg(&host.state_dir)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        // Not the caller's working directory: the agent would keep its filesystem busy for days.
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log_copy)
        .stderr(log);
    // SAFETY: the closure runs in the forked child, which has one thread; it makes only raw syscalls on
    // data prepared before the fork (no allocation, no locks).
    unsafe {
        command.pre_exec(move || setup.enter());
    }
    let child = command.spawn().map_err(|source| LabError::Spawn {
        agent: agent.to_path_buf(),
        host: host.label.clone(),
        source,
    })?;
    Ok(child)
}

/// What the child does between fork and exec, with every string made before the fork.
struct PrivateHostSetup {
    root: CString,
    run: CString,
    tmpfs: CString,
    tmpfs_options: CString,
    netns_dir: CString,
    /// When the lab's directory lies under /run, the private /run would hide it: these directories are
    /// made in the new /run, and the lab's directory is bound onto the last one.
    rebind: Option<Rebind>,
}

struct Rebind {
    lab_dir: CString,
    /// Each directory from below /run down to the lab's directory, in order.
    mount_points: Vec<CString>,
    /// ".": the lab's directory is the working directory while /run is covered. A bind mount's source
    /// must be in the caller's mount namespace, so a descriptor opened before the fork (a mount of the
    /// machine's namespace) would not do (EINVAL).
    source: CString,
}

impl PrivateHostSetup {
    fn new(lab_dir: &Path) -> Result<Self, LabError> {
        let c = |path: &Path| {
            CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| LabError::NulInPath(path.to_path_buf()))
        };
        let run = Path::new("/run");
        let rebind = match lab_dir.strip_prefix(run) {
            Ok(below_run) => {
                let mut mount_points = Vec::new();
                let mut point = PathBuf::from(run);
                for component in below_run.components() {
                    point.push(component);
                    mount_points.push(c(&point)?);
                }
                Some(Rebind {
                    lab_dir: c(lab_dir)?,
                    mount_points,
                    source: c(Path::new("."))?,
                })
            }
            Err(_) => None,
        };
        Ok(PrivateHostSetup {
            root: c(Path::new("/"))?,
            run: c(run)?,
            tmpfs: c(Path::new("tmpfs"))?,
            tmpfs_options: c(Path::new("mode=0755"))?,
            netns_dir: c(Path::new("/run/netns"))?,
            rebind,
        })
    }

    /// Makes the calling (freshly forked) process a simulated host.
    fn enter(&self) -> io::Result<()> {
        // SAFETY: plain syscalls on valid NUL-terminated strings owned by `self`; async-signal-safe.
        unsafe {
            // A session of its own: no controlling terminal, so closing the terminal (SIGHUP) or ^C in it
            // does not reach the agent.
            check(libc::setsid())?;
            check(libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS))?;
            // Private first, so neither the tmpfs below nor the agent's namespace bind mounts reach the
            // machine's mount namespace.
            check(libc::mount(
                std::ptr::null(),
                self.root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            if let Some(rebind) = &self.rebind {
                check(libc::chdir(rebind.lab_dir.as_ptr()))?;
            }
            // A /run of its own: /run/netns is this host's list of named namespaces, and the machine's
            // own /run (and /run/netns) is never written to.
            check(libc::mount(
                self.tmpfs.as_ptr(),
                self.run.as_ptr(),
                self.tmpfs.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                self.tmpfs_options.as_ptr().cast(),
            ))?;
            check(libc::mkdir(self.netns_dir.as_ptr(), 0o755))?;
            if let Some(rebind) = &self.rebind {
                for point in &rebind.mount_points {
                    if libc::mkdir(point.as_ptr(), 0o755) < 0 {
                        let error = io::Error::last_os_error();
                        if error.raw_os_error() != Some(libc::EEXIST) {
                            return Err(error);
                        }
                    }
                }
                let target = rebind.mount_points.last().unwrap_or(&self.run);
                check(libc::mount(
                    rebind.source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
                check(libc::chdir(self.root.as_ptr()))?;
            }
            bring_loopback_up()
        }
    }
}

/// A new network namespace starts with `lo` down; a real host has it up. Done here with the classic
/// SIOCSIFFLAGS ioctl rather than through the agent's LinkService once it serves: the host is whole before
/// anyone can reach it, and the CLI stays free of netlink.
///
/// # Safety
/// Only raw syscalls; callable between fork and exec.
unsafe fn bring_loopback_up() -> io::Result<()> {
    // SAFETY: `request` is a zeroed ifreq with a NUL-terminated name; the socket is closed on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        check(fd)?;
        let mut request: libc::ifreq = std::mem::zeroed();
        request.ifr_name[0] = b'l' as libc::c_char;
        request.ifr_name[1] = b'o' as libc::c_char;
        let mut result = check(libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request));
        if result.is_ok() {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            result = check(libc::ioctl(fd, libc::SIOCSIFFLAGS, &request));
        }
        libc::close(fd);
        result
    }
}

fn check(ret: libc::c_int) -> io::Result<()> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
