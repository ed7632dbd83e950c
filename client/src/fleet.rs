//! Runs one job per host concurrently (at most `limit` at a time) and hands each result over in host
//! order as soon as every host before it is done, so output streams while slow hosts still work.

use std::future::Future;

use futures::StreamExt;

use crate::{connect::Host, output::Progress};

/// Enough to keep a large fleet busy without running out of file descriptors.
pub const MAX_CONCURRENT_HOSTS: usize = 64;

pub async fn run_in_order<T, Job, Fut>(
    hosts: &[Host],
    limit: usize,
    job: Job,
    mut deliver: impl FnMut(&Host, T),
    progress: &mut Progress,
) where
    Job: Fn(&Host) -> Fut,
    Fut: Future<Output = T>,
{
    let total = hosts.len();
    let mut results = futures::stream::iter(hosts.iter().enumerate())
        .map(|(index, host)| {
            let pending = job(host);
            async move { (index, pending.await) }
        })
        .buffer_unordered(limit.max(1));
    let mut waiting: Vec<Option<T>> = std::iter::repeat_with(|| None).take(total).collect();
    let mut next = 0;
    let mut done = 0;
    while let Some((index, result)) = results.next().await {
        done += 1;
        waiting[index] = Some(result);
        progress.clear();
        while let Some(result) = waiting.get_mut(next).and_then(Option::take) {
            deliver(&hosts[next], result);
            next += 1;
        }
        progress.update(done, total);
    }
    progress.clear();
}

#[cfg(test)]
mod tests {
    use std::{
        sync::atomic::{AtomicUsize, Ordering},
        time::Duration,
    };

    use super::*;

    fn hosts(count: usize) -> Vec<Host> {
        (0..count)
            .map(|index| Host::parse(&format!("10.0.0.{index}:1")).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn delivers_in_host_order_whatever_the_finish_order() {
        let hosts = hosts(5);
        let mut seen = Vec::new();
        let job = |host: &Host| {
            let index: u64 = host
                .label
                .trim_end_matches(":1")
                .rsplit('.')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            async move {
                tokio::time::sleep(Duration::from_millis(50 - index * 10)).await;
                index
            }
        };
        run_in_order(
            &hosts,
            64,
            job,
            |host, index| seen.push((host.label.clone(), index)),
            &mut Progress::disabled(),
        )
        .await;
        let expected: Vec<(String, u64)> = (0..5)
            .map(|index| (format!("10.0.0.{index}:1"), index))
            .collect();
        assert_eq!(seen, expected);
    }

    #[tokio::test]
    async fn never_runs_more_than_the_limit_at_once() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let job = |_: &Host| async {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(5)).await;
            running.fetch_sub(1, Ordering::SeqCst);
        };
        let mut delivered = 0;
        run_in_order(
            &hosts(20),
            3,
            job,
            |_, ()| delivered += 1,
            &mut Progress::disabled(),
        )
        .await;
        assert_eq!(delivered, 20);
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
