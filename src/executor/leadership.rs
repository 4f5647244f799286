//! Leadership of one application among several managers, through an etcd lease: the key
//! `PREFIX/APP/leader` is created under this manager's lease if nobody holds it; the lease is
//! renewed every third of its TTL. A leader that cannot renew it within the TTL (etcd lost, or
//! this host cut off) steps down on its own clock, before etcd lets a standby take over; and
//! each phase of a failover first proves the key is still the one it created (`Fence`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::fence::{Fence, Proof, Shared, SharedFailover};
use crate::config::EtcdSettings;
use crate::etcd::{Campaign, Etcd, EtcdError};

/// How often a standby tries for the leadership (at most; a third of the TTL if shorter).
const STANDBY_POLL: Duration = Duration::from_millis(250);

/// This manager's part for the application, as last seen.
#[derive(Debug, Clone)]
pub enum Role {
    /// Another manager leads (its name, when known), or etcd cannot be reached (`why`).
    Standby { leader: Option<String>, why: String },
    /// This manager leads; the fence proves it before each step.
    Leader(Arc<LeaseFence>),
}

impl Role {
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Leader(_))
    }
}

/// The proof of leadership: the election key as created, and the lease it lives under.
#[derive(Debug)]
pub struct LeaseFence {
    etcd: Arc<Etcd>,
    key: String,
    lease: i64,
    create_revision: i64,
    /// Until when the lease is surely alive: the last renewal's send time + TTL.
    valid_until: Mutex<Instant>,
    /// The failover this manager runs, as recorded: each proof writes its phase there.
    running: Mutex<Option<SharedFailover>>,
}

impl LeaseFence {
    /// The fence of `key` as created at revision `at.1` under lease `at.0`.
    fn new(etcd: &Arc<Etcd>, key: &str, at: (i64, i64), valid_until: Instant) -> Arc<LeaseFence> {
        Arc::new(LeaseFence {
            etcd: etcd.clone(),
            key: key.to_string(),
            lease: at.0,
            create_revision: at.1,
            valid_until: Mutex::new(valid_until),
            running: Mutex::new(None),
        })
    }

    fn valid_until(&self) -> Instant {
        *self.valid_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn renewed(&self, until: Instant) {
        *self.valid_until.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Option<SharedFailover>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn at(&self) -> (&str, i64, i64) {
        (self.key.as_str(), self.lease, self.create_revision)
    }

    /// This manager's clock: a lease not renewed within its TTL proves nothing, whatever
    /// etcd would say.
    fn clock(&self) -> Result<(), String> {
        if Instant::now() >= self.valid_until() {
            return Err("the etcd lease was not renewed within its TTL".into());
        }
        Ok(())
    }

    /// etcd's answer to a transaction conditioned on the election key as this manager
    /// created it.
    fn verdict(&self, r: Result<bool, EtcdError>) -> Result<(), String> {
        match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{} is no longer this manager's", self.key)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Write the failover record (None: remove it) while this manager leads, in one
    /// transaction that is also the proof.
    async fn put_record(&self, f: Option<&SharedFailover>) -> Result<(), String> {
        let value = f.map(|f| serde_json::to_string(f).unwrap_or_default());
        let r = self
            .etcd
            .put_if_holds(&self.last_failover_key(), value.as_deref(), self.at())
            .await;
        self.verdict(r)
    }
}

impl Fence for LeaseFence {
    fn last_failover_key(&self) -> String {
        format!("{}/last_failover", self.key.trim_end_matches("/leader"))
    }

    fn last_failover(&self) -> Shared<'_> {
        Box::pin(async move {
            let kv = self
                .etcd
                .get(&self.last_failover_key())
                .await
                .map_err(|e| e.to_string())?;
            Ok(kv.and_then(|kv| serde_json::from_str(&kv.value).ok()))
        })
    }

    fn record_failover(&self, f: Option<SharedFailover>) -> Proof<'_> {
        Box::pin(async move {
            *self.running() = f
                .clone()
                .filter(|f| f.state == crate::executor::fence::SharedState::Running);
            self.put_record(f.as_ref()).await
        })
    }

    fn prove_at(&self, phase: &'static str) -> Proof<'_> {
        Box::pin(async move {
            let record = self.running().clone().map(|r| SharedFailover {
                phase: Some(phase.to_string()),
                ..r
            });
            match record {
                Some(r) => {
                    self.clock()?;
                    self.put_record(Some(&r)).await
                }
                None => self.prove().await,
            }
        })
    }

    fn prove(&self) -> Proof<'_> {
        Box::pin(async move {
            self.clock()?;
            let r = self
                .etcd
                .holds(&self.key, self.lease, self.create_revision)
                .await;
            self.verdict(r)
        })
    }
}

/// Campaigns for the application's leadership until dropped; the role as it changes.
pub struct Elector {
    pub role: watch::Receiver<Role>,
    task: tokio::task::JoinHandle<()>,
    etcd: Arc<Etcd>,
    lease: Arc<Mutex<Option<i64>>>,
}

impl Elector {
    pub fn start(settings: &EtcdSettings, app: &str, me: String) -> Elector {
        let ttl = settings.lease_ttl;
        // Each request must end well within a renewal period.
        let etcd = client(settings);
        let key = leader_key(settings, app);
        let (tx, role) = watch::channel(Role::Standby {
            leader: None,
            why: "electing".into(),
        });
        let lease = Arc::new(Mutex::new(None));
        let campaign = Campaigner {
            etcd: etcd.clone(),
            key,
            me,
            ttl,
            tx,
            lease: lease.clone(),
        };
        let task = tokio::spawn(campaign.run());
        Elector {
            role,
            task,
            etcd,
            lease,
        }
    }

    /// Give the leadership up at once (a clean stop): a standby need not wait for the TTL.
    pub async fn resign(self) {
        self.task.abort();
        let lease = *self.lease.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lease) = lease {
            let _ = self.etcd.revoke(lease).await;
        }
    }
}

impl Drop for Elector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The application's election key: `PREFIX/APP/leader`.
pub fn leader_key(settings: &EtcdSettings, app: &str) -> String {
    format!("{}/{app}/leader", settings.prefix)
}

/// A client for one-shot use: each request ends well within a renewal period.
fn client(settings: &EtcdSettings) -> Arc<Etcd> {
    let timeout = (settings.lease_ttl / 3).max(Duration::from_millis(500));
    Arc::new(Etcd::new(settings, timeout))
}

/// Who holds the application's leadership now (`host:pid`), if anyone: what a command that
/// changes nothing (a dry run) reports.
pub async fn leader(settings: &EtcdSettings, app: &str) -> Result<Option<String>, EtcdError> {
    let kv = client(settings).get(&leader_key(settings, app)).await?;
    Ok(kv.map(|kv| kv.value))
}

/// The leadership taken once by a command that changes the servers itself
/// (`master_switch`): its fence, and the lease renewed until [`Held::release`].
pub struct Held {
    pub fence: Arc<LeaseFence>,
    keeper: tokio::task::JoinHandle<()>,
}

/// The result of [`acquire`].
pub enum Taken {
    Held(Held),
    /// Another holds the key (its value, `host:pid`; None if it vanished meanwhile).
    ByOther(Option<String>),
}

/// Campaign once for the application's leadership under a new lease of `etcd_lease_ttl`:
/// held (and renewed every third of the TTL) if nobody held it. A lease not used is
/// revoked at once.
pub async fn acquire(settings: &EtcdSettings, app: &str, me: String) -> Result<Taken, EtcdError> {
    let (etcd, ttl, key) = (
        client(settings),
        settings.lease_ttl,
        leader_key(settings, app),
    );
    let sent = Instant::now();
    let lease = etcd.grant(ttl).await?;
    let create_revision = match etcd.campaign(&key, &me, lease).await {
        Ok(Campaign::Won { create_revision }) => create_revision,
        Ok(Campaign::Held(kv)) => {
            let _ = etcd.revoke(lease).await;
            return Ok(Taken::ByOther(kv.map(|kv| kv.value)));
        }
        Err(e) => {
            let _ = etcd.revoke(lease).await;
            return Err(e);
        }
    };
    let fence = LeaseFence::new(&etcd, &key, (lease, create_revision), sent + ttl);
    info!("etcd: {me} leads now ({key})");
    let keeper = Campaigner {
        etcd,
        key,
        me,
        ttl,
        tx: watch::channel(Role::Leader(fence.clone())).0,
        lease: Arc::new(Mutex::new(Some(lease))),
    };
    let held = fence.clone();
    let keeper = tokio::spawn(async move { keeper.lead(&held).await });
    Ok(Taken::Held(Held { fence, keeper }))
}

impl Held {
    /// Give the leadership up at once (the lease revoked): a standby leads without waiting
    /// for the TTL.
    pub async fn release(self) {
        self.keeper.abort();
        match self.fence.etcd.revoke(self.fence.lease).await {
            Ok(()) => info!("etcd: {} given up (lease revoked)", self.fence.key),
            Err(e) => warn!(
                "etcd: the lease of {} could not be revoked ({e}): it expires within its TTL",
                self.fence.key
            ),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.keeper.abort();
    }
}

struct Campaigner {
    etcd: Arc<Etcd>,
    key: String,
    me: String,
    ttl: Duration,
    tx: watch::Sender<Role>,
    lease: Arc<Mutex<Option<i64>>>,
}

impl Campaigner {
    fn standby(&self, leader: Option<String>, why: String) {
        self.tx.send_if_modified(|r| {
            let changed = match r {
                Role::Standby { leader: l, why: w } => *l != leader || *w != why,
                Role::Leader(_) => true,
            };
            if changed {
                *r = Role::Standby {
                    leader: leader.clone(),
                    why: why.clone(),
                };
            }
            changed
        });
    }

    async fn run(self) {
        let period = self.ttl / 3;
        loop {
            let sent = Instant::now();
            let lease = match self.etcd.grant(self.ttl).await {
                Ok(l) => l,
                Err(e) => {
                    self.standby(None, e.to_string());
                    tokio::time::sleep(period).await;
                    continue;
                }
            };
            *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = Some(lease);
            self.with_lease(lease, sent + self.ttl).await;
            *self.lease.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Campaign, lead and renew under one lease, until it is lost. A standby asks often, so
    /// that it takes over soon after the leader's lease expires.
    async fn with_lease(&self, lease: i64, mut valid_until: Instant) {
        let period = (self.ttl / 3).min(STANDBY_POLL);
        loop {
            match self.etcd.campaign(&self.key, &self.me, lease).await {
                Ok(Campaign::Won { create_revision }) => {
                    let fence = LeaseFence::new(
                        &self.etcd,
                        &self.key,
                        (lease, create_revision),
                        valid_until,
                    );
                    info!("etcd: this manager ({}) leads now ({})", self.me, self.key);
                    let _ = self.tx.send(Role::Leader(fence.clone()));
                    self.lead(&fence).await;
                    return;
                }
                Ok(Campaign::Held(kv)) => {
                    let leader = kv.map(|kv| kv.value);
                    self.standby(leader, "another manager leads".into());
                }
                Err(e) => self.standby(None, e.to_string()),
            }
            tokio::time::sleep(period).await;
            match self.renew(lease, &mut valid_until).await {
                Renewal::Renewed => {}
                Renewal::Lost(why) => {
                    warn!("etcd: lease lost ({why}); campaigning again");
                    return;
                }
            }
        }
    }

    /// Renew the lease every third of the TTL; step down when it is lost or not renewed in
    /// time.
    async fn lead(&self, fence: &LeaseFence) {
        let mut valid_until = fence.valid_until();
        loop {
            let wake = (Instant::now() + self.ttl / 3).min(valid_until);
            tokio::time::sleep_until(wake).await;
            if Instant::now() >= valid_until {
                self.step_down("the lease could not be renewed within its TTL");
                return;
            }
            match self.renew(fence.lease, &mut valid_until).await {
                Renewal::Renewed => fence.renewed(valid_until),
                Renewal::Lost(why) => {
                    self.step_down(&why);
                    return;
                }
            }
        }
    }

    fn step_down(&self, why: &str) {
        warn!("etcd: this manager ({}) no longer leads: {why}", self.me);
        self.standby(None, why.to_string());
    }

    async fn renew(&self, lease: i64, valid_until: &mut Instant) -> Renewal {
        let sent = Instant::now();
        match self.etcd.keep_alive(lease).await {
            Ok(ttl) if ttl > 0 => {
                *valid_until = sent + self.ttl;
                Renewal::Renewed
            }
            Ok(_) => Renewal::Lost("the lease expired".into()),
            Err(e) if Instant::now() >= *valid_until => Renewal::Lost(e.to_string()),
            Err(_) => Renewal::Renewed,
        }
    }
}

enum Renewal {
    Renewed,
    Lost(String),
}
