//! The byte ring behind one direction of a connection, and the crate's only `unsafe` code: a
//! region of the ring can be *lent* to the writer or the reader, so that its bytes are copied
//! while the direction's lock is released (see [`Ring::lend_free`]).

use std::cell::UnsafeCell;
use std::ptr::NonNull;

/// A FIFO of bytes in one contiguous allocation, used as a ring.
///
/// The allocation starts empty and grows geometrically as bytes arrive, never beyond the bound
/// the caller passes, so an idle connection holds no buffer and a busy one at most its bound.
/// Bytes move in and out with at most two copies each way. It holds at most [`MAX`] bytes, so
/// that its positions fit 32 bits (a connection holds two rings).
///
/// # Lending
///
/// [`lend_free`](Ring::lend_free) hands out the free bytes after the stored ones, to be filled
/// and then [`commit`](Ring::commit)ted; [`lend_filled`](Ring::lend_filled) hands out the
/// oldest stored bytes, to be copied out and then committed. In between, the [`Lent`] region is accessed by
/// whoever holds it, possibly on another thread and without the lock that guards the ring, while
/// the ring goes on storing and removing bytes outside it. So that this is sound, the ring keeps
/// three rules while anything is lent, whoever calls it:
/// - its allocation is neither freed nor moved: it does not grow, [`clear`](Ring::clear) only
///   marks it cleared (freed once the last region is committed), and a ring dropped while lent
///   leaks its allocation rather than free memory in use;
/// - no other access touches a lent region: nothing is stored while the free bytes are lent
///   (or once the ring was cleared while lent), nothing is removed or shown
///   ([`front`](Ring::front)) while the oldest bytes are lent;
/// - at most one region of each kind is out.
#[derive(Debug)]
pub(crate) struct Ring {
    /// The allocation: `cap` initialised bytes. It is reached only through raw pointers,
    /// never a reference to all of it, as a lent region may be in use on another thread.
    alloc: Alloc,
    cap: u32,
    /// Index of the oldest byte.
    head: u32,
    /// Bytes stored, starting at `head` and wrapping at `cap`.
    len: u32,
    /// What is lent out ([`LENT_FREE`], [`LENT_FILLED`]) and whether the ring was cleared while
    /// lent ([`CLEARED`]); in bytes the other fields leave as padding.
    lent: u8,
}

/// The free bytes after the stored ones are lent.
const LENT_FREE: u8 = 1;
/// The oldest stored bytes are lent.
const LENT_FILLED: u8 = 2;
/// The ring was cleared while lent: the allocation goes when the last region is committed.
const CLEARED: u8 = 4;

// SAFETY: a `Ring` owns its allocation as a `Box<[u8]>` would, and every access to it goes
// through the ring's methods or a `Lent` of it (which is neither `Send` nor `Sync`); the rules
// in the type's docs keep those accesses disjoint.
unsafe impl Send for Ring {}
// SAFETY: through `&Ring` the ring only reads stored bytes that are not lent for filling.
unsafe impl Sync for Ring {}

/// The most bytes a ring holds.
pub(crate) const MAX: usize = u32::MAX as usize;

impl Default for Ring {
    fn default() -> Ring {
        Ring {
            alloc: Alloc::EMPTY,
            cap: 0,
            head: 0,
            len: 0,
            lent: 0,
        }
    }
}

/// A region of a [`Ring`] lent out of it: one span, or two when it wraps. It is neither `Send`
/// nor `Sync`: it is used by the task that borrowed it, within one poll.
#[derive(Debug)]
pub(crate) struct Lent {
    /// The ring's allocation (also to check that it is committed to the ring that lent it).
    base: Alloc,
    kind: u8,
    /// `(offset, length)` of each span in the allocation.
    spans: [(usize, usize); 2],
}

impl Lent {
    /// How many bytes the region holds.
    pub(crate) fn len(&self) -> usize {
        self.spans[0].1 + self.spans[1].1
    }

    /// Fills a free region with `data`, which is as long as the region.
    pub(crate) fn fill_from(&self, data: &[u8]) {
        assert!(self.kind == LENT_FREE && data.len() == self.len());
        let mut from = 0;
        for (at, n) in self.spans {
            // SAFETY: the span lies in the allocation, which stays allocated while the region is
            // lent, and nothing but this `Lent` accesses it until it is committed (the ring's
            // lending rules); `data[from..from + n]` is in bounds (asserted above).
            unsafe { self.base.write(at, &data[from..from + n]) };
            from += n;
        }
    }

    /// Copies a filled region into `out`, which is as long as the region.
    pub(crate) fn copy_to(&self, out: &mut [u8]) {
        assert!(self.kind == LENT_FILLED && out.len() == self.len());
        let mut to = 0;
        for (at, n) in self.spans {
            // SAFETY: as in `fill_from`: the span is allocated, and only read (here and by
            // nothing else that writes it) until the region is committed.
            unsafe { self.base.read(at, &mut out[to..to + n]) };
            to += n;
        }
    }
}

/// A ring's allocation: where its bytes are, and under loom a cell per byte that stands for it
/// in the model checker, which sees every access to the bytes through them and fails on two
/// that race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Alloc {
    bytes: NonNull<UnsafeCell<u8>>,
    #[cfg(loom)]
    cells: NonNull<loom::cell::UnsafeCell<()>>,
}

impl Alloc {
    /// The allocation of an empty ring: dangling, never accessed or freed (its `cap` is 0).
    const EMPTY: Alloc = Alloc {
        bytes: NonNull::dangling(),
        #[cfg(loom)]
        cells: NonNull::dangling(),
    };

    /// Takes over a boxed slice of bytes (of the length the ring records as its `cap`).
    fn from_box(bytes: Box<[u8]>) -> Alloc {
        #[cfg(loom)]
        let len = bytes.len();
        // `UnsafeCell<u8>` is `repr(transparent)` over `u8`. A boxed slice's pointer is never
        // null (dangling when it is empty, and then nothing accesses or frees it).
        let raw = Box::into_raw(bytes).cast::<UnsafeCell<u8>>();
        Alloc {
            bytes: NonNull::new(raw).unwrap_or(NonNull::dangling()),
            #[cfg(loom)]
            cells: {
                let cells: Box<[loom::cell::UnsafeCell<()>]> =
                    (0..len).map(|_| loom::cell::UnsafeCell::new(())).collect();
                NonNull::new(Box::into_raw(cells).cast()).unwrap_or(NonNull::dangling())
            },
        }
    }

    /// `cap` zeroed bytes.
    fn zeroed(cap: usize) -> Alloc {
        Alloc::from_box(vec![0u8; cap].into_boxed_slice())
    }

    /// Gives the bytes back as the boxed slice they were.
    ///
    /// # Safety
    ///
    /// `cap` is the length the allocation was made with, and nothing accesses it any more.
    unsafe fn into_box(self, cap: usize) -> Box<[u8]> {
        #[cfg(loom)]
        if cap > 0 {
            // SAFETY: the cells were made with the bytes, `cap` of them, and go with them.
            drop(unsafe {
                Box::from_raw(std::ptr::slice_from_raw_parts_mut(self.cells.as_ptr(), cap))
            });
        }
        if cap == 0 {
            return Box::default();
        }
        // SAFETY: the caller's contract: this is the boxed slice `from_box` took over.
        unsafe {
            Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.bytes.as_ptr().cast::<u8>(),
                cap,
            ))
        }
    }

    /// The address of byte `at`.
    ///
    /// # Safety
    ///
    /// `at` is at most the allocation's length.
    unsafe fn at(self, at: usize) -> *mut u8 {
        // SAFETY: the caller's contract keeps the offset within (or one past) the allocation.
        UnsafeCell::raw_get(unsafe { self.bytes.as_ptr().add(at) })
    }

    /// Tells the model checker that bytes `at..at + n` are written (`write`) or read.
    #[cfg(loom)]
    unsafe fn track(self, at: usize, n: usize, write: bool) {
        for i in at..at + n {
            // SAFETY: the cells exist for every byte of the allocation.
            let cell = unsafe { &*self.cells.as_ptr().add(i) };
            if write {
                cell.with_mut(|_| ());
            } else {
                cell.with(|_| ());
            }
        }
    }

    /// Copies `data` into the allocation from byte `at`.
    ///
    /// # Safety
    ///
    /// `at..at + data.len()` lies in the allocation, and nothing else accesses it meanwhile.
    unsafe fn write(self, at: usize, data: &[u8]) {
        #[cfg(loom)]
        // SAFETY: the caller's contract.
        unsafe {
            self.track(at, data.len(), true)
        };
        // SAFETY: the caller's contract makes the range `data.len()` bytes this call alone
        // accesses, so it cannot overlap `data`, which the caller borrows.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.at(at), data.len()) }
    }

    /// Copies bytes of the allocation from byte `at` into `out`.
    ///
    /// # Safety
    ///
    /// `at..at + out.len()` lies in the allocation, and nothing writes it meanwhile.
    unsafe fn read(self, at: usize, out: &mut [u8]) {
        #[cfg(loom)]
        // SAFETY: the caller's contract.
        unsafe {
            self.track(at, out.len(), false)
        };
        // SAFETY: the caller's contract; `out` is borrowed mutably, so it is not the range.
        unsafe { std::ptr::copy_nonoverlapping(self.at(at), out.as_mut_ptr(), out.len()) }
    }

    /// Copies `n` bytes from byte `at` of this allocation to byte `to` of `dst`.
    ///
    /// # Safety
    ///
    /// Both ranges lie in their allocations, which are distinct, and nothing writes the first
    /// or accesses the second meanwhile.
    unsafe fn copy_to(self, at: usize, dst: Alloc, to: usize, n: usize) {
        #[cfg(loom)]
        // SAFETY: the caller's contract.
        unsafe {
            self.track(at, n, false);
            dst.track(to, n, true);
        }
        // SAFETY: the caller's contract.
        unsafe { std::ptr::copy_nonoverlapping(self.at(at), dst.at(to), n) }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.lent == 0 {
            // SAFETY: nothing is lent, so only this ring used the allocation, made with `cap`.
            drop(unsafe { self.alloc.into_box(self.cap()) });
        }
        // Dropped while a region is lent (which the crate never does): the allocation may be
        // in use, so it is leaked.
    }
}

impl Ring {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn cap(&self) -> usize {
        self.cap as usize
    }

    fn head(&self) -> usize {
        self.head as usize
    }

    /// Index of the first free byte.
    fn tail(&self) -> usize {
        wrap(self.head() + self.len(), self.cap())
    }

    /// Whether the free bytes are lent (then nothing can be stored until they are committed).
    pub(crate) fn free_lent(&self) -> bool {
        self.lent & LENT_FREE != 0
    }

    /// Whether the oldest bytes are lent (then nothing can be removed until they are committed).
    pub(crate) fn filled_lent(&self) -> bool {
        self.lent & LENT_FILLED != 0
    }

    /// Whether any region is lent.
    pub(crate) fn is_lent(&self) -> bool {
        self.lent != 0
    }

    /// How many bytes [`push`](Ring::push) would store now under `bound`: none while the free
    /// bytes are lent, no more than the allocation holds while the oldest bytes are (it cannot
    /// grow), else up to `bound`.
    #[inline]
    pub(crate) fn room(&self, bound: usize) -> usize {
        if self.lent == 0 {
            bound.min(MAX).saturating_sub(self.len())
        } else if self.lent & (LENT_FREE | CLEARED) != 0 {
            0
        } else {
            self.cap() - self.len()
        }
    }

    /// Appends as much of `data` as there is [`room`](Ring::room) for under `bound`; returns
    /// how many bytes it stored.
    #[inline(always)]
    pub(crate) fn push(&mut self, data: &[u8], bound: usize) -> usize {
        let mut n = data.len();
        if self.lent != 0 || self.len() + n > self.cap() {
            n = n.min(self.room(bound));
            if n == 0 {
                return 0;
            }
            if self.len() + n > self.cap() {
                self.grow(self.len() + n, bound);
            }
        }
        let tail = self.tail();
        let first = n.min(self.cap() - tail);
        // SAFETY: the `n` bytes from `tail` (wrapping) are free bytes of the allocation (they
        // fit beside the stored ones), and the free bytes are not lent (`room` is 0 then), so
        // nothing else accesses them.
        unsafe {
            self.alloc.write(tail, &data[..first]);
            if first < n {
                self.alloc.write(0, &data[first..n]);
            }
        }
        self.len += n as u32;
        n
    }

    /// The one or two spans of the `n` bytes from index `at` (`n` at most the allocation).
    fn spans(&self, at: usize, n: usize) -> ((usize, usize), (usize, usize)) {
        let first = n.min(self.cap() - at);
        ((at, first), (0, n - first))
    }

    /// Moves up to `out.len()` of the oldest bytes into `out`; returns how many (none while
    /// the oldest bytes are lent).
    pub(crate) fn pop_into(&mut self, out: &mut [u8]) -> usize {
        let n = if self.filled_lent() {
            0
        } else {
            self.len().min(out.len())
        };
        if n == 0 {
            return 0;
        }
        let (first, second) = self.spans(self.head(), n);
        // SAFETY: the spans are stored bytes, which no one writes while they are stored, and
        // the oldest are not lent.
        unsafe {
            self.alloc.read(first.0, &mut out[..first.1]);
            if second.1 > 0 {
                self.alloc.read(second.0, &mut out[first.1..n]);
            }
        }
        self.advance(n);
        n
    }

    /// Drops the `n` oldest bytes (at most the stored ones).
    fn advance(&mut self, n: usize) {
        self.len -= n as u32;
        self.head = if self.len == 0 && !self.free_lent() {
            // Restart at the front so the next bytes are contiguous (not while the free bytes
            // are lent: they are where they were lent).
            0
        } else {
            wrap(self.head() + n, self.cap()) as u32
        };
    }

    /// The oldest stored bytes that are contiguous in memory (all of them unless they wrap;
    /// none while the oldest bytes are lent).
    pub(crate) fn front(&self) -> &[u8] {
        if self.filled_lent() || self.len == 0 {
            return &[];
        }
        let n = self.len().min(self.cap() - self.head());
        #[cfg(loom)]
        // SAFETY: the bytes are in the allocation.
        unsafe {
            self.alloc.track(self.head(), n, false)
        };
        // SAFETY: the bytes are stored, so nothing writes them while they are, and `&mut self`
        // (which could remove them) is not available while the slice lives.
        unsafe { std::slice::from_raw_parts(self.alloc.at(self.head()).cast_const(), n) }
    }

    /// Drops the `n` oldest bytes (at most [`front`](Ring::front)'s length).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.front().len());
        if n > 0 {
            self.advance(n);
        }
    }

    /// Lends the free bytes after the stored ones, up to `n` of them, growing the allocation
    /// (within `bound`) if nothing is lent; `None` if there are none to lend. Fill them with
    /// [`Lent::fill_from`], then store them with [`commit`](Ring::commit).
    pub(crate) fn lend_free(&mut self, n: usize, bound: usize) -> Option<Lent> {
        let n = n.min(self.room(bound));
        if n == 0 {
            return None;
        }
        let needed = self.len() + n;
        if needed > self.cap() {
            self.grow(needed, bound);
        }
        Some(self.lend(LENT_FREE, self.tail(), n))
    }

    /// Lends the `n` oldest bytes, or as many as are stored; `None` if there are none (or they
    /// are lent already). Copy them out with [`Lent::copy_to`], then drop them with
    /// [`commit`](Ring::commit).
    pub(crate) fn lend_filled(&mut self, n: usize) -> Option<Lent> {
        // A ring cleared while lent stores nothing, so it has none to lend either.
        let n = if self.filled_lent() {
            0
        } else {
            n.min(self.len())
        };
        if n == 0 {
            return None;
        }
        Some(self.lend(LENT_FILLED, self.head(), n))
    }

    /// Marks the `n` bytes from index `at` lent as `kind`.
    fn lend(&mut self, kind: u8, at: usize, n: usize) -> Lent {
        let (first, second) = self.spans(at, n);
        self.lent |= kind;
        Lent {
            base: self.alloc,
            kind,
            spans: [first, second],
        }
    }

    /// Takes back a region this ring lent, now filled ([`lend_free`](Ring::lend_free): its
    /// bytes are stored) or copied out ([`lend_filled`](Ring::lend_filled): its bytes are
    /// dropped); returns whether it did (`false` once the ring was cleared meanwhile, or for a
    /// region it did not lend).
    pub(crate) fn commit(&mut self, lent: Lent) -> bool {
        if !self.returns(&lent) {
            return false;
        }
        if self.lent & CLEARED != 0 {
            self.release_cleared();
            return false;
        }
        if lent.kind == LENT_FREE {
            self.len += lent.len() as u32;
        } else {
            self.advance(lent.len());
        }
        true
    }

    /// Takes back a region this ring lent: `false` (and nothing changes) for one it did not.
    fn returns(&mut self, lent: &Lent) -> bool {
        if lent.base != self.alloc || self.lent & lent.kind == 0 {
            return false;
        }
        self.lent &= !lent.kind;
        true
    }

    /// After a region of a ring cleared while lent came back: once none is out, the allocation
    /// goes.
    fn release_cleared(&mut self) {
        if self.lent & (LENT_FREE | LENT_FILLED) == 0 {
            self.lent = 0;
            self.clear();
        }
    }

    /// A ring holding exactly the bytes of `vec`, in `vec`'s own allocation (shrunk to fit
    /// if it had spare capacity). `vec` holds at most [`MAX`] bytes.
    pub(crate) fn from_vec(vec: Vec<u8>) -> Ring {
        debug_assert!(vec.len() <= MAX);
        let len = vec.len().min(MAX) as u32;
        let mut vec = vec;
        vec.truncate(len as usize);
        Ring {
            alloc: Alloc::from_box(vec.into_boxed_slice()),
            cap: len,
            head: 0,
            len,
            lent: 0,
        }
    }

    /// The stored bytes as a `Vec`: the allocation itself when nothing is lent (the bytes
    /// are first moved to its front), a copy otherwise.
    pub(crate) fn into_vec(mut self) -> Vec<u8> {
        if self.is_lent() {
            let mut out = vec![0; self.len()];
            let n = self.pop_into(&mut out);
            out.truncate(n);
            return out;
        }
        let (head, len, cap) = (self.head(), self.len(), self.cap());
        let alloc = std::mem::replace(&mut self.alloc, Alloc::EMPTY);
        self.cap = 0;
        self.len = 0;
        // SAFETY: nothing is lent, so the allocation, made with `cap`, is this ring's alone,
        // and the ring no longer refers to it.
        let mut bytes = unsafe { alloc.into_box(cap) };
        if head + len > cap {
            bytes.rotate_left(head);
        } else {
            bytes.copy_within(head..head + len, 0);
        }
        let mut vec = bytes.into_vec();
        vec.truncate(len);
        vec
    }

    /// Drops all bytes and the allocation (the allocation once no region is lent).
    pub(crate) fn clear(&mut self) {
        if self.lent & (LENT_FREE | LENT_FILLED) != 0 {
            self.lent |= CLEARED;
            self.len = 0;
            return;
        }
        *self = Ring::default();
    }

    #[cold]
    fn grow(&mut self, needed: usize, bound: usize) {
        debug_assert!(!self.is_lent());
        let cap = needed
            .max(self.cap().saturating_mul(2))
            .max(64)
            .min(bound.min(MAX));
        let mut bigger = Ring {
            alloc: Alloc::zeroed(cap),
            cap: cap as u32,
            head: 0,
            len: self.len,
            lent: 0,
        };
        let (first, second) = self.spans(self.head(), self.len());
        // SAFETY: the spans are the stored bytes, which fit the new allocation, and nothing is
        // lent, so nothing else accesses either allocation.
        unsafe {
            self.alloc.copy_to(first.0, bigger.alloc, 0, first.1);
            self.alloc
                .copy_to(second.0, bigger.alloc, first.1, second.1);
        }
        std::mem::swap(self, &mut bigger);
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

#[cfg(all(test, not(loom)))]
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
            assert_eq!(r.push(&data, 1000), data.len());
            model.extend(&data);
            let take = (step * 53) % 200;
            let n = r.pop_into(&mut out[..take]);
            let expect: Vec<u8> = model.drain(..n).collect();
            assert_eq!(&out[..n], &expect[..]);
            assert_eq!(r.len(), model.len());
            assert!(r.cap() <= 1000);
        }
    }

    #[test]
    fn a_push_beyond_the_bound_stores_what_fits() {
        let mut r = Ring::default();
        assert_eq!(r.push(&[7; 10], 6), 6);
        assert_eq!(r.push(&[7; 10], 6), 0);
        assert_eq!(r.into_vec(), [7; 6]);
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
        assert_eq!(r.cap(), 0);
    }

    /// A ring whose stored bytes wrap: 60 of 64 pushed, 58 popped, then 8 more.
    fn wrapped() -> Ring {
        let mut r = Ring::default();
        r.push(&[1; 60], 64);
        r.pop_into(&mut [0; 58]);
        r.push(&[2, 3, 4, 5, 6, 7, 8, 9], 64);
        r
    }

    #[test]
    fn lent_free_bytes_wrap_and_are_stored_when_committed() {
        let mut r = Ring::default();
        r.push(&[1; 60], 64);
        r.pop_into(&mut [0; 58]);
        let lent = r.lend_free(8, 64).unwrap();
        assert_eq!(lent.len(), 8);
        assert!(lent.spans[1].1 > 0, "expected the region to wrap");
        // Nothing is stored while the free bytes are lent, and a second lending fails.
        assert_eq!(r.room(64), 0);
        assert_eq!(r.push(b"x", 64), 0);
        assert!(r.lend_free(1, 64).is_none());
        // The stored bytes can still be read meanwhile.
        let mut two = [0; 2];
        assert_eq!(r.pop_into(&mut two), 2);
        lent.fill_from(&[2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(r.commit(lent));
        assert!(!r.is_lent());
        assert_eq!(r.into_vec(), [2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn lent_oldest_bytes_are_dropped_when_committed_while_writes_go_on() {
        let mut r = wrapped();
        let lent = r.lend_filled(100).unwrap();
        assert_eq!(lent.len(), 10);
        // Nothing is removed or shown while the oldest bytes are lent...
        assert_eq!(r.pop_into(&mut [0; 4]), 0);
        assert!(r.front().is_empty());
        assert!(r.lend_filled(1).is_none());
        // ...and writes go on into the free bytes, without growing the allocation.
        assert_eq!(r.room(1000), 64 - 10);
        assert_eq!(r.push(&[10; 100], 1000), 54);
        let mut out = [0; 10];
        lent.copy_to(&mut out);
        assert_eq!(out, [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(r.commit(lent));
        assert_eq!(r.into_vec(), [10; 54]);
    }

    #[test]
    fn a_ring_cleared_while_lent_frees_its_allocation_when_the_last_region_returns() {
        let mut r = wrapped();
        let filled = r.lend_filled(4).unwrap();
        let free = r.lend_free(4, 64).unwrap();
        r.clear();
        assert!(r.is_empty());
        assert_eq!(r.room(64), 0, "a cleared ring stores nothing while lent");
        assert!(r.lend_filled(1).is_none());
        assert_eq!(r.cap(), 64, "the allocation stays while lent");
        free.fill_from(&[0; 4]);
        assert!(
            !r.commit(free),
            "bytes filled into a cleared ring are dropped"
        );
        assert_eq!(r.cap(), 64);
        filled.copy_to(&mut [0; 4]);
        assert!(!r.commit(filled));
        assert_eq!(r.cap(), 0);
        assert_eq!(r.push(b"new", 64), 3);
    }
}
