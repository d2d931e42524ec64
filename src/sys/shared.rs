//! A value in memory mapped shared: what a process cloned without
//! `CLONE_VM` (a copy of the address space) writes there, its parent sees.

use std::io;
use std::ptr::NonNull;

/// One `T` in an anonymous shared mapping of its own.
pub(crate) struct SharedMapping<T> {
    ptr: NonNull<T>,
}

impl<T> SharedMapping<T> {
    /// Maps shared memory and moves `value` into it.
    pub(crate) fn new(value: T) -> io::Result<SharedMapping<T>> {
        let len = std::mem::size_of::<T>().max(1);
        // SAFETY: a new anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast::<T>())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        // SAFETY: the mapping is page-aligned (enough for any T here), at
        // least `size_of::<T>()` bytes, writable, and not yet initialized.
        unsafe { ptr.as_ptr().write(value) };
        Ok(SharedMapping { ptr })
    }
}

impl<T> std::ops::Deref for SharedMapping<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: initialized in `new`, unmapped only in `drop`.
        unsafe { self.ptr.as_ref() }
    }
}

impl<T> Drop for SharedMapping<T> {
    fn drop(&mut self) {
        // SAFETY: the value was initialized in `new` and is dropped once.
        unsafe { std::ptr::drop_in_place(self.ptr.as_ptr()) };
        // SAFETY: the mapping made in `new` goes, and nothing refers to it
        // any more (borrows of `self` have ended, its value is dropped).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), std::mem::size_of::<T>().max(1)) };
    }
}

// SAFETY: the mapping is owned like a `Box<T>`: moving it to another
// thread moves the `T`, which must be `Send`.
unsafe impl<T: Send> Send for SharedMapping<T> {}
// SAFETY: shared references give `&T` only, which is safe to share when
// `T: Sync`.
unsafe impl<T: Sync> Sync for SharedMapping<T> {}
