//! nftables' own library, `libnftables.so.1` (what the `nft` command is a thin front end to), loaded at
//! run time with `dlopen`. Same JSON in, same JSON and error texts out as `nft -j`, without starting a
//! process per request: an `nft` run costs 5-10 ms of exec and library start, the library call well
//! under 1 ms (BENCHMARKS.md, "One invocation per command").
//!
//! Loaded, not linked: building nsfleet needs no nftables headers or `-dev` package, and an agent host
//! without the library (or with another soname) falls back to the `nft` command.
//!
//! A context is kept per thread and per network namespace ([`KeptContext`]). libnftables opens its
//! netlink socket when the context is made, so the socket belongs to the namespace the thread was in
//! then; a thread found in another namespace gets a new context. Keeping it saves, per call, making the
//! context (four files under `/etc` read again) and closing its socket: after a transaction that removed
//! something, the kernel makes the close of a netfilter socket wait for an RCU grace period (5-20 ms
//! here), which every `nat del` paid. The cache is not reused across commands: a listing fetches it
//! afresh (counters included) and leaves it marked for refresh, so the change that follows fetches it
//! again. A context whose batch failed, or was only checked, is freed all the same, so nothing a batch
//! that was not applied put into its cache could ever be reused.
//!
//! One lock serializes every call and every context's creation and freeing, since the library keeps
//! process-wide state (its init-once tables, the interface cache) that is not documented as thread-safe.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};
use std::os::unix::fs::MetadataExt;
use std::sync::{Mutex, MutexGuard, OnceLock};

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

/// What a command is for, which decides whether its context may be kept.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Purpose {
    /// A listing: it only reads, so its context is kept even when it fails (the table may be missing).
    Read,
    /// A batch applied as one transaction; its context is kept only when the batch was applied.
    Apply,
    /// A batch checked, not applied (`nft -c`); its context is never kept.
    Check,
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
    /// namespace. `Err` only when the library itself cannot be used.
    pub(super) fn run(&'static self, command: &str, purpose: Purpose) -> Result<Ran, String> {
        let command =
            CString::new(command).map_err(|_| "the command holds a NUL byte".to_string())?;
        let namespace = current_namespace()?;
        // Taken out of the thread's slot before the lock: one made in another namespace is freed here,
        // and freeing takes the lock.
        let kept = KEPT.take().filter(|context| context.namespace == namespace);
        let serialized = self.lock();
        let context = match kept {
            Some(context) => context,
            None => KeptContext::new(self, namespace)?,
        };
        let ctx = context.raw;
        // SAFETY: `ctx` is a live context from `nft_ctx_new`, used only on this thread (the slot is
        // thread-local) and under the lock; the buffers are copied out before anything else runs on it.
        let ran = unsafe {
            (self.output_set_flags)(ctx, OUTPUT_JSON);
            (self.set_dry_run)(ctx, purpose == Purpose::Check);
            let status = (self.run_cmd_from_buffer)(ctx, command.as_ptr());
            Ran {
                ok: status == 0,
                output: copy_string((self.get_output_buffer)(ctx)),
                error: copy_string((self.get_error_buffer)(ctx)),
            }
        };
        drop(serialized);
        // A checked batch leaves in the cache what it would have added, as a refused one may. Freeing
        // a context closes its socket, and the kernel makes that close wait for the release of what the
        // last transaction removed (an RCU grace period, 5-20 ms): a context kept after a listing that
        // found no table spares the next `nat add` that wait after `nat del` removed the table.
        let keep = match purpose {
            Purpose::Read => true,
            Purpose::Apply => ran.ok,
            Purpose::Check => false,
        };
        if keep {
            KEPT.set(Some(context));
        }
        Ok(ran)
    }

    /// The guarded data is `()`: a panic elsewhere cannot have left it inconsistent.
    fn lock(&self) -> MutexGuard<'_, ()> {
        self.serialize
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

thread_local! {
    /// This thread's context, between calls.
    static KEPT: Cell<Option<KeptContext>> = const { Cell::new(None) };
}

/// The namespace of the context this thread keeps, if it keeps one.
#[cfg(test)]
pub(super) fn kept_context_namespace() -> Option<u64> {
    let kept = KEPT.take();
    let namespace = kept.as_ref().map(|context| context.namespace);
    KEPT.set(kept);
    namespace
}

/// A context with buffered output, and the network namespace (inode) its socket lives in. Freed when
/// its batch is refused or only checked, when its thread is found in another namespace, or when the
/// thread exits: a namespace's kept thread leaves once idle (`netns/worker.rs`), and the socket goes
/// with it, so a context never holds a namespace nobody works in.
struct KeptContext {
    library: &'static Libnftables,
    raw: *mut c_void,
    namespace: u64,
}

impl KeptContext {
    /// Called with the library's lock held.
    fn new(library: &'static Libnftables, namespace: u64) -> Result<Self, String> {
        // SAFETY: no preconditions; NULL is checked below.
        let raw = unsafe { (library.ctx_new)(CTX_DEFAULT) };
        if raw.is_null() {
            return Err("nft_ctx_new failed".to_string());
        }
        // SAFETY: `raw` is the live context just made; on failure it is freed here, under the lock the
        // caller holds, and never used again.
        unsafe {
            if (library.buffer_output)(raw) != 0 || (library.buffer_error)(raw) != 0 {
                (library.ctx_free)(raw);
                return Err("libnftables cannot buffer its output".to_string());
            }
        }
        Ok(Self {
            library,
            raw,
            namespace,
        })
    }
}

impl Drop for KeptContext {
    fn drop(&mut self) {
        let _serialized = self.library.lock();
        // SAFETY: `raw` came from `nft_ctx_new` and is freed exactly once, here.
        unsafe { (self.library.ctx_free)(self.raw) }
    }
}

/// The inode of the calling thread's network namespace, which tells namespaces apart while either one
/// lives (a kept context's socket keeps its own alive).
fn current_namespace() -> Result<u64, String> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .map(|metadata| metadata.ino())
        .map_err(|error| format!("cannot read this thread's network namespace: {error}"))
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
        let checked = library.run(r#"{"nftables": []}"#, Purpose::Check).unwrap();
        assert!(checked.ok, "{}", checked.error);
        let refused = library.run("this is not nft", Purpose::Check).unwrap();
        assert!(!refused.ok);
        assert!(refused.error.contains("syntax error"), "{}", refused.error);
    }
}
