//! [`Lines`]: f32 storage aligned to a cache line, for packed panels.

use super::NR;

/// A cache line of 16 f32, aligned to 64 bytes.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f32; NR]);

/// f32 values starting on a 64-byte boundary, for packed panels: each panel row is one cache
/// line, so the kernels' 16-lane loads never span two. (A `Vec<f32>` is only 16-byte aligned;
/// with such panels W4 was 3 % slower in one layout of the heap, `docs/performance.md`.)
pub(super) struct Lines {
    lines: Vec<Line>,
    len: usize,
}

impl Lines {
    pub(super) const fn new() -> Self {
        Lines {
            lines: Vec::new(),
            len: 0,
        }
    }

    /// Sets the length to `len` values. Values below the old length keep theirs; the others
    /// are zero, or what an earlier, longer use left there (callers write every value).
    pub(super) fn resize(&mut self, len: usize) {
        self.lines.resize(len.div_ceil(NR), Line([0.0; NR]));
        self.len = len;
    }

    pub(super) fn as_slice(&self) -> &[f32] {
        // SAFETY: `lines` holds `lines.len() * 16 >= len` initialised f32 (a `Line` is 16 f32
        // with no padding: `repr(C)`, 64 bytes, aligned to 64).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const f32, self.len) }
    }

    pub(super) fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut f32, self.len) }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn packed_panels_start_on_a_cache_line_and_keep_their_values_when_grown() {
        for len in [1, 16, 17, 1000, 70_000] {
            let b: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let mut p = super::super::pack(&b, len, 1, 1, 1);
            assert_eq!(p.as_slice().as_ptr() as usize % 64, 0, "{len} values");
            assert_eq!(p.as_slice().len(), len * 16);
            assert_eq!(p.as_slice()[(len - 1) * 16], (len - 1) as f32);
            p.resize(len * 16 + 5);
            assert_eq!(p.as_slice().as_ptr() as usize % 64, 0);
            assert_eq!(p.as_slice()[(len - 1) * 16], (len - 1) as f32);
            assert_eq!(p.as_slice()[len * 16 + 4], 0.0);
        }
    }
}
