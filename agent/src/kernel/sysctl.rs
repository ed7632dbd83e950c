//! Forwarding sysctls. `/proc/sys/net` shows the namespace of the thread that opens the file, so these
//! functions are blocking and must run on a thread that joined the target namespace.

use std::fs;
use std::io;

use crate::domain::Family;

fn forwarding_path(family: Family) -> &'static str {
    match family {
        Family::V4 => "/proc/sys/net/ipv4/ip_forward",
        Family::V6 => "/proc/sys/net/ipv6/conf/all/forwarding",
    }
}

pub fn forwarding(family: Family) -> io::Result<bool> {
    let path = forwarding_path(family);
    let text = fs::read_to_string(path)?;
    Ok(text.trim() != "0")
}

/// Sets forwarding and returns the previous value; writes nothing if it already has the value.
pub fn set_forwarding(family: Family, enabled: bool) -> io::Result<bool> {
    let previous = forwarding(family)?;
    if previous != enabled {
        fs::write(forwarding_path(family), if enabled { "1\n" } else { "0\n" })?;
    }
    Ok(previous)
}
