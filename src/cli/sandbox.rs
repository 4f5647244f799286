//! `mha sandbox up|status|down|fault`.

use std::fmt::Write;

use crate::sandbox::{self, Mode, UpOptions};

use super::args::{Output, SandboxAction};
use super::exit::Exit;

pub async fn run(action: SandboxAction) -> anyhow::Result<Exit> {
    match action {
        SandboxAction::Up(a) => {
            let opts = UpOptions {
                dir: a.dir.dir,
                replicas: a.replicas,
                mode: if a.file_pos {
                    Mode::FilePos
                } else {
                    Mode::Gtid
                },
                base_port: a.base_port,
                basedir: a.basedir,
                hosts: vec![],
                heartbeat: a.heartbeat,
                log_slave_updates: !a.no_log_slave_updates,
                semi_sync: a.semi_sync,
            };
            let state = sandbox::up(&opts).await?;
            let report = sandbox::status(&state.dir).await?;
            print!("{}", render_status(&report));
            let conf = state.app_config();
            println!("\nConfiguration for every subcommand: {}", conf.display());
            println!("  mha check_config --conf {}", conf.display());
            println!("  mha manager --conf {}", conf.display());
            println!(
                "  mha sandbox fault --dir {} server1 crash     # from a second shell",
                state.dir.display()
            );
            println!("  mha sandbox down --dir {}", state.dir.display());
            Ok(Exit::Ok)
        }
        SandboxAction::Status { dir, output } => {
            let report = sandbox::status(&dir.dir).await?;
            match output {
                Output::Text => print!("{}", render_status(&report)),
                Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            }
            Ok(Exit::Ok)
        }
        SandboxAction::Down { dir } => {
            let stopped = sandbox::down(&dir.dir)?;
            println!(
                "Stopped {} process{} of the sandbox in {} (files kept).",
                stopped.len(),
                if stopped.len() == 1 { "" } else { "es" },
                dir.dir.display()
            );
            Ok(Exit::Ok)
        }
        SandboxAction::Fault { dir, node, action } => {
            sandbox::fault(&dir.dir, &node, action).await?;
            println!("{node}: {action:?} done.");
            Ok(Exit::Ok)
        }
    }
}

fn render_status(r: &sandbox::StatusReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Sandbox {} ({}, {} replication)",
        r.dir.display(),
        r.server_version,
        match r.mode {
            Mode::Gtid => "GTID",
            Mode::FilePos => "file/position",
        },
    );
    let row = |cols: [&str; 9]| {
        format!(
            "{:<9} {:<6} {:<8} {:<8} {:<8} {:<16} {:<14} {:<9} {}\n",
            cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8]
        )
    };
    out.push_str(&row([
        "node",
        "port",
        "pid",
        "process",
        "role",
        "replicates from",
        "io/sql",
        "read_only",
        "sshd",
    ]));
    for n in &r.nodes {
        let pid = n.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
        let threads = match (&n.io_thread, &n.sql_thread) {
            (Some(io), Some(sql)) => format!("{io}/{sql}"),
            _ => "-".into(),
        };
        let ssh = format!("{} {}", n.ssh_port, n.sshd);
        out.push_str(&row([
            &n.name,
            &n.port.to_string(),
            &pid,
            n.process,
            &n.role,
            n.replicates_from.as_deref().unwrap_or("-"),
            &threads,
            n.read_only
                .map(|b| if b { "ON" } else { "OFF" })
                .unwrap_or("-"),
            &ssh,
        ]));
    }
    out
}
