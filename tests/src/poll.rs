use std::time::{Duration, Instant};

/// Retries `attempt` until it returns `Ok`, for at most `limit`; then panics with `what` and the last
/// error. For kernel state that settles asynchronously (carrier, namespace destruction, neighbour
/// resolution): the bound only decides when to give up, never whether the result is right.
pub fn poll_until<T>(
    what: &str,
    limit: Duration,
    mut attempt: impl FnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + limit;
    loop {
        match attempt() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("gave up after {limit:?} waiting for {what}; last attempt: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
}
