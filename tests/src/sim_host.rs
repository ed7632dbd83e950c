use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nsfleet_proto::DEFAULT_AGENT_SOCKET;

use crate::binaries::binaries;

/// How long an agent may take to accept connections; the machine is shared with parallel builds.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);

/// One simulated host: a real `nsfleet-agent` in its own network and mount namespace, listening on a
/// unix socket in a temporary directory. Dropping it SIGKILLs the agent, and with it the last process in
/// those namespaces, so the kernel frees every namespace, link and mount made inside.
///
/// A restartable host ([`SimHost::spawn_restartable`]) keeps its namespaces in a holder process (`sleep`)
/// instead, and its agent enters them: the agent can then be killed and started again in the same host,
/// with the same state directory, as a real host's agent is by its service manager.
pub struct SimHost {
    label: String,
    agent: Child,
    /// Holds the host's namespaces when the agent does not (restartable hosts); killed after the agent.
    holder: Option<Child>,
    listener: AgentListener,
    extra_args: Vec<String>,
    socket: PathBuf,
    log: PathBuf,
    // Declared last: removed after the agent is dead (fields drop after `Drop::drop`).
    dir: tempfile::TempDir,
}

impl SimHost {
    /// Starts the agent without waiting for it; see [`SimHost::wait_ready`]. Must be called on the thread
    /// that keeps the host: PR_SET_PDEATHSIG fires when the *thread* that forked the agent exits.
    /// `extra_args` follow the lab's own `--listen unix:...` (more listeners, TLS, tokens, ...).
    pub(crate) fn spawn(label: &str, extra_args: &[String]) -> SimHost {
        Self::spawn_listening(label, AgentListener::LabSocket, extra_args)
    }

    /// [`SimHost::spawn`] with the agent's own default listener instead of the lab's socket: no `--listen`
    /// at all. The socket it makes lies in the host's private `/run`, reached from outside through
    /// `/proc/PID/root`.
    pub(crate) fn spawn_with_default_listener(label: &str, extra_args: &[String]) -> SimHost {
        Self::spawn_listening(label, AgentListener::Default, extra_args)
    }

    /// [`SimHost::spawn`], with the namespaces held by a process of their own, so that
    /// [`SimHost::kill_agent`] and [`SimHost::restart_agent`] leave the host as it is.
    pub(crate) fn spawn_restartable(label: &str, extra_args: &[String]) -> SimHost {
        let dir = lab_dir();
        let setup = PrivateHostSetup::new();
        let mut command = Command::new("sleep");
        command
            .arg("infinity")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: as in `spawn_listening`: raw syscalls on data prepared before the fork.
        unsafe {
            command.pre_exec(move || setup.enter());
        }
        let holder = command
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start the namespace holder (sleep): {err}"));
        wait_until_exec(&holder, "sleep");
        let agent = spawn_agent(
            dir.path(),
            AgentListener::LabSocket,
            extra_args,
            Entry::Holder(holder.id()),
        );
        SimHost {
            label: label.to_string(),
            agent,
            holder: Some(holder),
            listener: AgentListener::LabSocket,
            extra_args: extra_args.to_vec(),
            socket: dir.path().join("agent.sock"),
            log: dir.path().join("agent.log"),
            dir,
        }
    }

    /// SIGKILLs the agent of a restartable host; its namespaces, links, mounts and state stay.
    pub fn kill_agent(&mut self) {
        assert!(
            self.holder.is_some(),
            "{}: not a restartable host",
            self.label
        );
        let _ = self.agent.kill();
        let _ = self.agent.wait();
    }

    /// Starts a new agent in the same host (after [`SimHost::kill_agent`]) and waits until it serves.
    pub fn restart_agent(&mut self) {
        let holder = self
            .holder
            .as_ref()
            .unwrap_or_else(|| panic!("{}: not a restartable host", self.label))
            .id();
        let _ = self.agent.kill();
        let _ = self.agent.wait();
        self.agent = spawn_agent(
            self.dir.path(),
            self.listener,
            &self.extra_args,
            Entry::Holder(holder),
        );
        self.wait_ready(Instant::now());
    }

    fn spawn_listening(label: &str, listener: AgentListener, extra_args: &[String]) -> SimHost {
        let dir = lab_dir();
        let agent = spawn_agent(dir.path(), listener, extra_args, Entry::Private);
        let socket = match listener {
            AgentListener::LabSocket => dir.path().join("agent.sock"),
            AgentListener::Default => {
                PathBuf::from(format!("/proc/{}/root{DEFAULT_AGENT_SOCKET}", agent.id()))
            }
        };
        SimHost {
            label: label.to_string(),
            agent,
            holder: None,
            listener,
            extra_args: extra_args.to_vec(),
            socket,
            log: dir.path().join("agent.log"),
            dir,
        }
    }

    /// Waits until the agent accepts a connection on its socket; panics with its log if it exits first
    /// or takes longer than [`STARTUP_LIMIT`].
    pub(crate) fn wait_ready(&mut self, started: Instant) {
        loop {
            if UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.agent.try_wait().expect("waiting for the agent") {
                panic!(
                    "{}: nsfleet-agent exited ({status}) before accepting connections on {}; its log:\n{}",
                    self.label,
                    self.socket.display(),
                    self.agent_log()
                );
            }
            if started.elapsed() > STARTUP_LIMIT {
                panic!(
                    "{}: nsfleet-agent (pid {}) did not accept connections on {} within {STARTUP_LIMIT:?}; \
                     its log:\n{}",
                    self.label,
                    self.pid(),
                    self.socket.display(),
                    self.agent_log()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A short name for messages ("host1").
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A pid inside the simulated host's namespaces (`nsenter --target`): the holder's if it has one, as
    /// it outlives agents.
    pub fn pid(&self) -> u32 {
        self.holder.as_ref().unwrap_or(&self.agent).id()
    }

    /// The agent's own pid, for reading its memory in `/proc`.
    pub fn agent_pid(&self) -> u32 {
        self.agent.id()
    }

    /// The `--host` value for the CLI: `unix:/tmp/.../agent.sock`.
    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// The simulated host's private directory (holds the socket and the agent's log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the agent wrote to stdout and stderr so far.
    pub fn agent_log(&self) -> String {
        std::fs::read_to_string(&self.log)
            .unwrap_or_else(|err| format!("<cannot read {}: {err}>", self.log.display()))
    }
}

impl Drop for SimHost {
    fn drop(&mut self) {
        // SIGKILL, not SIGTERM: teardown must not depend on the agent behaving.
        let _ = self.agent.kill();
        let _ = self.agent.wait();
        if let Some(holder) = &mut self.holder {
            let _ = holder.kill();
            let _ = holder.wait();
        }
    }
}

/// Starts an agent for the host whose directory is `dir`, either making the host's namespaces itself
/// or entering a holder's.
fn spawn_agent(dir: &Path, listener: AgentListener, extra_args: &[String], entry: Entry) -> Child {
    let lab_socket = dir.join("agent.sock");
    // Appended to: a restarted agent's log follows its predecessor's.
    let log_file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("agent.log"))
        .expect("the agent's log file");
    let mut command = Command::new(&binaries().agent);
    if listener == AgentListener::LabSocket {
        command
            .arg("--listen")
            .arg(format!("unix:{}", lab_socket.display()));
    }
    // Never the machine's /var/lib/nsfleet: each simulated host keeps its ledger and journal with it.
    if !extra_args.iter().any(|arg| arg.starts_with("--state-dir")) {
        command.arg("--state-dir").arg(dir.join("state"));
    }
    command
        .args(extra_args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
        )
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("the agent's log file"))
        .stderr(log_file);
    match entry {
        Entry::Private => {
            let setup = PrivateHostSetup::new();
            // SAFETY: the closure runs between fork and exec in the child, which has a single thread; it
            // only makes raw syscalls on data prepared before the fork (no allocation, no locks).
            unsafe {
                command.pre_exec(move || setup.enter());
            }
        }
        Entry::Holder(holder) => {
            let join = JoinHolder::new(holder);
            // SAFETY: as above; the namespace files were opened before the fork.
            unsafe {
                command.pre_exec(move || join.enter());
            }
        }
    }
    command
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", binaries().agent.display()))
}

fn lab_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nsfleet-lab-")
        .tempdir()
        .expect("a temporary directory for the simulated host")
}

/// How an agent gets its host's namespaces.
#[derive(Clone, Copy)]
enum Entry {
    /// Makes them itself: the host ends with the agent.
    Private,
    /// Enters those of this holder process.
    Holder(u32),
}

/// Waits until `child` has exec'd `program`, so whatever it did before exec (entering the host) is done.
fn wait_until_exec(child: &Child, program: &str) {
    let started = Instant::now();
    loop {
        let exe = std::fs::read_link(format!("/proc/{}/exe", child.id()));
        if exe.is_ok_and(|exe| exe.file_name().is_some_and(|name| name == program)) {
            return;
        }
        assert!(
            started.elapsed() < STARTUP_LIMIT,
            "the namespace holder (pid {}) did not start within {STARTUP_LIMIT:?}",
            child.id()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// What an agent's child does between fork and exec to enter a holder's namespaces, with the namespace
/// files opened before the fork.
struct JoinHolder {
    parent: libc::pid_t,
    net: OwnedFd,
    mnt: OwnedFd,
}

impl JoinHolder {
    fn new(holder: u32) -> Self {
        let open = |kind: &str| -> OwnedFd {
            File::open(format!("/proc/{holder}/ns/{kind}"))
                .unwrap_or_else(|err| panic!("the holder's {kind} namespace: {err}"))
                .into()
        };
        JoinHolder {
            parent: std::process::id() as libc::pid_t,
            net: open("net"),
            mnt: open("mnt"),
        }
    }

    fn enter(&self) -> io::Result<()> {
        // SAFETY: raw syscalls on file descriptors owned by `self`; async-signal-safe. The child has one
        // thread, so entering a mount namespace is allowed.
        unsafe {
            check(libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ))?;
            if libc::getppid() != self.parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            check(libc::setns(self.net.as_raw_fd(), libc::CLONE_NEWNET))?;
            check(libc::setns(self.mnt.as_raw_fd(), libc::CLONE_NEWNS))
        }
    }
}

/// Which socket the lab's CLI calls reach the agent on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AgentListener {
    /// `--listen unix:` a socket in the host's temporary directory.
    LabSocket,
    /// No `--listen`: the agent's default socket, inside the host's private `/run`.
    Default,
}

/// What the child does between fork and exec, with every string made before the fork.
struct PrivateHostSetup {
    parent: libc::pid_t,
    root: CString,
    run: CString,
    tmpfs: CString,
    tmpfs_options: CString,
    netns_dir: CString,
}

impl PrivateHostSetup {
    fn new() -> Self {
        let c = |s: &str| CString::new(s).expect("no NUL in a constant");
        PrivateHostSetup {
            parent: std::process::id() as libc::pid_t,
            root: c("/"),
            run: c("/run"),
            tmpfs: c("tmpfs"),
            tmpfs_options: c("mode=0755"),
            netns_dir: c("/run/netns"),
        }
    }

    /// Makes the calling (freshly forked) process a simulated host.
    fn enter(&self) -> io::Result<()> {
        // SAFETY: plain syscalls on valid NUL-terminated strings owned by `self`; async-signal-safe.
        unsafe {
            check(libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ))?;
            // The test process may have died between fork and prctl; then no signal would ever come.
            if libc::getppid() != self.parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            check(libc::unshare(libc::CLONE_NEWNET | libc::CLONE_NEWNS))?;
            // Private first, so neither the tmpfs below nor the agent's netns bind mounts reach the
            // machine's mount namespace.
            check(libc::mount(
                std::ptr::null(),
                self.root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            // A /run of its own: /run/netns is this host's list of named namespaces.
            check(libc::mount(
                self.tmpfs.as_ptr(),
                self.run.as_ptr(),
                self.tmpfs.as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV,
                self.tmpfs_options.as_ptr().cast(),
            ))?;
            check(libc::mkdir(self.netns_dir.as_ptr(), 0o755))?;
            bring_loopback_up()
        }
    }
}

/// A new network namespace starts with `lo` down; a real host has it up.
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
