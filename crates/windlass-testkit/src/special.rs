//! Files that are not regular files, for tests that prove a read refuses
//! them, and a deadline for code that would otherwise hang the test.

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Creates a fifo (named pipe) at `path`. Nothing ever writes to it: a
/// blocking open or read of it never returns.
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt as _;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .unwrap_or_else(|_| panic!("`{}` contains a NUL byte", path.display()));
    // SAFETY: `c_path` is a valid NUL-terminated string that outlives the
    // call; mkfifo reads it and keeps no reference.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) };
    assert_eq!(
        rc,
        0,
        "cannot create a fifo at `{}`: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// Binds a Unix socket at `path`; the socket file lives while the listener
/// does.
pub fn bind_socket(path: &Path) -> UnixListener {
    UnixListener::bind(path)
        .unwrap_or_else(|e| panic!("cannot bind a socket at `{}`: {e}", path.display()))
}

/// Runs `f` on its own thread and returns its result, or panics naming
/// `what` when it takes longer than `timeout`: a hang fails the test instead
/// of hanging it (the stuck thread is left behind).
pub fn within<T: Send + 'static>(
    timeout: Duration,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(timeout) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not finish within {timeout:?}: it hangs")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}
