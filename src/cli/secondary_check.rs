//! `mha secondary_check` (masterha_secondary_check): MHA's lines on standard output, MHA's
//! exit codes (0 master down, 2 a secondary host unreachable, 3 master reachable).

use std::time::Duration;

use super::args::SecondaryCheckArgs;
use super::exit::Exit;
use crate::engine::secondary::Verdict;
use crate::executor::secondary_check::{self, Options};
use crate::secret::Secret;

/// The environment variable mha's manager gives secondary_check_script the master password
/// in (not on the command line, where every local user could read it).
pub const PASSWORD_ENV: &str = "MHA_MASTER_PASSWORD";

pub fn options(a: &SecondaryCheckArgs, env_password: Option<String>) -> Options {
    let password = a.master_password.clone().or(env_password);
    Options {
        hosts: a.secondary_host.clone(),
        ssh_user: a.user.clone(),
        ssh_port: a.port,
        ssh_options: a.options.clone().filter(|o| !o.trim().is_empty()),
        master_host: a.master_host.clone(),
        master_port: a.master_port,
        login: a
            .master_user
            .clone()
            .zip(password)
            .map(|(u, p)| (u, Secret::new(p))),
        insert: a.ping_type.eq_ignore_ascii_case("INSERT"),
        timeout: Duration::from_secs(a.timeout),
    }
}

pub fn run(a: &SecondaryCheckArgs) -> anyhow::Result<Exit> {
    let opts = options(a, std::env::var(PASSWORD_ENV).ok());
    let report = super::runtime()?.block_on(secondary_check::check(&opts));
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    for r in &report.routes {
        println!("{r}");
        if let Some(d) = r.detail() {
            eprintln!("  {}: {d}", r.host);
        }
    }
    Ok(match report.verdict {
        Verdict::MasterDown => Exit::Ok,
        Verdict::RouteUnreachable => Exit::RouteUnreachable,
        Verdict::MasterReachable => Exit::MasterReachable,
    })
}
