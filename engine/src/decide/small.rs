//! A short list kept inline, so the usual request allocates nothing for its caller's subjects.

/// A short list kept inline (no allocation per request in the usual case), spilling to the heap.
#[derive(Debug, Clone)]
pub(crate) enum Small<T: Copy + Default, const N: usize> {
    Inline { len: usize, items: [T; N] },
    Heap(Vec<T>),
}

impl<T: Copy + Default, const N: usize> Small<T, N> {
    pub(crate) fn new() -> Self {
        Small::Inline {
            len: 0,
            items: [T::default(); N],
        }
    }

    pub(crate) fn push(&mut self, value: T) {
        match self {
            Small::Inline { len, items } => {
                if let Some(slot) = items.get_mut(*len) {
                    *slot = value;
                    *len += 1;
                } else {
                    let mut heap = Vec::with_capacity(N * 2);
                    heap.extend_from_slice(items);
                    heap.push(value);
                    *self = Small::Heap(heap);
                }
            }
            Small::Heap(v) => v.push(value),
        }
    }

    pub(crate) fn truncate(&mut self, to: usize) {
        match self {
            Small::Inline { len, .. } => *len = (*len).min(to),
            Small::Heap(v) => v.truncate(to),
        }
    }
}

impl<T: Copy + Default, const N: usize> Extend<T> for Small<T, N> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push(v);
        }
    }
}

impl<T: Copy + Default, const N: usize> core::ops::Deref for Small<T, N> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match self {
            Small::Inline { len, items } => items.get(..*len).unwrap_or(&[]),
            Small::Heap(v) => v,
        }
    }
}

impl<T: Copy + Default, const N: usize> core::ops::DerefMut for Small<T, N> {
    fn deref_mut(&mut self) -> &mut [T] {
        match self {
            Small::Inline { len, items } => items.get_mut(..*len).unwrap_or(&mut []),
            Small::Heap(v) => v,
        }
    }
}
