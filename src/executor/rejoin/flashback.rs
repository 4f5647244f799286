//! `--flashback`: the returning server's own transactions undone with `mariadb-binlog
//! --flashback`, which reads them from the server itself (`--read-from-remote-server`) and
//! writes their row events reversed (an INSERT becomes a DELETE of that row, an UPDATE the
//! update back). The password goes through a private option file; the undo is applied with
//! `sql_log_bin=0`, so that it becomes no transaction of its own.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::error::{RejoinError, local};
use crate::config::ServerConfig;
use crate::engine::rejoin::Txn;
use crate::executor::client::client_defaults;
use crate::executor::tools::{self, BINLOG_TOOLS, CLIENT_TOOLS};

/// What undoing one transaction does, row by row, as `mariadb-binlog -v` prints it
/// (`DELETE FROM `db`.`t` WHERE @1=5000`).
#[derive(Debug, Clone, Serialize)]
pub struct Undo {
    pub gtid: String,
    pub rows: Vec<String>,
}

fn tool(names: &[&str], s: &ServerConfig) -> Result<PathBuf, RejoinError> {
    tools::find(names, s).ok_or_else(|| {
        local(
            names.join(" or "),
            "not installed on the manager host: apt-get install mariadb-client",
        )
    })
}

/// `mariadb-binlog` reading `t` from the server `s` (`defaults`: its option file) with `extra`.
async fn binlog_of(
    s: &ServerConfig,
    defaults: &Path,
    t: &Txn,
    extra: &[&str],
) -> Result<Vec<u8>, RejoinError> {
    let bin = tool(&BINLOG_TOOLS, s)?;
    let out = tools::command(&bin, s)
        .arg(format!("--defaults-extra-file={}", defaults.display()))
        .arg("--read-from-remote-server")
        .arg(format!("--start-position={}", t.start))
        .arg(format!("--stop-position={}", t.end))
        .args(extra)
        .arg(&t.file)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| local(bin.display().to_string(), e))?;
    if !out.status.success() {
        return Err(local(
            format!("{} {} ({})", bin.display(), t.file, t.gtid),
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(out.stdout)
}

/// The `### ` lines of `mariadb-binlog -v`, one row change per line.
fn rows_of(decoded: &str) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for line in decoded.lines().filter_map(|l| l.strip_prefix("### ")) {
        let starts = ["INSERT INTO", "UPDATE", "DELETE FROM"]
            .iter()
            .any(|w| line.starts_with(w));
        match rows.last_mut() {
            Some(r) if !starts => {
                r.push(' ');
                r.push_str(line.trim());
            }
            _ => rows.push(line.trim().to_string()),
        }
    }
    rows
}

/// What `--flashback` would do to each transaction (nothing is changed).
pub(super) async fn preview(
    s: &ServerConfig,
    txns: &[Txn],
    workdir: &Path,
) -> Result<Vec<Undo>, RejoinError> {
    let defaults = client_defaults(workdir, s).map_err(|e| local("a client option file", e))?;
    let mut out = Vec::new();
    for t in txns {
        let text = binlog_of(
            s,
            defaults.path(),
            t,
            &["--flashback", "-v", "--base64-output=decode-rows"],
        )
        .await?;
        out.push(Undo {
            gtid: t.gtid.clone(),
            rows: rows_of(&String::from_utf8_lossy(&text)),
        });
    }
    Ok(out)
}

/// Keep the transactions as they were (replayable `mariadb-binlog -v` output) in the
/// workdir before they are undone.
pub(super) async fn keep(
    s: &ServerConfig,
    txns: &[Txn],
    workdir: &Path,
    file: &Path,
) -> Result<(), RejoinError> {
    let defaults = client_defaults(workdir, s).map_err(|e| local("a client option file", e))?;
    let mut all = Vec::new();
    for t in txns {
        all.extend(format!("-- {} at {}:{}-{}\n", t.gtid, t.file, t.start, t.end).bytes());
        all.extend(binlog_of(s, defaults.path(), t, &["-v"]).await?);
    }
    std::fs::write(file, all).map_err(|e| local(file.display().to_string(), e))
}

/// Undo `txns`, the newest first, each with sql_log_bin=0. Returns the GTIDs undone (up to
/// the first failure, which is returned with them).
pub(super) async fn apply(
    s: &ServerConfig,
    txns: &[Txn],
    workdir: &Path,
) -> (Vec<String>, Result<(), RejoinError>) {
    let mut undone = Vec::new();
    let defaults = match client_defaults(workdir, s) {
        Ok(d) => d,
        Err(e) => return (undone, Err(local("a client option file", e))),
    };
    for t in txns.iter().rev() {
        let r = async {
            let undo = binlog_of(s, defaults.path(), t, &["--flashback"]).await?;
            run_client(defaults.path(), &undo, s).await
        }
        .await;
        if let Err(e) = r {
            return (undone, Err(e));
        }
        undone.push(t.gtid.clone());
    }
    (undone, Ok(()))
}

async fn run_client(defaults: &Path, input: &[u8], s: &ServerConfig) -> Result<(), RejoinError> {
    let client = tool(&CLIENT_TOOLS, s)?;
    let name = client.display().to_string();
    let mut child = tools::command(&client, s)
        .arg(format!("--defaults-extra-file={}", defaults.display()))
        .arg("--binary-mode")
        .arg("--init-command=SET SESSION sql_log_bin = 0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| local(&name, e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).await.map_err(|e| local(&name, e))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| local(&name, e))?;
    if !out.status.success() {
        return Err(local(
            format!("undoing on {}", s.display_name()),
            String::from_utf8_lossy(&out.stderr).trim(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_verbose_output() {
        let text = "#Q> insert into t.a values (5)\n### DELETE FROM `t`.`a`\n### WHERE\n###   @1=5\n###   @2='x'\n### UPDATE `t`.`a`\n### WHERE\n###   @1=1\n### SET\n###   @1=2\nCOMMIT\n";
        assert_eq!(
            rows_of(text),
            vec![
                "DELETE FROM `t`.`a` WHERE @1=5 @2='x'".to_string(),
                "UPDATE `t`.`a` WHERE @1=1 SET @1=2".to_string(),
            ]
        );
        assert!(rows_of("nothing\n").is_empty());
    }
}
