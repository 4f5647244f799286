//! Drop-in for MHA users: MHA's option set doing what MHA's did (check_status selectors and
//! texts, the status file of a manual failover, --check_only, --flush_tables,
//! --remove_orig_master_conf, check_repl --ignore_fail_on_start, masterha_master_monitor's
//! lines), MHA's log line format, and masterha_secondary_check named in an unchanged
//! app1.cnf.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster, mha_bin, run_mha, text};

const T: Duration = Duration::from_secs(30);

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap()
}

/// A process that lives until killed: stands for a manager in a status file.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("60").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_file_contains(path: &Path, text: &str, timeout: Duration) -> String {
    let start = Instant::now();
    loop {
        let got = std::fs::read_to_string(path).unwrap_or_default();
        if got.contains(text) {
            return got;
        }
        assert!(
            start.elapsed() < timeout,
            "{} never contained {text:?}:\n{got}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Mon Nov 25 10:00:00 2026 - [info] ...` (errors `[error][file, lnN] ...`): MHA's line.
fn is_mha_line(line: &str) -> bool {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let b = line.as_bytes();
    if line.len() < 30 || !line.is_char_boundary(24) {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let (stamp, rest) = line.split_at(24);
    let ok_stamp = DAYS.contains(&&stamp[0..3])
        && &stamp[3..4] == " "
        && MONTHS.contains(&&stamp[4..7])
        && &stamp[7..8] == " "
        && (b[8] == b' ' || b[8].is_ascii_digit())
        && b[9].is_ascii_digit()
        && &stamp[10..11] == " "
        && digits(11..13)
        && &stamp[13..14] == ":"
        && digits(14..16)
        && &stamp[16..17] == ":"
        && digits(17..19)
        && &stamp[19..20] == " "
        && digits(20..24);
    let ok_level = ["[info] ", "[warning] ", "[debug] "]
        .iter()
        .any(|l| rest.starts_with(&format!(" - {l}")))
        || rest.starts_with(" - [error][")
            && rest
                .split_once("] ")
                .is_some_and(|(head, _)| head.contains(", ln"));
    ok_stamp && ok_level
}

#[test]
fn mha_line_shape() {
    assert!(is_mha_line(
        "Wed Nov 25 10:00:00 2026 - [info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond.."
    ));
    assert!(is_mha_line(
        "Thu Sep  9 14:03:05 2021 - [error][src/x.rs, ln4] Master is down!"
    ));
    assert!(!is_mha_line(
        "2026-11-25T10:00:00.000000Z  INFO Ping(SELECT) succeeded"
    ));
}

fn app_cnf(dir: &Path, app: &str, workdir: &Path, log: Option<&Path>) -> PathBuf {
    let p = dir.join(format!("{app}.cnf"));
    let log = log
        .map(|l| format!("manager_log={}\n", l.display()))
        .unwrap_or_default();
    std::fs::write(
        &p,
        format!(
            "[server default]\nuser=mha\nmanager_workdir={}\n{log}[server1]\nhostname=127.0.0.1\n[server2]\nhostname=127.0.0.2\n",
            workdir.display()
        ),
    )
    .unwrap();
    p
}

fn write_status(workdir: &Path, app: &str, pid: u32, state: &str) -> PathBuf {
    std::fs::create_dir_all(workdir).unwrap();
    let p = workdir.join(format!("{app}.master_status.health"));
    std::fs::write(&p, format!("{pid}\t{state}\tmaster:db1\n")).unwrap();
    p
}

/// masterha_check_status / masterha_stop selectors and texts, as ManagerAdmin(Wrapper).pm.
#[test]
fn check_status_and_stop_select_apps_as_mha_and_print_its_texts() {
    let d = tempfile::tempdir().unwrap();
    let d = d.path();
    let confdir = d.join("conf");
    let services = d.join("service");
    for p in [&confdir, &services] {
        std::fs::create_dir_all(p).unwrap();
    }
    for app in ["app1", "app2"] {
        std::fs::create_dir_all(services.join(format!("masterha_{app}"))).unwrap();
    }
    let (w1, w2) = (d.join("w1"), d.join("w2"));
    let log2 = d.join("app2.log");
    let conf1 = app_cnf(&confdir, "app1", &w1, None);
    app_cnf(&confdir, "app2", &w2, Some(&log2));
    let (m1, m2) = (Sleeper::start(), Sleeper::start());
    let status1 = write_status(&w1, "app1", m1.pid(), "0:PING_OK");
    write_status(&w2, "app2", m2.pid(), "21:PING_FAILED");
    let sel = [
        format!("--service_dir={}", services.display()),
        format!("--default_confdir={}", confdir.display()),
    ];
    let status = |args: &[&str]| {
        let mut v = vec!["check_status"];
        v.extend(args);
        v.extend(sel.iter().map(String::as_str));
        let out = run_mha(&mha_bin(), &v);
        (code(&out), text(&out).0)
    };
    let app1 = format!(
        "app1 (pid:{}) is running(0:PING_OK), master:db1\n",
        m1.pid()
    );
    let app2 = format!(
        "app2 master maybe down(21:PING_FAILED). master:db1\nCheck {} for details.\n",
        log2.display()
    );
    // --all: every daemontools service, in name order; 1 because app2 is not fine.
    assert_eq!(status(&["--all"]), (1, format!("{app1}{app2}")));
    // --app alone: MHA's conf directory (here --default_confdir); the file names the log.
    assert_eq!(status(&["--app=app2"]), (21, app2.clone()));
    // --app with a workdir: no conf read, the log only from --manager_log.
    let w2s = format!("--status_dir={}", w2.display());
    assert_eq!(
        status(&["--app=app2", &w2s]),
        (
            21,
            "app2 master maybe down(21:PING_FAILED). master:db1\n".into()
        )
    );
    assert_eq!(
        status(&["--app=app2", &w2s, "--manager_log=/var/log/x.log"]),
        (
            21,
            "app2 master maybe down(21:PING_FAILED). master:db1\nCheck /var/log/x.log for details.\n"
                .into()
        )
    );
    // --all --basedir/--baselog: workdir BASE/APP, log BASELOG/APP/APP.log.
    let base = d.join("base");
    write_status(&base.join("app1"), "app1", m1.pid(), "31:CONFIG_ERROR");
    let (b, l) = (
        format!("--basedir={}", base.display()),
        format!("--baselog={}", d.join("logs").display()),
    );
    assert_eq!(
        status(&["--all", &b, &l]),
        (
            1,
            format!(
                "app1 servers are not correctly configured(31:CONFIG_ERROR).\nCheck {}/logs/app1/app1.log for details.\napp2 is stopped(2:NOT_RUNNING).\n",
                d.display()
            )
        )
    );
    // TIMESTAMP_OLD: MHA's `behinds` line first.
    let old = std::time::SystemTime::now() - Duration::from_secs(100);
    std::fs::File::options()
        .write(true)
        .open(&status1)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = run_mha(
        &mha_bin(),
        &["check_status", "--conf", conf1.to_str().unwrap()],
    );
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 32, "{stdout}");
    let (behinds, line) = stdout.trim_end().split_once('\n').unwrap();
    assert!(
        behinds.starts_with(&format!("{} behinds 10", status1.display()))
            && behinds.ends_with(" seconds!"),
        "{behinds}"
    );
    assert_eq!(
        line,
        "app1 is running, but master_ping.health is too old(32:TIMESTAMP_OLD). Maybe process hangs? master:db1"
    );
    // stop --all stops every application's manager.
    let mut v = vec!["stop", "--all"];
    v.extend(sel.iter().map(String::as_str));
    let out = run_mha(&mha_bin(), &v);
    assert_eq!(
        (code(&out), text(&out).0),
        (
            0,
            "Stopped app1 successfully.\nStopped app2 successfully.\n".to_string()
        )
    );
}

/// MHA options whose values mha does not support: exit 64, with what to do instead.
#[test]
fn unsupported_values_of_mha_options_are_refused_with_a_way_out() {
    for (args, says) in [
        (
            vec!["manager", "--conf", "/nonexistent.cnf", "--interactive=1"],
            "--interactive=1: the manager never asks",
        ),
        (
            vec![
                "master_switch",
                "--master_state=dead",
                "--conf",
                "/nonexistent.cnf",
                "--dead_master_host=db1",
                "--ssh_reachable=0",
            ],
            "--ssh_reachable=0: mha checks the dead master's SSH itself",
        ),
        (
            vec![
                "master_switch",
                "--master_state=alive",
                "--conf",
                "/nonexistent.cnf",
                "--skip_save_master_binlog",
                "--dead_master_host=db1",
            ],
            "--dead_master_host, --skip_save_master_binlog only apply to a failover (--master_state=dead)",
        ),
    ] {
        let out = run_mha(&mha_bin(), &args);
        let (_, err) = text(&out);
        assert_eq!(code(&out), 64, "{args:?}: {err}");
        assert!(err.contains(says), "{err}");
    }
}

/// A copy of the sandbox's TOML configuration with `app_extra` in [server_default] and
/// `server_extra` lines in server blocks.
fn conf_with(c: &Cluster, name: &str, server_extra: &[(&str, &str)], app_extra: &str) -> PathBuf {
    let mut text = std::fs::read_to_string(c.state.app_config()).unwrap();
    text = text.replacen(
        "ping_interval = 1\n",
        &format!("ping_interval = 1\n{app_extra}"),
        1,
    );
    for (block, line) in server_extra {
        text = text.replacen(&format!("[{block}]\n"), &format!("[{block}]\n{line}\n"), 1);
    }
    let p = c.dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

use crate::bed::script;

/// check_repl --ignore_fail_on_start (and MHA's masterha_check_repl command line,
/// `manager --check_only --check_repl_health`), then an online switch with --flush_tables
/// and --remove_orig_master_conf, and --check_only changing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_repl_ignore_fail_on_start_and_switch_options() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let dir = c.dir.path();
    let conf = conf_with(&c, "app1.toml", &[("server3", "ignore_fail = 1")], "");
    let conf_s = conf.to_str().unwrap();
    sandbox::fault(dir, "server3", Fault::Stop).await.unwrap();
    let repl = |extra: &[&str]| {
        let mut args = vec!["check_repl", "--conf", conf_s];
        args.extend(extra);
        let out = run_mha(&mha_bin(), &args);
        (code(&out), text(&out).0)
    };
    let (rc, out) = repl(&[]);
    assert_eq!(rc, 1, "{out}");
    assert!(
        out.ends_with("MySQL Replication Health is NOT OK!\n"),
        "{out}"
    );
    let (rc, out) = repl(&["--ignore_fail_on_start"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.ends_with("MySQL Replication Health is OK.\n"), "{out}");
    let out = run_mha(
        &mha_bin(),
        &[
            "manager",
            "--conf",
            conf_s,
            "--check_only",
            "--check_repl_health",
            "--ignore_fail_on_start",
            "--seconds_behind_master=30",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out).0);
    assert!(text(&out).0.ends_with("MySQL Replication Health is OK.\n"));
    sandbox::fault(dir, "server3", Fault::Start).await.unwrap();
    c.wait_replicating_from("server3", "server1", T).await;

    // --check_only: phase 1's checks, exit 0, nothing changed.
    let switch = |extra: &[&str]| {
        let out = bed::switch_alive_command(&conf, c.node("server2").port)
            .args(extra)
            .output()
            .unwrap();
        (code(&out), format!("{}\n{}", text(&out).0, text(&out).1))
    };
    let (rc, out) = switch(&["--check_only"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1"),
        "{out}"
    );
    c.wait_replicating_from("server2", "server1", T).await;

    // A real switch: FLUSH NO_WRITE_TO_BINLOG TABLES first, the old master's block removed.
    let log = dir.join("switch.log");
    let log_arg = format!("--manager_log={}", log.display());
    let (rc, out) = switch(&["--flush_tables=1", "--remove_orig_master_conf", &log_arg]);
    assert_eq!(rc, 0, "{out}");
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("Executed FLUSH NO_WRITE_TO_BINLOG TABLES on"),
        "{logged}"
    );
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(!text.contains("[server1]"), "{text}");
    assert!(
        text.contains("[server2]") && text.contains("[server3]"),
        "{text}"
    );
    c.wait_replicating_from("server3", "server2", T).await;
}

/// masterha_master_monitor's lines; a manual failover's status file (FAILOVER_RUNNING, then
/// removed; FAILOVER_ERROR kept for --wait_on_failover_error), with --workdir and
/// --manager_log honoured and log_format = mha in the file; --check_only changing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_monitor_lines_and_a_manual_failovers_status_file() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let dir = c.dir.path();
    let stopping = dir.join("stopping");
    let hook = dir.join("ip_failover.sh");
    script(
        &hook,
        &format!(
            "case \"$*\" in\n*--command=stop*) touch {}; sleep 3;;\nesac\nexit 0\n",
            stopping.display()
        ),
    );
    let conf = conf_with(
        &c,
        "app1.toml",
        &[],
        &format!(
            "master_ip_failover_script = \"{}\"\nlog_format = \"mha\"\n",
            hook.display()
        ),
    );
    let conf_s = conf.to_str().unwrap();

    // masterha_master_monitor: exit 20 and MHA's two lines when the master dies.
    let link = dir.join("masterha_master_monitor");
    std::os::unix::fs::symlink(mha_bin(), &link).unwrap();
    let mon_log = dir.join("monitor.out");
    let mut monitor = Command::new(&link)
        .args(["--conf", conf_s])
        .stdout(std::fs::File::create(&mon_log).unwrap())
        .stderr(std::fs::File::create(dir.join("monitor.err")).unwrap())
        .spawn()
        .unwrap();
    wait_file_contains(
        &dir.join("monitor.err"),
        "waiting until MySQL doesn't respond",
        T,
    );
    let p1 = c.node("server1").port;
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    let start = Instant::now();
    let rc = loop {
        if let Some(st) = monitor.try_wait().unwrap() {
            break st.code();
        }
        assert!(start.elapsed() < T, "masterha_master_monitor did not end");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&mon_log).unwrap();
    assert_eq!(rc, Some(20), "{out}");
    assert_eq!(
        out,
        format!("Master 127.0.0.1 is dead!\nIP Address: 127.0.0.1 Port: {p1}\n")
    );
    // The monitor's log lines are MHA's (log_format = mha).
    let err = std::fs::read_to_string(dir.join("monitor.err")).unwrap();
    let first = err.lines().next().unwrap_or_default();
    assert!(is_mha_line(first), "{err}");
    assert!(
        err.lines().any(|l| is_mha_line(l)
            && l.ends_with(
                " - [info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond.."
            )),
        "{err}"
    );

    // --check_only with a dead master: the checks and the plan, nothing changed, no status.
    let out = bed::switch_dead_command(&conf, &c, "server1")
        .arg("--check_only")
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}\n{}", text(&out).0, text(&out).1);
    assert_eq!(
        c.value("server2", "SELECT @@global.read_only")
            .await
            .as_deref(),
        Some("1")
    );

    // The manual failover writes MHA's status file, in --workdir, with --manager_log.
    let wd = dir.join("wd2");
    let log = dir.join("switch.log");
    let (wd_arg, log_arg) = (
        format!("--workdir={}", wd.display()),
        format!("--manager_log={}", log.display()),
    );
    let status = || {
        let out = run_mha(
            &mha_bin(),
            &["check_status", "--conf", conf_s, &wd_arg, &log_arg],
        );
        (code(&out), text(&out).0)
    };
    assert_eq!(status(), (2, "app1 is stopped(2:NOT_RUNNING).\n".into()));
    let mut failover = bed::switch_dead_command(&conf, &c, "server1")
        .args([&wd_arg, &log_arg])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !stopping.exists() {
        assert!(start.elapsed() < T, "the stop hook never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        status(),
        (
            50,
            format!(
                "app1 master is down and failover is running(50:FAILOVER_RUNNING). master:127.0.0.1\nCheck {} for details.\n",
                log.display()
            )
        )
    );
    assert_eq!(failover.wait().unwrap().code(), Some(0));
    assert_eq!(status(), (2, "app1 is stopped(2:NOT_RUNNING).\n".into()));
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| is_mha_line(l)
                && l.contains(" - [info] * Phase 1: Configuration Check Phase..")),
        "{logged}"
    );
    let records = std::fs::read_dir(&wd)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_string_lossy();
            n.starts_with("app1.failover.") && n.ends_with(".json")
        })
        .count();
    assert_eq!(records, 1, "the record is in --workdir");

    // A failover that fails (refused: the last one was minutes ago) shows FAILOVER_ERROR for
    // --wait_on_failover_error seconds, then the file goes.
    let mut failover = bed::switch_dead_command(&conf, &c, "server1")
        .args([&wd_arg, &log_arg, "--wait_on_failover_error=4"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let (rc, out) = status();
        if rc == 51 {
            assert_eq!(
                out,
                format!(
                    "app1 master is down and failover was not successful(51:FAILOVER_ERROR). master:127.0.0.1\nCheck {} for details.\n",
                    log.display()
                )
            );
            break;
        }
        assert!(start.elapsed() < T, "no FAILOVER_ERROR: {rc} {out}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(failover.wait().unwrap().code(), Some(1));
    assert_eq!(status(), (2, "app1 is stopped(2:NOT_RUNNING).\n".into()));
}

/// An unchanged MHA app1.cnf whose secondary_check_script is `masterha_secondary_check -s
/// <replica host> -s <other replica host>` fails over when the master crashes: the replicas'
/// hosts (network namespaces with their own addresses, sshd on port 22) confirm the master is
/// down. `masterha_secondary_check` is found on PATH as a symlink to mha in a directory the
/// test puts first in the manager's PATH, as a package installs it in /usr/bin (without it,
/// the manager runs itself: a hooks unit test covers that). The manager logs in MHA's line
/// format (`--log-format mha`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masterha_secondary_check_in_an_unchanged_app1_cnf_confirms_a_crash() {
    assert!(bed::can_use_netns(), "network namespace tests need root");
    let net = bed::Network::new(3);
    let c = Cluster::start_on(2, Mode::Gtid, net.hosts.clone()).await;
    let dir = c.dir.path();
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let tool = bin.join("masterha_secondary_check");
    std::os::unix::fs::symlink(mha_bin(), &tool).unwrap();
    let keys = &c.state.ssh_keys;
    let ssh_options = format!(
        "-i {} -o UserKnownHostsFile={}",
        keys.client_key.display(),
        keys.known_hosts.display()
    );
    let secret = |f: &str| {
        std::fs::read_to_string(dir.join("secrets").join(f))
            .unwrap()
            .trim_end()
            .to_string()
    };
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    let (h1, h2, h3) = (
        c.node("server1").host.clone(),
        c.node("server2").host.clone(),
        c.node("server3").host.clone(),
    );
    let log = dir.join("manager").join("app1.log");
    let mut cnf = format!(
        "[server default]\nuser={}\npassword={}\nrepl_user={}\nrepl_password={}\nssh_user={user}\n\
         ssh_options={ssh_options}\nmanager_workdir={}\nmanager_log={}\nping_interval=1\n\
         secondary_check_script=masterha_secondary_check -s {h2} -s {h3}\n",
        c.state.admin_user,
        secret("mha.password"),
        c.state.repl_user,
        secret("repl.password"),
        dir.join("manager").display(),
        log.display(),
    );
    for (i, name) in ["server1", "server2", "server3"].iter().enumerate() {
        let n = c.node(name);
        cnf.push_str(&format!(
            "\n[server{}]\nhostname={}\nport={}\nssh_port={}\nmaster_binlog_dir={}\n",
            i + 1,
            n.host,
            n.port,
            n.sshd.port,
            n.datadir.display()
        ));
        if *name == "server2" {
            cnf.push_str("candidate_master=1\n");
        }
    }
    let conf = dir.join("app1.cnf");
    std::fs::write(&conf, cnf).unwrap();
    std::fs::set_permissions(&conf, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    // The tool itself, by MHA's name: exit 3 while the master answers, 2 for a dead route.
    let p1 = c.node("server1").port.to_string();
    let check = |hosts: &[&str], extra: &[&str], password: Option<&str>| {
        let mut args: Vec<String> = hosts
            .iter()
            .flat_map(|h| ["-s".into(), h.to_string()])
            .collect();
        args.extend([
            format!("--master_host={h1}"),
            format!("--master_port={p1}"),
            format!("--options=-o StrictHostKeyChecking=no {ssh_options}"),
            "--timeout=1".into(),
        ]);
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut cmd = Command::new(&tool);
        cmd.args(&args).env_remove("MHA_MASTER_PASSWORD");
        if let Some(p) = password {
            // As mha's manager hands it over: never on the command line.
            cmd.env("MHA_MASTER_PASSWORD", p);
        }
        let out = cmd.output().unwrap();
        (code(&out), text(&out).0)
    };
    assert_eq!(
        check(&[&h2, &h3], &[], None),
        (3, format!("Master is reachable from {h2}!\n"))
    );
    assert_eq!(
        check(&["198.18.0.99", &h2], &[], None),
        (
            2,
            "Monitoring server 198.18.0.99 is NOT reachable!\n".into()
        )
    );
    // ping_type=INSERT: a write from the secondary host decides (its own mariadb client).
    let admin = format!("--master_user={}", c.state.admin_user);
    let insert = ["--ping_type=INSERT", admin.as_str()];
    assert_eq!(
        check(&[&h2], &insert, Some(&secret("mha.password"))),
        (3, format!("Master is reachable from {h2}!\n"))
    );
    assert_eq!(
        check(&[&h2, &h3], &insert, Some("wrong")),
        (
            0,
            format!(
                "Monitoring server {h2} is reachable, Master is not writable from {h2}. OK.\nMonitoring server {h3} is reachable, Master is not writable from {h3}. OK.\n"
            )
        )
    );

    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // The crash fast path decides without secondary_check_script (by design, see
    // docs/monitoring.md); the global defaults file turns it off so that the death goes through
    // MHA's confirmation, which the secondary check decides. app1.cnf stays MHA's.
    let global = dir.join("masterha_default.cnf");
    std::fs::write(&global, "[server default]\nfast_crash_detection=0\n").unwrap();
    let out = std::fs::File::create(dir.join("manager.out")).unwrap();
    let mut manager = Command::new(mha_bin())
        .args([
            "--log-format",
            "mha",
            "manager",
            "--conf",
            conf.to_str().unwrap(),
        ])
        .arg(format!("--global_conf={}", global.display()))
        .env("PATH", &path)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let guard = scopeguard(&mut manager);
    wait_file_contains(&log, "waiting until MySQL doesn't respond", T);
    sandbox::fault(dir, "server1", Fault::Crash).await.unwrap();
    let logged = wait_file_contains(&log, "completed successfully", Duration::from_secs(60));
    assert!(
        logged.contains("secondary_check_script: the master is unreachable from every route"),
        "{logged}"
    );
    assert!(
        logged.contains(&format!(
            "Executing secondary network check script: masterha_secondary_check -s {h2} -s {h3} --user={user}"
        )),
        "the manager ran MHA's command line:\n{logged}"
    );
    for line in logged.lines().filter(|l| l.contains(" - [")) {
        assert!(is_mha_line(line), "{line:?} is not MHA's format");
    }
    assert!(logged.lines().next().is_some_and(is_mha_line), "{logged}");
    c.wait_value("server2", "SELECT @@global.read_only", "0", T)
        .await;
    c.wait_replicating_from("server3", "server2", T).await;
    drop(guard);
}

/// Kill the manager when the test ends, whatever happens.
struct KillOnDrop<'a>(&'a mut Child);

fn scopeguard(c: &mut Child) -> KillOnDrop<'_> {
    KillOnDrop(c)
}

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
