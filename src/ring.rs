//! The byte ring behind one direction of a connection.

/// A FIFO of bytes in one contiguous allocation, used as a ring.
///
/// The allocation starts empty and grows geometrically as bytes arrive, never beyond the bound
/// the caller passes, so an idle connection holds no buffer and a busy one at most its bound.
/// Bytes move in and out with at most two `copy_from_slice` calls each way. It holds at most
/// [`MAX`] bytes, so that its positions fit 32 bits (a connection holds two rings).
#[derive(Debug, Default)]
pub(crate) struct Ring {
    /// A boxed slice, not a `Vec`: its length is the ring's size, so a `Vec`'s separate
    /// capacity would be a word per direction for nothing.
    buf: Box<[u8]>,
    /// Index of the oldest byte.
    head: u32,
    /// Bytes stored, starting at `head` and wrapping at `buf.len()`.
    len: u32,
}

/// The most bytes a ring holds.
pub(crate) const MAX: usize = u32::MAX as usize;

impl Ring {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends all of `data`. The caller keeps `len() + data.len()` within `bound`.
    #[inline(always)]
    pub(crate) fn push(&mut self, data: &[u8], bound: usize) {
        if data.is_empty() {
            return;
        }
        let needed = self.len() + data.len();
        debug_assert!(needed <= bound && bound <= MAX);
        if needed > self.buf.len() {
            self.grow(needed, bound);
        }
        let cap = self.buf.len();
        let tail = wrap(self.head() + self.len(), cap);
        let first = data.len().min(cap - tail);
        self.buf[tail..tail + first].copy_from_slice(&data[..first]);
        if first < data.len() {
            self.buf[..data.len() - first].copy_from_slice(&data[first..]);
        }
        self.len = needed as u32;
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    /// Moves up to `out.len()` of the oldest bytes into `out`; returns how many.
    pub(crate) fn pop_into(&mut self, out: &mut [u8]) -> usize {
        let n = self.len().min(out.len());
        if n == 0 {
            return 0;
        }
        let cap = self.buf.len();
        let head = self.head();
        let first = n.min(cap - head);
        out[..first].copy_from_slice(&self.buf[head..head + first]);
        if first < n {
            out[first..n].copy_from_slice(&self.buf[..n - first]);
        }
        self.head = wrap(head + n, cap) as u32;
        self.len -= n as u32;
        if self.len == 0 {
            // Restart at the front so the next bytes are contiguous.
            self.head = 0;
        }
        n
    }

    /// The oldest stored bytes that are contiguous in memory (all of them unless they wrap).
    pub(crate) fn front(&self) -> &[u8] {
        let end = (self.head() + self.len()).min(self.buf.len());
        &self.buf[self.head()..end]
    }

    /// Drops the `n` oldest bytes (at most [`front`](Ring::front)'s length).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.front().len());
        self.len -= n as u32;
        self.head = if self.len == 0 {
            0
        } else {
            wrap(self.head() + n, self.buf.len()) as u32
        };
    }

    /// A ring holding exactly the bytes of `vec`, in `vec`'s own allocation (shrunk to fit
    /// if it had spare capacity). `vec` holds at most [`MAX`] bytes.
    pub(crate) fn from_vec(vec: Vec<u8>) -> Ring {
        debug_assert!(vec.len() <= MAX);
        Ring {
            len: vec.len() as u32,
            head: 0,
            buf: vec.into_boxed_slice(),
        }
    }

    /// The stored bytes as a `Vec`: the allocation itself when they start at its front, as they
    /// do for a ring made by [`from_vec`](Ring::from_vec); otherwise they are first moved there.
    pub(crate) fn into_vec(mut self) -> Vec<u8> {
        let (head, len) = (self.head(), self.len());
        if head + len > self.buf.len() {
            self.buf.rotate_left(head);
        } else {
            self.buf.copy_within(head..head + len, 0);
        }
        let mut vec = self.buf.into_vec();
        vec.truncate(len);
        vec
    }

    /// Drops all bytes and the allocation.
    pub(crate) fn clear(&mut self) {
        *self = Ring::default();
    }

    #[cold]
    fn grow(&mut self, needed: usize, bound: usize) {
        let cap = needed
            .max(self.buf.len().saturating_mul(2))
            .max(64)
            .min(bound);
        let mut buf = vec![0; cap].into_boxed_slice();
        let len = self.len;
        self.pop_into(&mut buf[..len as usize]);
        self.buf = buf;
        self.head = 0;
        self.len = len;
    }
}

/// `i % cap` for `i < 2 * cap`, without a division (this is on every read and write).
fn wrap(i: usize, cap: usize) -> usize {
    if i >= cap {
        i - cap
    } else {
        i
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn wraps_and_grows_preserving_order() {
        let mut r = Ring::default();
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u8;
        let mut out = vec![0u8; 300];
        for step in 0..2000usize {
            let want_in = (step * 37) % 150;
            let room = 1000 - r.len();
            let data: Vec<u8> = (0..want_in.min(room))
                .map(|_| {
                    next = next.wrapping_add(1);
                    next
                })
                .collect();
            r.push(&data, 1000);
            model.extend(&data);
            let take = (step * 53) % 200;
            let n = r.pop_into(&mut out[..take]);
            let expect: Vec<u8> = model.drain(..n).collect();
            assert_eq!(&out[..n], &expect[..]);
            assert_eq!(r.len(), model.len());
            assert!(r.buf.len() <= 1000);
        }
    }

    #[test]
    fn front_consume_and_vec_round_trips() {
        let mut r = Ring::from_vec(b"hello".to_vec());
        assert_eq!(r.front(), b"hello");
        r.consume(2);
        assert_eq!(r.front(), b"llo");
        assert_eq!(r.into_vec(), b"llo");
        // A wrapped ring comes out in order.
        let mut r = Ring::default();
        r.push(&[1; 60], 64);
        let mut sink = [0; 58];
        r.pop_into(&mut sink);
        r.push(&[2, 3, 4, 5, 6, 7, 8, 9], 64);
        assert!(r.front().len() < 10, "expected a wrapped ring");
        assert_eq!(r.into_vec(), [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn clear_frees_the_allocation() {
        let mut r = Ring::default();
        r.push(b"abc", 10);
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.buf.len(), 0);
    }
}
