//! The Kubernetes API through kube-rs: connecting as kubectl would (a
//! kubeconfig file and context), the per-environment [`lease`], the
//! [`ledger`] stored next to Helm's release records, and rollout status.
//!
//! Why kube-rs and not `kubectl`: see ARCHITECTURE.md ("deploy").

pub mod lease;
pub mod ledger;
