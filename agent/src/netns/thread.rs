use std::os::fd::OwnedFd;
use std::sync::Arc;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use tokio::sync::oneshot;

use super::NetnsError;

/// Runs blocking `work` on a fresh OS thread that has joined the network namespace behind `namespace`,
/// and returns its result to async code.
///
/// The thread exits when `work` returns, so its namespace never leaks into another task: nothing has to
/// `setns` back. Sockets `work` creates stay in that namespace, and processes it spawns inherit it.
pub async fn run_in_namespace<T, F>(
    namespace: Arc<OwnedFd>,
    context: &str,
    work: F,
) -> Result<T, NetnsError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let (sender, receiver) = oneshot::channel();
    std::thread::Builder::new()
        .name("nsfleet-netns".into())
        .spawn(move || {
            let result = setns(&*namespace, CloneFlags::CLONE_NEWNET).map(|()| work());
            // The caller may have gone (a cancelled request); the work is done either way.
            let _ = sender.send(result);
        })
        .map_err(|e| NetnsError::io(format!("{context}: spawn namespace thread"), e))?;
    answer(receiver.await, context)
}

/// What a thread inside a namespace sent back: the work's result, or why there is none (the `setns`
/// failed, or the work panicked).
pub(super) fn answer<T>(
    received: Result<Result<T, Errno>, oneshot::error::RecvError>,
    context: &str,
) -> Result<T, NetnsError> {
    match received {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(errno)) => Err(NetnsError::io(format!("{context}: setns"), errno)),
        Err(_) => Err(NetnsError::ThreadLost {
            context: context.to_string(),
        }),
    }
}
