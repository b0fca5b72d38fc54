//! What a seed leaves behind: nothing. Each seed of a campaign runs in a fresh madsim runtime; once the runtime is
//! gone, every byte the seed allocated must be free again, or a 20,000-seed campaign grows until the machine runs
//! out of memory (it once kept ~2.5 MB per seed: madsim never drops a task still pending when its runtime drops,
//! because each task's info holds the task's own waker, so every manager, agent and store of the seed lived on).
//! This binary counts live heap bytes with a counting allocator and runs a few seeds of both campaigns after a
//! warm-up seed; the live bytes may not grow by more than a small allowance in all. Runs only under `--cfg madsim`.
#![cfg(madsim)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the seeds together may leave allocated after the warm-up: lazily built statics and the like, far below one
/// seed's worth of managers and stores (megabytes).
const ALLOWANCE_BYTES: isize = 256 * 1024;

/// Runs `seed` of `campaign` as madsim's test runner does (a fresh runtime on a fresh thread) and returns the live
/// heap bytes once that thread and its runtime are gone.
fn live_bytes_after(seed: u64, campaign: fn(u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>) -> isize {
    std::thread::spawn(move || {
        let runtime = madsim::runtime::Runtime::with_seed_and_config(seed, madsim::Config::default());
        runtime.block_on(campaign(seed));
    })
    .join()
    .expect("the seed passes");
    LIVE_BYTES.load(Ordering::Relaxed)
}

fn raft(seed: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(sim::raft_scenario::run(seed))
}

fn orchestration(seed: u64) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
    Box::pin(sim::orchestration_scenario::run(seed))
}

#[test]
fn seeds_of_both_campaigns_leave_no_heap_behind() {
    // The warm-up runs one seed of each campaign: whatever is built once per process is built by then.
    live_bytes_after(1, raft);
    let warm = live_bytes_after(1, orchestration);
    let mut after = Vec::new();
    for seed in 2..=4 {
        after.push(("raft", seed, live_bytes_after(seed, raft) - warm));
        after.push(("orchestration", seed, live_bytes_after(seed, orchestration) - warm));
    }
    println!("live heap bytes beyond the warm-up after each seed: {after:?}");
    let (_, _, grown) = *after.last().expect("seeds ran");
    assert!(
        grown <= ALLOWANCE_BYTES,
        "the seeds left {grown} bytes behind (allowance {ALLOWANCE_BYTES}); live bytes beyond the warm-up after each \
         seed: {after:?}"
    );
}
