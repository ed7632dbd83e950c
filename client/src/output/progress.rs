//! Progress on stderr, only when a person watches it: `[12/40 done]` while a large fleet answers, and
//! for long fleet operations (`nsfleet apply`, `nsfleet batch` on several hosts) a line per host when
//! its work starts and when it ends.

use std::io::{IsTerminal, Write};

/// More hosts than this and the wait is long enough to be worth a progress line.
const PROGRESS_ABOVE_HOSTS: usize = 8;

pub struct Progress {
    enabled: bool,
    visible: bool,
}

impl Progress {
    /// JSON output is for programs: it gets no progress even when stderr is a terminal.
    pub fn for_fleet(host_count: usize, text_output: bool) -> Self {
        Self {
            enabled: text_output
                && host_count > PROGRESS_ABOVE_HOSTS
                && std::io::stderr().is_terminal(),
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

/// `NAME: applying WHAT` when a host's long work starts, `NAME: done` or `NAME: failed` when it ends;
/// with text output on a terminal only, so piped or JSON output gets nothing extra. Lines, not a line
/// redrawn in place: several hosts finish in any order, and each line stays true once printed.
#[derive(Debug, Clone, Copy)]
pub struct HostProgress {
    enabled: bool,
}

impl HostProgress {
    pub fn for_terminal(text_output: bool) -> Self {
        Self {
            enabled: text_output && std::io::stderr().is_terminal(),
        }
    }

    pub fn is_enabled(self) -> bool {
        self.enabled
    }

    pub fn started(self, host: &str, work: &str) {
        self.line(&format!("{host}: applying {work}"));
    }

    pub fn finished(self, host: &str, succeeded: bool) {
        let state = if succeeded { "done" } else { "failed" };
        self.line(&format!("{host}: {state}"));
    }

    fn line(self, text: &str) {
        if self.enabled {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{text}");
            let _ = stderr.flush();
        }
    }
}
