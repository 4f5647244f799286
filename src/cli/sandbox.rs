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
        "Sandbox {} ({}, {} replication); sshd on 127.0.0.1:{} {}",
        r.dir.display(),
        r.server_version,
        match r.mode {
            Mode::Gtid => "GTID",
            Mode::FilePos => "file/position",
        },
        r.sshd_port.map(|p| p.to_string()).unwrap_or_default(),
        r.sshd
    );
    let _ = writeln!(
        out,
        "{:<9} {:<6} {:<8} {:<8} {:<8} {:<16} {:<10} read_only",
        "node", "port", "pid", "process", "role", "replicates from", "io/sql"
    );
    for n in &r.nodes {
        let _ = writeln!(
            out,
            "{:<9} {:<6} {:<8} {:<8} {:<8} {:<16} {:<10} {}",
            n.name,
            n.port,
            n.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            n.process,
            n.role,
            n.replicates_from.clone().unwrap_or_else(|| "-".into()),
            match (&n.io_thread, &n.sql_thread) {
                (Some(io), Some(sql)) => format!("{io}/{sql}"),
                _ => "-".into(),
            },
            n.read_only
                .map(|b| if b { "ON" } else { "OFF" })
                .unwrap_or("-"),
        );
    }
    out
}
