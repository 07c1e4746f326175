//! The work queue of the machinery controllers: what to look at next, each item at most once
//! while it waits, so a burst of events about one object costs one pass over it.

use std::collections::{HashSet, VecDeque};

use super::graph::ObjectRef;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Work {
    /// Garbage collection: should this object go, or is its orphan/foreground deletion done?
    Object(ObjectRef),
    /// Namespace lifecycle, by name.
    Namespace(String),
    /// A CustomResourceDefinition, by name.
    Crd(String),
}

#[derive(Debug, Default)]
pub struct WorkQueue {
    order: VecDeque<Work>,
    waiting: HashSet<Work>,
}

impl WorkQueue {
    pub fn push(&mut self, work: Work) {
        if self.waiting.insert(work.clone()) {
            self.order.push_back(work);
        }
    }

    pub fn pop(&mut self) -> Option<Work> {
        let work = self.order.pop_front()?;
        self.waiting.remove(&work);
        Some(work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_waits_once_and_keeps_its_place() {
        let mut queue = WorkQueue::default();
        queue.push(Work::Namespace("a".into()));
        queue.push(Work::Crd("b".into()));
        queue.push(Work::Namespace("a".into()));
        assert_eq!(queue.pop(), Some(Work::Namespace("a".into())));
        queue.push(Work::Namespace("a".into()));
        assert_eq!(queue.pop(), Some(Work::Crd("b".into())));
        assert_eq!(queue.pop(), Some(Work::Namespace("a".into())));
        assert_eq!(queue.pop(), None);
    }
}
