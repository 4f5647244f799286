//! Hook scripts with MHA's `--key=value` arguments. Secrets never go on the command line:
//! they travel in environment variables and in the JSON document written to the hook's
//! standard input (which a hook may ignore).

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct HookCall {
    /// The configuration key naming the hook (`master_ip_failover_script`), for messages.
    pub hook: &'static str,
    /// The configured command; may itself contain arguments, as in MHA.
    pub command: String,
    /// MHA's arguments, in order: `--key=value`; an empty value is a bare switch `--key`
    /// (MHA passes `--orig_master_is_new_slave` so, and Getopt::Long dies on `=1` for a flag).
    pub args: Vec<(String, String)>,
    /// Passwords on the command line, after `args`: only with `hook_password_args = 1`, for
    /// hooks written for MHA that read `--*_password`. Logged as `--key=xxx`.
    pub secret_args: Vec<(String, Secret)>,
    /// Extra environment: plain values and secrets.
    pub env: Vec<(String, String)>,
    pub secret_env: Vec<(String, Secret)>,
    /// The same facts as JSON on standard input (secrets included, the pipe is private).
    pub stdin_json: serde_json::Value,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookOutcome {
    /// None when killed (timeout or signal).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl HookOutcome {
    pub fn describe(&self) -> String {
        let tail = |s: &str| {
            s.lines()
                .rev()
                .take(3)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join(" | ")
        };
        match (self.timed_out, self.exit_code) {
            (true, _) => "timed out and was killed".into(),
            (_, Some(c)) if self.stderr.trim().is_empty() => format!("exit code {c}"),
            (_, Some(c)) => format!("exit code {c}: {}", tail(&self.stderr)),
            (_, None) => "killed by a signal".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{hook}: cannot run {command:?}: {source}")]
pub struct HookError {
    pub hook: &'static str,
    pub command: String,
    pub source: std::io::Error,
}

/// Quote one word for /bin/sh.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The MHA program names `mha` answers to that configurations name in hooks: MHA's
/// `secondary_check_script = masterha_secondary_check -s db2 -s db3`.
const OWN_TOOLS: &[(&str, &str)] = &[("masterha_secondary_check", "secondary_check")];

/// A hook command that starts with one of MHA's tool names `mha` provides
/// (`masterha_secondary_check`) runs that name from PATH when it is installed there (the
/// symlink to `mha` a package installs, or MHA's own script); else `mha` itself
/// (`/path/to/mha secondary_check ...`), so an unchanged app1.cnf works without MHA.
pub fn resolve_own_tool(command: &str, path: Option<&std::ffi::OsStr>) -> String {
    let trimmed = command.trim_start();
    let (first, rest) = trimmed
        .split_once(char::is_whitespace)
        .unwrap_or((trimmed, ""));
    let Some((_, sub)) = OWN_TOOLS.iter().find(|(name, _)| *name == first) else {
        return command.to_string();
    };
    let on_path = path.is_some_and(|p| {
        std::env::split_paths(p).any(|dir| {
            std::fs::metadata(dir.join(first))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    match std::env::current_exe() {
        Ok(exe) if !on_path => format!("{} {sub} {rest}", shell_quote(&exe.to_string_lossy()))
            .trim_end()
            .to_string(),
        _ => command.to_string(),
    }
}

impl HookCall {
    /// The shell command line as logged: passwords (`secret_args`) masked.
    pub fn command_line(&self) -> String {
        self.line(false)
    }

    /// The configured command plus the quoted MHA arguments; `secrets` puts the passwords in.
    fn line(&self, secrets: bool) -> String {
        let mut line = self.command.clone();
        for (k, v) in &self.args {
            line.push(' ');
            if v.is_empty() {
                line.push_str(&shell_quote(&format!("--{k}")));
            } else {
                line.push_str(&shell_quote(&format!("--{k}={v}")));
            }
        }
        for (k, v) in &self.secret_args {
            line.push(' ');
            let v = if secrets { v.expose() } else { "xxx" };
            line.push_str(&shell_quote(&format!("--{k}={v}")));
        }
        line
    }
}

pub async fn run(call: &HookCall) -> Result<HookOutcome, HookError> {
    let err = |source| HookError {
        hook: call.hook,
        command: call.command.clone(),
        source,
    };
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(call.line(true))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // Marks the hook (and whatever it starts) as ours: check_status finds the leftovers of a
    // manager that died while a hook ran (PARTIALLY_RUNNING) by this variable.
    cmd.env(
        crate::status::HOOK_OWNER_ENV,
        std::process::id().to_string(),
    );
    for (k, v) in &call.env {
        cmd.env(k, v);
    }
    for (k, v) in &call.secret_env {
        cmd.env(k, v.expose());
    }
    let mut child = cmd.spawn().map_err(err)?;
    let pgid = child.id();
    if let Some(mut stdin) = child.stdin.take() {
        let doc = call.stdin_json.to_string();
        // A hook that does not read its input closes the pipe: that is fine.
        tokio::spawn(async move {
            let _ = stdin.write_all(doc.as_bytes()).await;
            let _ = stdin.shutdown().await;
        });
    }
    match tokio::time::timeout(call.timeout, child.wait_with_output()).await {
        Ok(out) => {
            let out = out.map_err(err)?;
            Ok(HookOutcome {
                exit_code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                timed_out: false,
            })
        }
        Err(_) => {
            // Kill the whole process group: the hook's own children too.
            if let Some(pid) = pgid {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            Ok(HookOutcome {
                exit_code: None,
                stdout: String::new(),
                stderr: String::new(),
                timed_out: true,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(command: &str, timeout_ms: u64) -> HookCall {
        HookCall {
            secret_args: vec![],
            hook: "master_ip_failover_script",
            command: command.into(),
            args: vec![
                ("command".into(), "status".into()),
                ("orig_master_host".into(), "db 1".into()),
            ],
            env: vec![],
            secret_env: vec![("MHA_NEW_MASTER_PASSWORD".into(), Secret::new("pw'1"))],
            stdin_json: serde_json::json!({"command": "status"}),
            timeout: Duration::from_millis(timeout_ms),
        }
    }

    #[test]
    fn switches_and_passwords_on_the_command_line() {
        let mut c = call("hook", 1000);
        c.args
            .push(("orig_master_is_new_slave".into(), String::new()));
        c.secret_args
            .push(("new_master_password".into(), Secret::new("s3cret")));
        let logged = c.command_line();
        assert!(logged.ends_with(" --orig_master_is_new_slave --new_master_password=xxx"));
        assert!(!logged.contains("s3cret"));
        assert!(c.line(true).ends_with(" --new_master_password=s3cret"));
    }

    #[test]
    fn masterha_secondary_check_is_mha_itself_unless_installed() {
        let exe = std::env::current_exe().unwrap();
        let cmd = "masterha_secondary_check -s db2 -s db3";
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(
            resolve_own_tool(cmd, Some(empty.path().as_os_str())),
            format!(
                "{} secondary_check -s db2 -s db3",
                shell_quote(&exe.to_string_lossy())
            )
        );
        // Installed on PATH (a symlink to mha, or MHA's script): that one runs.
        let bin = tempfile::tempdir().unwrap();
        let link = bin.path().join("masterha_secondary_check");
        std::os::unix::fs::symlink(&exe, &link).unwrap();
        let path = std::env::join_paths([empty.path(), bin.path()]).unwrap();
        assert_eq!(resolve_own_tool(cmd, Some(&path)), cmd);
        // Anything else is left alone.
        for other in [
            "/usr/bin/masterha_secondary_check -s db2",
            "my_check.sh --x",
            "",
        ] {
            assert_eq!(resolve_own_tool(other, None), other);
        }
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("--command=status"), "--command=status");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[tokio::test]
    async fn args_env_stdin_and_exit_code() {
        let c = call(
            "f() { echo \"$@\"; echo \"pw=$MHA_NEW_MASTER_PASSWORD\"; cat; echo \" $MHA_PID\"; exit 10; }; f",
            5000,
        );
        assert!(
            !c.command_line().contains("pw'1"),
            "secret on the command line"
        );
        let out = run(&c).await.unwrap();
        assert_eq!(out.exit_code, Some(10));
        assert_eq!(
            out.stdout,
            format!(
                "--command=status --orig_master_host=db 1\npw=pw'1\n{{\"command\":\"status\"}} {}\n",
                std::process::id()
            )
        );
    }

    #[tokio::test]
    async fn a_hook_that_hangs_is_killed() {
        let out = run(&call("sleep 30; true", 200)).await.unwrap();
        assert!(out.timed_out && out.exit_code.is_none());
        let out = run(&call("true", 5000)).await.unwrap();
        assert_eq!(out.exit_code, Some(0), "a hook that ignores stdin is fine");
    }
}
