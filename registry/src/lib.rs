//! The omni-lateral registry (the registry issue builds this crate).
