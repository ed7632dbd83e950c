//! `[12/40 done]` on stderr while a large fleet answers, only when a person watches stderr.

use std::io::{IsTerminal, Write};

/// More hosts than this and the wait is long enough to be worth a progress line.
const PROGRESS_ABOVE_HOSTS: usize = 8;

pub struct Progress {
    enabled: bool,
    visible: bool,
}

impl Progress {
    pub fn for_fleet(host_count: usize) -> Self {
        Self {
            enabled: host_count > PROGRESS_ABOVE_HOSTS && std::io::stderr().is_terminal(),
            visible: false,
        }
    }

    pub fn disabled() -> Self {
        Self {
            enabled: false,
            visible: false,
        }
    }

    pub fn update(&mut self, done: usize, total: usize) {
        if !self.enabled || done >= total {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r[{done}/{total} done]");
        let _ = stderr.flush();
        self.visible = true;
    }

    /// Erases the progress line so that output lines start at column 0.
    pub fn clear(&mut self) {
        if self.visible {
            let mut stderr = std::io::stderr().lock();
            let _ = write!(stderr, "\r\x1b[K");
            let _ = stderr.flush();
            self.visible = false;
        }
    }
}
