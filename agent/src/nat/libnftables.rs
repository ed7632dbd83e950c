//! nftables' own library, `libnftables.so.1` (what the `nft` command is a thin front end to), loaded at
//! run time with `dlopen`. Same JSON in, same JSON and error texts out as `nft -j`, without starting a
//! process per request: an `nft` run costs 5-10 ms of exec and library start, the library call well
//! under 1 ms (BENCHMARKS.md, "One invocation per command").
//!
//! Loaded, not linked: building nsfleet needs no nftables headers or `-dev` package, and an agent host
//! without the library (or with another soname) falls back to the `nft` command.
//!
//! Each call gets a fresh context, created on the calling thread: libnftables opens its netlink socket
//! there, so the socket belongs to the namespace the agent entered for this request, and no context
//! outlives a namespace. One lock serializes every call, since the library keeps process-wide state
//! (its init-once tables, xtables) that is not documented as thread-safe.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::sync::{Mutex, OnceLock};

/// The soname of nftables 0.9.3 to 1.1: the library's ABI for the calls below.
const SONAME: &CStr = c"libnftables.so.1";
/// `NFT_CTX_OUTPUT_JSON` in `<nftables/libnftables.h>`.
const OUTPUT_JSON: c_uint = 1 << 4;
/// `NFT_CTX_DEFAULT`.
const CTX_DEFAULT: u32 = 0;

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type CtxFlag = unsafe extern "C" fn(*mut c_void) -> c_int;
type CtxSetOutputFlags = unsafe extern "C" fn(*mut c_void, c_uint);
type CtxSetDryRun = unsafe extern "C" fn(*mut c_void, bool);
type CtxBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// The entry points nsfleet uses, resolved once.
pub(super) struct Libnftables {
    ctx_new: CtxNew,
    ctx_free: CtxFree,
    buffer_output: CtxFlag,
    buffer_error: CtxFlag,
    get_output_buffer: CtxBuffer,
    get_error_buffer: CtxBuffer,
    output_set_flags: CtxSetOutputFlags,
    set_dry_run: CtxSetDryRun,
    run_cmd_from_buffer: RunCmd,
    serialize: Mutex<()>,
}

/// What one command printed.
pub(super) struct Ran {
    pub ok: bool,
    pub output: String,
    pub error: String,
}

impl Libnftables {
    /// The library, loaded on first use; `Err` says why it cannot be used (then `nft` is).
    pub(super) fn get() -> Result<&'static Libnftables, String> {
        static LOADED: OnceLock<Result<Libnftables, String>> = OnceLock::new();
        LOADED
            .get_or_init(Self::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn load() -> Result<Libnftables, String> {
        Self::load_from(SONAME)
    }

    fn load_from(soname: &CStr) -> Result<Libnftables, String> {
        // SAFETY: dlopen with a NUL-terminated name; the handle is never closed, so the function
        // pointers taken from it stay valid for the life of the process.
        let handle = unsafe { libc::dlopen(soname.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!(
                "{} cannot be loaded: {}",
                soname.to_string_lossy(),
                last_dl_error()
            ));
        }
        macro_rules! symbol {
            ($name:literal, $type:ty) => {{
                // SAFETY: a constant NUL-terminated name looked up in a handle that stays open.
                let address = unsafe { libc::dlsym(handle, concat!($name, "\0").as_ptr().cast()) };
                if address.is_null() {
                    return Err(format!(
                        "{} has no symbol {}",
                        soname.to_string_lossy(),
                        $name
                    ));
                }
                // SAFETY: the symbol's C prototype in <nftables/libnftables.h> is exactly `$type`,
                // unchanged across the soname's versions.
                unsafe { std::mem::transmute::<*mut c_void, $type>(address) }
            }};
        }
        Ok(Libnftables {
            ctx_new: symbol!("nft_ctx_new", CtxNew),
            ctx_free: symbol!("nft_ctx_free", CtxFree),
            buffer_output: symbol!("nft_ctx_buffer_output", CtxFlag),
            buffer_error: symbol!("nft_ctx_buffer_error", CtxFlag),
            get_output_buffer: symbol!("nft_ctx_get_output_buffer", CtxBuffer),
            get_error_buffer: symbol!("nft_ctx_get_error_buffer", CtxBuffer),
            output_set_flags: symbol!("nft_ctx_output_set_flags", CtxSetOutputFlags),
            set_dry_run: symbol!("nft_ctx_set_dry_run", CtxSetDryRun),
            run_cmd_from_buffer: symbol!("nft_run_cmd_from_buffer", RunCmd),
            serialize: Mutex::new(()),
        })
    }

    /// Runs one command (nft's syntax or its JSON) with JSON output, in the calling thread's network
    /// namespace; `check_only` is `nft -c`. `Err` only when the library itself cannot be used.
    pub(super) fn run(&self, command: &str, check_only: bool) -> Result<Ran, String> {
        let command =
            CString::new(command).map_err(|_| "the command holds a NUL byte".to_string())?;
        // The guarded data is `()`: a panic elsewhere cannot have left it inconsistent.
        let _serialized = self
            .serialize
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let context = Context::new(self)?;
        let ctx = context.raw;
        // SAFETY: `ctx` is a live context from `nft_ctx_new`, used only on this thread and freed by
        // `Context`'s drop after the buffers were copied out.
        unsafe {
            (self.output_set_flags)(ctx, OUTPUT_JSON);
            (self.set_dry_run)(ctx, check_only);
            if (self.buffer_output)(ctx) != 0 || (self.buffer_error)(ctx) != 0 {
                return Err("libnftables cannot buffer its output".to_string());
            }
            let status = (self.run_cmd_from_buffer)(ctx, command.as_ptr());
            Ok(Ran {
                ok: status == 0,
                output: copy_string((self.get_output_buffer)(ctx)),
                error: copy_string((self.get_error_buffer)(ctx)),
            })
        }
    }
}

/// A context freed on every path out of [`Libnftables::run`].
struct Context<'a> {
    library: &'a Libnftables,
    raw: *mut c_void,
}

impl<'a> Context<'a> {
    fn new(library: &'a Libnftables) -> Result<Self, String> {
        // SAFETY: no preconditions; NULL is checked below.
        let raw = unsafe { (library.ctx_new)(CTX_DEFAULT) };
        if raw.is_null() {
            return Err("nft_ctx_new failed".to_string());
        }
        Ok(Self { library, raw })
    }
}

impl Drop for Context<'_> {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `nft_ctx_new` and is freed exactly once, here.
        unsafe { (self.library.ctx_free)(self.raw) }
    }
}

/// Copies a buffer libnftables owns (it dies with the context) into a `String`.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string that stays valid for the call.
unsafe fn copy_string(text: *const c_char) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: the caller's contract.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

fn last_dl_error() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated string valid until the next dl* call, and the
    // text is copied before any other.
    unsafe { copy_string(libc::dlerror()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_library_that_does_not_load_says_which_and_why() {
        let Err(reason) = Libnftables::load_from(c"libnftables-nsfleet-test-missing.so.1") else {
            panic!("a library that does not exist loaded");
        };
        assert!(
            reason.starts_with("libnftables-nsfleet-test-missing.so.1 cannot be loaded: "),
            "{reason}"
        );
    }

    #[test]
    fn nat_library_runs_a_command_and_reports_errors_as_nft_does() {
        let library = Libnftables::get().expect("libnftables1 comes with nftables");
        let checked = library.run(r#"{"nftables": []}"#, true).unwrap();
        assert!(checked.ok, "{}", checked.error);
        let refused = library.run("this is not nft", true).unwrap();
        assert!(!refused.ok);
        assert!(refused.error.contains("syntax error"), "{}", refused.error);
    }
}
