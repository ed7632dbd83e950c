//! A "wire" between two simulated hosts: a veth pair with one end in each host's own network namespace,
//! addressed and up, standing in for the physical network an overlay runs over. Removed on drop.

use crate::sim_host::SimHost;

pub struct Wire<'a> {
    first: &'a SimHost,
    name: String,
}

impl<'a> Wire<'a> {
    /// `name` at both ends, `first_address` and `second_address` (with prefix length) on them. `ip`
    /// takes the second host's namespace by a pid inside it, so no name is needed in either host.
    pub fn connect(
        first: &'a SimHost,
        second: &SimHost,
        name: &str,
        first_address: &str,
        second_address: &str,
    ) -> Self {
        let pid = second.pid().to_string();
        first.run_ok(
            "",
            &[
                "ip", "link", "add", name, "type", "veth", "peer", "name", name, "netns", &pid,
            ],
        );
        // From here on the wire exists: drop removes it even if a later step panics.
        let wire = Wire {
            first,
            name: name.to_string(),
        };
        for (host, address) in [(first, first_address), (second, second_address)] {
            host.run_ok("", &["ip", "address", "add", address, "dev", name]);
            host.run_ok("", &["ip", "link", "set", name, "up"]);
        }
        wire
    }

    /// Lets go of the wire without removing it: it then lives as long as the hosts' network namespaces
    /// and goes with them. For a test that needs its lab mutably (to restart an agent) while the wire,
    /// and every tunnel over it, stays.
    pub fn leave_in_place(self) {
        std::mem::forget(self);
    }
}

impl Drop for Wire<'_> {
    fn drop(&mut self) {
        // Deleting one end deletes both; a host that is already gone took the wire with it.
        let _ = self
            .first
            .run_in("", &["ip", "link", "del", self.name.as_str()]);
    }
}
