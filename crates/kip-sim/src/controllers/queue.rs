//! The controllers' work queue: each key at most once in line, and keys due later held in one
//! timer heap, so that thousands of pending re-checks cost no tasks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct WorkQueue<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    delayed: BinaryHeap<Reverse<(Instant, u64, K)>>,
    sequence: u64,
}

impl<K: Clone + Eq + Hash + Ord> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue { ready: VecDeque::new(), queued: HashSet::new(), delayed: BinaryHeap::new(), sequence: 0 }
    }
}

impl<K: Clone + Eq + Hash + Ord> WorkQueue<K> {
    /// Queues a key unless it is already waiting.
    pub fn add(&mut self, key: K) {
        if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// Queues a key once `delay` (real time) has passed.
    pub fn add_after(&mut self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        self.sequence += 1;
        let now = Instant::now();
        let due = now.checked_add(delay).unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        self.delayed.push(Reverse((due, self.sequence, key)));
    }

    /// The next key to work on, if any is due.
    pub fn pop(&mut self) -> Option<K> {
        let now = Instant::now();
        while self.delayed.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            if let Some(Reverse((_, _, key))) = self.delayed.pop() {
                self.add(key);
            }
        }
        let key = self.ready.pop_front()?;
        self.queued.remove(&key);
        Some(key)
    }

    /// When the earliest delayed key falls due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.delayed.peek().map(|Reverse((due, _, _))| *due)
    }

    pub fn is_idle(&self) -> bool {
        self.ready.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_wait_in_line_once() {
        let mut q = WorkQueue::default();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!((q.pop(), q.pop(), q.pop()), (Some("a"), Some("b"), None));
        q.add("a");
        assert_eq!(q.pop(), Some("a"), "a key may come back once handled");
    }

    #[test]
    fn delayed_keys_come_due_in_order() {
        let mut q = WorkQueue::default();
        q.add_after("later", Duration::from_secs(3600));
        q.add_after("now", Duration::ZERO);
        assert_eq!(q.pop(), Some("now"));
        assert_eq!(q.pop(), None, "not due yet");
        assert!(q.next_deadline().is_some_and(|d| d > Instant::now()));
    }
}
