//! `Admission`: at most `max_concurrent` queries evaluate at once and at most `max_queued`
//! wait for a slot; one more is refused at once, so a burst of expensive queries queues or
//! fails fast instead of exhausting the node's threads and memory (Prometheus' query gate).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::QueryError;

pub struct Admission {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_concurrent: usize,
    max_queued: usize,
}

/// Leaves the queue when dropped, also when the waiting request is cancelled.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Admission {
    pub fn new(max_concurrent: usize, max_queued: usize) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            waiting: AtomicUsize::new(0),
            max_concurrent,
            max_queued,
        }
    }

    /// A slot, waiting for one until `deadline` if all are taken and the queue has room.
    pub async fn enter(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, QueryError> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_queued {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(QueryError::Overloaded {
                max_concurrent: self.max_concurrent,
                max_queued: self.max_queued,
            });
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout_at(deadline.into(), self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_closed)) => Err(QueryError::Aborted {
                reason: "the query gate is closed".into(),
            }),
            Err(_elapsed) => Err(cairn_query::Error::Timeout {
                phase: "queue wait",
            }
            .into()),
        }
    }

    /// Queries waiting for a slot now.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }

    /// Queries evaluating now.
    pub fn in_flight(&self) -> usize {
        self.max_concurrent - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn queues_up_to_max_queued_then_refuses() {
        let a = Arc::new(Admission::new(1, 1));
        let far = Instant::now() + Duration::from_secs(60);
        let first = a.enter(far).await.unwrap();
        assert_eq!(a.in_flight(), 1);
        let a2 = a.clone();
        let second = tokio::spawn(async move { a2.enter(far).await.map(drop) });
        while a.queued() == 0 {
            tokio::task::yield_now().await;
        }
        let third = a.enter(far).await.unwrap_err();
        assert!(
            third.to_string().contains("max_concurrent=1, max_queued=1"),
            "{third}"
        );
        drop(first);
        second.await.unwrap().unwrap();
        assert_eq!(a.queued(), 0);
        assert_eq!(a.in_flight(), 0);
    }

    #[tokio::test]
    async fn waiting_past_the_deadline_is_a_timeout() {
        let a = Admission::new(1, 4);
        let _held = a
            .enter(Instant::now() + Duration::from_secs(60))
            .await
            .unwrap();
        let e = a
            .enter(Instant::now() + Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(
            matches!(e, QueryError::Query(cairn_query::Error::Timeout { .. })),
            "{e}"
        );
        assert_eq!(a.queued(), 0);
    }
}
