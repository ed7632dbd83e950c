use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::run_to_completion;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_never_waits_runs_in_the_callers_task() {
    let (caller, ran_in) = tokio::spawn(async {
        let ran_in = run_to_completion(async { tokio::task::id() }).await;
        (tokio::task::id(), ran_in.expect("completed"))
    })
    .await
    .expect("joined");
    assert_eq!(ran_in, caller);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_waits_still_completes() {
    let (send, receive) = oneshot::channel();
    let waiting = tokio::spawn(run_to_completion(async move {
        receive.await.expect("sent") + 1
    }));
    send.send(41).expect("receiver alive");
    assert_eq!(waiting.await.expect("joined").expect("completed"), 42);
}

/// The reason the change has a task of its own: the caller dropped at the change's first wait (as
/// tonic drops a handler whose client went away) must not stop the change halfway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_outlives_a_caller_dropped_while_it_waits() {
    let (send, receive) = oneshot::channel::<()>();
    let (first_step_done, first_step) = oneshot::channel::<()>();
    let second_step = Arc::new(AtomicBool::new(false));
    let done = second_step.clone();
    let (finished, finished_signal) = oneshot::channel::<()>();
    let caller = tokio::spawn(run_to_completion(async move {
        let _ = first_step_done.send(());
        let _ = receive.await;
        done.store(true, Ordering::SeqCst);
        let _ = finished.send(());
    }));
    first_step.await.expect("the change started");
    caller.abort();
    assert!(caller.await.expect_err("aborted").is_cancelled());
    send.send(())
        .expect("the change was dropped with its caller");
    tokio::time::timeout(Duration::from_secs(10), finished_signal)
        .await
        .expect("the change never finished")
        .expect("the change was dropped before its second step");
    assert!(second_step.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_first_poll_is_an_error_for_the_caller_alone() {
    let error = run_to_completion(async { panic!("first step broke") })
        .await
        .expect_err("a panic is not a result");
    assert!(error.to_string().contains("first step broke"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_after_a_wait_is_an_error_for_the_caller_alone() {
    let (send, receive) = oneshot::channel::<()>();
    let waiting = tokio::spawn(run_to_completion(async move {
        let _ = receive.await;
        panic!("second step broke")
    }));
    send.send(()).expect("receiver alive");
    let error = waiting
        .await
        .expect("the caller's task survived")
        .expect_err("a panic is not a result");
    assert!(error.to_string().contains("second step broke"), "{error}");
}
