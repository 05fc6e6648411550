//! Name resolution, type checking and cost checking: the last stage that can
//! reject a policy. Produces a [`policy::CheckedPolicy`].

pub mod hooks;
pub mod policy;
