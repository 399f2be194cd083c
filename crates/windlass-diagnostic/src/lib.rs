//! What an error means to the process that ends with it: the exit status
//! ([`ExitStatus`]), a hint when we know the fix, and where in a file the
//! problem is ([`Diagnostic`], [`SourceLocation`]); and how a binary finds
//! those in an error's cause chain ([`Classifier`]).
//!
//! Every library's error types implement [`Diagnostic`] by depending on this
//! crate alone. It never renders anything and knows nothing of terminals,
//! colour, progress bars or logging (that is `windlass-output`, which
//! re-exports these items for binaries and tools).

mod classify;
mod exit;

pub use crate::classify::{
    Classification, Classified, Classifier, Diagnostic, INTERRUPTED, Interrupted, ResultExt,
    SourceLocation,
};
pub use crate::exit::ExitStatus;
