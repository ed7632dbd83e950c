//! The processes of a lab: which agent a host runs (pid and start time, so a recycled pid is never taken
//! for it), whether it still runs, and stopping it together with whatever else holds its namespaces.

use std::{
    fs,
    io::{self, Write},
    path::Path,
    thread,
    time::{Duration, Instant},
};

use super::LabError;

/// SIGTERM lets an agent finish the change it is applying; after this long it gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long a SIGKILLed process may take to disappear before `lab down` gives up on it.
const KILL_LIMIT: Duration = Duration::from_secs(5);

/// A process as the kernel identifies it over time: a pid is reused, a pid with its start time is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentRecord {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat: clock ticks after boot when the process started.
    pub start_time: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// Exited (a zombie counts: it holds no namespace), or the pid now belongs to another process.
    Gone,
}

impl AgentRecord {
    /// The record of a process that runs now.
    pub fn of(pid: u32) -> io::Result<AgentRecord> {
        let (_, start_time) = read_stat(pid)?;
        Ok(AgentRecord { pid, start_time })
    }

    pub fn write(&self, path: &Path) -> Result<(), LabError> {
        let write = || -> io::Result<()> {
            let mut file = fs::File::create(path)?;
            writeln!(file, "{} {}", self.pid, self.start_time)?;
            file.sync_all()
        };
        write().map_err(|source| LabError::io("write", path, source))
    }

    pub fn read(path: &Path) -> Result<AgentRecord, String> {
        let text = fs::read_to_string(path)
            .map_err(|error| format!("no agent record {}: {error}", path.display()))?;
        let mut words = text.split_whitespace().map(str::parse::<u64>);
        match (words.next(), words.next(), words.next()) {
            (Some(Ok(pid)), Some(Ok(start_time)), None) => Ok(AgentRecord {
                pid: u32::try_from(pid).map_err(|_| format!("{} is damaged", path.display()))?,
                start_time,
            }),
            _ => Err(format!("{} is damaged", path.display())),
        }
    }

    pub fn liveness(&self) -> Liveness {
        match read_stat(self.pid) {
            Ok((state, start_time))
                if start_time == self.start_time && !matches!(state, 'Z' | 'X') =>
            {
                Liveness::Alive
            }
            _ => Liveness::Gone,
        }
    }
}

/// The state letter and start time of a process.
fn read_stat(pid: u32) -> io::Result<(char, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces and parentheses: the fields after it follow the last ')'.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let malformed = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("/proc/{pid}/stat: {stat}"),
        )
    };
    let state = fields
        .first()
        .and_then(|s| s.chars().next())
        .ok_or_else(malformed)?;
    // Fields 3 (state) to 22 (starttime) are indexes 0 to 19 here.
    let start_time = fields
        .get(19)
        .and_then(|s| s.parse().ok())
        .ok_or_else(malformed)?;
    Ok((state, start_time))
}

/// Stops the running ones among `agents` and every other process inside their network or mount
/// namespaces (a shell someone entered with nsenter, an `nft` the agent started), so that the kernel frees
/// the namespaces and everything made in them. Agents get SIGTERM first, the others SIGKILL at once.
pub fn stop_all(agents: &[AgentRecord]) -> Result<(), LabError> {
    let running: Vec<AgentRecord> = agents
        .iter()
        .copied()
        .filter(|agent| agent.liveness() == Liveness::Alive)
        .collect();
    // Read while the agents still hold them: a namespace identified by an agent that is alive cannot
    // have been freed and its inode number given to someone else's namespace.
    let namespaces: Vec<String> = running
        .iter()
        .flat_map(|agent| namespace_ids(agent.pid))
        .collect();
    let holders: Vec<AgentRecord> = processes_in(&namespaces)
        .into_iter()
        .filter(|holder| !running.iter().any(|agent| agent.pid == holder.pid))
        .collect();
    for agent in &running {
        signal(agent, libc::SIGTERM);
    }
    for holder in &holders {
        signal(holder, libc::SIGKILL);
    }
    let everyone: Vec<AgentRecord> = running.iter().chain(&holders).copied().collect();
    let left = wait_gone(&everyone, STOP_GRACE);
    for process in &left {
        signal(process, libc::SIGKILL);
    }
    let left = wait_gone(&left, KILL_LIMIT);
    if let Some(stuck) = left.first() {
        return Err(LabError::Unstoppable { pid: stuck.pid });
    }
    Ok(())
}

/// "net:[4026532290]" and "mnt:[...]" of a process: the names /proc/PID/ns links point to.
fn namespace_ids(pid: u32) -> Vec<String> {
    ["net", "mnt"]
        .iter()
        .filter_map(|kind| fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok())
        .filter_map(|link| link.to_str().map(str::to_string))
        .collect()
}

fn processes_in(namespaces: &[String]) -> Vec<AgentRecord> {
    if namespaces.is_empty() {
        return Vec::new();
    }
    let own_pid = std::process::id();
    fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != own_pid)
        .filter(|pid| namespace_ids(*pid).iter().any(|id| namespaces.contains(id)))
        .filter_map(|pid| AgentRecord::of(pid).ok())
        .collect()
}

/// Signals `process` only if it is still the process recorded, never whoever has its pid now.
fn signal(process: &AgentRecord, signal: libc::c_int) {
    if process.liveness() != Liveness::Alive {
        return;
    }
    let Ok(pid) = libc::pid_t::try_from(process.pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers; an ESRCH (it exited meanwhile) is the outcome wanted anyway.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Waits until every process is gone or `limit` passes; returns those still there.
fn wait_gone(processes: &[AgentRecord], limit: Duration) -> Vec<AgentRecord> {
    let deadline = Instant::now() + limit;
    loop {
        let left: Vec<AgentRecord> = processes
            .iter()
            .copied()
            .filter(|process| process.liveness() == Liveness::Alive)
            .collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = AgentRecord::of(std::process::id()).unwrap();
        assert_eq!(me.liveness(), Liveness::Alive);
        let impostor = AgentRecord {
            start_time: me.start_time + 1,
            ..me
        };
        assert_eq!(impostor.liveness(), Liveness::Gone);
    }

    #[test]
    fn record_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.pid");
        let record = AgentRecord {
            pid: 42,
            start_time: 7,
        };
        record.write(&path).unwrap();
        assert_eq!(AgentRecord::read(&path), Ok(record));
        fs::write(&path, "42").unwrap();
        assert!(AgentRecord::read(&path).is_err());
        fs::write(&path, "42 7 9").unwrap();
        assert!(AgentRecord::read(&path).is_err());
    }
}
