//! Shared support for the cross-crate tests (golden files, kernel tests).
