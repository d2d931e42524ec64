//! The network policy's part of the zone: the sockets the supervisor opens
//! in the sandbox's network namespace and hands to the caller, which serves
//! them (see `crate::net`). A socket keeps the network namespace it was
//! created in, whichever process later uses it: that is how the caller's
//! proxy listens inside the sandbox, and how it connects into it for a
//! published port, with no relay process and no privilege.

use core::ffi::c_int;

use super::plan::NetPlan;
use super::{Step, StepExt};
use crate::record;
use crate::stage::Stage;
use crate::sys::raw::{self, Errno};

/// Before the program exists: adds the resolver's address to the loopback
/// interface, then opens each planned socket and sends it to the caller, in
/// order. The supervisor keeps none of them.
pub(super) fn open_sockets(net: &NetPlan<'_>) -> Step {
    if let Some(a) = net.loopback_alias {
        raw::add_loopback_address(a).at(Stage::ResolverAddress, 0)?;
    }
    for (i, s) in net.sockets.iter().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let fd = raw::open_socket(s.addr.family(), s.ty, Some(&s.addr), s.listen)
            .at(Stage::NetSocket, index)?;
        raw::send_with_fd(net.fd, &[record::NET_SOCKET], fd.raw()).at(Stage::NetSocket, index)?;
    }
    Ok(())
}

/// Answers one request of the caller on the network channel `fd`. Returns
/// false once the caller has closed it (it is not watched any more).
pub(super) fn serve_request(fd: c_int) -> bool {
    let mut req = [0u8; 8];
    let v6 = match raw::read(fd, &mut req) {
        Ok(2) if req[0] == record::REQUEST_NET_SOCKET => req[1] == 1,
        // Interrupted, or a request this supervisor does not know: the
        // caller's next one is still served.
        Err(Errno(libc::EINTR | libc::EAGAIN)) | Ok(1..) => return true,
        Ok(_) | Err(_) => return false,
    };
    let family = if v6 { libc::AF_INET6 } else { libc::AF_INET };
    match raw::open_socket(family, libc::SOCK_STREAM, None, false) {
        Ok(sock) => {
            let _ = raw::send_with_fd(fd, &[record::NET_SOCKET], sock.raw());
        }
        Err(Errno(e)) => {
            let mut answer = [0u8; 8];
            answer[0] = record::NET_FAILED;
            let [a, b, c, d] = e.to_ne_bytes();
            answer[4] = a;
            answer[5] = b;
            answer[6] = c;
            answer[7] = d;
            let _ = raw::send(fd, &answer);
        }
    }
    true
}
