//! `mha secondary_check` (masterha_secondary_check): from each secondary host, over SSH, can
//! the master's port be reached? The hosts are asked in parallel; the verdict reads their
//! answers in the order given, as MHA asked them one by one (engine/secondary.rs).
//!
//! MHA ran `perl -e 'IO::Socket::INET->new(...)'` on each host. mha opens the connection from
//! the host through its SSH session (what `ssh -W` does) and waits for the server's greeting,
//! so a host without Perl works, and a port that only accepts TCP without a MySQL server
//! behind it is not mistaken for a live master; when the host's sshd forbids forwarding, the
//! Perl probe of MHA runs instead.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::config::SshConfig;
use crate::engine::secondary::{Route, RouteView, Verdict, verdict};
use crate::secret::Secret;
use crate::sql::dialect::Dialect;
use crate::ssh::{self, SshTarget, TcpProbe, quote};

/// What the check needs; MHA's options.
#[derive(Debug, Clone)]
pub struct Options {
    /// `-s` hosts, in order.
    pub hosts: Vec<String>,
    /// SSH user and port on those hosts.
    pub ssh_user: String,
    pub ssh_port: u16,
    /// MHA's `--options` (ssh options).
    pub ssh_options: Option<String>,
    pub master_host: String,
    pub master_port: u16,
    /// The master's user and password: the probe logs in with them (so it does not count as
    /// a connection error on the master), and ping_type=INSERT writes with them.
    pub login: Option<(String, Secret)>,
    pub insert: bool,
    /// Each SSH login, each probe.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Report {
    /// The routes the verdict read, in order.
    pub routes: Vec<Route>,
    pub verdict: Verdict,
    /// Warnings about `--options` that mha's SSH client does not honour.
    pub warnings: Vec<String>,
}

fn ssh_config(o: &Options, host: &str) -> SshConfig {
    SshConfig {
        user: o.ssh_user.clone(),
        host: host.to_string(),
        ip: host.to_string(),
        port: o.ssh_port,
        connection_timeout: o.timeout,
        options: o.ssh_options.clone(),
        key: None,
        known_hosts_file: ssh::default_known_hosts(),
    }
}

pub async fn check(o: &Options) -> Report {
    let warnings = SshTarget::from_config(&ssh_config(o, "-")).1;
    let mut set = JoinSet::new();
    for (i, host) in o.hosts.iter().enumerate() {
        let (o, host) = (o.clone(), host.clone());
        set.spawn(async move {
            let view = route(&o, &host).await;
            (i, Route { host, view })
        });
    }
    let mut routes = Vec::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            routes.push(r);
        }
    }
    routes.sort_by_key(|(i, _)| *i);
    let mut routes: Vec<Route> = routes.into_iter().map(|(_, r)| r).collect();
    let (verdict, read) = verdict(&routes);
    routes.truncate(read);
    Report {
        routes,
        verdict,
        warnings,
    }
}

/// One secondary host's view of the master.
async fn route(o: &Options, host: &str) -> RouteView {
    let (target, _) = SshTarget::from_config(&ssh_config(o, host));
    let session = match tokio::time::timeout(o.timeout * 2, ssh::connect(&target)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return RouteView::RouteUnreachable {
                detail: e.to_string(),
            };
        }
        Err(_) => {
            return RouteView::RouteUnreachable {
                detail: format!(
                    "{}: no SSH session within {} s",
                    target.name(),
                    (o.timeout * 2).as_secs()
                ),
            };
        }
    };
    let login = o.login.as_ref().map(|(u, p)| (u.as_str(), p));
    let probe = session
        .probe_tcp(&o.master_host, o.master_port, o.timeout, login)
        .await;
    let view = match probe {
        TcpProbe::NoAnswer(_) => RouteView::MasterUnreachable,
        TcpProbe::Answered(detail) => RouteView::MasterReachable { detail },
        TcpProbe::Unavailable(why) => perl_probe(o, &session, &why).await,
    };
    let view = match view {
        RouteView::MasterReachable { detail } if o.insert => insert_from(o, &session, detail).await,
        v => v,
    };
    session.close().await;
    view
}

/// MHA's own probe, for a host whose sshd does not forward connections: Perl's
/// IO::Socket::INET from the host; exit 3 = connected, 0 = not.
async fn perl_probe(o: &Options, session: &ssh::SshSession, why: &str) -> RouteView {
    let command = format!(
        "perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => $ARGV[1], Proto => \"tcp\", Timeout => $ARGV[2]); exit($s ? 3 : 0)' {} {} {}",
        quote(&o.master_host),
        o.master_port,
        o.timeout.as_secs().max(1)
    );
    match session.exec(&command, o.timeout * 2).await {
        Ok(out) if out.exit_status == Some(0) => RouteView::MasterUnreachable,
        Ok(out) if out.exit_status == Some(3) => RouteView::MasterReachable {
            detail: "a TCP connection to the master's port succeeded (Perl probe)".into(),
        },
        Ok(out) => RouteView::RouteUnreachable {
            detail: format!(
                "{why}; the Perl probe ended with {:?}: {}",
                out.exit_status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        },
        Err(e) => RouteView::RouteUnreachable {
            detail: format!("{why}; {e}"),
        },
    }
}

/// ping_type=INSERT, as MHA: the master answers there, but does it take a write from there?
/// The host's own `mariadb`/`mysql` client writes; the password reaches it on standard input
/// as an option file, never on its command line. A failed or hanging write (3 s, MHA's
/// limit) counts as "down", as a full disk is a dead master for the application.
async fn insert_from(o: &Options, session: &ssh::SshSession, answered: String) -> RouteView {
    let Some((user, password)) = &o.login else {
        return RouteView::MasterReachable {
            detail: format!(
                "{answered}; no --master_user/password to try the INSERT with, so it counts as reachable"
            ),
        };
    };
    let statements = Dialect::MariaDb.ping_insert().join("; ");
    let command = format!(
        "c=$(command -v mariadb || command -v mysql) || exit 127; exec \"$c\" --defaults-extra-file=/dev/stdin -h {} -P {} -e {}",
        quote(&o.master_host),
        o.master_port,
        quote(&statements)
    );
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    let option_file = format!(
        "[client]\nuser={}\npassword={}\n",
        quoted(user),
        quoted(password.expose())
    );
    let limit = Duration::from_secs(3);
    match session
        .exec_with_input(&command, option_file.as_bytes(), limit)
        .await
    {
        Ok(out) if out.success() => RouteView::MasterReachable {
            detail: format!("{answered}; a write from there succeeded"),
        },
        Ok(out) if out.exit_status == Some(127) => RouteView::MasterReachable {
            detail: format!(
                "{answered}; no mariadb or mysql client there to try the INSERT with, so it counts as reachable"
            ),
        },
        Ok(out) => RouteView::MasterNotWritable {
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        },
        Err(e) => RouteView::MasterNotWritable {
            detail: e.to_string(),
        },
    }
}
