//! Secret values, printable URLs and the redactor.
//!
//! Everything Windlass prints (terminal, JSON, logs, GitHub Actions files,
//! child output) passes through the process-wide [`Redactor`], which masks
//! every registered secret in its plain and encoded forms. [`Secret`] keeps a
//! value out of `Debug` and `Display`; [`RedactedUrl`] hides credentials in
//! URLs; [`escape_controls`] keeps text from outside from steering a
//! terminal or a CI log. This crate never performs I/O of its own and never reveals a value
//! except through the explicit `expose` methods.

mod ambient;
mod redactor;
mod secret;
mod text;
mod url;

pub use crate::ambient::{AMBIENT_SECRET_VARS, declare_secret_var, secret_vars};
pub use crate::redactor::{RedactingWriter, Redactor, global};
pub use crate::secret::Secret;
pub use crate::text::escape_controls;
pub use crate::url::{RedactedUrl, mask_userinfo};

/// What a secret is replaced with.
pub const MASK: &str = "****";

#[cfg(test)]
mod tests;
