//! Running a change to its end even if its caller goes away.
//!
//! tonic drops a handler's future when the client disconnects. Dropped at an `.await` between two kernel
//! steps, a change would be half applied and its undo would never run, so a change that waits finishes in
//! a task of its own, which either completes or rolls itself back. A panic in it becomes an error for its
//! caller alone.
//!
//! Most changes never wait: in the agent's own namespace the kernel is called inline, so the whole change
//! is done in its first poll. Such a change is run in the caller's task, and only one that waits moves to
//! a task of its own, from the point where it first waits, which is the first point where it could be
//! dropped. Spawning every change cost each one a task hop and, through tokio's scheduler, a wake-up of a
//! second worker thread: 0.03-0.09 ms of a change (BENCHMARKS.md).

use std::any::Any;
use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

/// A change that panicked or whose task was cancelled.
#[derive(Debug)]
pub struct Unfinished(String);

impl std::fmt::Display for Unfinished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub async fn run_to_completion<T, F>(change: F) -> Result<T, Unfinished>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    // Boxed so that it can move into a task after it has been polled: it stays where it is pinned.
    let mut change = Box::pin(change);
    let first =
        poll_fn(|cx| Poll::Ready(catch_unwind(AssertUnwindSafe(|| change.as_mut().poll(cx)))))
            .await;
    match first {
        Ok(Poll::Ready(done)) => Ok(done),
        Err(panic) => Err(Unfinished(format!(
            "it panicked: {}",
            panic_message(&*panic)
        ))),
        // Nothing awaits between this poll and the spawn, so the change cannot be dropped in between. A
        // waker it registered during the first poll may wake this task once more, harmlessly.
        Ok(Poll::Pending) => tokio::spawn(change)
            .await
            .map_err(|e| Unfinished(e.to_string())),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

#[cfg(test)]
mod tests;
