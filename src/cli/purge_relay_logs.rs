//! `mha purge_relay_logs` (MHA's node tool of that name, also under that name as a symlink):
//! run from cron on each replica; see `executor::purge` and docs/operations.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use super::exit::Exit;
use crate::executor::purge::{self, Outcome, PurgeError, PurgeOptions, PurgeReport};
use crate::secret::Secret;

/// The environment variable the password is read from when --password is not given (the
/// one MySQL and MariaDB clients read): a cron line then shows no password.
pub const PASSWORD_ENV: &str = "MYSQL_PWD";

/// MHA's purge_relay_logs options, plus --lock_wait.
#[derive(Debug, Args)]
pub struct PurgeRelayLogsArgs {
    /// SQL user (default: the --defaults_file's, else root).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// SQL password. Visible to every local user in the process list: prefer MYSQL_PWD in
    /// the environment or a --defaults_file.
    #[arg(long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// The local server's address (must be this host's).
    #[arg(long, value_name = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, value_name = "PORT", default_value_t = 3306)]
    pub port: u16,
    /// Connect through this Unix socket instead of TCP.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// A client option file: its [client] user, password and socket are used where the
    /// command line gives none.
    #[arg(long = "defaults_file", alias = "defaults-file", value_name = "FILE")]
    pub defaults_file: Option<PathBuf>,
    /// Where the relay logs are hard-linked before removal; on the relay logs' filesystem.
    #[arg(long, value_name = "DIR", default_value = "/var/tmp")]
    pub workdir: PathBuf,
    /// Purge even when relay_log_purge=1 (the server then keeps relay_log_purge=0);
    /// without it such a server is left alone.
    #[arg(long = "disable_relay_log_purge", alias = "disable-relay-log-purge")]
    pub disable_relay_log_purge: bool,
    /// Accepted for MHA's command lines; not needed (the server says where its relay logs
    /// are).
    #[arg(long = "relay_log_info", alias = "relay-log-info", value_name = "FILE")]
    pub relay_log_info: Option<PathBuf>,
    /// Accepted for MHA's command lines: only 1 (hard links) is supported.
    #[arg(long = "use_hardlink", alias = "use-hardlink", value_name = "0|1")]
    pub use_hardlink: Option<u8>,
    /// Seconds to wait for the failover lock while a failover holds it (MHA's 200).
    #[arg(
        long = "lock_wait",
        alias = "lock-wait",
        value_name = "SECONDS",
        default_value_t = 200
    )]
    pub lock_wait: u64,
}

/// What a client option file's [client] group gives.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ClientDefaults {
    pub user: Option<String>,
    pub password: Option<String>,
    pub socket: Option<String>,
}

/// The [client] group of a MySQL option file (other groups and other keys are ignored; the
/// last value of a key wins, as for the clients).
pub fn client_defaults(text: &str) -> ClientDefaults {
    let mut out = ClientDefaults::default();
    let mut in_client = false;
    for line in text.lines().map(str::trim) {
        if let Some(group) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_client = group.trim().eq_ignore_ascii_case("client");
            continue;
        }
        if !in_client || line.starts_with(['#', ';']) {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = [('"', '"'), ('\'', '\'')]
            .iter()
            .find_map(|(a, b)| value.strip_prefix(*a)?.strip_suffix(*b))
            .unwrap_or(value)
            .to_string();
        match key.trim().replace('-', "_").as_str() {
            "user" => out.user = Some(value),
            "password" => out.password = Some(value),
            "socket" => out.socket = Some(value),
            _ => {}
        }
    }
    out
}

/// Bad input before anything is done: the exit code and the message.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub Exit, pub String);

/// The options to purge with: the command line first, then the environment's password, then
/// the defaults file.
pub fn options(
    a: &PurgeRelayLogsArgs,
    env_password: Option<String>,
    defaults: Option<(&Path, &str)>,
) -> Result<PurgeOptions, Refused> {
    if let Some(v) = a.use_hardlink.filter(|&v| v != 1) {
        let why = format!(
            "--use_hardlink={v}: mha always purges through hard links; leave the option out"
        );
        return Err(Refused(Exit::Usage, why));
    }
    let file = defaults
        .map(|(_, text)| client_defaults(text))
        .unwrap_or_default();
    let socket = a.socket.clone().or(file.socket.map(PathBuf::from));
    let host = match &socket {
        Some(_) if a.host == "127.0.0.1" => "localhost".to_string(),
        _ => a.host.clone(),
    };
    let password = a.password.clone().or(env_password).or(file.password);
    Ok(PurgeOptions {
        target: crate::sql::Target {
            host,
            port: a.port,
            user: a
                .user
                .clone()
                .or(file.user)
                .unwrap_or_else(|| "root".into()),
            password: Secret::new(password.unwrap_or_default()),
            socket,
        },
        workdir: a.workdir.clone(),
        disable_relay_log_purge: a.disable_relay_log_purge,
        lock_wait: Duration::from_secs(a.lock_wait),
        timeout: Duration::from_secs(10),
    })
}

fn exit_for(e: &PurgeError) -> Exit {
    match e {
        _ if e.is_usage() => Exit::Usage,
        PurgeError::LockBusy { .. } => Exit::TempFail,
        _ => Exit::Failure,
    }
}

fn render(r: &PurgeReport, workdir: &Path) {
    if r.outcome == Outcome::PurgeEnabled {
        println!(
            "{}: relay_log_purge is enabled; nothing to do (the server purges its relay logs itself, or give --disable_relay_log_purge).",
            r.server
        );
        return;
    }
    let lagging = r.older_kept();
    println!(
        "{}: relay logs in {}, the SQL thread in {}.",
        r.server, r.relay_dir, r.current
    );
    println!(
        " {} relay logs hard-linked into {}; the server purged {} of them{}; relay_log_purge is 0.",
        r.linked.len(),
        workdir.display(),
        r.purged.len(),
        if lagging > 0 {
            format!(" ({lagging} older ones kept: the SQL thread had not passed them)")
        } else {
            String::new()
        }
    );
    println!(" Hard links removed: {} bytes given back.", r.freed_bytes);
    println!("All relay log purging operations succeeded.");
}

pub fn run(a: &PurgeRelayLogsArgs) -> anyhow::Result<Exit> {
    if a.relay_log_info.is_some() {
        tracing::info!("--relay_log_info is not needed: the server says where its relay logs are");
    }
    let text = match &a.defaults_file {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(t) => Some((f.as_path(), t)),
            Err(e) => {
                eprintln!("error: --defaults_file {}: {e}", f.display());
                return Ok(Exit::Config);
            }
        },
        None => None,
    };
    let defaults = text.as_ref().map(|(f, t)| (*f, t.as_str()));
    let opts = match options(a, std::env::var(PASSWORD_ENV).ok(), defaults) {
        Ok(o) => o,
        Err(Refused(code, why)) => {
            eprintln!("error: {why}");
            return Ok(code);
        }
    };
    match super::runtime()?.block_on(purge::purge(&opts)) {
        Ok(report) => {
            render(&report, &opts.workdir);
            Ok(Exit::Ok)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(exit_for(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use clap::Parser;

    fn parse(argv: &[&str]) -> Result<PurgeRelayLogsArgs, clap::Error> {
        let args: Vec<std::ffi::OsString> = argv.iter().map(Into::into).collect();
        match Cli::try_parse_from(crate::cli::normalise_args(args))?.command {
            Command::PurgeRelayLogs(a) => Ok(a),
            other => panic!("not purge_relay_logs: {other:?}"),
        }
    }

    #[test]
    fn mhas_options_parse_under_both_names_with_mhas_defaults() {
        let full = [
            "--user=mha",
            "--password=pw",
            "--host=127.0.0.1",
            "--port=3307",
            "--socket=/run/mysqld/mysqld.sock",
            "--defaults_file=/etc/mha-purge.cnf",
            "--workdir=/data/purge",
            "--disable_relay_log_purge",
            "--relay_log_info=/var/lib/mysql/relay-log.info",
            "--use_hardlink=1",
            "--lock_wait=30",
        ];
        for program in [
            vec!["purge_relay_logs"],
            vec!["/usr/local/bin/purge_relay_logs"],
            vec!["mha", "purge_relay_logs"],
            vec!["mha", "purge-relay-logs"],
        ] {
            let a = parse(&[program.clone(), full.to_vec()].concat()).unwrap();
            assert_eq!((a.port, a.lock_wait, a.use_hardlink), (3307, 30, Some(1)));
            assert!(a.disable_relay_log_purge);
            assert_eq!(a.workdir, PathBuf::from("/data/purge"));
            let d = parse(&program).unwrap();
            assert_eq!((d.host.as_str(), d.port), ("127.0.0.1", 3306));
            assert_eq!(d.workdir, PathBuf::from("/var/tmp"));
            assert_eq!((d.user.as_deref(), d.lock_wait), (None, 200));
            assert!(!d.disable_relay_log_purge);
        }
        for bad in ["--port=abc", "--conf=/etc/app1.cnf", "--lock_wait=-1"] {
            assert!(parse(&["purge_relay_logs", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_comes_from_the_option_the_environment_or_the_defaults_file() {
        let file = "[mysqld]\nuser = mysql\npassword = server\n\n[client]\n# comment\nuser = purger\npassword = \"from file\"\nsocket=/run/m.sock\n[mysql]\npassword=other\n";
        let cf = Some((Path::new("/etc/x.cnf"), file));
        type Case<'a> = (
            &'a [&'a str],
            Option<&'a str>,
            Option<(&'a Path, &'a str)>,
            &'a str,
            &'a str,
        );
        let cases: &[Case] = &[
            (&[], None, None, "root", ""),
            (&[], Some("env"), None, "root", "env"),
            (&["--password=opt"], Some("env"), cf, "purger", "opt"),
            (&[], Some("env"), cf, "purger", "env"),
            (&["--user=u"], None, cf, "u", "from file"),
        ];
        for (extra, env, defaults, user, password) in cases {
            let a = parse(&[&["purge_relay_logs"], *extra].concat()).unwrap();
            let o = options(&a, env.map(String::from), *defaults).unwrap();
            assert_eq!(o.target.user, *user, "{extra:?}");
            assert_eq!(o.target.password.expose(), *password, "{extra:?}");
            // The password never shows in the options' debug output.
            assert!(password.is_empty() || !format!("{o:?}").contains(password));
        }
        let a = parse(&["purge_relay_logs"]).unwrap();
        let o = options(&a, None, cf).unwrap();
        assert_eq!(o.target.socket, Some(PathBuf::from("/run/m.sock")));
        assert_eq!(o.target.host, "localhost");
    }

    #[test]
    fn use_hardlink_0_is_refused_with_its_option_named() {
        let a = parse(&["purge_relay_logs", "--use_hardlink=0"]).unwrap();
        let Refused(code, why) = options(&a, None, None).unwrap_err();
        assert_eq!(code, Exit::Usage);
        assert!(why.contains("--use_hardlink=0"), "{why}");
    }

    #[test]
    fn client_defaults_reads_the_client_group_only() {
        let cases = [
            ("", ClientDefaults::default()),
            (
                "[client]\nuser=a\npassword='p w'\n",
                ClientDefaults {
                    user: Some("a".into()),
                    password: Some("p w".into()),
                    socket: None,
                },
            ),
            (
                "[CLIENT]\nskip-ssl\nsocket = /tmp/s\n[mysqld]\nsocket=/x\n",
                ClientDefaults {
                    user: None,
                    password: None,
                    socket: Some("/tmp/s".into()),
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(client_defaults(text), want, "{text:?}");
        }
    }
}
