//! The `nsfleet` program.
//!
//! It starts from C's `main` rather than Rust's (`startup.rs` says why), and is linked statically
//! (`build.rs` says how): a shared library costs every invocation its mapping, relocation and page
//! faults.

#![no_main]

use std::ffi::{c_char, c_int};

#[no_mangle]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    nsfleet_client::startup::prepare();
    // A panic must not unwind out of this `extern "C"` function, where it would abort. Rust's start
    // catches it too: the hook has printed the message (naming the thread `<unnamed>`, not `main`),
    // and the status is 101.
    let status = std::panic::catch_unwind(nsfleet_client::app::main).unwrap_or(101);
    // `exit` flushes standard output first, as returning from Rust's `main` would.
    std::process::exit(c_int::from(status))
}
