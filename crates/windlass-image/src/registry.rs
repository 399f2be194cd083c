//! The OCI distribution protocol on `windlass-http`.
