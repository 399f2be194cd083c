//! Stopping cleanly on SIGINT and SIGTERM when no child is in the foreground.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::signal::unix::{SignalKind, signal};

use crate::outcome::{ExitStatus, signal_label};

/// How many children run in the foreground (their [`Running::wait`] is
/// awaited): the SIGINT or SIGTERM we receive meanwhile is theirs.
///
/// [`Running::wait`]: crate::Running::wait
static FOREGROUND: AtomicUsize = AtomicUsize::new(0);

/// Counts a child in the foreground while it lives.
pub(crate) struct Foreground(());

impl Foreground {
    pub(crate) fn enter() -> Self {
        FOREGROUND.fetch_add(1, Ordering::SeqCst);
        Self(())
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        FOREGROUND.fetch_sub(1, Ordering::SeqCst);
    }
}

/// We received SIGINT or SIGTERM and stopped what we were doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("interrupted by {}", signal_label(self.signal))]
pub struct Interrupted {
    signal: i32,
}

impl Interrupted {
    /// The signal we received (`SIGINT` or `SIGTERM`).
    pub fn signal(self) -> i32 {
        self.signal
    }

    /// How our process should end: killed by the same signal (hand it to
    /// [`exit_like`](crate::exit_like) once everything is cleaned up).
    pub fn exit_status(self) -> ExitStatus {
        ExitStatus::Signal(self.signal)
    }

    /// The interruption somewhere in an error's chain of causes, if any.
    pub fn find(error: &(dyn std::error::Error + 'static)) -> Option<Self> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(interrupted) = error.downcast_ref::<Self>() {
                return Some(*interrupted);
            }
            current = error.source();
        }
        None
    }
}

/// Runs `work` to completion, unless we receive SIGINT or SIGTERM while no
/// child runs in the foreground: then `work` is dropped at once (a child it
/// started in the background dies with it) and the signal comes back as
/// [`Interrupted`], so that the caller cleans up (revokes the tokens it
/// obtained, say) and then ends with [`exit_like`](crate::exit_like).
///
/// A signal received while a child runs in the foreground belongs to the
/// child: it is forwarded to it, and `work` learns of it from the child's
/// [`Outcome::interrupted`](crate::Outcome::interrupted).
///
/// The handlers are installed before `work` starts and stay installed:
/// from then on neither signal ends the process by itself, so whatever
/// runs after this returns (the cleanup) is not cut short by a second
/// signal unless it runs inside `until_interrupted` too. Scopes do not
/// nest: the one around the work sits where what must be cleaned up is
/// owned.
pub async fn until_interrupted<F: Future>(work: F) -> Result<F::Output, Interrupted> {
    let handlers = signal(SignalKind::interrupt())
        .and_then(|interrupt| Ok((interrupt, signal(SignalKind::terminate())?)));
    let (mut interrupt, mut terminate) = match handlers {
        Ok(handlers) => handlers,
        Err(err) => {
            tracing::warn!(%err, "cannot handle SIGINT and SIGTERM; they end the process at once");
            return Ok(work.await);
        }
    };
    tokio::pin!(work);
    loop {
        let signal = tokio::select! {
            done = &mut work => return Ok(done),
            Some(()) = interrupt.recv() => libc::SIGINT,
            Some(()) = terminate.recv() => libc::SIGTERM,
        };
        if FOREGROUND.load(Ordering::SeqCst) == 0 {
            tracing::debug!(signal = %signal_label(signal), "interrupted, stopping");
            return Err(Interrupted { signal });
        }
    }
}
