//! When each operation of a batch may start: once every operation it waits for ([`super::plan`]) has
//! finished. Kept as counts and reverse edges, so a batch holds a few words per operation instead of one
//! waiting task each, and the executor starts only what is ready.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub struct Schedule {
    /// For each operation, how many of the operations it waits for have not finished.
    waiting_for: Vec<u32>,
    /// The operations that wait for operation `i` are `dependents[starts[i]..starts[i + 1]]`.
    starts: Vec<usize>,
    dependents: Vec<u32>,
    /// Lowest index first, so operations start in the order given when they may.
    ready: BinaryHeap<Reverse<usize>>,
}

impl Schedule {
    /// `waits[i]` lists the earlier operations operation `i` waits for.
    pub fn new(waits: &[Vec<usize>]) -> Self {
        let mut counts = vec![0usize; waits.len()];
        for deps in waits {
            for &dep in deps {
                counts[dep] += 1;
            }
        }
        let mut starts = Vec::with_capacity(waits.len() + 1);
        let mut total = 0;
        starts.push(0);
        for count in &counts {
            total += count;
            starts.push(total);
        }
        // Each operation's next free slot among its dependents.
        let mut next: Vec<usize> = starts[..waits.len()].to_vec();
        let mut dependents = vec![0u32; total];
        for (index, deps) in waits.iter().enumerate() {
            for &dep in deps {
                dependents[next[dep]] = index as u32;
                next[dep] += 1;
            }
        }
        let waiting_for: Vec<u32> = waits.iter().map(|deps| deps.len() as u32).collect();
        let ready = waiting_for
            .iter()
            .enumerate()
            .filter(|(_, &count)| count == 0)
            .map(|(index, _)| Reverse(index))
            .collect();
        Schedule {
            waiting_for,
            starts,
            dependents,
            ready,
        }
    }

    /// The lowest-numbered operation that may start now, taken off the ready set.
    pub fn next_ready(&mut self) -> Option<usize> {
        self.ready.pop().map(|Reverse(index)| index)
    }

    /// Operation `index` is over (whatever its outcome): what waited only for it becomes ready.
    pub fn finished(&mut self, index: usize) {
        for slot in self.starts[index]..self.starts[index + 1] {
            let dependent = self.dependents[slot] as usize;
            self.waiting_for[dependent] -= 1;
            if self.waiting_for[dependent] == 0 {
                self.ready.push(Reverse(dependent));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain_ready(schedule: &mut Schedule) -> Vec<usize> {
        std::iter::from_fn(|| schedule.next_ready()).collect()
    }

    #[test]
    fn operations_start_only_after_everything_they_wait_for() {
        // 0 and 1 are independent; 2 waits for both; 3 waits for 2; 4 for nothing.
        let waits = vec![vec![], vec![], vec![0, 1], vec![2], vec![]];
        let mut schedule = Schedule::new(&waits);
        assert_eq!(drain_ready(&mut schedule), [0, 1, 4]);
        schedule.finished(1);
        assert_eq!(drain_ready(&mut schedule), Vec::<usize>::new());
        schedule.finished(0);
        assert_eq!(drain_ready(&mut schedule), [2]);
        schedule.finished(4);
        schedule.finished(2);
        assert_eq!(drain_ready(&mut schedule), [3]);
        schedule.finished(3);
        assert_eq!(schedule.next_ready(), None);
    }

    #[test]
    fn a_chain_runs_one_at_a_time_in_order() {
        let waits: Vec<Vec<usize>> = (0..5)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let mut schedule = Schedule::new(&waits);
        let mut order = Vec::new();
        while let Some(index) = schedule.next_ready() {
            assert_eq!(schedule.next_ready(), None, "two of a chain ready at once");
            order.push(index);
            schedule.finished(index);
        }
        assert_eq!(order, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn disjoint_chains_are_ready_side_by_side() {
        // Two namespaces, interleaved: 0, 2 in one; 1, 3 in the other.
        let waits = vec![vec![], vec![], vec![0], vec![1]];
        let mut schedule = Schedule::new(&waits);
        assert_eq!(drain_ready(&mut schedule), [0, 1]);
        schedule.finished(1);
        assert_eq!(drain_ready(&mut schedule), [3]);
        schedule.finished(0);
        assert_eq!(drain_ready(&mut schedule), [2]);
    }
}
