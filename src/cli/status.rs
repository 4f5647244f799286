//! `mha check_status` and `mha stop`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;

use super::args::{Output, StatusArgs, StopArgs};
use super::exit::Exit;
use crate::status::{self, Status};

/// Application name and workdir from --conf, or from --app with --manager_workdir.
fn app_and_workdir(a: &StatusArgs) -> anyhow::Result<(String, PathBuf)> {
    if let Some(conf) = &a.conf {
        let loaded = super::load(&super::ConfArgs {
            conf: conf.clone(),
            global_conf: a.global_conf.clone(),
        })?;
        let workdir = a
            .manager_workdir
            .clone()
            .unwrap_or(loaded.config.app.manager_workdir.clone());
        return Ok((loaded.config.app_name, workdir));
    }
    let app = a.app.clone().expect("clap requires --conf or --app");
    let workdir = a
        .manager_workdir
        .clone()
        .expect("clap requires --manager_workdir with --app");
    Ok((app, workdir))
}

pub fn check_status(a: &StatusArgs) -> anyhow::Result<Exit> {
    let (app, workdir) = app_and_workdir(a)?;
    let r = status::check(
        &workdir,
        &app,
        Duration::from_secs(a.ping_limit),
        SystemTime::now(),
    );
    match a.output {
        Output::Text => {
            println!("{}", r.message);
            if r.stale {
                eprintln!(
                    "note: {} was left by manager pid {} which is no longer running (killed with -9?)",
                    status::status_path(&workdir, &app).display(),
                    r.pid.unwrap_or(0)
                );
            }
        }
        Output::Json => println!("{}", serde_json::to_string_pretty(&r)?),
    }
    Ok(Exit::Status(r.code))
}

pub fn stop(a: &StopArgs) -> anyhow::Result<Exit> {
    let (app, workdir) = app_and_workdir(&a.status)?;
    let r = status::check(&workdir, &app, Duration::from_secs(3600), SystemTime::now());
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
