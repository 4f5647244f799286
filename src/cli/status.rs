//! `mha check_status` and `mha stop`, with MHA's selectors: --conf, --app (with
//! --manager_workdir, or alone: MHA's /usr/local/masterha/conf/APP.cnf) or --all (every
//! application daemontools runs as /service/masterha_APP).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use super::args::{Output, StatusArgs};
use super::exit::Exit;
use crate::status::{self, Status};

/// One application to look at: its name, its workdir and, when known, the manager's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub app: String,
    pub workdir: PathBuf,
    pub log: Option<PathBuf>,
}

/// Where to look, before any file is read: a conf file to read, or an application whose
/// workdir is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selector {
    Conf {
        conf: PathBuf,
        workdir: Option<PathBuf>,
        log: Option<PathBuf>,
    },
    Dir(Target),
}

/// MHA's ManagerAdminWrapper rules, as data: --all lists /service/masterha_* (sorted), each
/// with DEFAULT_CONFDIR/APP.cnf, or with --basedir/APP as its workdir (and
/// --baselog/APP/APP.log); --app alone means DEFAULT_CONFDIR/APP.cnf.
pub(crate) fn selectors(a: &StatusArgs, services: &[String]) -> Vec<Selector> {
    let conf_of = |app: &str| a.default_confdir.join(format!("{app}.cnf"));
    if a.all {
        return services
            .iter()
            .map(|app| match &a.basedir {
                Some(base) => Selector::Dir(Target {
                    app: app.clone(),
                    workdir: base.join(app),
                    log: a
                        .baselog
                        .as_ref()
                        .map(|l| l.join(app).join(format!("{app}.log"))),
                }),
                None => Selector::Conf {
                    conf: conf_of(app),
                    workdir: None,
                    log: None,
                },
            })
            .collect();
    }
    match (&a.conf, &a.app, &a.manager_workdir) {
        (Some(conf), _, workdir) => vec![Selector::Conf {
            conf: conf.clone(),
            workdir: workdir.clone(),
            log: a.manager_log.clone(),
        }],
        (None, Some(app), Some(workdir)) => vec![Selector::Dir(Target {
            app: app.clone(),
            workdir: workdir.clone(),
            log: a.manager_log.clone(),
        })],
        (None, Some(app), None) => vec![Selector::Conf {
            conf: conf_of(app),
            workdir: None,
            log: a.manager_log.clone(),
        }],
        // clap requires --conf, --app or --all.
        (None, None, _) => vec![],
    }
}

/// The applications daemontools runs: `masterha_APP` entries of `dir`, sorted, as MHA's
/// get_masterha_daemontool_appnames.
fn daemontools_apps(dir: &Path) -> anyhow::Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "--all: cannot list {} (daemontools services masterha_APP): {e}",
            dir.display()
        )
    })?;
    let mut apps: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("masterha_"))
                .filter(|app| !app.is_empty())
                .map(str::to_string)
        })
        .collect();
    apps.sort();
    Ok(apps)
}

/// Read a conf selector's file: the application name, its workdir (--manager_workdir wins) and
/// its manager_log (the file's wins over --manager_log, as in MHA).
fn resolve(sel: Selector, global_conf: &Path) -> anyhow::Result<Target> {
    match sel {
        Selector::Dir(t) => Ok(t),
        Selector::Conf { conf, workdir, log } => {
            let loaded = super::load(&super::ConfArgs {
                conf,
                global_conf: global_conf.to_path_buf(),
            })?;
            Ok(Target {
                workdir: workdir.unwrap_or(loaded.config.app.manager_workdir.clone()),
                log: loaded.config.app.manager_log.clone().or(log),
                app: loaded.config.app_name,
            })
        }
    }
}

/// Every target, each resolved on its own (with --all one broken file does not hide the
/// others; MHA warned `Got error on conf ...` and went on).
fn targets(a: &StatusArgs) -> anyhow::Result<Vec<anyhow::Result<Target>>> {
    let services = if a.all {
        daemontools_apps(&a.service_dir)?
    } else {
        vec![]
    };
    Ok(selectors(a, &services)
        .into_iter()
        .map(|s| resolve(s, &a.global_conf))
        .collect())
}

pub fn check_status(a: &StatusArgs) -> anyhow::Result<Exit> {
    let targets = targets(a)?;
    if !a.all {
        let t = targets.into_iter().next().expect("one selector")?;
        return Ok(Exit::Status(check_one(a, &t)?));
    }
    // MHA's --all: 1 if any application is not PING_OK (or could not be read).
    let mut worst = 0;
    for t in targets {
        match t {
            Ok(t) => worst = worst.max(u8::from(check_one(a, &t)? != 0)),
            Err(e) => {
                eprintln!("error: {e:#}");
                worst = 1;
            }
        }
    }
    Ok(if worst == 0 { Exit::Ok } else { Exit::Failure })
}

fn check_one(a: &StatusArgs, t: &Target) -> anyhow::Result<u8> {
    let r = status::check(
        &t.workdir,
        &t.app,
        t.log.as_deref(),
        Duration::from_secs(a.ping_limit),
        SystemTime::now(),
    );
    match a.output {
        Output::Text => {
            println!("{}", r.message);
            if r.stale {
                eprintln!(
                    "note: {} was left by manager pid {} which is no longer running (killed with -9?)",
                    status::status_path(&t.workdir, &t.app).display(),
                    r.pid.unwrap_or(0)
                );
            }
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(&r)?),
    }
    Ok(r.code)
}

pub fn stop(a: &StatusArgs) -> anyhow::Result<Exit> {
    let targets = targets(a)?;
    let mut failed = false;
    for t in targets {
        let code = match t {
            Ok(t) => stop_one(a, &t)?,
            Err(e) if a.all => {
                eprintln!("error: {e:#}");
                Exit::Failure
            }
            Err(e) => return Err(e),
        };
        failed |= code != Exit::Ok;
    }
    Ok(if failed { Exit::Failure } else { Exit::Ok })
}

fn stop_one(a: &StatusArgs, t: &Target) -> anyhow::Result<Exit> {
    let (app, workdir) = (&t.app, &t.workdir);
    let r = status::check(
        workdir,
        app,
        None,
        Duration::from_secs(3600),
        SystemTime::now(),
    );
    let pid = match (r.status, r.pid) {
        // The manager is gone but processes it started (hooks) still run.
        (Status::PartiallyRunning, _) => {
            println!("{}", r.message);
            if !a.abort {
                println!("Use --abort to kill them.");
                return Ok(Exit::Failure);
            }
            for &child in &r.children {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child as i32),
                    Signal::SIGKILL,
                );
            }
            let list: Vec<String> = r.children.iter().map(u32::to_string).collect();
            println!(
                "Killed what the dead manager of {app} left running (pid {}).",
                list.join(",")
            );
            return Ok(Exit::Ok);
        }
        (Status::NotRunning, _) | (_, None) => {
            println!("MHA Manager is not running on {app}(2:NOT_RUNNING).");
            return Ok(Exit::Ok);
        }
        (Status::FailoverRunning, Some(_)) if !a.abort => {
            println!("Currently Failover is running on {app}. Should not stop.");
            return Ok(Exit::Failure);
        }
        (_, Some(pid)) => pid,
    };
    if shares_manager(workdir, app, pid) {
        return stop_shared(a, t, pid);
    }
    let target = nix::unistd::Pid::from_raw(pid as i32);
    nix::sys::signal::kill(target, Signal::SIGTERM)?;
    let deadline = Instant::now() + Duration::from_secs(a.abort_timeout);
    while Instant::now() < deadline {
        if !status::pid_alive(pid) {
            println!("Stopped {app} successfully.");
            return Ok(Exit::Ok);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "Manager process {pid} didn't stop in {} seconds.",
        a.abort_timeout
    );
    if a.abort {
        let _ = nix::sys::signal::kill(target, Signal::SIGKILL);
        println!("Forced stopped {app}.");
        return Ok(Exit::Ok);
    }
    println!("Failed to stop {app}.");
    Ok(Exit::Failure)
}

/// The manager process `pid` runs several applications, this one among them.
fn shares_manager(workdir: &Path, app: &str, pid: u32) -> bool {
    std::fs::read_to_string(status::shared_manager_path(workdir, app))
        .is_ok_and(|t| t.trim() == pid.to_string())
}

/// Stop one application of a manager that runs several: ask for it with a request file and
/// wait until its status file is gone (the process goes on with the others).
fn stop_shared(a: &StatusArgs, t: &Target, pid: u32) -> anyhow::Result<Exit> {
    let (app, workdir) = (&t.app, &t.workdir);
    std::fs::write(status::stop_request_path(workdir, app), "")?;
    let deadline = Instant::now() + Duration::from_secs(a.abort_timeout);
    while Instant::now() < deadline {
        if !status::status_path(workdir, app).exists() || !status::pid_alive(pid) {
            println!("Stopped {app} successfully.");
            return Ok(Exit::Ok);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    println!(
        "Manager process {pid} didn't stop {app} in {} seconds (it runs other applications too: \
         not killed).",
        a.abort_timeout
    );
    println!("Failed to stop {app}.");
    Ok(Exit::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use clap::Parser;

    fn args(argv: &[&str]) -> StatusArgs {
        let mut v = vec!["mha", "check_status"];
        v.extend(argv);
        match Cli::try_parse_from(v).unwrap().command {
            Command::CheckStatus(a) => a,
            _ => unreachable!(),
        }
    }

    fn dir(app: &str, workdir: &str, log: Option<&str>) -> Selector {
        Selector::Dir(Target {
            app: app.into(),
            workdir: workdir.into(),
            log: log.map(PathBuf::from),
        })
    }

    /// MHA's ManagerAdminWrapper: which files and directories each selector means.
    #[test]
    fn selectors_as_mha() {
        let services = ["app1".to_string(), "app2".to_string()];
        let conf = |c: &str, w: Option<&str>, l: Option<&str>| Selector::Conf {
            conf: c.into(),
            workdir: w.map(PathBuf::from),
            log: l.map(PathBuf::from),
        };
        for (argv, want) in [
            (
                vec!["--conf=/etc/app1.cnf"],
                vec![conf("/etc/app1.cnf", None, None)],
            ),
            (
                vec!["--conf=/etc/app1.cnf", "--workdir=/w", "--manager_log=/l"],
                vec![conf("/etc/app1.cnf", Some("/w"), Some("/l"))],
            ),
            // --app alone: MHA's default conf directory.
            (
                vec!["--app=app1"],
                vec![conf("/usr/local/masterha/conf/app1.cnf", None, None)],
            ),
            (
                vec!["--app=app1", "--status_dir=/w", "--log_output=/l"],
                vec![dir("app1", "/w", Some("/l"))],
            ),
            (
                vec!["--all"],
                vec![
                    conf("/usr/local/masterha/conf/app1.cnf", None, None),
                    conf("/usr/local/masterha/conf/app2.cnf", None, None),
                ],
            ),
            (
                vec!["--all", "--basedir=/b", "--baselog=/logs"],
                vec![
                    dir("app1", "/b/app1", Some("/logs/app1/app1.log")),
                    dir("app2", "/b/app2", Some("/logs/app2/app2.log")),
                ],
            ),
            (
                vec!["--all", "--basedir=/b"],
                vec![dir("app1", "/b/app1", None), dir("app2", "/b/app2", None)],
            ),
        ] {
            assert_eq!(selectors(&args(&argv), &services), want, "{argv:?}");
        }
    }

    #[test]
    fn daemontools_services_name_the_applications() {
        let d = tempfile::tempdir().unwrap();
        for name in ["masterha_app2", "masterha_app1", "other", "masterha_"] {
            std::fs::create_dir(d.path().join(name)).unwrap();
        }
        assert_eq!(daemontools_apps(d.path()).unwrap(), ["app1", "app2"]);
        let err = daemontools_apps(&d.path().join("none")).unwrap_err();
        assert!(err.to_string().contains("--all: cannot list"), "{err}");
    }
}
