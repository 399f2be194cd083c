//! The few system calls the standard library and Tokio do not wrap: signals
//! to a process group and the parent-death signal. Each is a thin, safe
//! wrapper around one `libc` call.

#![allow(
    unsafe_code,
    reason = "libc system calls have no safe wrapper in std or tokio; each call is justified below"
)]

use std::io;

/// Sends `signal` to every process in the group `pgid`. A group that no
/// longer exists is not an error.
pub(crate) fn signal_group(pgid: i32, signal: i32) -> io::Result<()> {
    if pgid <= 0 {
        // `kill(0, ..)` and `kill(-1, ..)` would reach our own group or every
        // process we may signal: never.
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    // SAFETY: `kill` takes plain integers and touches no memory of ours; a
    // negative pid addresses the process group, which we created for the
    // child (`pgid` > 0 is checked above).
    let rc = unsafe { libc::kill(-pgid, signal) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(err)
    }
}

/// Arranges for the child to receive SIGKILL when we die, however we die
/// (Linux only; elsewhere a no-op).
pub(crate) fn kill_with_parent(cmd: &mut tokio::process::Command) {
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id();
        // SAFETY: the closure runs in the forked child before `exec`, where
        // only async-signal-safe functions may be called. It calls `prctl` and
        // `getppid` (plain system calls) and builds an `io::Error` from a raw
        // OS code (no allocation); it touches no lock and no shared state.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // We may have died between `fork` and `prctl`: then the child
                // was already re-parented and the death signal never fires.
                if u32::try_from(libc::getppid()).ok() != Some(parent) {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}

/// Restores the default action of `signal` and raises it against ourselves:
/// for a terminating signal the process ends here, killed by it.
pub(crate) fn raise_default(signal: i32) {
    // SAFETY: `signal` and `raise` take plain integers and touch no memory of
    // ours. Replacing the handler (Tokio's, for SIGINT and SIGTERM) is what
    // we want at the very end of the process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        libc::sigaddset(&raw mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &raw const set, std::ptr::null_mut());
        libc::raise(signal);
    }
}
