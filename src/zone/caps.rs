//! Capabilities, child-zone half: applies a [`CapPlan`] computed once per
//! policy with raw `prctl` and `capset` calls.

use crate::caps::{self, CapPlan, Capability, Setpcap};
use crate::sys::raw::{Errno, sc, syscall6};

const SECBIT_NOROOT: usize = 1 << 0;

const SECBIT_NOROOT_LOCKED: usize = 1 << 1;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapUserHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapUserData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Applies `plan` to the calling thread. Child zone: raw system calls over
/// the plan and stack data only; no allocation, no panics.
pub(crate) fn apply(plan: &CapPlan) -> Result<(), (caps::Stage, Errno)> {
    before_id_switch(plan, false)?;
    after_id_switch(plan)
}

/// The steps that need the privileges the thread has now: locks
/// `SECBIT_NOROOT` and drops the bounding set (both need `CAP_SETPCAP`),
/// and clears the ambient set. With `switching_ids`, the caller then
/// switches to other ids, perhaps from uid 0 to another, which empties the
/// permitted set: when capabilities are kept, `PR_SET_KEEPCAPS` keeps it
/// over the switch (the kernel clears that flag again at `execve`), and
/// [`after_id_switch`] reduces it to the kept ones. Child zone.
pub(crate) fn before_id_switch(
    plan: &CapPlan,
    switching_ids: bool,
) -> Result<(), (caps::Stage, Errno)> {
    let setpcap = match plan.setpcap {
        Setpcap::Required => true,
        Setpcap::IfHeld => {
            effective_caps().map_err(|e| (caps::Stage::Capget, e))? & Capability::Setpcap.bit() != 0
        }
    };
    if setpcap && plan.lock_noroot {
        // SAFETY: prctl(PR_GET_SECUREBITS) takes no pointer.
        let bits = unsafe { sc!(libc::SYS_prctl, libc::PR_GET_SECUREBITS) }
            .map_err(|e| (caps::Stage::Securebits, e))?;
        let want = bits | SECBIT_NOROOT | SECBIT_NOROOT_LOCKED;
        if want != bits {
            // SAFETY: prctl(PR_SET_SECUREBITS, bits) takes no pointer; only
            // sets bits, so a lock already held cannot make it fail.
            unsafe { sc!(libc::SYS_prctl, libc::PR_SET_SECUREBITS, want) }
                .map_err(|e| (caps::Stage::Securebits, e))?;
        }
    }
    if setpcap {
        let mut cap: u8 = 0;
        while cap <= plan.last_cap {
            if plan.keep & (1u64 << cap) == 0 {
                // SAFETY: prctl(PR_CAPBSET_DROP, cap) takes no pointer.
                unsafe { sc!(libc::SYS_prctl, libc::PR_CAPBSET_DROP, cap) }
                    .map_err(|e| (caps::Stage::BoundingSet { cap }, e))?;
            }
            cap = cap.wrapping_add(1);
        }
    }
    // SAFETY: prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) takes no
    // pointer.
    unsafe {
        sc!(
            libc::SYS_prctl,
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0
        )
    }
    .map_err(|e| (caps::Stage::AmbientClear, e))?;
    if switching_ids && plan.keep != 0 {
        // SAFETY: prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) takes no pointer.
        unsafe { sc!(libc::SYS_prctl, libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) }
            .map_err(|e| (caps::Stage::Securebits, e))?;
    }
    Ok(())
}

/// The rest, after any switch of ids: sets the effective, permitted and
/// inheritable sets to the kept capabilities, raises them in the ambient
/// set (the only way a non-root uid holds them after `execve`) and sets
/// `no_new_privs`. None of it needs a capability the kept ones lack.
/// Child zone.
pub(crate) fn after_id_switch(plan: &CapPlan) -> Result<(), (caps::Stage, Errno)> {
    let inheritable = if plan.ambient { plan.keep } else { 0 };
    let mut header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapUserData {
            effective: plan.keep as u32,
            permitted: plan.keep as u32,
            inheritable: inheritable as u32,
        },
        CapUserData {
            effective: (plan.keep >> 32) as u32,
            permitted: (plan.keep >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: header and data are live stack values laid out as the kernel's
    // __user_cap_header_struct and two __user_cap_data_struct (version 3).
    // The kernel may write the preferred version back into the header, which
    // is mutable.
    unsafe {
        sc!(
            libc::SYS_capset,
            &mut header as *mut CapUserHeader,
            data.as_ptr()
        )
    }
    .map_err(|e| (caps::Stage::Capset, e))?;

    if plan.ambient {
        let mut cap: u8 = 0;
        while cap <= plan.last_cap {
            if plan.keep & (1u64 << cap) != 0 {
                // SAFETY: prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0)
                // takes no pointer.
                unsafe {
                    sc!(
                        libc::SYS_prctl,
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE,
                        cap,
                        0,
                        0
                    )
                }
                .map_err(|e| (caps::Stage::AmbientRaise { cap }, e))?;
            }
            cap = cap.wrapping_add(1);
        }
    }
    if plan.no_new_privs {
        set_no_new_privs().map_err(|e| (caps::Stage::NoNewPrivs, e))?;
    }
    Ok(())
}

/// The calling thread's effective set. Child zone.
fn effective_caps() -> Result<u64, Errno> {
    let mut header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapUserData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data are live, writable stack values laid out as the
    // kernel's version 3 structures (one header, two data entries).
    unsafe {
        sc!(
            libc::SYS_capget,
            &mut header as *mut CapUserHeader,
            data.as_mut_ptr()
        )
    }?;
    let [low, high] = data;
    Ok(u64::from(low.effective) | (u64::from(high.effective) << 32))
}

/// Sets `no_new_privs` on the calling thread. Child zone.
pub(crate) fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes no pointer.
    unsafe { sc!(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.map(|_| ())
}
