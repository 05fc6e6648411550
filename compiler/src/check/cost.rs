//! The cost model: worst-case instruction bounds and boundedness checks on a
//! checked policy (E04xx). Runs after every other check has passed.

use crate::check::policy::CheckedPolicy;
use crate::diag::Diagnostic;

/// Diagnostics about the cost of `policy`; an error rejects it.
pub fn check_cost(_policy: &CheckedPolicy) -> Vec<Diagnostic> {
    Vec::new()
}
