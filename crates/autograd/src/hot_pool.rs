//! Helper threads for splitting matrix products that stay awake between products.
//!
//! A rayon worker that has gone to sleep takes tens of microseconds to wake on a virtual machine
//! (measured: splitting W2's 6.4 M multiply-add products across rayon gained nothing), so a
//! product is split only when it is much longer than that. These helpers instead spin for
//! [`SPIN`] after each block before they park, as OpenMP's threads do: the products of one
//! training step (a few to a few hundred microseconds apart) find them awake, and a split costs
//! a cache-line hand-off rather than a wake-up.
//!
//! There are `num_threads() - 1` helpers, started on first use. One caller at a time uses them;
//! a second caller (another thread splitting a product at the same moment) is told to run its
//! blocks itself.

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How long a helper keeps checking for work after its last block before it parks.
const SPIN: Duration = Duration::from_micros(300);

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const RUNNING: u8 = 2;
const DONE: u8 = 3;

/// A block to run: the caller's closure (its lifetime erased; see `run_blocks`) and the index.
type Job = (*const (dyn Fn(usize) + Sync), usize);

struct Helper {
    state: AtomicU8,
    job: UnsafeCell<Option<Job>>,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    parked: AtomicBool,
    thread: OnceLock<Thread>,
}

// SAFETY: `job` is written only by the caller holding `busy` while the helper is IDLE, and read
// by the helper only after its compare-exchange POSTED -> RUNNING succeeds (release/acquire on
// `state`); the closure it points to is `Sync`.
unsafe impl Sync for Helper {}

struct Pool {
    helpers: Vec<&'static Helper>,
    busy: AtomicBool,
}

static POOL: OnceLock<Pool> = OnceLock::new();

fn pool() -> &'static Pool {
    POOL.get_or_init(|| {
        let extra = crate::num_threads().saturating_sub(1);
        let helpers = (0..extra)
            .filter_map(|i| {
                let helper: &'static Helper = Box::leak(Box::new(Helper {
                    state: AtomicU8::new(IDLE),
                    job: UnsafeCell::new(None),
                    panic: Mutex::new(None),
                    parked: AtomicBool::new(false),
                    thread: OnceLock::new(),
                }));
                let spawned = std::thread::Builder::new()
                    .name(format!("wengert-gemm-{}", i + 1))
                    .spawn(move || helper_loop(helper));
                // A helper that cannot start is left out: its blocks run on the caller.
                let handle = spawned.ok()?;
                helper.thread.get_or_init(|| handle.thread().clone());
                Some(helper)
            })
            .collect();
        Pool {
            helpers,
            busy: AtomicBool::new(false),
        }
    })
}

/// The most threads that take part, from `set_thread_limit` (no limit until it is called).
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Sets [`LIMIT`] (`n >= 1`, checked by the caller).
pub(crate) fn set_limit(n: usize) {
    LIMIT.store(n, Ordering::Relaxed);
}

/// The number of blocks [`run_blocks`] runs at once: the caller and the helpers, at most the
/// limit set by `set_thread_limit`.
pub(crate) fn width() -> usize {
    (pool().helpers.len() + 1).min(LIMIT.load(Ordering::Relaxed))
}

/// Runs `f(0)`, ..., `f(blocks - 1)`: block 0 on the calling thread, the others on helpers, and
/// returns when all are done. A block that its helper has not started by the time the caller
/// has finished its own is taken back and run by the caller (a helper the host has not
/// scheduled then costs nothing: two threads are not slower than one). Runs every block on the
/// caller if the helpers are in use by another caller or there are fewer than `blocks - 1`. A
/// panic in any block is re-raised here after all blocks have finished.
pub(crate) fn run_blocks(blocks: usize, f: &(dyn Fn(usize) + Sync)) {
    let pool = pool();
    let claimed = blocks > 1
        && blocks - 1 <= pool.helpers.len()
        && pool
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
    if !claimed {
        (0..blocks).for_each(f);
        return;
    }
    let helpers = &pool.helpers[..blocks - 1];
    // SAFETY (lifetime): the erased reference is used by helpers only until they set DONE, and
    // this function does not return or unwind before every posted helper is DONE.
    let erased: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(f) };
    for (i, h) in helpers.iter().enumerate() {
        // SAFETY: the helper is IDLE (we hold `busy`), so it does not read `job` now.
        unsafe { *h.job.get() = Some((erased, i + 1)) };
        h.state.store(POSTED, Ordering::SeqCst);
        if h.parked.load(Ordering::SeqCst)
            && let Some(t) = h.thread.get()
        {
            t.unpark();
        }
    }
    let mine = catch_unwind(AssertUnwindSafe(|| f(0)));
    let mut panic = mine.err();
    for (i, h) in helpers.iter().enumerate() {
        if h.state
            .compare_exchange(POSTED, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Taken back before the helper started it: the helper never reads this job.
            // SAFETY: the helper reads `job` only after moving POSTED to RUNNING, now impossible.
            unsafe { *h.job.get() = None };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(i + 1))) {
                panic.get_or_insert(p);
            }
            continue;
        }
        let mut spins = 0u32;
        while h.state.load(Ordering::Acquire) != DONE {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        h.state.store(IDLE, Ordering::Relaxed);
        if let Some(p) = h.panic.lock().ok().and_then(|mut p| p.take()) {
            panic.get_or_insert(p);
        }
    }
    pool.busy.store(false, Ordering::Release);
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// Runs `f(0)`, ..., `f(units - 1)` across the caller and the helpers, each unit once. Thread
/// `t` owns a contiguous share of the units and runs it from the front; a thread done with
/// its share takes the remaining units of the others from their back. With threads of equal
/// speed every thread runs exactly its own share (the same units, hence the same rows of a
/// weight, from call to call); when the host slows one virtual CPU down, the other finishes
/// its units instead of waiting for it.
pub(crate) fn run_units(units: usize, f: &(dyn Fn(usize) + Sync)) {
    let threads = width().min(units);
    if threads < 2 {
        (0..units).for_each(f);
        return;
    }
    assert!(
        units < 1 << 32,
        "internal: run_units: too many units ({units})"
    );
    // Thread t's share as (next, end) in one word: next in the high 32 bits (on the stack for
    // up to 8 threads: no allocation per product).
    let shares: smallvec::SmallVec<[AtomicU64; 8]> = (0..threads)
        .map(|t| AtomicU64::new(pack(t * units / threads, (t + 1) * units / threads)))
        .collect();
    run_blocks(threads, &|t| {
        while let Some(u) = take(&shares[t], true) {
            f(u);
        }
        for other in (1..threads).map(|d| (t + d) % threads) {
            while let Some(u) = take(&shares[other], false) {
                f(u);
            }
        }
    });
}

fn pack(next: usize, end: usize) -> u64 {
    ((next as u64) << 32) | end as u64
}

/// Takes the next unit of a share from its front (its owner) or its back (another thread).
fn take(share: &AtomicU64, front: bool) -> Option<usize> {
    let mut cur = share.load(Ordering::Acquire);
    loop {
        let (next, end) = ((cur >> 32) as usize, (cur & 0xffff_ffff) as usize);
        if next >= end {
            return None;
        }
        let (new, unit) = if front {
            (pack(next + 1, end), next)
        } else {
            (pack(next, end - 1), end - 1)
        };
        match share.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(unit),
            Err(seen) => cur = seen,
        }
    }
}

fn helper_loop(h: &'static Helper) {
    loop {
        let mut since = Instant::now();
        let mut spins = 0u32;
        while h.state.load(Ordering::Acquire) != POSTED {
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(256) {
                std::hint::spin_loop();
                continue;
            }
            if since.elapsed() < SPIN {
                continue;
            }
            // Park; the caller unparks after posting if it sees `parked` (both SeqCst, so it
            // either sees the flag or this thread sees POSTED below).
            h.parked.store(true, Ordering::SeqCst);
            if h.state.load(Ordering::SeqCst) != POSTED {
                std::thread::park();
            }
            h.parked.store(false, Ordering::SeqCst);
            since = Instant::now();
        }
        if h.state
            .compare_exchange(POSTED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue; // the caller took the block back
        }
        // SAFETY: POSTED was stored after `job` was written, and the caller does not write it
        // again before this helper stores DONE.
        let job = unsafe { (*h.job.get()).take() };
        if let Some((f, i)) = job {
            // SAFETY: the caller keeps the closure alive until this helper stores DONE.
            let f = unsafe { &*f };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(i)))
                && let Ok(mut slot) = h.panic.lock()
            {
                *slot = Some(p);
            }
        }
        h.state.store(DONE, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// Runs `blocks` blocks, returning how often each ran and the names of the threads.
    fn record(blocks: usize) -> (Vec<usize>, Vec<String>) {
        let counts: Vec<AtomicUsize> = (0..blocks).map(|_| AtomicUsize::new(0)).collect();
        let names = Mutex::new(vec![String::new(); blocks]);
        run_blocks(blocks, &|i| {
            counts[i].fetch_add(1, Ordering::Relaxed);
            let name = std::thread::current().name().unwrap_or("").to_string();
            names.lock().expect("no panic while locked")[i] = name;
        });
        let counts = counts.into_iter().map(AtomicUsize::into_inner).collect();
        (counts, names.into_inner().expect("no panic while locked"))
    }

    #[test]
    fn every_block_runs_once_and_the_others_on_helpers() {
        for blocks in 1..=width() + 1 {
            let (counts, names) = record(blocks);
            assert_eq!(counts, vec![1; blocks], "{blocks} blocks");
            if blocks <= width() {
                // Block 0 on the caller, block i on helper i, unless another test held them.
                for (i, name) in names.iter().enumerate().skip(1) {
                    let on_helper = name == &format!("wengert-gemm-{i}");
                    let on_caller = name == &names[0];
                    assert!(on_helper || on_caller, "block {i} ran on {name:?}");
                }
            }
        }
    }

    #[test]
    fn run_units_runs_every_unit_once_and_each_thread_its_own_share_first() {
        for units in [0, 1, 2, 3, 7, 64, 1001] {
            let counts: Vec<AtomicUsize> = (0..units).map(|_| AtomicUsize::new(0)).collect();
            run_units(units, &|u| {
                counts[u].fetch_add(1, Ordering::Relaxed);
            });
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "{units} units"
            );
        }
        if width() != 2 {
            return; // the order below is that of one helper
        }
        // A helper that sleeps in its first unit: the caller takes the rest of its share
        // from the back, and still ran its own share from the front, in order.
        let caller = std::thread::current().id();
        let ran: Mutex<Vec<(usize, bool)>> = Mutex::new(Vec::new());
        let units = 8 * width();
        run_units(units, &|u| {
            let on_caller = std::thread::current().id() == caller;
            if !on_caller && u == units / width() {
                std::thread::sleep(SPIN * 20);
            }
            ran.lock()
                .expect("no panic while locked")
                .push((u, on_caller));
        });
        let ran = ran.into_inner().expect("no panic while locked");
        let by_caller: Vec<usize> = ran.iter().filter(|r| r.1).map(|r| r.0).collect();
        let own = units / width();
        assert_eq!(by_caller[..own], (0..own).collect::<Vec<_>>()[..]);
        // The helper's first unit (which it sleeps in) is its own; the caller took others of
        // its share, the last one first.
        assert!(
            by_caller.len() > own,
            "the caller took none of the helper's units"
        );
        assert_eq!(by_caller[own], units - 1);
        assert_eq!(ran.len(), units);
    }

    #[test]
    fn parked_helpers_wake_for_the_next_blocks() {
        for _ in 0..3 {
            // Longer than SPIN: the helpers have parked by the next call.
            std::thread::sleep(SPIN * 4);
            let (counts, _) = record(width());
            assert_eq!(counts, vec![1; width()]);
        }
    }

    #[test]
    fn a_block_its_helper_has_not_started_runs_on_the_caller() {
        if width() < 2 {
            return; // one thread: there is no helper to take a block back from
        }
        // A parked helper takes microseconds to wake; the caller's empty block takes none, so
        // the caller takes block 1 back in most of these tries.
        let mut taken_back = 0;
        for _ in 0..20 {
            std::thread::sleep(SPIN * 2);
            let (counts, names) = record(2);
            assert_eq!(counts, vec![1, 1]);
            taken_back += usize::from(names[1] == names[0]);
        }
        assert!(taken_back > 0, "the caller never took a block back");
    }

    #[test]
    fn a_panic_in_any_block_reaches_the_caller_after_all_blocks_finish() {
        let n = width();
        for bad in 0..n {
            let done = AtomicUsize::new(0);
            let result = catch_unwind(AssertUnwindSafe(|| {
                run_blocks(n, &|i| {
                    if i == bad {
                        panic!("block {i} failed");
                    }
                    std::thread::sleep(Duration::from_millis(2));
                    done.fetch_add(1, Ordering::Relaxed);
                })
            }));
            let message = result.expect_err("the panic is re-raised");
            let text = message.downcast_ref::<String>().map(String::as_str);
            assert_eq!(text, Some(format!("block {bad} failed").as_str()));
            assert_eq!(done.into_inner(), n - 1, "the other blocks finished first");
        }
        // The pool is usable afterwards.
        assert_eq!(record(n).0, vec![1; n]);
    }

    #[test]
    fn callers_on_several_threads_each_get_all_their_blocks() {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        assert_eq!(record(width()).0, vec![1; width()]);
                    }
                });
            }
        });
    }
}
