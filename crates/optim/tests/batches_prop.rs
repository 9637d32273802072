//! Property tests of mini-batching: every example exactly once per epoch, for batch sizes that
//! do and do not divide the set; with `drop_last`, exactly `floor(n / b)` full batches.

use proptest::prelude::*;
use wengert_optim::{BatchConfig, Batches};

proptest! {
    #[test]
    fn every_example_once_per_epoch(
        n in 1usize..300,
        b_frac in 0.0f64..1.0,
        seed in any::<u64>(),
        shuffle in any::<bool>(),
        epoch in 0u64..5,
    ) {
        let b = 1 + ((n - 1) as f64 * b_frac) as usize; // 1..=n
        let mut batches = Batches::new(n, b, BatchConfig { shuffle, seed, drop_last: false })
            .unwrap();
        let mut count = vec![0usize; n];
        let mut sizes = vec![];
        for batch in batches.epoch(epoch) {
            sizes.push(batch.len());
            for &i in batch {
                count[i] += 1;
            }
        }
        prop_assert!(count.iter().all(|&c| c == 1), "n {n} b {b}: {count:?}");
        prop_assert_eq!(sizes.len(), n.div_ceil(b));
        prop_assert_eq!(sizes.len(), batches.num_batches());
        // All batches are full except possibly the last, which holds the remainder.
        let last = sizes.pop().unwrap();
        prop_assert!(sizes.iter().all(|&s| s == b));
        prop_assert_eq!(last, if n % b == 0 { b } else { n % b });
    }

    #[test]
    fn drop_last_gives_floor_n_over_b_full_batches(
        n in 1usize..300,
        b_frac in 0.0f64..1.0,
        seed in any::<u64>(),
        epoch in 0u64..5,
    ) {
        let b = 1 + ((n - 1) as f64 * b_frac) as usize;
        let mut batches = Batches::new(n, b, BatchConfig { shuffle: true, seed, drop_last: true })
            .unwrap();
        let mut count = vec![0usize; n];
        let mut num = 0;
        for batch in batches.epoch(epoch) {
            prop_assert_eq!(batch.len(), b);
            num += 1;
            for &i in batch {
                count[i] += 1;
            }
        }
        prop_assert_eq!(num, n / b);
        prop_assert!(count.iter().all(|&c| c <= 1));
        prop_assert_eq!(count.iter().sum::<usize>(), (n / b) * b);
    }

    #[test]
    fn sizes_that_divide_and_do_not(k in 1usize..20, b in 1usize..20, extra in 0usize..20) {
        // n = k b (divides) and n = k b + r with 0 < r < b (does not): both see each example once.
        let r = extra % b;
        let n = k * b + r;
        let mut batches = Batches::new(n, b, BatchConfig { seed: 1, ..Default::default() })
            .unwrap();
        let mut seen: Vec<usize> = batches.epoch(3).flatten().copied().collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..n).collect::<Vec<_>>());
    }
}
