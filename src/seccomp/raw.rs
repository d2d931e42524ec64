//! Classic BPF seccomp programs made by the caller, installed as given.

use std::fmt;
use std::sync::Arc;

use super::Error;

/// Size of one `struct sock_filter` instruction.
const INSN_SIZE: usize = 8;

/// A classic BPF seccomp program made elsewhere (by libseccomp, say) and
/// installed as given, after the policy's own filter: the format
/// bubblewrap's `--seccomp FD` reads, an array of the kernel's
/// `struct sock_filter` in native byte order. Nothing checks what it
/// does: the kernel verifies it when it is installed (a malformed program
/// fails the spawn with [`Stage::Seccomp`](crate::stage::Stage::Seccomp)),
/// and the enforcement report counts it without describing it.
#[derive(Clone)]
pub struct Program {
    pub(crate) insns: Arc<[libc::sock_filter]>,
}

impl Program {
    /// Reads a program from its bytes: 1 to 4096 instructions of 8 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Program, Error> {
        let n = bytes.len() / INSN_SIZE;
        if bytes.len() % INSN_SIZE != 0 || n == 0 || n > super::BPF_MAXINSNS {
            return Err(Error::BadProgram { bytes: bytes.len() });
        }
        let insns = bytes
            .chunks_exact(INSN_SIZE)
            .map(|c| libc::sock_filter {
                code: u16::from_ne_bytes([c[0], c[1]]),
                jt: c[2],
                jf: c[3],
                k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            })
            .collect();
        Ok(Program { insns })
    }

    /// The number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Always `false`: a program has at least one instruction.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// The `sock_fprog` the kernel takes, pointing into this program.
    pub(crate) fn fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            // At most BPF_MAXINSNS (checked in from_bytes).
            len: self.insns.len() as u16,
            // The kernel only reads (copies) the program.
            filter: self.insns.as_ptr().cast_mut(),
        }
    }
}

impl PartialEq for Program {
    fn eq(&self, other: &Self) -> bool {
        self.insns.len() == other.insns.len()
            && self
                .insns
                .iter()
                .zip(other.insns.iter())
                .all(|(a, b)| a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k)
    }
}

impl fmt::Debug for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Program")
            .field("instructions", &self.insns.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_checked_and_bytes_read_in_native_order() {
        for bad in [0usize, 7, 9, 8 * 4097] {
            assert!(matches!(
                Program::from_bytes(&vec![0u8; bad]),
                Err(Error::BadProgram { bytes }) if bytes == bad
            ));
        }
        // BPF_RET|BPF_K SECCOMP_RET_ALLOW.
        let mut b = Vec::new();
        b.extend_from_slice(&0x06u16.to_ne_bytes());
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&0x7fff_0000u32.to_ne_bytes());
        let p = Program::from_bytes(&b).unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!((p.insns[0].code, p.insns[0].k), (0x06, 0x7fff_0000));
        assert_eq!(p, p.clone());
        assert_eq!(format!("{p:?}"), "Program { instructions: 1 }");
    }
}
