//! How the `nsfleet` program starts: from C's `main`, linked as a static PIE (client/src/main.rs,
//! startup.rs, build.rs). What Rust's own start did and the client still needs is checked on a real
//! process: SIGPIPE ignored, closed standard descriptors opened on /dev/null.

use std::io::ErrorKind;
use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use nsfleet_tests::{binaries, crash::KilledOnDrop, poll_until};

/// What `readelf` prints about `path` with `option` (binutils).
fn readelf(option: &str, path: &std::path::Path) -> String {
    let output = Command::new("readelf")
        .arg("-W")
        .arg(option)
        .arg(path)
        .output()
        .expect("run readelf (binutils)");
    assert!(
        output.status.success(),
        "readelf {option} {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_program_is_a_static_pie_that_loads_nothing() {
    let program = &binaries().client;
    let needed: Vec<String> = readelf("-d", program)
        .lines()
        .filter(|line| line.contains("(NEEDED)"))
        .map(str::to_owned)
        .collect();
    assert!(
        needed.is_empty(),
        "each shared library costs every invocation its start; the program needs {needed:?}"
    );
    let segments = readelf("-l", program);
    assert!(
        !segments.contains("INTERP"),
        "the program asks for a dynamic loader:\n{segments}"
    );
    // Position-independent, so the kernel still places it at a random address.
    let header = readelf("-h", program);
    assert!(
        header
            .lines()
            .any(|line| line.trim_start().starts_with("Type:") && line.contains("DYN")),
        "the program is not position-independent:\n{header}"
    );
}

/// One line of /proc/PID/status, without its key.
fn status_field(pid: u32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read the status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .map(|value| value.trim().to_string())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/status:\n{status}"))
}

#[test]
fn a_waiting_client_ignores_sigpipe_and_has_dev_null_for_a_closed_stdout() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("silent.sock");
    // Accepts and never answers, so the client is waiting for its answer while it is examined.
    let listener = UnixListener::bind(&path).expect("bind the silent socket");
    listener.set_nonblocking(true).expect("non-blocking accept");
    let mut command = Command::new(&binaries().client);
    command
        .env_remove("NSFLEET_HOSTS")
        .arg("--host")
        .arg(format!("unix:{}", path.display()))
        .args(["--timeout", "60", "netns", "list"])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: close(2) is async-signal-safe; the child closes its own standard output before exec.
    unsafe {
        command.pre_exec(|| {
            libc::close(libc::STDOUT_FILENO);
            Ok(())
        });
    }
    let mut client = KilledOnDrop(command.spawn().expect("start the client"));
    let _connection = poll_until(
        "the client to connect",
        Duration::from_secs(20),
        || match listener.accept() {
            Ok((stream, _)) => Ok(stream),
            Err(e) if e.kind() == ErrorKind::WouldBlock => match client.0.try_wait() {
                Ok(Some(status)) => panic!("the client ended before connecting: {status}"),
                _ => Err("not yet".to_string()),
            },
            Err(e) => panic!("accept: {e}"),
        },
    );
    let pid = client.0.id();

    let ignored = u64::from_str_radix(&status_field(pid, "SigIgn:"), 16).expect("a hex mask");
    let sigpipe = 1u64 << (libc::SIGPIPE - 1);
    assert_ne!(
        ignored & sigpipe,
        0,
        "SIGPIPE must be ignored, or a write to an agent that went away kills the client silently \
         (SigIgn {ignored:#x})"
    );
    let stdout = std::fs::read_link(format!("/proc/{pid}/fd/1")).expect("the client's fd 1");
    assert_eq!(
        stdout,
        std::path::Path::new("/dev/null"),
        "a closed stdout must not be taken by the first file or socket the client opens"
    );
}
