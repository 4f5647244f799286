//! Observe → decide (engine) → act. Everything here talks to servers, hosts or files.

pub mod check_repl;
pub mod client;
pub mod deposed;
pub mod failover;
#[cfg(test)]
pub(crate) mod fake;
pub mod fence;
pub mod leadership;
pub mod monitor;
pub mod observe;
pub mod purge;
pub mod rejoin;
pub mod seams;
pub mod secondary_check;
pub mod semi_sync;
pub mod switchover;
pub mod tools;
pub mod watch;
