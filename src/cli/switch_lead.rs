//! `master_switch` for an application coordinated through etcd (`etcd_endpoints`): before it
//! changes anything it takes the application's leadership, as a manager does, and holds it
//! until it ends, so that no manager acts meanwhile (docs/several-managers.md). A dry run
//! changes nothing and only reports who leads.

use std::sync::Arc;

use crate::config::Config;
use crate::etcd::EtcdError;
use crate::executor::fence::Fence;
use crate::executor::leadership::{self, Held, Taken};

/// Why master_switch will not act: nothing was changed.
#[derive(Debug, thiserror::Error)]
pub(super) enum LeadRefusal {
    #[error(
        "{key} is held by {holder}: a manager leads this application. Stop its managers on every manager host first (mha stop --conf {conf}), as MHA requires for a switch, then run master_switch again"
    )]
    Held {
        key: String,
        holder: String,
        conf: String,
    },
    #[error("etcd ({endpoints}) could not be asked for the leadership of {app}: {error}")]
    Etcd {
        endpoints: String,
        app: String,
        error: EtcdError,
    },
}

/// The application's leadership while master_switch runs; given up (the lease revoked) when
/// dropped, so that a standby manager leads at once.
pub(super) struct Lead {
    held: Option<Held>,
    rt: tokio::runtime::Handle,
}

impl Lead {
    /// The fence the switch or failover proves before each phase (None without etcd).
    pub(super) fn fence(&self) -> Option<Arc<dyn Fence>> {
        self.held
            .as_ref()
            .map(|h| h.fence.clone() as Arc<dyn Fence>)
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            self.rt.block_on(held.release());
        }
    }
}

/// Take the application's leadership when its configuration has `etcd_endpoints`; a dry
/// run only logs who leads. Must be called outside the runtime `rt`.
pub(super) fn take(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    dry_run: bool,
) -> Result<Lead, LeadRefusal> {
    let mut lead = Lead {
        held: None,
        rt: rt.handle().clone(),
    };
    let Some(settings) = &config.app.etcd else {
        return Ok(lead);
    };
    let app = config.app_name.as_str();
    let key = leadership::leader_key(settings, app);
    let etcd_error = |error| LeadRefusal::Etcd {
        endpoints: settings.endpoints.join(", "),
        app: app.to_string(),
        error,
    };
    if dry_run {
        report_leader(rt, config, &key);
        return Ok(lead);
    }
    let me = crate::executor::monitor::shared::me();
    let taken = rt.block_on(leadership::acquire(settings, app, me));
    let refused = |r: LeadRefusal| {
        tracing::error!("{r}");
        Err(r)
    };
    match taken {
        Ok(Taken::Held(held)) => {
            tracing::info!("etcd: managers of {app} started meanwhile stand by until the end");
            lead.held = Some(held);
            Ok(lead)
        }
        Ok(Taken::ByOther(holder)) => refused(LeadRefusal::Held {
            key,
            holder: holder.unwrap_or_else(|| "a manager that has just let it go".into()),
            conf: config.path.display().to_string(),
        }),
        Err(e) => refused(etcd_error(e)),
    }
}

/// A dry run: who leads, and what the real run would do about it.
fn report_leader(rt: &tokio::runtime::Runtime, config: &Config, key: &str) {
    let Some(settings) = &config.app.etcd else {
        return;
    };
    match rt.block_on(leadership::leader(settings, &config.app_name)) {
        Ok(Some(holder)) => tracing::warn!(
            "etcd: {key} is held by {holder}: without --dry-run master_switch refuses until the managers of {} are stopped",
            config.app_name
        ),
        Ok(None) => tracing::info!(
            "etcd: no manager leads {}: master_switch would take {key} while it runs",
            config.app_name
        ),
        Err(e) => tracing::warn!(
            "etcd ({}): {e}: without --dry-run master_switch refuses until etcd answers",
            settings.endpoints.join(", ")
        ),
    }
}
