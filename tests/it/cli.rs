//! The binary's edge: MHA option spellings, masterha_* program names, help, exit codes,
//! config errors, secrets kept out of output. No servers needed.

use std::path::Path;

use crate::bed::{mha_bin, run_mha, text};

const GOOD: &str = "[server default]\nuser=mha\npassword=TopSecret42\nping_interval=1\n[server1]\nhostname=127.0.0.1\nport=3306\n[server2]\nhostname=127.0.0.2\ncandidate_master=1\n";

/// Write a config into `dir`; its manager_workdir is `dir` too (nothing lands in /var/tmp).
fn conf(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    let body = body.replacen(
        "[server default]\n",
        &format!("[server default]\nmanager_workdir={}\n", dir.display()),
        1,
    );
    std::fs::write(&p, body).unwrap();
    p.to_str().unwrap().to_string()
}

fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap()
}

#[test]
fn check_config_prints_effective_values_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let c = conf(dir.path(), "app1.cnf", GOOD);
    // Both `--conf=F` and `--conf F`, as Getopt::Long accepted.
    for args in [
        vec!["check_config".to_string(), format!("--conf={c}")],
        vec!["check_config".into(), "--conf".into(), c.clone()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_mha(&mha_bin(), &args);
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{stderr}");
        assert!(
            stdout.contains("# Effective configuration of app1 from"),
            "{stdout}"
        );
        assert!(stdout.contains("password = \"********\""), "{stdout}");
        assert!(stdout.contains("candidate_master = 1"), "{stdout}");
        assert!(!stdout.contains("TopSecret42") && !stderr.contains("TopSecret42"));
        // The inline password sits in a file others can read: warned, not printed.
        assert!(
            stderr.contains("holds a secret (password) and is readable by every user"),
            "{stderr}"
        );
    }
}

#[test]
fn config_errors_exit_78_and_name_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let c = conf(
        dir.path(),
        "app1.toml",
        "[server_default]\nping_intreval = 1\n[server1]\nhostname = \"h\"\nport = 99999\n",
    );
    for sub in ["check_config", "manager", "check_repl", "check_ssh"] {
        let out = run_mha(&mha_bin(), &[sub, "--conf", &c]);
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 78, "{sub}: {stderr}");
        assert!(stderr.contains(&format!("{c}:2: [server default] ping_intreval: unknown parameter (did you mean `ping_interval`?)")), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{c}:5: [server1] port: expected a port number 1-65535, got 99999"
            )),
            "{stderr}"
        );
    }
    let out = run_mha(
        &mha_bin(),
        &["check_config", "--conf", "/nonexistent/app1.cnf"],
    );
    assert_eq!(code(&out), 78);
    assert!(
        text(&out)
            .1
            .contains("/nonexistent/app1.cnf: cannot read configuration file"),
        "{}",
        text(&out).1
    );
}

#[test]
fn check_config_shows_every_timeout_with_its_origin_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let body = GOOD.replace("ping_interval=1\n", "ping_interval=1\nsql_timeout=7.5\n");
    let c = conf(dir.path(), "app1.cnf", &body);
    let out = run_mha(&mha_bin(), &["check_config", "--conf", &c]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let line = |key: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"))
            .to_string()
    };
    assert!(stdout.contains("\n[timeouts]\n"), "{stdout}");
    // Line 2 is the manager_workdir that conf() adds.
    let sql = line("sql_timeout");
    assert!(
        sql.starts_with("sql_timeout = 7.5 ")
            && sql.ends_with(&format!("# [server default] {c}:6")),
        "{sql}"
    );
    for (key, value) in [
        ("observe_timeout", "3"),
        ("relay_log_apply_timeout", "600"),
        ("dead_master_recheck_timeout", "0.3"),
        (
            "switch_lock_wait_timeout",
            "\"3 × --running_updates_limit\"",
        ),
        ("hook_timeout", "60"),
    ] {
        let l = line(key);
        assert!(
            l.starts_with(&format!("{key} = {value} ")) && l.ends_with("# default"),
            "{l}"
        );
    }
    let out = run_mha(
        &mha_bin(),
        &["check_config", "--conf", &c, "--output", "json"],
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let timeouts = doc["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "timeouts")
        .unwrap();
    let sql = timeouts["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "sql_timeout")
        .unwrap();
    assert_eq!(sql["value"], serde_json::json!(7.5));
    assert_eq!(sql["origin"]["from"], "server_default");
    assert_eq!(sql["origin"]["line"], 6);

    let c = conf(
        dir.path(),
        "bad.cnf",
        &GOOD.replace("ping_interval=1\n", "ping_interval=1\nsql_timeout=0\n"),
    );
    for sub in ["check_config", "manager", "check_repl"] {
        let out = run_mha(&mha_bin(), &[sub, "--conf", &c]);
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 78, "{sub}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{c}:6: [server default] sql_timeout: expected a number of seconds greater than 0 and at most 86400 (fractions allowed), got \"0\""
            )),
            "{stderr}"
        );
    }
}

#[test]
fn usage_errors_exit_64() {
    let out = run_mha(
        &mha_bin(),
        &["manager", "--conf", "x.cnf", "--no_such_option"],
    );
    assert_eq!(code(&out), 64);
    let out = run_mha(
        &mha_bin(),
        &["master_switch", "--conf", "x.cnf", "--master_state=sleepy"],
    );
    assert_eq!(code(&out), 64);
    assert!(
        text(&out)
            .1
            .contains("invalid value 'sleepy' for '--master_state"),
        "{}",
        text(&out).1
    );
    // --master_state=dead needs --dead_master_host, as in MHA.
    let out = run_mha(
        &mha_bin(),
        &["master_switch", "--conf", "x.cnf", "--master_state=dead"],
    );
    assert_eq!(code(&out), 64);
    assert!(
        text(&out).1.contains("--dead_master_host"),
        "{}",
        text(&out).1
    );
}

#[test]
fn master_switch_alive_parses_mha_options_and_refuses_with_servers_down() {
    let dir = tempfile::tempdir().unwrap();
    let c = conf(
        dir.path(),
        "app1.cnf",
        "[server default]\nuser=mha\n[server1]\nhostname=127.0.0.1\nport=1\n[server2]\nhostname=127.0.0.1\nport=2\n",
    );
    let out = run_mha(
        &mha_bin(),
        &[
            "master_switch",
            "--master_state=alive",
            "--conf",
            &c,
            "--new_master_host=127.0.0.1",
            "--new_master_port=2",
            "--orig_master_is_new_slave",
            "--running_updates_limit=2",
            "--running_seconds_limit=5",
            "--interactive=0",
            "--skip_lock_all_tables",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stdout}{stderr}");
    assert!(
        stdout.contains("Switching master should not be started if one or more servers is down"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Switch refused: nothing was changed."),
        "{stdout}"
    );
}

#[test]
fn masterha_program_names_behave_as_mha_tools() {
    let dir = tempfile::tempdir().unwrap();
    let c = conf(dir.path(), "app1.cnf", GOOD);
    for (name, sub) in [
        ("masterha_check_status", "check_status"),
        ("masterha_manager", "manager"),
        ("masterha_check_repl", "check_repl"),
        ("masterha_master_switch", "master_switch"),
        ("purge_relay_logs", "purge_relay_logs"),
    ] {
        let link = dir.path().join(name);
        std::os::unix::fs::symlink(mha_bin(), &link).unwrap();
        let out = run_mha(&link, &["--help"]);
        let (stdout, _) = text(&out);
        assert_eq!(code(&out), 0);
        assert!(
            stdout.contains(&format!("Usage: mha {sub}")),
            "{name}: {stdout}"
        );
        if sub == "check_status" {
            // No manager runs for this application: MHA's exact line and code.
            let out = run_mha(&link, &["--conf", &c]);
            assert_eq!(
                (code(&out), text(&out).0.trim()),
                (2, "app1 is stopped(2:NOT_RUNNING).")
            );
        }
    }
    // masterha_master_monitor = manager --monitor_only: with no server reachable its
    // start-up checks fail (exit 1) and name the cause.
    let link = dir.path().join("masterha_master_monitor");
    std::os::unix::fs::symlink(mha_bin(), &link).unwrap();
    let bad = conf(
        dir.path(),
        "down.cnf",
        "[server default]\nuser=mha\n[server1]\nhostname=127.0.0.1\nport=1\n[server2]\nhostname=127.0.0.1\nport=2\n",
    );
    let out = run_mha(&link, &["--conf", &bad]);
    assert_eq!(code(&out), 1, "{}", text(&out).1);
    assert!(
        text(&out).1.contains("no server is reachable"),
        "{}",
        text(&out).1
    );
}

#[test]
fn help_documents_every_subcommand_its_options_and_exit_codes() {
    let subs = [
        "manager",
        "check_ssh",
        "check_repl",
        "check_status",
        "master_switch",
        "conf_host",
        "stop",
        "check_config",
        "sandbox",
        "secondary_check",
        "purge_relay_logs",
    ];
    for sub in subs {
        let out = run_mha(&mha_bin(), &[sub, "--help"]);
        let (stdout, _) = text(&out);
        assert_eq!(code(&out), 0, "{sub}");
        assert!(
            stdout.contains("Exit codes"),
            "{sub} help lacks exit codes:\n{stdout}"
        );
        // Kebab-case aliases reach the same subcommand.
        let kebab = sub.replace('_', "-");
        assert_eq!(
            code(&run_mha(&mha_bin(), &[&kebab, "--help"])),
            0,
            "{kebab}"
        );
    }
    let out = run_mha(&mha_bin(), &["manager", "--help"]);
    for opt in [
        "--conf",
        "--global_conf",
        "--remove_dead_master_conf",
        "--ignore_last_failover",
        "--last_failover_minute",
        "--new_master_host",
        "--monitor_only",
        "--dry-run",
        "78  configuration error",
    ] {
        assert!(text(&out).0.contains(opt), "manager --help lacks {opt}");
    }
    let out = run_mha(&mha_bin(), &["check_status", "--help"]);
    for s in [
        "PING_OK",
        "NOT_RUNNING",
        "PARTIALLY_RUNNING",
        "INITIALIZING_MONITOR",
        "PING_FAILING",
        "PING_FAILED",
        "RETRYING_MONITOR",
        "CONFIG_ERROR",
        "TIMESTAMP_OLD",
        "FAILOVER_RUNNING",
        "FAILOVER_ERROR",
    ] {
        assert!(text(&out).0.contains(s), "check_status --help lacks {s}");
    }
}
