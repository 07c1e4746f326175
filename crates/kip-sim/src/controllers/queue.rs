//! The controllers' work queue: each key at most once in line, and keys due later held in one
//! timer heap (each key once, at its earliest time), so that thousands of pending re-checks
//! cost no tasks.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::Hash;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct WorkQueue<K> {
    ready: VecDeque<K>,
    queued: HashSet<K>,
    delayed: BinaryHeap<Reverse<(Instant, u64, K)>>,
    /// The time each delayed key is due; heap entries at other times are stale.
    due: HashMap<K, Instant>,
    sequence: u64,
}

impl<K: Clone + Eq + Hash + Ord> Default for WorkQueue<K> {
    fn default() -> Self {
        WorkQueue {
            ready: VecDeque::new(),
            queued: HashSet::new(),
            delayed: BinaryHeap::new(),
            due: HashMap::new(),
            sequence: 0,
        }
    }
}

impl<K: Clone + Eq + Hash + Ord> WorkQueue<K> {
    /// Queues a key unless it is already waiting.
    pub fn add(&mut self, key: K) {
        if self.queued.insert(key.clone()) {
            self.ready.push_back(key);
        }
    }

    /// Queues a key once `delay` (real time) has passed, unless it is due earlier already.
    pub fn add_after(&mut self, key: K, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let now = Instant::now();
        let due = now.checked_add(delay).unwrap_or(now + Duration::from_secs(365 * 24 * 3600));
        if self.due.get(&key).is_some_and(|earlier| *earlier <= due) {
            return;
        }
        self.due.insert(key.clone(), due);
        self.sequence += 1;
        self.delayed.push(Reverse((due, self.sequence, key)));
    }

    /// The next key to work on, if any is due.
    pub fn pop(&mut self) -> Option<K> {
        let now = Instant::now();
        while self.delayed.peek().is_some_and(|Reverse((due, _, _))| *due <= now) {
            if let Some(Reverse((due, _, key))) = self.delayed.pop()
                && self.due.get(&key) == Some(&due)
            {
                self.due.remove(&key);
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

    /// Keys waiting in the timer heap (each counted once).
    pub fn delayed_len(&self) -> usize {
        self.due.len()
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

    #[test]
    fn a_delayed_key_is_held_once_at_its_earliest_time() {
        let mut q = WorkQueue::default();
        q.add_after("k", Duration::from_secs(3600));
        q.add_after("k", Duration::from_secs(7200));
        q.add_after("k", Duration::from_millis(1));
        assert_eq!(q.delayed_len(), 1);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!((q.pop(), q.pop()), (Some("k"), None), "the stale later entries do not come back");
        assert_eq!(q.delayed_len(), 0);
    }
}
