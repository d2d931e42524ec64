//! `clone3(2)` and `clone(2)` with a child entry point on a caller-provided stack.
//!
//! With `CLONE_VM` the child shares the caller's address space, so it cannot
//! return into the caller's stack frames. The child branch is therefore written
//! in assembly: right after the system call, on the fresh stack the kernel
//! installed, it calls `entry(arg)` and passes the result to `exit_group(2)`.

use core::arch::asm;
use core::ffi::{c_int, c_void};

use super::raw::{Errno, SysResult};

/// Entry point of a cloned child. Runs on the new stack; its return value
/// becomes the child's exit status.
pub type ChildEntry = unsafe extern "C" fn(arg: *mut c_void) -> c_int;

/// `struct clone_args` (Linux 5.3; `cgroup` field since 5.7).
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    /// `CLONE_*` flags (no exit signal in the low byte).
    pub flags: u64,
    /// Where the kernel stores the pidfd (`CLONE_PIDFD`).
    pub pidfd: u64,
    /// `CLONE_CHILD_SETTID` target.
    pub child_tid: u64,
    /// `CLONE_PARENT_SETTID` target.
    pub parent_tid: u64,
    /// Signal sent to the parent when the child exits.
    pub exit_signal: u64,
    /// Lowest address of the child's stack.
    pub stack: u64,
    /// Size of the child's stack.
    pub stack_size: u64,
    /// TLS pointer (`CLONE_SETTLS`).
    pub tls: u64,
    /// PID selection array.
    pub set_tid: u64,
    /// Length of `set_tid`.
    pub set_tid_size: u64,
    /// Directory fd of the target cgroup (`CLONE_INTO_CGROUP`).
    pub cgroup: u64,
}

/// `CLONE_INTO_CGROUP` (Linux 5.7).
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `clone3(2)`: returns the child's pid in the parent.
///
/// # Safety
/// `args.stack`/`args.stack_size` must describe a writable region that stays
/// mapped for as long as the child runs on it, with `stack + stack_size`
/// 16-byte aligned. `entry` must be safe to run in the child under the
/// sharing implied by `args.flags` (with `CLONE_VM`: only async-signal-safe,
/// allocation-free code), and `arg` must stay valid for as long as it uses it.
/// Every address in `args` (`pidfd`, `child_tid`, `parent_tid`, `set_tid`)
/// is zero or valid for the kernel's write or read, as its flag says.
pub unsafe fn clone3(args: &CloneArgs, entry: ChildEntry, arg: *mut c_void) -> SysResult {
    let size = core::mem::size_of::<CloneArgs>();
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the parent branch behaves like a plain system call (rax, rcx and
    // r11 clobbered). The child branch never returns into Rust code: it starts
    // on the stack from `args`, clears the frame pointer, calls entry(arg) with
    // a 16-byte aligned stack (the kernel sets rsp to stack + stack_size) and
    // exits. r12/r13 survive the system call in both branches.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            exit = const libc::SYS_exit_group,
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") args as *const CloneArgs,
            in("rsi") size,
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above for aarch64: x0 carries the result; the child branch
    // clears fp/lr, calls entry(arg) through x20/x21 (preserved across the
    // system call) on the kernel-installed stack, then exits.
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x21",
            "blr x20",
            "mov x8, {exit}",
            "svc 0",
            "brk #1",
            "2:",
            exit = const libc::SYS_exit_group,
            in("x8") libc::SYS_clone3,
            inlateout("x0") args as *const CloneArgs as isize => ret,
            in("x1") size,
            in("x20") entry,
            in("x21") arg,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Legacy `clone(2)`, for kernels or seccomp profiles (Docker's) that answer
/// `clone3` with `ENOSYS`. With `CLONE_PIDFD` (Linux 5.2) the pidfd is stored
/// through `pidfd_out`.
///
/// # Safety
/// As for [`clone3`]; `stack_top` is the (16-byte aligned) highest address of
/// the child's stack and `pidfd_out` must be valid for a write of a `c_int`
/// when `CLONE_PIDFD` is in `flags`.
pub unsafe fn clone_legacy(
    flags: u64,
    stack_top: *mut u8,
    pidfd_out: *mut c_int,
    entry: ChildEntry,
    arg: *mut c_void,
) -> SysResult {
    let ret: isize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: clone(flags, newsp, parent_tid, child_tid, tls) on x86_64; the
    // child branch is the same trampoline as in clone3.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            exit = const libc::SYS_exit_group,
            inlateout("rax") libc::SYS_clone as isize => ret,
            in("rdi") flags,
            in("rsi") stack_top,
            in("rdx") pidfd_out,
            in("r10") 0usize,
            in("r8") 0usize,
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    #[cfg(target_arch = "aarch64")]
    // SAFETY: clone(flags, newsp, parent_tid, tls, child_tid) on aarch64; the
    // child branch is the same trampoline as in clone3.
    unsafe {
        asm!(
            "svc 0",
            "cbnz x0, 2f",
            "mov x29, xzr",
            "mov x30, xzr",
            "mov x0, x21",
            "blr x20",
            "mov x8, {exit}",
            "svc 0",
            "brk #1",
            "2:",
            exit = const libc::SYS_exit_group,
            in("x8") libc::SYS_clone,
            inlateout("x0") flags as isize => ret,
            in("x1") stack_top,
            in("x2") pidfd_out,
            in("x3") 0usize,
            in("x4") 0usize,
            in("x20") entry,
            in("x21") arg,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(Errno(-ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// An anonymous mapping used as child stacks, with a guard page below each.
#[derive(Debug)]
pub struct StackMap {
    base: *mut u8,
    len: usize,
    count: usize,
    /// Size of each stack (a multiple of the page size).
    size: usize,
}

/// Stack mappings kept for the next spawns. Mapping and guarding a set,
/// faulting its first pages in and unmapping it (a TLB shootdown on every
/// CPU the process ran on) cost tens of microseconds per spawn.
static POOL: std::sync::Mutex<Vec<StackMap>> = std::sync::Mutex::new(Vec::new());

/// How many idle sets the pool keeps: enough for that many threads spawning
/// at once. Each holds only the few pages its children touched.
const POOL_MAX: usize = 8;

// SAFETY: the mapping is plain memory owned by this value; it is only handed
// to children by address and unmapped in Drop.
unsafe impl Send for StackMap {}
// SAFETY: no interior state is accessed through &StackMap except addresses.
unsafe impl Sync for StackMap {}

const PAGE: usize = 4096;

/// The length of a mapping of `count` stacks of `size` bytes with their
/// guard pages, if `size` is a whole number of pages and nothing overflows.
fn mapping_len(count: usize, size: usize) -> Option<usize> {
    if size == 0 || size % PAGE != 0 || count == 0 {
        return None;
    }
    size.checked_add(PAGE)?.checked_mul(count)
}

impl StackMap {
    /// Maps `count` stacks of `size` bytes each (multiple of the page size),
    /// each with a `PROT_NONE` guard page below it.
    pub fn new(count: usize, size: usize) -> std::io::Result<Self> {
        let len = mapping_len(count, size)
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        let slot = size + PAGE;
        // SAFETY: anonymous private mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        let map = StackMap {
            base: base.cast(),
            len,
            count,
            size,
        };
        for i in 0..count {
            // SAFETY: i * slot < len, so the pointer stays inside the mapping.
            let guard = unsafe { map.base.add(i * slot) };
            // SAFETY: the guard page lies inside the mapping created above.
            let r = unsafe { libc::mprotect(guard.cast(), PAGE, libc::PROT_NONE) };
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(map)
    }

    /// A set of `count` stacks of `size` bytes from the pool, or a new one.
    /// Return it with [`recycle`](Self::recycle).
    pub fn pooled(count: usize, size: usize) -> std::io::Result<Self> {
        // Never wait for the lock (a fork of a process whose other thread
        // held it would wait forever): when it is busy, map a new set.
        if let Ok(mut pool) = POOL.try_lock() {
            if let Some(i) = pool
                .iter()
                .rposition(|m| m.count == count && m.size == size)
            {
                return Ok(pool.swap_remove(i));
            }
        }
        Self::new(count, size)
    }

    /// Gives the set back to the pool, or unmaps it when the pool is full.
    /// Like dropping it, only once no child runs on it any more.
    pub fn recycle(self) {
        if let Ok(mut pool) = POOL.try_lock() {
            if pool.len() < POOL_MAX {
                pool.push(self);
            }
        }
    }

    /// Lowest usable address and size of stack `i` (above its guard page),
    /// or `None` if the set has no stack `i`.
    pub fn stack(&self, i: usize) -> Option<(*mut u8, usize)> {
        if i >= self.count {
            return None;
        }
        // i < count, so neither product overflows: the mapping's length,
        // count * (size + PAGE), was computed without overflow in `new`.
        let offset = i * (self.size + PAGE) + PAGE;
        // SAFETY: offset + size <= count * (size + PAGE) = len, so the
        // pointer stays inside the mapping.
        let lo = unsafe { self.base.add(offset) };
        Some((lo, self.size))
    }
}

impl Drop for StackMap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the region mapped in `new`; owners drop this
        // only once no child runs on it any more.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A shape no spawn uses, so the test owns these pool entries.
    const SIZE: usize = 3 * PAGE;

    #[test]
    fn stack_shapes_are_checked() {
        assert!(StackMap::new(1, SIZE + 1).is_err(), "not whole pages");
        assert!(StackMap::new(0, SIZE).is_err(), "no stacks");
        assert!(StackMap::new(usize::MAX / PAGE, SIZE).is_err(), "overflow");
    }

    #[test]
    fn a_recycled_stack_set_serves_the_next_request() {
        // Other tests' spawns may hold the pool's lock for a moment, and
        // then the pool is skipped: retry until it was not busy.
        let reused = (0..100).any(|_| {
            let a = StackMap::pooled(1, SIZE).unwrap();
            let base = a.base;
            a.recycle();
            let b = StackMap::pooled(1, SIZE).unwrap();
            let same = b.base == base;
            drop(b);
            same
        });
        assert!(reused, "a recycled set was never handed out again");
    }

    #[test]
    fn a_pooled_set_keeps_its_guard_pages() {
        StackMap::pooled(2, SIZE).unwrap().recycle();
        let b = StackMap::pooled(2, SIZE).unwrap();
        assert!(b.stack(2).is_none(), "a set of two has no third stack");
        for i in 0..2 {
            let (lo, size) = b.stack(i).unwrap();
            assert_eq!(size, SIZE);
            // SAFETY: writes inside stack i of a live mapping.
            unsafe { lo.write_bytes(0xa5, size) };
            // The guard page below the stack is still PROT_NONE.
            let guard = lo as usize - PAGE;
            let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
            let line = maps
                .lines()
                .find(|l| {
                    let (range, _) = l.split_once(' ').unwrap();
                    let (s, e) = range.split_once('-').unwrap();
                    let (s, e) = (
                        usize::from_str_radix(s, 16).unwrap(),
                        usize::from_str_radix(e, 16).unwrap(),
                    );
                    s <= guard && guard < e
                })
                .unwrap();
            assert!(line.contains(" ---p "), "guard page of stack {i}: {line}");
        }
    }
}
