//! Ports: the traits through which services reach everything outside the process (the store,
//! the queue, the clock, the platforms, the AI provider), with the limits each one imposes.

pub mod ai;
pub mod clock;
pub mod platforms;
pub mod queue;
pub mod store;
