//! `mha check_ssh` (masterha_check_ssh): prove manager→host SSH for every server and host→host
//! SSH for every ordered pair, as MHA's SSHCheck.pm does. Hosts copy relay-log diffs to each
//! other during a failover, so host→host SSH matters as much as the manager's own.
//!
//! Each source host is checked on its own task, starts staggered (MHA: 0.5 s, to stay under
//! sshd's MaxStartups); its pairs run one after another over one SSH session, each by running the
//! system `ssh` on the source host. Unlike MHA, that `ssh` checks host keys unless the target's
//! `ssh_options` turn the check off, and the command ends with exit 0 after success (MHA's exit
//! code was 255 on newer Perls).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::{Config, SshConfig};
use crate::ssh::{self, ExecOutput, SshTarget, quote, split_words};

use super::args::Output;
use super::exit::Exit;

/// Gap between the starts of two source hosts' checks.
const STAGGER: Duration = Duration::from_millis(50);
/// Source hosts checked at once.
const MAX_PARALLEL: usize = 16;

/// One host as check_ssh sees it.
struct Host {
    /// `user@host(ip:port)`, MHA's name for an SSH endpoint.
    name: String,
    /// `ssh_options`, passed word for word to ssh on the other hosts.
    options: Option<String>,
    target: SshTarget,
}

/// `user@host(ip:port)` with the user, address and port mha actually uses.
fn ssh_name(ssh: &SshConfig, target: &SshTarget) -> String {
    format!(
        "{}@{}({}:{})",
        target.user, ssh.host, target.host, target.port
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Ok,
    Failed(String),
    /// Not attempted, with the reason.
    NotChecked(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hop {
    to: String,
    outcome: Outcome,
}

/// Everything checked from one source host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceReport {
    source: String,
    /// manager → source
    manager: Outcome,
    /// source → every other host
    hops: Vec<Hop>,
}

const MANAGER: &str = "the manager";
/// The manager as `from` in the JSON report.
const MANAGER_JSON: &str = "manager";

/// The command run on the source host to prove SSH to `dest`. Our `-p` and `-o` come before
/// `ssh_options` because OpenSSH takes the first value given, so the remote ssh resolves port and
/// timeout exactly as [`SshTarget::from_config`] did.
fn remote_ssh_command(dest: &SshTarget, options: Option<&str>) -> String {
    let mut words: Vec<String> = vec![
        "ssh".into(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        format!("ConnectTimeout={}", dest.connect_timeout.as_secs().max(1)),
    ];
    if !dest.verify_host_key {
        words.extend(["-o".into(), "StrictHostKeyChecking=no".into()]);
    }
    words.extend(["-p".into(), dest.port.to_string()]);
    // An unreadable ssh_options was already reported by SshTarget::from_config.
    words.extend(split_words(options.unwrap_or("")).unwrap_or_default());
    words.push(format!("{}@{}", dest.user, dest.host));
    words.extend(["exit".into(), "0".into()]);
    words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
}

/// Why a command on a host failed, from its exit status and the end of its stderr.
fn command_failure(program: &str, out: &ExecOutput) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = lines[lines.len().saturating_sub(3)..].join(" / ");
    let status = match out.exit_status {
        Some(n) => format!("{program} exited with status {n}"),
        None => format!("{program} ended without an exit status (killed by a signal?)"),
    };
    if tail.is_empty() {
        status
    } else {
        format!("{status}: {tail}")
    }
}

/// `grace`: check_ssh_timeout, the time a remote command gets beyond the connect timeout of
/// the ssh it runs.
async fn check_from(hosts: &[Host], i: usize, grace: Duration) -> SourceReport {
    let src = &hosts[i];
    let others = hosts
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(_, h)| h);
    let mut report = SourceReport {
        source: src.name.clone(),
        manager: Outcome::Ok,
        hops: Vec::new(),
    };
    let exec_timeout = src.target.connect_timeout + grace;
    let session = match ssh::connect(&src.target).await {
        Ok(s) => match s.exec("exit 0", exec_timeout).await {
            Ok(out) if out.success() => Ok(s),
            Ok(out) => Err(command_failure("`exit 0`", &out)),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e.to_string()),
    };
    let session = match session {
        Ok(s) => s,
        Err(reason) => {
            tracing::debug!(%reason, "manager → host failed");
            report.manager = Outcome::Failed(reason);
            let why = format!("no SSH session from {MANAGER} to {}", src.name);
            report.hops = others
                .map(|d| Hop {
                    to: d.name.clone(),
                    outcome: Outcome::NotChecked(why.clone()),
                })
                .collect();
            return report;
        }
    };
    for d in others {
        let command = remote_ssh_command(&d.target, d.options.as_deref());
        tracing::debug!(to = %d.name, %command, "host → host");
        let outcome = match session
            .exec(&command, d.target.connect_timeout + grace)
            .await
        {
            Ok(out) if out.success() => Outcome::Ok,
            Ok(out) => Outcome::Failed(command_failure("ssh", &out)),
            Err(e) => Outcome::Failed(e.to_string()),
        };
        report.hops.push(Hop {
            to: d.name.clone(),
            outcome,
        });
    }
    session.close().await;
    report
}

fn render_outcome(out: &mut String, from: &str, to: &str, outcome: &Outcome) {
    out.push_str(&format!(" Connecting via SSH from {from} to {to}..\n"));
    match outcome {
        Outcome::Ok => out.push_str("  ok.\n"),
        Outcome::Failed(reason) => {
            out.push_str(&format!(
                "SSH connection from {from} to {to} failed!\n  {reason}\n"
            ));
        }
        Outcome::NotChecked(why) => out.push_str(&format!("  not checked: {why}.\n")),
    }
}

/// One source host's lines, in MHA's shape.
fn render_block(r: &SourceReport) -> String {
    let mut out = String::new();
    render_outcome(&mut out, MANAGER, &r.source, &r.manager);
    if matches!(r.manager, Outcome::Failed(_)) && !r.hops.is_empty() {
        out.push_str(&format!(
            " Skipping SSH connections from {} to the other hosts: no SSH session to it.\n",
            r.source
        ));
        return out;
    }
    for hop in &r.hops {
        render_outcome(&mut out, &r.source, &hop.to, &hop.outcome);
    }
    out
}

/// One connection checked (or not), in check order: manager → source first, then source →
/// each other host.
#[derive(Debug, serde::Serialize)]
struct Connection<'a> {
    /// `manager`, or the source host's `user@host(ip:port)`.
    from: &'a str,
    to: &'a str,
    /// `ok`, `failed` or `not_checked`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// Every connection of the reports, flattened.
fn connections(reports: &[SourceReport]) -> Vec<Connection<'_>> {
    let mut all = Vec::new();
    for r in reports {
        let hops = std::iter::once((MANAGER, r.source.as_str(), &r.manager)).chain(
            r.hops
                .iter()
                .map(|h| (r.source.as_str(), h.to.as_str(), &h.outcome)),
        );
        for (from, to, outcome) in hops {
            let (result, reason) = match outcome {
                Outcome::Ok => ("ok", None),
                Outcome::Failed(reason) => ("failed", Some(reason.as_str())),
                Outcome::NotChecked(why) => ("not_checked", Some(why.as_str())),
            };
            all.push(Connection {
                from,
                to,
                result,
                reason,
            });
        }
    }
    all
}

/// The verdict: MHA's success line, or every connection that failed or could not be tried and
/// MHA's failure line.
fn render_summary(reports: &[SourceReport]) -> (String, bool) {
    let all = connections(reports);
    let failed: Vec<String> = all
        .iter()
        .filter(|c| c.result != "ok")
        .map(|c| {
            let reason = c.reason.unwrap_or_default();
            match c.result {
                "not_checked" => format!("  from {} to {}: not checked, {reason}", c.from, c.to),
                _ => format!("  from {} to {}: {reason}", c.from, c.to),
            }
        })
        .collect();
    if failed.is_empty() {
        return (
            "All SSH connection tests passed successfully.\n".into(),
            true,
        );
    }
    let mut out = format!(
        "\n{} of {} SSH connections failed or could not be checked:\n",
        failed.len(),
        all.len()
    );
    for f in failed {
        out.push_str(&f);
        out.push('\n');
    }
    out.push_str("SSH Configuration Check Failed!\n");
    (out, false)
}

/// A server left out by `skip_init_ssh_check=1`.
#[derive(Debug, serde::Serialize)]
struct Skipped {
    block: String,
    host: String,
}

/// `check_ssh --output json`: docs/output-json.md.
#[derive(Debug, serde::Serialize)]
struct JsonReport<'a> {
    app: &'a str,
    ok: bool,
    total: usize,
    failed: usize,
    skipped: Vec<Skipped>,
    connections: Vec<Connection<'a>>,
}

fn render_json(app: &str, reports: &[SourceReport], skipped: Vec<Skipped>) -> String {
    let mut connections = connections(reports);
    for c in connections.iter_mut().filter(|c| c.from == MANAGER) {
        c.from = MANAGER_JSON;
    }
    let failed = connections.iter().filter(|c| c.result != "ok").count();
    let report = JsonReport {
        app,
        ok: failed == 0,
        total: connections.len(),
        failed,
        skipped,
        connections,
    };
    serde_json::to_string_pretty(&report).expect("plain data serialises")
}

/// The hosts to check from, with their warnings logged once for all the servers they affect,
/// and the servers `skip_init_ssh_check=1` leaves out.
fn hosts(config: &Config) -> (Vec<Host>, Vec<Skipped>) {
    let mut hosts = Vec::new();
    let mut skipped = Vec::new();
    // ssh_options usually sits in [server default]: one warning for all the servers it affects.
    let mut warnings: Vec<(String, Vec<&str>)> = Vec::new();
    for s in &config.servers {
        let (target, ws) = SshTarget::from_config(&s.ssh);
        for w in ws {
            match warnings.iter_mut().find(|(m, _)| *m == w) {
                Some((_, blocks)) => blocks.push(&s.block),
                None => warnings.push((w, vec![&s.block])),
            }
        }
        let name = ssh_name(&s.ssh, &target);
        if s.skip_init_ssh_check {
            skipped.push(Skipped {
                block: s.block.clone(),
                host: name,
            });
            continue;
        }
        hosts.push(Host {
            name,
            options: s.ssh.options.clone(),
            target,
        });
    }
    for (w, blocks) in &warnings {
        tracing::warn!("{w} ({})", blocks.join(", "));
    }
    (hosts, skipped)
}

/// Run the checks and print MHA's lines on stdout (or the JSON report at the end); exit 0 when
/// every connection works.
pub async fn run(config: &Config, output: Output) -> anyhow::Result<Exit> {
    let text = output == Output::Text;
    if text {
        println!("Starting SSH connection tests..");
    }
    let (hosts, skipped) = hosts(config);
    if text {
        for s in &skipped {
            println!(
                " Skipping SSH checks of {} ({}): skip_init_ssh_check=1.",
                s.host, s.block
            );
        }
    }
    let n = hosts.len();
    let hosts = Arc::new(hosts);
    let limit = Arc::new(Semaphore::new(MAX_PARALLEL));
    let grace = config.app.timeouts.check_ssh;
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let hosts = Arc::clone(&hosts);
        let limit = Arc::clone(&limit);
        let span = tracing::info_span!("check_ssh", source = %hosts[i].name);
        tasks.spawn(
            async move {
                tokio::time::sleep(STAGGER * i as u32).await;
                let _permit = limit.acquire_owned().await;
                (i, check_from(&hosts, i, grace).await)
            }
            .instrument(span),
        );
    }
    // Blocks print in configuration order, each as soon as it and those before it are done.
    let mut reports: Vec<Option<SourceReport>> = vec![None; n];
    let mut printed = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, report) = joined.map_err(|e| anyhow::anyhow!("an SSH check task failed: {e}"))?;
        reports[i] = Some(report);
        while let Some(Some(r)) = reports.get(printed) {
            if text {
                print!("{}", render_block(r));
            }
            printed += 1;
        }
    }
    let reports: Vec<SourceReport> = reports.into_iter().flatten().collect();
    let (summary, ok) = render_summary(&reports);
    match output {
        Output::Text => print!("{summary}"),
        Output::Json => println!("{}", render_json(&config.app_name, &reports, skipped)),
    }
    Ok(if ok { Exit::Ok } else { Exit::Failure })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssh::KeySource;

    fn target(port: u16, verify: bool) -> SshTarget {
        SshTarget {
            user: "mha".into(),
            host: "10.0.0.2".into(),
            port,
            connect_timeout: Duration::from_secs(7),
            key: KeySource::DefaultFiles,
            known_hosts: "/dev/null".into(),
            verify_host_key: verify,
            refused: None,
            jump: None,
        }
    }

    #[test]
    fn remote_command_quotes_and_orders_options() {
        assert_eq!(
            remote_ssh_command(&target(22, true), None),
            "ssh -o BatchMode=yes -o ConnectTimeout=7 -p 22 mha@10.0.0.2 exit 0"
        );
        assert_eq!(
            remote_ssh_command(
                &target(2200, false),
                Some("-o StrictHostKeyChecking=no -i '/keys/my key' -o 'UserKnownHostsFile=/a;b'")
            ),
            "ssh -o BatchMode=yes -o ConnectTimeout=7 -o StrictHostKeyChecking=no -p 2200 \
             -o StrictHostKeyChecking=no -i '/keys/my key' -o 'UserKnownHostsFile=/a;b' \
             mha@10.0.0.2 exit 0"
        );
        // Shell metacharacters in options stay arguments; they never become commands.
        let cmd = remote_ssh_command(&target(22, true), Some("-o 'ProxyCommand=x; rm -rf /'"));
        assert!(cmd.contains("'ProxyCommand=x; rm -rf /'"), "{cmd}");
        assert_eq!(
            split_words(&cmd).unwrap()[7..9],
            ["-o".to_string(), "ProxyCommand=x; rm -rf /".to_string()]
        );
    }

    #[test]
    fn failure_reason_from_status_and_stderr() {
        let out = ExecOutput {
            exit_status: Some(255),
            stdout: vec![],
            stderr: b"\nssh: connect to host 127.0.0.1 port 2203: Connection refused\r\n".to_vec(),
        };
        assert_eq!(
            command_failure("ssh", &out),
            "ssh exited with status 255: ssh: connect to host 127.0.0.1 port 2203: Connection refused"
        );
        let out = ExecOutput {
            exit_status: None,
            ..Default::default()
        };
        assert_eq!(
            command_failure("ssh", &out),
            "ssh ended without an exit status (killed by a signal?)"
        );
        let out = ExecOutput {
            exit_status: Some(1),
            stderr: b"a\nb\nc\nd\n".to_vec(),
            ..Default::default()
        };
        assert_eq!(
            command_failure("ssh", &out),
            "ssh exited with status 1: b / c / d"
        );
    }

    fn ok(to: &str) -> Hop {
        Hop {
            to: to.into(),
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn all_good_in_mha_shape() {
        let reports = vec![
            SourceReport {
                source: "u@a(1:22)".into(),
                manager: Outcome::Ok,
                hops: vec![ok("u@b(2:22)")],
            },
            SourceReport {
                source: "u@b(2:22)".into(),
                manager: Outcome::Ok,
                hops: vec![ok("u@a(1:22)")],
            },
        ];
        let text: String = reports.iter().map(render_block).collect();
        assert_eq!(
            text,
            " Connecting via SSH from the manager to u@a(1:22)..\n  ok.\n\
             \x20Connecting via SSH from u@a(1:22) to u@b(2:22)..\n  ok.\n\
             \x20Connecting via SSH from the manager to u@b(2:22)..\n  ok.\n\
             \x20Connecting via SSH from u@b(2:22) to u@a(1:22)..\n  ok.\n"
        );
        assert_eq!(
            render_summary(&reports),
            (
                "All SSH connection tests passed successfully.\n".into(),
                true
            )
        );
    }

    #[test]
    fn failures_are_listed_pair_by_pair() {
        let reports = vec![
            SourceReport {
                source: "u@a(1:22)".into(),
                manager: Outcome::Ok,
                hops: vec![Hop {
                    to: "u@b(2:22)".into(),
                    outcome: Outcome::Failed("ssh exited with status 255".into()),
                }],
            },
            SourceReport {
                source: "u@b(2:22)".into(),
                manager: Outcome::Failed("refused".into()),
                hops: vec![Hop {
                    to: "u@a(1:22)".into(),
                    outcome: Outcome::NotChecked("no SSH session".into()),
                }],
            },
        ];
        assert_eq!(
            render_block(&reports[0]),
            " Connecting via SSH from the manager to u@a(1:22)..\n  ok.\n\
             \x20Connecting via SSH from u@a(1:22) to u@b(2:22)..\n\
             SSH connection from u@a(1:22) to u@b(2:22) failed!\n  ssh exited with status 255\n"
        );
        assert_eq!(
            render_block(&reports[1]),
            " Connecting via SSH from the manager to u@b(2:22)..\n\
             SSH connection from the manager to u@b(2:22) failed!\n  refused\n\
             \x20Skipping SSH connections from u@b(2:22) to the other hosts: no SSH session to it.\n"
        );
        assert_eq!(
            render_summary(&reports),
            (
                "\n3 of 4 SSH connections failed or could not be checked:\n\
                 \x20 from u@a(1:22) to u@b(2:22): ssh exited with status 255\n\
                 \x20 from the manager to u@b(2:22): refused\n\
                 \x20 from u@b(2:22) to u@a(1:22): not checked, no SSH session\n\
                 SSH Configuration Check Failed!\n"
                    .into(),
                false
            )
        );
    }

    #[test]
    fn json_lists_every_connection_with_its_result() {
        let reports = vec![SourceReport {
            source: "u@a(1:22)".into(),
            manager: Outcome::Ok,
            hops: vec![Hop {
                to: "u@b(2:22)".into(),
                outcome: Outcome::Failed("refused".into()),
            }],
        }];
        let skipped = vec![Skipped {
            block: "server3".into(),
            host: "u@c(3:22)".into(),
        }];
        let json: serde_json::Value =
            serde_json::from_str(&render_json("app1", &reports, skipped)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "app": "app1", "ok": false, "total": 2, "failed": 1,
                "skipped": [{"block": "server3", "host": "u@c(3:22)"}],
                "connections": [
                    {"from": "manager", "to": "u@a(1:22)", "result": "ok"},
                    {"from": "u@a(1:22)", "to": "u@b(2:22)", "result": "failed", "reason": "refused"},
                ]
            })
        );
    }
}
