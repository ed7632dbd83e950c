//! The namespace thread against real namespaces: each test makes its own with `unshare`, held open by
//! its fd alone, so nothing here reaches the machine's namespace.

use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};

use super::NamespaceThread;
use crate::kernel::fresh_namespace::in_fresh_namespace;
use crate::netns::NetnsError;

/// A fresh network namespace, alive as long as the returned fd, and its inode.
fn fresh_namespace() -> (Arc<OwnedFd>, u64) {
    let fd: OwnedFd = in_fresh_namespace(|| {
        File::open("/proc/thread-self/ns/net")
            .expect("open the new namespace")
            .into()
    });
    let inode = File::from(fd.try_clone().expect("dup"))
        .metadata()
        .expect("fstat")
        .ino();
    (Arc::new(fd), inode)
}

/// Where the job ran: its thread id and the inode of its network namespace.
fn whereabouts() -> (libc::pid_t, u64) {
    let inode = std::fs::metadata("/proc/thread-self/ns/net")
        .expect("stat the thread's namespace")
        .ino();
    (nix::unistd::gettid().as_raw(), inode)
}

fn thread_exists(tid: libc::pid_t) -> bool {
    Path::new(&format!("/proc/self/task/{tid}")).exists()
}

fn ends_within(tid: libc::pid_t, limit: Duration) -> bool {
    let started = Instant::now();
    while thread_exists(tid) {
        if started.elapsed() > limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

#[tokio::test]
async fn work_runs_inside_the_namespace_on_one_thread_kept_between_calls() {
    let (fd, inode) = fresh_namespace();
    let thread = NamespaceThread::new(fd, inode);
    let (first, inside) = thread.run("first", whereabouts).await.expect("first");
    assert_eq!(inside, inode, "the work ran outside the namespace");
    assert_ne!(
        first,
        nix::unistd::gettid().as_raw(),
        "the work ran on the caller's thread"
    );
    let (second, inside) = thread.run("second", whereabouts).await.expect("second");
    assert_eq!(inside, inode);
    assert_eq!(second, first, "the second call started another thread");
}

#[tokio::test]
async fn dropping_the_handle_ends_its_thread_and_an_idle_thread_leaves_alone() {
    let (fd, inode) = fresh_namespace();
    let thread = NamespaceThread::new(fd.clone(), inode);
    let (tid, _) = thread.run("work", whereabouts).await.expect("work");
    drop(thread);
    assert!(
        ends_within(tid, Duration::from_secs(2)),
        "the thread outlived its handle"
    );

    let thread = NamespaceThread::leaving_after(fd, inode, Duration::from_millis(50));
    let (idle, _) = thread.run("work", whereabouts).await.expect("work");
    assert!(
        ends_within(idle, Duration::from_secs(2)),
        "an idle thread stayed"
    );
    let (next, inside) = thread.run("after", whereabouts).await.expect("after");
    assert_eq!(inside, inode);
    assert_ne!(next, idle, "work went to a thread that had left");
}

#[tokio::test]
async fn a_job_that_panics_loses_only_its_own_answer() {
    let (fd, inode) = fresh_namespace();
    let thread = NamespaceThread::new(fd, inode);
    let (before, _) = thread.run("before", whereabouts).await.expect("before");
    let lost = thread
        .run("the panicking job", || panic!("on purpose"))
        .await;
    assert!(
        matches!(&lost, Err(NetnsError::ThreadLost { context }) if context == "the panicking job"),
        "{lost:?}"
    );
    let (after, inside) = thread.run("next", whereabouts).await.expect("next");
    assert_eq!(inside, inode);
    assert_eq!(after, before, "the panic ended the thread");
}

#[tokio::test]
async fn a_job_that_leaves_the_namespace_does_not_take_the_next_one_along() {
    let (fd, inode) = fresh_namespace();
    let (elsewhere, other) = fresh_namespace();
    let thread = NamespaceThread::new(fd, inode);
    let moved = thread
        .run("move away", move || {
            setns(&*elsewhere, CloneFlags::CLONE_NEWNET).expect("setns");
            whereabouts()
        })
        .await
        .expect("move away");
    assert_eq!(moved.1, other, "the job did not move");
    let (tid, inside) = thread.run("next", whereabouts).await.expect("next");
    assert_eq!(inside, inode, "the next job ran where the last one went");
    assert_eq!(tid, moved.0, "the thread went back in itself");
}

#[tokio::test]
async fn calls_from_many_tasks_at_once_all_run_inside() {
    let (fd, inode) = fresh_namespace();
    let thread = Arc::new(NamespaceThread::leaving_after(
        fd,
        inode,
        Duration::from_millis(1),
    ));
    let mut calls = tokio::task::JoinSet::new();
    for call in 0..200 {
        let thread = thread.clone();
        calls.spawn(async move {
            // Some calls find the thread just leaving, which is the race the queue's lock closes.
            if call % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            thread.run("many", whereabouts).await.map(|(_, ns)| ns)
        });
    }
    while let Some(done) = calls.join_next().await {
        assert_eq!(done.expect("task").expect("call"), inode);
    }
}

/// Brief work (a sysctl) in the agent's own namespace runs on the calling thread, which is already there;
/// in any other namespace it still goes to that namespace's thread.
#[tokio::test]
async fn brief_work_runs_inline_only_in_the_agents_own_namespace() {
    use crate::domain::{NamespaceName, NamespaceRef};
    use crate::netns::NamespaceHandle;

    let own_fd: OwnedFd = File::open("/proc/self/ns/net")
        .expect("own namespace")
        .into();
    let own_inode = std::fs::metadata("/proc/self/ns/net").expect("stat").ino();
    let own = NamespaceHandle::open(NamespaceRef::Host, own_fd, own_inode)
        .await
        .expect("open the agent's own namespace")
        .agents_own();
    let caller = whereabouts();
    let ran = own.run_brief("own", whereabouts).await.expect("own");
    assert_eq!(ran, caller, "not run inline on the caller's thread");

    let (fd, inode) = fresh_namespace();
    let fd = fd.try_clone().expect("dup the namespace fd");
    let name = NamespaceName::parse("namespace", "brief-test").expect("a valid name");
    let other = NamespaceHandle::open(NamespaceRef::Named(name), fd, inode)
        .await
        .expect("open the fresh namespace");
    let (tid, inside) = other.run_brief("other", whereabouts).await.expect("other");
    assert_eq!(inside, inode, "the work ran outside its namespace");
    assert_ne!(tid, caller.0, "the work ran on the caller's thread");
}
