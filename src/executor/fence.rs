//! The leadership fence: before each step of a failover that changes the cluster, a manager
//! coordinated through etcd proves it still leads the application; and the application's last
//! failover is kept where every manager of it reads it (the block period, a failover left
//! half done). A manager alone (no `etcd_endpoints`) has no fence and goes on as MHA's, with
//! its marker files only.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

pub use crate::engine::guard::{SharedFailover, SharedState};

/// Proof of leadership; Err says why this manager may no longer act.
pub type Proof<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
/// The shared record of the last failover, or why it could not be read.
pub type Shared<'a> =
    Pin<Box<dyn Future<Output = Result<Option<SharedFailover>, String>> + Send + 'a>>;

pub trait Fence: Send + Sync + Debug {
    fn prove(&self) -> Proof<'_>;
    /// The proof before failover phase `phase`, which a fence that keeps the failover's
    /// record also writes there (how far a failover got, should its manager die).
    fn prove_at(&self, _phase: &'static str) -> Proof<'_> {
        self.prove()
    }
    /// The application's last failover, as every manager sees it.
    fn last_failover(&self) -> Shared<'_>;
    /// Record it (only while this manager leads); None removes it.
    fn record_failover(&self, f: Option<SharedFailover>) -> Proof<'_>;
    /// Where it is kept, for the operator.
    fn last_failover_key(&self) -> String;
}
