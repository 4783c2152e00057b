//! Housekeeping: what keeps a registry from only growing (retention, garbage collection,
//! storage insights).

pub mod gc;
