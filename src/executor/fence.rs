//! The leadership fence: before each step of a failover that changes the cluster, a manager
//! coordinated through etcd proves it still leads the application. A manager alone (no
//! `etcd_endpoints`) has no fence and goes on as MHA's.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// Proof of leadership; Err says why this manager may no longer act.
pub type Proof<'a> = Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;

pub trait Fence: Send + Sync + Debug {
    fn prove(&self) -> Proof<'_>;
}
