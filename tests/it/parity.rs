//! MHA drop-in parity, the keys and behaviours of issue 13 that need no cluster: log_level,
//! ip resolution.

use crate::bed::{mha_bin, text};

/// `mha ARGS` with the environment's MHA_LOG removed (it wins over log_level).
fn mha(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(mha_bin())
        .args(args)
        .env_remove("MHA_LOG")
        .output()
        .unwrap();
    let (o, e) = text(&out);
    (out.status.code().unwrap(), o, e)
}

/// A config with one warning (candidate_master and no_master on one server) at `log_level`.
fn warning_conf(dir: &std::path::Path, level: &str) -> String {
    let p = dir.join(format!("app_{level}.cnf"));
    std::fs::write(
        &p,
        format!(
            "[server default]\nuser=mha\nssh_user=root\nlog_level={level}\nmanager_workdir={}\n\
             [server1]\nhostname=127.0.0.1\ncandidate_master=1\nno_master=1\n\
             [server2]\nhostname=127.0.0.1\nport=3307\n",
            dir.display()
        ),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

/// MHA's log_level: debug/info/warning log the config warning, error drops it; a level MHA
/// does not have is a config error (78) naming the key and line.
#[test]
fn log_level_is_the_least_severe_level_logged() {
    let dir = tempfile::tempdir().unwrap();
    let warning = "has both candidate_master=1 and no_master=1";
    for (level, shown) in [
        ("debug", true),
        ("info", true),
        ("warning", true),
        ("error", false),
    ] {
        let (code, _, err) = mha(&["check_config", "--conf", &warning_conf(dir.path(), level)]);
        assert_eq!(code, 0, "{level}: {err}");
        assert_eq!(err.contains(warning), shown, "{level}:\n{err}");
    }
    let (code, _, err) = mha(&["check_config", "--conf", &warning_conf(dir.path(), "loud")]);
    assert_eq!(code, 78, "{err}");
    assert!(
        err.contains(":4: [server default] log_level: expected one of debug, info, warning, error"),
        "{err}"
    );
}

/// A two-server config on loopback ports nobody listens on, with `server1` lines `extra`.
fn unreachable_conf(dir: &std::path::Path, name: &str, server1: &str) -> String {
    let p = dir.join(name);
    std::fs::write(
        &p,
        format!(
            "[server default]\nuser=mha\nssh_user=root\nmanager_workdir={}\n\
             [server1]\n{server1}\n[server2]\nhostname=127.0.0.1\nport=2\n",
            dir.display()
        ),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

/// MHA's values that mha has no mechanism for are refused (78) at their line with the
/// reason; node_label is shown by check_repl; `localhost` becomes its address (from
/// /etc/hosts, no DNS query) in the server names hooks and logs use.
#[test]
fn unsupported_values_refused_labels_shown_names_resolved() {
    let dir = tempfile::tempdir().unwrap();
    for (line, want) in [
        ("handle_raw_binlog=0", "handle_raw_binlog: 0 (MHA: convert"),
        ("disable_log_bin=1", "disable_log_bin: 1 (MHA: apply"),
    ] {
        let c = unreachable_conf(
            dir.path(),
            "refused.cnf",
            &format!("hostname=127.0.0.1\nport=1\n{line}"),
        );
        let (code, _, err) = mha(&["check_config", "--conf", &c]);
        assert_eq!(code, 78, "{line}: {err}");
        assert!(err.contains(&format!(":8: [server1] {want}")), "{err}");
        assert!(err.contains("remove the line"), "{err}");
    }
    let c = unreachable_conf(
        dir.path(),
        "app1.cnf",
        "hostname=localhost\nport=1\nnode_label=rack-a",
    );
    let (code, out, err) = mha(&["check_repl", "--conf", &c, "--skip_check_ssh"]);
    assert_eq!(code, 1, "{out}\n{err}");
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("server1 "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("localhost(127.0.0.1:1)") && line.ends_with(" label=rack-a"),
        "{out}"
    );
}
