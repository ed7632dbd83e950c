//! Where a lab lives and what it records: one directory per lab under the labs root, holding for each
//! host its socket (`hostN.sock`) and a directory (`hostN/`: the agent's pid record, log and state
//! directory), and `lab.json`, written last, which says how many hosts the lab was started with.

use std::{
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
};

use serde_json::{json, Value};

use super::{
    process::{AgentRecord, Liveness},
    LabError,
};

/// The labs root when neither `--lab-dir` nor NSFLEET_LAB_DIR is given: under /run, so a reboot, which
/// ends every lab's processes anyway, also clears their directories.
pub const DEFAULT_LABS_ROOT: &str = "/run/nsfleet/labs";

/// At most this many hosts per lab: each is a whole agent process.
pub const MAX_HOSTS: u16 = 64;

const MAX_NAME_LEN: usize = 32;

/// A sockaddr_un path holds 108 bytes, the terminating NUL included.
const MAX_SOCKET_PATH: usize = 107;

const MANIFEST: &str = "lab.json";

/// A lab's name: also a directory name and part of every socket path, so a short plain word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabName(String);

impl LabName {
    pub fn parse(text: &str) -> Result<LabName, String> {
        let mut chars = text.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !first_ok || !rest_ok || text.len() > MAX_NAME_LEN {
            return Err(format!(
                "\"{}\" is not a lab name: 1-{MAX_NAME_LEN} letters, digits, '-' or '_', starting with a \
                 letter or digit",
                text.escape_debug()
            ));
        }
        Ok(LabName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The paths of one lab, from the labs root and its name.
#[derive(Debug, Clone)]
pub struct LabLayout {
    pub name: LabName,
    pub dir: PathBuf,
}

/// The paths of one host of a lab.
#[derive(Debug, Clone)]
pub struct HostLayout {
    /// "host1", "host2", ...: the name a topology file uses.
    pub label: String,
    pub socket: PathBuf,
    pub dir: PathBuf,
    pub log: PathBuf,
    pub state_dir: PathBuf,
    pub record: PathBuf,
}

impl HostLayout {
    /// The CLI's `--host` value for this host.
    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.socket.display())
    }
}

impl LabLayout {
    pub fn new(root: &Path, name: LabName) -> LabLayout {
        LabLayout {
            dir: root.join(name.as_str()),
            name,
        }
    }

    pub fn host(&self, index: u16) -> HostLayout {
        let label = format!("host{index}");
        let dir = self.dir.join(&label);
        HostLayout {
            socket: self.dir.join(format!("{label}.sock")),
            log: dir.join("agent.log"),
            state_dir: dir.join("state"),
            record: dir.join("agent.pid"),
            dir,
            label,
        }
    }

    /// Refuses a root so deep that the last host's socket path would not fit in a sockaddr_un.
    pub fn check_socket_paths(&self, hosts: u16) -> Result<(), LabError> {
        let longest = self.host(hosts).socket;
        if longest.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(LabError::SocketPathTooLong { path: longest });
        }
        Ok(())
    }

    /// Records the host count; written only once every agent accepts connections, so a lab without it
    /// never finished starting.
    pub fn write_manifest(&self, hosts: u16) -> Result<(), LabError> {
        let path = self.dir.join(MANIFEST);
        let text = json!({ "name": self.name.as_str(), "hosts": hosts }).to_string();
        let write = || -> io::Result<()> {
            let mut file = fs::File::create(&path)?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        };
        write().map_err(|source| LabError::io("write", &path, source))
    }

    fn read_manifest(&self) -> Result<u16, String> {
        let path = self.dir.join(MANIFEST);
        let text = fs::read_to_string(&path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => "it never finished starting (no lab.json)".to_string(),
            _ => format!("cannot read {}: {error}", path.display()),
        })?;
        serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|manifest| manifest["hosts"].as_u64())
            .and_then(|hosts| u16::try_from(hosts).ok())
            .filter(|hosts| (1..=MAX_HOSTS).contains(hosts))
            .ok_or_else(|| format!("{} is damaged", path.display()))
    }

    /// What the lab's directory says, checked against the running processes and sockets.
    pub fn inspect(&self) -> LabState {
        if !self.dir.is_dir() {
            return LabState::Absent;
        }
        let hosts = match self.read_manifest() {
            Ok(hosts) => hosts,
            Err(problem) => {
                return LabState::Broken {
                    hosts: None,
                    problem,
                }
            }
        };
        for index in 1..=hosts {
            let host = self.host(index);
            if let Err(problem) = host_running(&host) {
                return LabState::Broken {
                    hosts: Some(hosts),
                    problem: format!("{}: {problem}", host.label),
                };
            }
        }
        LabState::Running { hosts }
    }

    /// The first entry of the lab's directory that a lab never holds, if any. `lab down` removes the
    /// directory whole: a mistyped `--lab-dir` must not make it remove someone else's.
    pub fn foreign_entry(&self) -> Option<String> {
        let entries = fs::read_dir(&self.dir).ok()?;
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .find(|name| !is_lab_entry(name))
    }

    /// Every host directory the lab holds, started or not, in order: what `lab down` must clean up even
    /// when `lab.json` is missing or wrong.
    pub fn existing_hosts(&self) -> Vec<HostLayout> {
        let mut hosts: Vec<(u16, HostLayout)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let name = entry.ok()?.file_name();
                let index = name.to_str()?.strip_prefix("host")?.parse::<u16>().ok()?;
                Some((index, self.host(index)))
            })
            .filter(|(_, host)| host.dir.is_dir())
            .collect();
        hosts.sort_by_key(|(index, _)| *index);
        hosts.into_iter().map(|(_, host)| host).collect()
    }
}

/// `lab.json`, `hostN` or `hostN.sock`: the names `up` makes in a lab's directory.
fn is_lab_entry(name: &str) -> bool {
    if name == MANIFEST {
        return true;
    }
    let host = name.strip_suffix(".sock").unwrap_or(name);
    host.strip_prefix("host")
        .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
}

fn host_running(host: &HostLayout) -> Result<(), String> {
    let record = AgentRecord::read(&host.record)?;
    match record.liveness() {
        Liveness::Alive => {}
        Liveness::Gone => return Err(format!("its agent (pid {}) is not running", record.pid)),
    }
    std::os::unix::net::UnixStream::connect(&host.socket)
        .map(drop)
        .map_err(|error| {
            format!(
                "its socket {} refuses connections: {error}",
                host.socket.display()
            )
        })
}

/// What a lab's directory and processes say about it.
#[derive(Debug, PartialEq, Eq)]
pub enum LabState {
    Absent,
    Running {
        hosts: u16,
    },
    /// Something is missing: an agent died, a socket is gone, or it never finished starting.
    Broken {
        hosts: Option<u16>,
        problem: String,
    },
}

/// The names of the labs under `root`, sorted; none if the root does not exist yet.
pub fn lab_names(root: &Path) -> Result<Vec<LabName>, LabError> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(LabError::io("list", root, source)),
    };
    let mut names: Vec<LabName> = entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = LabName::parse(entry.file_name().to_str()?).ok()?;
            entry.file_type().ok()?.is_dir().then_some(name)
        })
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_names() {
        for good in ["demo", "a", "Lab-2_x", "0"] {
            assert!(LabName::parse(good).is_ok(), "{good}");
        }
        let too_long = "x".repeat(MAX_NAME_LEN + 1);
        for bad in [
            "",
            "-x",
            "_x",
            ".",
            "..",
            "a/b",
            "a b",
            "é",
            too_long.as_str(),
        ] {
            assert!(LabName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn socket_paths_must_fit_a_sockaddr() {
        let name = LabName::parse("demo").unwrap();
        let short = LabLayout::new(Path::new("/run/nsfleet/labs"), name.clone());
        assert!(short.check_socket_paths(MAX_HOSTS).is_ok());
        let deep = LabLayout::new(&Path::new("/").join("d".repeat(100)), name);
        assert!(matches!(
            deep.check_socket_paths(1),
            Err(LabError::SocketPathTooLong { .. })
        ));
    }

    #[test]
    fn only_what_up_makes_belongs_to_a_lab() {
        for name in ["lab.json", "host1", "host12.sock"] {
            assert!(is_lab_entry(name), "{name}");
        }
        for name in [
            "host",
            "host.sock",
            "hostx",
            "passwd",
            "lab.json~",
            "host1.log",
        ] {
            assert!(!is_lab_entry(name), "{name}");
        }
    }

    #[test]
    fn host_paths() {
        let lab = LabLayout::new(Path::new("/labs"), LabName::parse("demo").unwrap());
        let host = lab.host(2);
        assert_eq!(host.endpoint(), "unix:/labs/demo/host2.sock");
        assert_eq!(host.state_dir, Path::new("/labs/demo/host2/state"));
    }
}
