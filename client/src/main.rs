//! The `nsfleet` program. It starts from C's `main` rather than Rust's (`startup.rs` says why).

#![no_main]

use std::ffi::{c_char, c_int};

#[no_mangle]
pub extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    nsfleet_client::startup::prepare();
    let status = nsfleet_client::app::main();
    // `exit` flushes standard output first, as returning from Rust's `main` would.
    std::process::exit(c_int::from(status))
}
