//! The thread a namespace handle keeps for blocking work inside its namespace (sysctls, sockets opened
//! there, nftables).
//!
//! A thread per call cost more than most of the work it ran: a stack mapped and a thread started and
//! joined, `setns`, and above all a new malloc arena whose pages libnftables faulted in again on every
//! call. So the thread stays while work keeps coming and leaves after [`IDLE_EXIT`] without any, or as
//! soon as its handle is dropped: an idle thread inside a namespace keeps that namespace alive, and a
//! thousand namespaces must not mean a thousand parked threads.
//!
//! Its jobs run one at a time. They are all short (nothing here waits on the network), and NAT calls
//! are serialized by libnftables' lock anyway. A job that panics answers its caller with an error, and
//! the thread goes on with the next.

use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use tokio::sync::oneshot;

use super::thread::answer;
use super::NetnsError;

/// How long the thread waits for more work before it leaves. Long enough that a script's next command,
/// or the next line of a batch, finds it; short enough that namespaces nobody works in hold no thread.
const IDLE_EXIT: Duration = Duration::from_secs(5);

/// A piece of work, told whether the thread is inside the namespace.
type Job = Box<dyn FnOnce(Result<(), Errno>) + Send>;

/// Where work for the thread goes; empty while no thread runs.
type Queue = Mutex<Option<Sender<Job>>>;

/// Runs blocking work on a thread inside one network namespace, started on demand.
pub(super) struct NamespaceThread {
    namespace: Arc<OwnedFd>,
    inode: u64,
    idle_exit: Duration,
    queue: Arc<Queue>,
}

impl NamespaceThread {
    /// For the namespace behind `namespace`, whose inode is `inode`. Starts nothing yet.
    pub(super) fn new(namespace: Arc<OwnedFd>, inode: u64) -> Self {
        Self::leaving_after(namespace, inode, IDLE_EXIT)
    }

    fn leaving_after(namespace: Arc<OwnedFd>, inode: u64, idle_exit: Duration) -> Self {
        Self {
            namespace,
            inode,
            idle_exit,
            queue: Arc::new(Mutex::new(None)),
        }
    }

    /// Runs `work` inside the namespace and returns its result to async code.
    pub(super) async fn run<T, F>(&self, context: &str, work: F) -> Result<T, NetnsError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let job: Job = Box::new(move |entered| {
            // The caller may have gone (a cancelled request); the work is done either way.
            let _ = sender.send(entered.map(|()| work()));
        });
        self.submit(job)
            .map_err(|e| NetnsError::io(format!("{context}: spawn namespace thread"), e))?;
        answer(receiver.await, context)
    }

    fn submit(&self, job: Job) -> std::io::Result<()> {
        let mut queue = lock(&self.queue);
        let job = match queue.as_ref() {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => return Ok(()),
                // The thread is gone without having cleared the queue, which it always does before
                // leaving; should it happen anyway, a new thread takes the job.
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (jobs, waiting) = mpsc::channel();
        let thread = Worker {
            namespace: self.namespace.clone(),
            inode: self.inode,
            idle_exit: self.idle_exit,
            queue: Arc::downgrade(&self.queue),
            waiting,
        };
        std::thread::Builder::new()
            .name("nsfleet-netns".into())
            .spawn(move || thread.serve())?;
        // The receiver is alive: the thread holds it until the queue is cleared, under this lock.
        let _ = jobs.send(job);
        *queue = Some(jobs);
        Ok(())
    }
}

struct Worker {
    namespace: Arc<OwnedFd>,
    inode: u64,
    idle_exit: Duration,
    /// Weak, so that dropping the handle drops the sender and wakes an idle thread to leave.
    queue: Weak<Queue>,
    waiting: Receiver<Job>,
}

impl Worker {
    fn serve(self) {
        let mut entered = self.enter();
        loop {
            let job = match self.waiting.recv_timeout(self.idle_exit) {
                Ok(job) => job,
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => match self.next_or_leave() {
                    Some(job) => job,
                    None => return,
                },
            };
            // A job that panics has dropped its answer's sender, which tells its caller; the thread
            // goes on, as tokio's blocking pool does. Unwinding out of it instead would let the next
            // call's job, sent while the thread was still unwinding, die with it unanswered.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(entered)));
            if entered.is_err() {
                // A later call starts a new thread and tries again; what is queued now gets this error.
                while let Some(job) = self.next_or_leave() {
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| job(entered)));
                }
                return;
            }
            // No job enters another namespace today; one that did must not leave the next in it.
            if !self.inside() {
                entered = self.enter();
            }
        }
    }

    fn enter(&self) -> Result<(), Errno> {
        setns(&*self.namespace, CloneFlags::CLONE_NEWNET)
    }

    fn inside(&self) -> bool {
        std::fs::metadata("/proc/thread-self/ns/net").is_ok_and(|m| m.ino() == self.inode)
    }

    /// A job already queued, or else `None` with the queue cleared: callers send under the queue's
    /// lock, so once it is held and nothing is waiting, nothing can arrive for this thread.
    fn next_or_leave(&self) -> Option<Job> {
        let queue = self.queue.upgrade()?;
        let mut queue = lock(&queue);
        match self.waiting.try_recv() {
            Ok(job) => Some(job),
            Err(_) => {
                *queue = None;
                None
            }
        }
    }
}

/// Every critical section above is a swap of an `Option`, which a panic cannot leave half done.
fn lock(queue: &Queue) -> MutexGuard<'_, Option<Sender<Job>>> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
