//! X11 shared memory (MIT-SHM) for pictures that cross to and from the X
//! server without going through the socket: a memfd both sides map.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;

use x11rb::connection::Connection;
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::rust_connection::RustConnection;

/// `WM_CLASS` of Seatphone's own windows (instance, class): the video
/// window carries it, and the share plugin never lists a window that does.
pub const SEATPHONE_WM_CLASS: &[u8] = b"seatphone\0Seatphone\0";

/// A shared-memory segment both we and the X server map: it reads our
/// pixels from it (the video window's PutImage) or writes its own into it
/// (the share plugin's GetImage).
pub struct Segment {
    pub seg: shm::Seg,
    ptr: NonNull<u8>,
    pub len: usize,
}

// SAFETY: the mapping is owned by the segment and used through `&mut`.
unsafe impl Send for Segment {}

impl Segment {
    /// A segment of `len` bytes, attached to the server, which may only
    /// read it unless `server_writes` (GetImage).
    pub fn new(conn: &RustConnection, len: usize, server_writes: bool) -> Result<Segment, String> {
        // SAFETY: memfd_create/ftruncate/mmap on a descriptor we own; the
        // mapping is checked and unmapped in Drop.
        unsafe {
            let fd = libc::memfd_create(c"seatphone-video".as_ptr(), libc::MFD_CLOEXEC);
            if fd < 0 {
                return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
            }
            let fd = OwnedFd::from_raw_fd(fd);
            if libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) != 0 {
                return Err(format!("ftruncate: {}", std::io::Error::last_os_error()));
            }
            let ptr = libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            );
            if ptr == libc::MAP_FAILED {
                return Err(format!("mmap: {}", std::io::Error::last_os_error()));
            }
            let ptr = NonNull::new(ptr.cast()).ok_or("mmap gave null")?;
            let seg = conn.generate_id().map_err(|e| e.to_string())?;
            let made = Segment { seg, ptr, len };
            conn.shm_attach_fd(seg, fd, !server_writes)
                .map_err(|e| format!("MIT-SHM attach: {e}"))?
                .check()
                .map_err(|e| format!("MIT-SHM attach: {e}"))?;
            Ok(made)
        }
    }

    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: a live mapping of `len` bytes; the server writes it only
        // during a GetImage we wait for.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
