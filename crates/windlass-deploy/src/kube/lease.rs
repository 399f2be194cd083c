//! One promotion per environment at a time: a `coordination.k8s.io/v1`
//! `Lease` per environment, with expiry, renewed while the promotion runs
//! and taken over when a killed run left it stale.
