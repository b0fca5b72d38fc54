//! A single-value channel that keeps only the latest value — the subset of `tokio::sync::watch`'s API this
//! workspace uses, with the same semantics — whose wake-ups happen in a deterministic order.
//!
//! Why not `tokio::sync::watch`: when tokio is built with its `rt` or `macros` feature, a watch receiver parks on
//! one of eight `Notify`s chosen by tokio's thread-local RNG (`BigNotify`), and a send wakes the eight in turn, so
//! the order in which the waiting tasks become runnable follows that RNG. madsim does not control it: tokio seeds
//! it once per thread from a process-global counter, so the same seed run twice in one process (madsim's
//! determinism check, or a seed replayed alone after failing in a batch of seeds) wakes the same waiters in
//! another order, the scheduler runs them in another order, and the simulation diverges. Here every receiver
//! waits on one `tokio::sync::Notify`, which wakes waiters in the order they started waiting: no randomness.
//!
//! Use this, never `tokio::sync::watch`, in code that runs inside the simulator.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::Notify;

/// The sender is gone (the channel is closed) and every value sent was already seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the watch channel is closed")]
pub struct RecvError;

struct State<T> {
    value: T,
    /// Bumped by every send; a receiver has seen the value when its `seen` equals it.
    version: u64,
}

struct Shared<T> {
    state: RwLock<State<T>>,
    /// Set when the sender is dropped.
    closed: AtomicBool,
    /// Woken (every waiter, in the order they began waiting) on every send and on close.
    changed: Notify,
}

impl<T> Shared<T> {
    // A panic while the lock was held (in a `send_modify` closure) leaves the value as it was left, as in tokio.
    fn read(&self) -> RwLockReadGuard<'_, State<T>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<T>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates a channel holding `init`; the returned receiver has seen it.
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: RwLock::new(State { value: init, version: 0 }),
        closed: AtomicBool::new(false),
        changed: Notify::new(),
    });
    (Sender { shared: shared.clone() }, Receiver { shared, seen: 0 })
}

/// A read lock on the current value. Do not hold it across an `.await` or while sending.
pub struct Ref<'a, T> {
    guard: RwLockReadGuard<'a, State<T>>,
}

impl<T> Deref for Ref<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard.value
    }
}

impl<T: fmt::Debug> fmt::Debug for Ref<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.guard.value.fmt(f)
    }
}

/// The sending half; dropping it closes the channel.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Replaces the value (whether or not anyone receives) and wakes the receivers; returns the old value.
    pub fn send_replace(&self, value: T) -> T {
        let old = {
            let mut state = self.shared.write();
            state.version += 1;
            std::mem::replace(&mut state.value, value)
        };
        self.shared.changed.notify_waiters();
        old
    }

    /// Modifies the value in place and wakes the receivers.
    pub fn send_modify(&self, modify: impl FnOnce(&mut T)) {
        self.send_if_modified(|value| {
            modify(value);
            true
        });
    }

    /// Modifies the value in place; when `modify` returns true, the receivers see a change and are woken.
    pub fn send_if_modified(&self, modify: impl FnOnce(&mut T) -> bool) -> bool {
        let modified = {
            let mut state = self.shared.write();
            let modified = modify(&mut state.value);
            if modified {
                state.version += 1;
            }
            modified
        };
        if modified {
            self.shared.changed.notify_waiters();
        }
        modified
    }

    pub fn borrow(&self) -> Ref<'_, T> {
        Ref { guard: self.shared.read() }
    }

    /// A new receiver that has seen the current value.
    pub fn subscribe(&self) -> Receiver<T> {
        let seen = self.shared.read().version;
        Receiver { shared: self.shared.clone(), seen }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.changed.notify_waiters();
    }
}

impl<T: fmt::Debug> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").field("value", &self.shared.read().value).finish()
    }
}

/// A receiving half; clones start with the same seen value.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// The version this receiver has seen.
    seen: u64,
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver { shared: self.shared.clone(), seen: self.seen }
    }
}

impl<T: fmt::Debug> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.read();
        f.debug_struct("Receiver").field("value", &state.value).field("seen", &(self.seen == state.version)).finish()
    }
}

impl<T> Receiver<T> {
    /// The current value, without marking it seen.
    pub fn borrow(&self) -> Ref<'_, T> {
        Ref { guard: self.shared.read() }
    }

    /// Whether a value this receiver has not seen was sent.
    pub fn has_changed(&self) -> bool {
        self.shared.read().version != self.seen
    }

    /// The current value, marking it seen.
    pub fn borrow_and_update(&mut self) -> Ref<'_, T> {
        let guard = self.shared.read();
        self.seen = guard.version;
        Ref { guard }
    }

    /// Waits for a value this receiver has not seen and marks it seen; `RecvError` once the sender is gone and
    /// every value was seen. Cancel-safe.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        let shared = &*self.shared;
        loop {
            // Created before the check: `notify_waiters` reaches every `Notified` that exists when it is called,
            // polled or not, so a send between the check and the wait still wakes this one.
            let notified = shared.changed.notified();
            let version = shared.read().version;
            if version != self.seen {
                self.seen = version;
                return Ok(());
            }
            if shared.closed.load(Ordering::SeqCst) {
                return Err(RecvError);
            }
            notified.await;
        }
    }

    /// Waits until the value satisfies `condition` (checked on the current value first) and returns it, marked
    /// seen; `RecvError` if the sender is gone before it does.
    pub async fn wait_for(&mut self, mut condition: impl FnMut(&T) -> bool) -> Result<Ref<'_, T>, RecvError> {
        let shared = &*self.shared;
        let seen = &mut self.seen;
        loop {
            let notified = shared.changed.notified();
            {
                let guard = shared.read();
                *seen = guard.version;
                if condition(&guard.value) {
                    return Ok(Ref { guard });
                }
            }
            if shared.closed.load(Ordering::SeqCst) {
                return Err(RecvError);
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn receivers_see_each_change_once_and_the_close() {
        let (tx, mut rx) = channel(0);
        let mut late = tx.subscribe();
        assert_eq!(tx.send_replace(1), 0);
        rx.changed().await.unwrap();
        assert_eq!(*rx.borrow(), 1);
        assert!(tokio::time::timeout(Duration::from_millis(10), rx.changed()).await.is_err());
        assert!(!tx.send_if_modified(|_| false));
        assert!(tokio::time::timeout(Duration::from_millis(10), rx.changed()).await.is_err());
        tx.send_modify(|v| *v += 1);
        assert_eq!(*late.borrow_and_update(), 2);
        assert!(tokio::time::timeout(Duration::from_millis(10), late.changed()).await.is_err());
        let mut clone = rx.clone();
        drop(tx);
        // An unseen value is delivered before the close.
        rx.changed().await.unwrap();
        assert_eq!(rx.changed().await, Err(RecvError));
        clone.changed().await.unwrap();
        assert_eq!(clone.changed().await, Err(RecvError));
        assert_eq!(late.changed().await, Err(RecvError));
    }

    #[tokio::test]
    async fn waiters_wake_on_a_send_from_another_task() {
        let (tx, rx) = channel(0u64);
        let waiters: Vec<_> = (0..16)
            .map(|_| {
                let mut rx = rx.clone();
                tokio::spawn(async move { *rx.wait_for(|v| *v >= 3).await.unwrap() })
            })
            .collect();
        for value in 1..=3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tx.send_replace(value);
        }
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), 3);
        }
        let mut rx = rx;
        drop(tx);
        assert!(rx.wait_for(|v| *v > 3).await.is_err());
        assert_eq!(*rx.wait_for(|v| *v == 3).await.unwrap(), 3);
    }
}
