//! Both readers on good files, on many broken ones (each message checked), the seed's MHA
//! sample, and TOML ⇄ INI equivalence of the shipped samples.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn no_global() -> GlobalConf {
    // A path that exists but is empty keeps the machine's /etc/masterha_default.cnf out.
    let dir = std::env::temp_dir().join("mha-unit-empty-global");
    std::fs::create_dir_all(&dir).unwrap();
    GlobalConf::Explicit(write(&dir, "empty.cnf", ""))
}

/// Load `text` as file `name` and return the error lines.
fn errors(name: &str, text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, text);
    match load(&p, &no_global()) {
        Ok(_) => panic!("{name} should not load:\n{text}"),
        Err(e) => {
            e.0.iter()
                .map(|e| e.to_string().replace(&*dir.path().to_string_lossy(), "D"))
                .collect()
        }
    }
}

#[test]
fn broken_ini_files_name_file_line_block_and_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[server default]\nuser=mha\npasword=x\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:3: [server default] pasword: unknown parameter (did you mean `password`?)",
            ],
        ),
        (
            "[server1]\nhostname=h1\ncandidate_mastr=1\n",
            &[
                "D/app1.cnf:3: [server1] candidate_mastr: unknown parameter (did you mean `candidate_master`?)",
            ],
        ),
        (
            "[server1]\nhostname=h1\nbogus=1\n",
            &["D/app1.cnf:3: [server1] bogus: unknown parameter"],
        ),
        (
            "[srv1]\nhostname=h1\n",
            &[
                "D/app1.cnf:1: block name \"srv1\" is invalid: it must be \"server default\" or start with \"server\" or \"binlog\" (+ non-whitespace characters)",
            ],
        ),
        (
            "[server1]\nport=3307\n",
            &["D/app1.cnf:1: [server1] has no hostname; every server needs `hostname`"],
        ),
        (
            "[server1]\nhostname=h1\n[server2]\nhostname=h1\n",
            &[
                "D/app1.cnf:3: [server2] h1:3306 is already used by [server1]; each server needs its own address and port",
            ],
        ),
        (
            "[server1]\nhostname=h1\nport=abc\n",
            &["D/app1.cnf:3: [server1] port: expected a port number 1-65535, got \"abc\""],
        ),
        (
            "[server1]\nhostname=h1\nport=70000\n",
            &["D/app1.cnf:3: [server1] port: expected a port number 1-65535, got \"70000\""],
        ),
        (
            "[server1]\nhostname=h1\ncandidate_master=yes\n",
            &["D/app1.cnf:3: [server1] candidate_master: expected 0 or 1, got \"yes\""],
        ),
        (
            "[server default]\nping_type=PING\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:2: [server default] ping_type: expected one of SELECT, CONNECT, INSERT, got \"PING\"",
            ],
        ),
        (
            "[server default]\nsemi_sync=yes\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:2: [server default] semi_sync: expected one of auto, on, off, got \"yes\"",
            ],
        ),
        (
            "[server1]\nhostname=h1\nsemi_sync=on\n",
            &[
                "D/app1.cnf:3: [server1] semi_sync: `semi_sync` is application-wide; set it in [server default]",
            ],
        ),
        (
            "[server default]\nping_interval=0\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:2: [server default] ping_interval: expected a number of seconds greater than 0 (fractions allowed), got \"0\"",
            ],
        ),
        (
            "[server default]\nssh_connection_timeout=1.5\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:2: [server default] ssh_connection_timeout: expected a whole number of seconds greater than 0, got \"1.5\"",
            ],
        ),
        (
            "[server default]\nhostname=h0\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:2: [server default] hostname: `hostname` identifies one server; set it in that server's block, not in [server default]",
            ],
        ),
        (
            "[server1]\nhostname=h1\nping_interval=1\n",
            &[
                "D/app1.cnf:3: [server1] ping_interval: `ping_interval` is application-wide; set it in [server default]",
            ],
        ),
        (
            "[server1]\nhostname=h1\n[binlog1]\nhostname=b1\ncandidate_master=1\n",
            &[
                "D/app1.cnf:5: [binlog1] candidate_master: `candidate_master` is not allowed in a binlog server block",
            ],
        ),
        (
            "[server1]\nhostname=h1\nport=3306\nport=3307\n",
            &["D/app1.cnf:4: [server1] port: set twice in this block (first at line 3)"],
        ),
        (
            "[server1]\nhostname=h1\n[server1]\nhostname=h2\n",
            &["D/app1.cnf:3: block [server1] is defined twice (first at line 1)"],
        ),
        (
            "[server1]\nhostname h1\n",
            &["D/app1.cnf:2: expected `[block]` or `key=value`, found \"hostname h1\""],
        ),
        (
            "user=mha\n[server1]\nhostname=h1\n",
            &["D/app1.cnf:1: user: `user` appears before any block; put it under [server default]"],
        ),
        (
            "[server1\nhostname=h1\n",
            &["D/app1.cnf:1: block header \"[server1\" has no closing `]`"],
        ),
        (
            "[server default]\nuser=mha\n",
            &["D/app1.cnf: no server is defined; add a [server1] block with a hostname"],
        ),
        (
            "[server default]\npassword=a\npassword_env=X\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf: [server default] password: password and password_env are all set; give the secret one way only",
            ],
        ),
        (
            "[server default]\npassword_file=/nonexistent/pw\n[server1]\nhostname=h1\n",
            &[
                "D/app1.cnf:2: password_file: cannot read /nonexistent/pw: No such file or directory (os error 2)",
            ],
        ),
        (
            "[server1]\nhostname=h1\nrepl_password_env=MHA_TEST_SURELY_UNSET\n",
            &[
                "D/app1.cnf:3: [server1] repl_password_env: environment variable MHA_TEST_SURELY_UNSET is not set",
            ],
        ),
        (
            "[server1]\nhostname=h1\nssh_port=0\n",
            &["D/app1.cnf:3: [server1] ssh_port: expected a port number 1-65535, got \"0\""],
        ),
        // Several problems are reported together.
        (
            "[server default]\npingtype=SELECT\n[server1]\nport=x\n",
            &[
                "D/app1.cnf:2: [server default] pingtype: unknown parameter (did you mean `ping_type`?)",
                "D/app1.cnf:4: [server1] port: expected a port number 1-65535, got \"x\"",
                "D/app1.cnf:3: [server1] has no hostname; every server needs `hostname`",
            ],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(errors("app1.cnf", text), *want, "for:\n{text}");
    }
}

#[test]
fn broken_toml_files_name_file_line_block_and_key() {
    let cases: &[(&str, &[&str])] = &[
        (
            "[server1]\nhostname = \"h1\"\nport = \"abc\"\n",
            &["D/app1.toml:3: [server1] port: expected a port number 1-65535, got \"abc\""],
        ),
        (
            "[server1]\nhostname = \"h1\"\ncandidate_master = 2\n",
            &["D/app1.toml:3: [server1] candidate_master: expected 0 or 1, got 2"],
        ),
        (
            "[server1]\nhostname = \"h1\"\nhostnme = \"x\"\n",
            &["D/app1.toml:3: [server1] hostnme: unknown parameter (did you mean `hostname`?)"],
        ),
        (
            "[server1]\nhostname = h1\n",
            &["D/app1.toml:2: invalid TOML: string values must be quoted, expected literal string"],
        ),
        (
            "[server1]\nhostname = \"h1\"\n[server1.extra]\nport = 1\n",
            &[
                "D/app1.toml:3: [server1] extra: nested tables are not allowed; write plain `key = value` lines",
            ],
        ),
        (
            "user = \"mha\"\n[server1]\nhostname = \"h1\"\n",
            &["D/app1.toml:1: user: `user` is outside any table; put it under [server_default]"],
        ),
        (
            "[server1]\nhostname = \"h1\"\nmaster_binlog_dir = [1, 2]\n",
            &["D/app1.toml:3: [server1] master_binlog_dir: expected an array of strings"],
        ),
        (
            "[server1]\nhostname = 5\n",
            &["D/app1.toml:2: [server1] hostname: expected a string, got 5"],
        ),
        (
            "[mysql]\nhostname = \"h1\"\n",
            &[
                "D/app1.toml:1: block name \"mysql\" is invalid: it must be \"server default\" or start with \"server\" or \"binlog\" (+ non-whitespace characters)",
            ],
        ),
        (
            "[server_default]\nping_interval = -1.0\n[server1]\nhostname = \"h1\"\n",
            &[
                "D/app1.toml:2: [server default] ping_interval: expected a number of seconds greater than 0 (fractions allowed), got -1",
            ],
        ),
        (
            "[server_default]\nssh_user = true\n[server1]\nhostname = \"h1\"\n",
            &["D/app1.toml:2: [server default] ssh_user: expected a string, got true"],
        ),
    ];
    for (text, want) in cases {
        assert_eq!(errors("app1.toml", text), *want, "for:\n{text}");
    }
}

#[test]
fn seed_sample_app1_cnf_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seed-app1.cnf");
    let loaded = load(&path, &no_global()).unwrap();
    let c = &loaded.config;
    assert_eq!(c.app_name, "seed-app1");
    assert_eq!(
        c.servers
            .iter()
            .map(|s| s.block.as_str())
            .collect::<Vec<_>>(),
        ["server1", "server2", "server3"]
    );
    let s2 = &c.servers[1];
    assert!(s2.candidate_master && !s2.check_repl_delay && !s2.no_master);
    assert!(c.servers[2].no_master && c.servers[2].check_repl_delay);
    assert_eq!(s2.password.expose(), "mysqlpass");
    assert_eq!(s2.repl_password.as_ref().unwrap().expose(), "replpass");
    assert_eq!(
        s2.master_binlog_dir,
        [
            PathBuf::from("/var/lib/mysql"),
            PathBuf::from("/var/log/mysql")
        ]
    );
    assert_eq!(s2.port, 3306);
    assert_eq!(s2.user, "root");
    assert_eq!(s2.ip, "host2");
    assert_eq!(
        c.app.secondary_check_script.as_deref(),
        Some("masterha_secondary_check -s remote_host1 -s remote_host2")
    );
    assert_eq!(c.app.ping_interval, Duration::from_secs(3));
    assert_eq!(c.app.ping_type, PingType::Select);
    assert_eq!(c.app.ping_failures, 4);
    assert!(c.app.fast_crash_detection);
    assert_eq!(c.app.semi_sync, SemiSyncSetting::Auto);
    assert_eq!(
        c.app.report_script.as_deref(),
        Some("/script/masterha/send_report")
    );
}

/// The shipped samples point at /etc/mha/*.password; give them real files in a temp dir.
fn load_sample(name: &str, secrets: &Path) -> Config {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples")
        .join(name);
    let text = std::fs::read_to_string(src)
        .unwrap()
        .replace("/etc/mha/", &format!("{}/", secrets.display()));
    let p = write(secrets, name, &text);
    load(&p, &no_global()).unwrap().config
}

#[test]
fn samples_toml_and_ini_describe_the_same_cluster() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "app1.password", "s3cret\n");
    write(dir.path(), "app1.repl_password", "r3pl\n");
    let toml = load_sample("app1.toml", dir.path());
    let ini = load_sample("app1.cnf", dir.path());
    assert_eq!(toml.app, ini.app);
    assert_eq!(toml.servers, ini.servers);
    assert_eq!(toml.binlog_servers, ini.binlog_servers);
    assert_eq!(toml.app_name, "app1");
    assert_eq!(toml.servers[0].password.expose(), "s3cret");
    assert_eq!(toml.servers.len(), 3);
    // Values agree, origins differ only by file name.
    let strip = |c: &Config| {
        c.effective
            .iter()
            .flat_map(|b| {
                b.entries
                    .iter()
                    .map(move |e| (b.name.clone(), e.key.clone(), e.value.clone()))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&toml), strip(&ini));
}

#[test]
fn layering_global_then_app_then_script_then_server() {
    let dir = tempfile::tempdir().unwrap();
    let global = write(
        dir.path(),
        "global.cnf",
        "[server default]\nuser=g_user\nssh_port=2222\nping_interval=5\nmanager_workdir=/g\n",
    );
    let script = write(
        dir.path(),
        "creds.sh",
        "echo repl_user=from_script\necho password=pw_from_script\n",
    );
    let app = write(
        dir.path(),
        "prod.toml",
        &format!(
            "[server_default]\nuser = \"app_user\"\nping_interval = 0.5\ninit_conf_load_script = \"sh {}\"\n\
         [server1]\nhostname = \"h1\"\n[server2]\nhostname = \"h2\"\nuser = \"own\"\nssh_port = 22\n",
            script.display()
        ),
    );
    let c = load(&app, &GlobalConf::Explicit(global)).unwrap().config;
    assert_eq!(c.app_name, "prod");
    assert_eq!(c.app.ping_interval, Duration::from_millis(500));
    assert_eq!(c.app.manager_workdir, PathBuf::from("/g"));
    assert_eq!(
        (c.servers[0].user.as_str(), c.servers[0].ssh.port),
        ("app_user", 2222)
    );
    assert_eq!(
        (c.servers[1].user.as_str(), c.servers[1].ssh.port),
        ("own", 22)
    );
    assert_eq!(c.servers[0].repl_user.as_deref(), Some("from_script"));
    assert_eq!(c.servers[0].password.expose(), "pw_from_script");
    let origin = |block: &str, key: &str| {
        c.effective
            .iter()
            .find(|b| b.name == block)
            .and_then(|b| b.entries.iter().find(|e| e.key == key))
            .map(|e| {
                e.origin
                    .to_string()
                    .replace(&*dir.path().to_string_lossy(), "D")
            })
            .unwrap()
    };
    assert_eq!(
        origin("application", "manager_workdir"),
        "global D/global.cnf:5"
    );
    assert_eq!(origin("server1", "user"), "[server default] D/prod.toml:2");
    assert_eq!(
        origin("server1", "repl_user"),
        "init_conf_load_script output line 1"
    );
    assert_eq!(origin("server2", "user"), "[server2] D/prod.toml:9");
    assert_eq!(origin("server1", "port"), "default");
    // The password itself never appears in the effective view.
    let json = serde_json::to_string(&c.effective).unwrap();
    assert!(!json.contains("pw_from_script"), "{json}");
}

#[test]
fn explicit_global_file_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let app = write(dir.path(), "a.cnf", "[server1]\nhostname=h\n");
    let err = load(&app, &GlobalConf::Explicit(dir.path().join("nope.cnf"))).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("nope.cnf: global configuration file (--global_conf) not found"),
        "{err}"
    );
}

#[test]
fn secrets_from_file_and_env_and_world_readable_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let pw = write(dir.path(), "pw", "from-file\nignored second line\n");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
    // SAFETY: tests in this module do not read this variable concurrently.
    unsafe { std::env::set_var("MHA_UNIT_REPL_PW", "from-env") };
    let app = write(
        dir.path(),
        "a.cnf",
        &format!(
            "[server default]\npassword_file={}\nrepl_password_env=MHA_UNIT_REPL_PW\n[server1]\nhostname=h\n",
            pw.display()
        ),
    );
    std::fs::set_permissions(&app, std::fs::Permissions::from_mode(0o600)).unwrap();
    let loaded = load(&app, &no_global()).unwrap();
    let s = &loaded.config.servers[0];
    assert_eq!(s.password.expose(), "from-file");
    assert_eq!(s.repl_password.as_ref().unwrap().expose(), "from-env");
    assert_eq!(
        loaded.warnings,
        [format!(
            "{} holds a secret (password_file) and is readable by every user; run: chmod o-r {}",
            pw.display(),
            pw.display()
        )]
    );
    assert!(!format!("{:?}", loaded.config).contains("from-file"));
}

#[test]
fn server_order_toml_is_file_order_ini_is_mha_order() {
    let dir = tempfile::tempdir().unwrap();
    let body = "[server10]\nhostname=a\n[server2]\nhostname=b\n";
    let ini = load(&write(dir.path(), "x.cnf", body), &no_global())
        .unwrap()
        .config;
    let toml_body = "[server10]\nhostname=\"a\"\n[server2]\nhostname=\"b\"\n";
    let toml = load(&write(dir.path(), "x.toml", toml_body), &no_global())
        .unwrap()
        .config;
    let names = |c: &Config| {
        c.servers
            .iter()
            .map(|s| s.block.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&ini), ["server2", "server10"]);
    assert_eq!(names(&toml), ["server10", "server2"]);
}

#[test]
fn every_default_parses_and_every_key_is_documented() {
    let docs = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/configuration.md"),
    )
    .unwrap();
    for def in keys::KEYS {
        assert!(
            docs.contains(&format!("| `{}` |", def.name)),
            "docs/configuration.md lacks `{}`",
            def.name
        );
    }
    // Defaults are parsed on every load; a bad default would silently vanish.
    let dir = tempfile::tempdir().unwrap();
    let c = load(
        &write(dir.path(), "d.cnf", "[server1]\nhostname=h\n"),
        &no_global(),
    )
    .unwrap()
    .config;
    let s = &c.servers[0];
    assert_eq!(
        (s.port, s.ssh.port, s.ssh.connection_timeout),
        (3306, 22, Duration::from_secs(5))
    );
    assert!(
        s.check_repl_delay
            && s.check_repl_filter
            && s.latest_priority
            && s.handle_raw_binlog
            && s.use_gtid_auto_pos
    );
    assert_eq!(
        s.master_binlog_dir,
        [
            PathBuf::from("/var/lib/mysql"),
            PathBuf::from("/var/log/mysql")
        ]
    );
    assert_eq!(c.app.ping_interval, Duration::from_secs(3));
    assert_eq!(c.app.manager_workdir, PathBuf::from("/var/tmp"));
    assert_eq!(s.remote_workdir, PathBuf::from("/var/tmp"));
}

/// Neither reader panics on arbitrary input: byte-level mutations of real files.
#[test]
fn parsers_never_panic_on_mutated_input() {
    let seeds = [
        include_str!("../../samples/app1.cnf"),
        include_str!("../../samples/app1.toml"),
        include_str!("../../tests/fixtures/seed-app1.cnf"),
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let alphabet = b"[]=\"'#;\n ,.-_\\{}0123456789abcxyz\t\x00\xff";
    for round in 0..3000 {
        let mut bytes = seeds[round % seeds.len()].as_bytes().to_vec();
        for _ in 0..(1 + next() % 8) {
            let pos = (next() as usize) % (bytes.len() + 1);
            match next() % 3 {
                0 if pos < bytes.len() => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let text = String::from_utf8_lossy(&bytes);
        let _ = mha_cnf::parse(Path::new("f.cnf"), &text);
        let _ = toml::parse(Path::new("f.toml"), &text);
    }
}

#[test]
fn fast_crash_detection_is_on_unless_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let load_with = |extra: &str| {
        let text = format!("[server default]\n{extra}[server1]\nhostname=h\n");
        load(&write(dir.path(), "f.cnf", &text), &no_global())
            .unwrap()
            .config
            .app
            .fast_crash_detection
    };
    assert!(load_with(""));
    assert!(load_with("fast_crash_detection=1\n"));
    assert!(!load_with("fast_crash_detection=0\n"));
}

/// MHA reads the promotion rules per server only: in [server default] they are ignored
/// (the file still loads, with a warning), never inherited by every server.
#[test]
fn promotion_rules_are_not_inherited_from_server_default() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "app1.cnf",
        "[server default]\nuser=mha\npassword=x\ncandidate_master=1\nno_master=1\nignore_fail=1\nskip_init_ssh_check=1\n\
         [server1]\nhostname=127.0.0.1\n[server2]\nhostname=127.0.0.2\ncandidate_master=1\n",
    );
    let loaded = load(&p, &no_global()).unwrap();
    let s = &loaded.config.servers;
    assert!(!s[0].candidate_master && s[1].candidate_master);
    assert!(
        s.iter()
            .all(|s| !s.no_master && !s.ignore_fail && !s.skip_init_ssh_check)
    );
    for key in [
        "candidate_master",
        "no_master",
        "ignore_fail",
        "skip_init_ssh_check",
    ] {
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.contains(&format!("`{key}` in [server default] is ignored"))),
            "{key}: {:?}",
            loaded.warnings
        );
    }
}

/// Every timeout key, the field it sets, and a value that is not its default.
/// Reads one field of [`Timeouts`].
type Field = fn(&Timeouts) -> Duration;

fn timeout_fields() -> Vec<(&'static str, Field)> {
    vec![
        ("sql_timeout", |t| t.sql),
        ("observe_timeout", |t| t.observe),
        ("watch_connect_timeout", |t| t.watch_connect),
        ("heartbeat_wait_timeout", |t| t.heartbeat_wait),
        ("detection_max_age", |t| t.detection_max_age),
        ("dead_master_connect_timeout", |t| t.dead_master_connect),
        ("dead_master_recheck_timeout", |t| t.dead_master_recheck),
        ("dead_master_ssh_timeout", |t| t.dead_master_ssh),
        ("fence_kill_timeout", |t| t.fence_kill),
        ("binlog_save_timeout", |t| t.binlog_save),
        ("relay_log_apply_timeout", |t| t.relay_log_apply),
        ("replication_start_timeout", |t| t.replication_start),
        ("failover_catch_up_timeout", |t| t.failover_catch_up),
        ("switch_catch_up_timeout", |t| t.switch_catch_up),
        ("switch_orig_master_catch_up_timeout", |t| {
            t.switch_orig_master_catch_up
        }),
        ("switch_lock_wait_timeout", |t| {
            t.switch_lock_wait.unwrap_or_default()
        }),
        ("check_ssh_timeout", |t| t.check_ssh),
    ]
}

#[test]
fn timeouts_default_to_the_values_mha_hard_coded() {
    let c = from_text("[server1]\nhostname=h\n");
    assert_eq!(c.app.timeouts, Timeouts::default());
    let t = &c.app.timeouts;
    let s = Duration::from_secs;
    assert_eq!(
        [
            t.sql,
            t.observe,
            t.watch_connect,
            t.heartbeat_wait,
            t.detection_max_age,
            t.dead_master_connect,
            t.dead_master_recheck,
            t.dead_master_ssh,
            t.fence_kill,
            t.binlog_save,
            t.relay_log_apply,
            t.replication_start,
            t.failover_catch_up,
            t.switch_catch_up,
            t.switch_orig_master_catch_up,
            t.check_ssh,
        ],
        [
            s(5),
            s(3),
            s(2),
            s(30),
            s(30),
            s(1),
            Duration::from_millis(300),
            s(3),
            s(10),
            s(120),
            s(600),
            s(15),
            s(120),
            s(30),
            s(10),
            s(10),
        ]
    );
    // Unset, the switch's lock wait is 3 × --running_updates_limit, as before it was a key.
    assert_eq!(t.switch_lock_wait, None);
    assert_eq!(t.switch_lock_wait(1), s(3));
    assert_eq!(t.switch_lock_wait(5), s(15));
    assert_eq!(t.switch_lock_wait(0), s(3));
    assert_eq!(c.app.hook_timeout, s(60));
}

#[test]
fn every_timeout_key_sets_its_field_from_ini_and_toml() {
    // Every Timeout key is in the table, and every key of the table is a Timeout key.
    let table = timeout_fields();
    let timeout_keys: Vec<&str> = keys::KEYS
        .iter()
        .filter(|d| d.kind == keys::Kind::Timeout)
        .map(|d| d.name)
        .collect();
    assert_eq!(
        table.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        timeout_keys
    );
    let dir = tempfile::tempdir().unwrap();
    for (key, field) in &table {
        let def = keys::find(key).unwrap();
        assert!(
            def.timeout && def.scope == keys::Scope::App && !def.mha,
            "{key}"
        );
        for (value, want) in [
            ("42", Duration::from_secs(42)),
            ("0.25", Duration::from_millis(250)),
            ("86400", Duration::from_secs(86_400)),
        ] {
            let ini = format!("[server default]\n{key}={value}\n[server1]\nhostname=h\n");
            let toml = format!("[server_default]\n{key} = {value}\n[server1]\nhostname = \"h\"\n");
            for (name, text) in [("t.cnf", ini), ("t.toml", toml)] {
                let c = load(&write(dir.path(), name, &text), &no_global())
                    .unwrap()
                    .config;
                assert_eq!(field(&c.app.timeouts), want, "{name}: {key}={value}");
                let shown = c
                    .effective
                    .iter()
                    .find(|b| b.name == "timeouts")
                    .and_then(|b| b.entries.iter().find(|e| e.key == *key))
                    .unwrap();
                assert_eq!(
                    shown
                        .origin
                        .to_string()
                        .replace(&*dir.path().to_string_lossy(), "D"),
                    format!("[server default] D/{name}:2")
                );
            }
        }
    }
}

#[test]
fn bad_timeouts_name_file_line_block_and_key() {
    let expected =
        "expected a number of seconds greater than 0 and at most 86400 (fractions allowed)";
    let ini: &[(&str, String)] = &[
        ("sql_timeout=0", format!("D/app1.cnf:2: [server default] sql_timeout: {expected}, got \"0\"")),
        ("observe_timeout=-3", format!("D/app1.cnf:2: [server default] observe_timeout: {expected}, got \"-3\"")),
        ("relay_log_apply_timeout=10m", format!("D/app1.cnf:2: [server default] relay_log_apply_timeout: {expected}, got \"10m\"")),
        ("failover_catch_up_timeout=86401", format!("D/app1.cnf:2: [server default] failover_catch_up_timeout: {expected}, got \"86401\"")),
        ("fence_kill_timeout=", format!("D/app1.cnf:2: [server default] fence_kill_timeout: {expected}, got \"\"")),
        ("dead_master_recheck_timeout=1e-12", format!("D/app1.cnf:2: [server default] dead_master_recheck_timeout: {expected}, got \"1e-12\"")),
        ("switch_lock_wait_timeout=nan", format!("D/app1.cnf:2: [server default] switch_lock_wait_timeout: {expected}, got \"nan\"")),
        ("sql_timout=5", "D/app1.cnf:2: [server default] sql_timout: unknown parameter (did you mean `sql_timeout`?)".into()),
        ("relay_log_apply_timout=5", "D/app1.cnf:2: [server default] relay_log_apply_timout: unknown parameter (did you mean `relay_log_apply_timeout`?)".into()),
    ];
    for (line, want) in ini {
        let text = format!("[server default]\n{line}\n[server1]\nhostname=h1\n");
        assert_eq!(errors("app1.cnf", &text), vec![want.clone()], "for {line}");
    }
    // Application-wide: not in a server block, not in a binlog block.
    assert_eq!(
        errors("app1.cnf", "[server1]\nhostname=h1\nsql_timeout=9\n"),
        [
            "D/app1.cnf:3: [server1] sql_timeout: `sql_timeout` is application-wide; set it in [server default]"
        ]
    );
    assert_eq!(
        errors(
            "app1.cnf",
            "[server1]\nhostname=h1\n[binlog1]\nhostname=b1\nbinlog_save_timeout=9\n"
        ),
        [
            "D/app1.cnf:5: [binlog1] binlog_save_timeout: `binlog_save_timeout` is not allowed in a binlog server block"
        ]
    );
    let toml: &[(&str, String)] = &[
        (
            "sql_timeout = 0",
            format!("D/app1.toml:2: [server default] sql_timeout: {expected}, got 0"),
        ),
        (
            "catch_up = 1",
            "D/app1.toml:2: [server default] catch_up: unknown parameter".into(),
        ),
        (
            "switch_catch_up_timeout = -0.5",
            format!(
                "D/app1.toml:2: [server default] switch_catch_up_timeout: {expected}, got -0.5"
            ),
        ),
        (
            "replication_start_timeout = true",
            format!(
                "D/app1.toml:2: [server default] replication_start_timeout: {expected}, got true"
            ),
        ),
        (
            "check_ssh_timeout = \"ten\"",
            format!("D/app1.toml:2: [server default] check_ssh_timeout: {expected}, got \"ten\""),
        ),
        (
            "heartbeat_wait_timeout = 1e9",
            format!(
                "D/app1.toml:2: [server default] heartbeat_wait_timeout: {expected}, got 1000000000"
            ),
        ),
    ];
    for (line, want) in toml {
        let text = format!("[server_default]\n{line}\n[server1]\nhostname = \"h1\"\n");
        assert_eq!(errors("app1.toml", &text), vec![want.clone()], "for {line}");
    }
}

#[test]
fn timeouts_layer_like_every_application_key_and_check_config_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let global = write(
        dir.path(),
        "global.cnf",
        "[server default]\nsql_timeout=8\nfence_kill_timeout=20\n",
    );
    let script = write(dir.path(), "t.sh", "echo relay_log_apply_timeout=1800\n");
    let app = write(
        dir.path(),
        "app1.cnf",
        &format!(
            "[server default]\nsql_timeout=2.5\nswitch_lock_wait_timeout=7\ninit_conf_load_script=sh {}\n[server1]\nhostname=h\n",
            script.display()
        ),
    );
    let c = load(&app, &GlobalConf::Explicit(global)).unwrap().config;
    let t = &c.app.timeouts;
    assert_eq!(t.sql, Duration::from_millis(2500));
    assert_eq!(t.fence_kill, Duration::from_secs(20));
    assert_eq!(t.relay_log_apply, Duration::from_secs(1800));
    assert_eq!(t.switch_lock_wait, Some(Duration::from_secs(7)));
    // Set, it no longer depends on --running_updates_limit.
    assert_eq!(t.switch_lock_wait(5), Duration::from_secs(7));
    assert_eq!(t.observe, Duration::from_secs(3));
    let block = |name: &str| {
        c.effective
            .iter()
            .find(|b| b.name == name)
            .unwrap()
            .entries
            .iter()
            .map(|e| {
                (
                    e.key.as_str(),
                    e.value.to_string(),
                    e.origin
                        .to_string()
                        .replace(&*dir.path().to_string_lossy(), "D"),
                )
            })
            .collect::<Vec<_>>()
    };
    let timeouts = block("timeouts");
    // Every timeout key, hook_timeout included, in the table's order; no other key.
    let want: Vec<&str> = keys::KEYS
        .iter()
        .filter(|d| d.timeout)
        .map(|d| d.name)
        .collect();
    assert_eq!(timeouts.iter().map(|e| e.0).collect::<Vec<_>>(), want);
    assert_eq!(want[0], "hook_timeout");
    let get = |k: &str| timeouts.iter().find(|e| e.0 == k).cloned().unwrap();
    assert_eq!(
        get("sql_timeout"),
        (
            "sql_timeout",
            "2.5".into(),
            "[server default] D/app1.cnf:2".into()
        )
    );
    assert_eq!(
        get("fence_kill_timeout"),
        (
            "fence_kill_timeout",
            "20".into(),
            "global D/global.cnf:3".into()
        )
    );
    assert_eq!(
        get("relay_log_apply_timeout"),
        (
            "relay_log_apply_timeout",
            "1800".into(),
            "init_conf_load_script output line 1".into()
        )
    );
    assert_eq!(
        get("observe_timeout"),
        ("observe_timeout", "3".into(), "default".into())
    );
    assert_eq!(
        get("dead_master_recheck_timeout"),
        (
            "dead_master_recheck_timeout",
            "0.3".into(),
            "default".into()
        )
    );
    assert_eq!(get("switch_lock_wait_timeout").1, "7");
    // The application block no longer repeats them.
    assert!(
        block("application")
            .iter()
            .all(|e| !e.0.ends_with("_timeout"))
    );
    // Unset, the switch's lock wait is shown as what it then is.
    let c = from_text("[server1]\nhostname=h\n");
    let shown = c
        .effective
        .iter()
        .find(|b| b.name == "timeouts")
        .and_then(|b| {
            b.entries
                .iter()
                .find(|e| e.key == "switch_lock_wait_timeout")
        })
        .unwrap();
    assert_eq!(
        shown.value,
        serde_json::json!("3 × --running_updates_limit")
    );
    assert_eq!(shown.origin, Origin::Default);
}

#[test]
fn server_side_waits_are_whole_seconds_rounded_up() {
    for (d, want) in [
        (Duration::from_millis(300), 1),
        (Duration::from_secs(1), 1),
        (Duration::from_millis(2500), 3),
        (Duration::from_secs(120), 120),
        (Duration::from_secs_f64(86_400.0), 86_400),
    ] {
        assert_eq!(Timeouts::whole_secs(d), want, "{d:?}");
    }
}

/// Made by the openssl CLI in `dir`: ca.pem (a self-signed CA), client.pem and client.key
/// (a client certificate and its key), other.key (a key of no certificate), junk.pem.
fn tls_files(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl CLI (Debian: openssl)");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    for (name, cn) in [("ca", "/CN=test-ca"), ("client", "/CN=mha")] {
        let (key, pem) = (format!("{name}.key"), format!("{name}.pem"));
        let mut args = vec!["req", "-x509", "-days", "2", "-subj", cn];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem]);
        openssl(&args);
    }
    let other = ["genpkey", "-algorithm", "EC", "-out", "other.key"];
    openssl(&[&other[..], &["-pkeyopt", "ec_paramgen_curve:P-256"]].concat());
    write(dir, "junk.pem", "hello\n");
}

#[test]
fn etcd_tls_keys_are_checked_when_the_file_loads() {
    let pems = tempfile::tempdir().unwrap();
    tls_files(pems.path());
    let d = pems.path().to_string_lossy().to_string();
    let no_pem = "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
    let cases: &[(&str, &str)] = &[
        (
            "etcd_endpoints=https://127.0.0.1:2379\n",
            "D/app1.cnf:2: [server default] etcd_endpoints: https:// URLs need etcd_cacert (the PEM file of the CA that signed the etcd members' certificates)",
        ),
        (
            "etcd_endpoints=http://a:2379,https://b:2379\netcd_cacert=P/ca.pem\n",
            "D/app1.cnf:2: [server default] etcd_endpoints: mixes http:// and https:// URLs; give every member's URL with the same scheme",
        ),
        (
            "etcd_endpoints=http://a:2379\netcd_cacert=P/ca.pem\n",
            "D/app1.cnf:3: [server default] etcd_cacert: is set but etcd_endpoints are not https:// URLs; use https:// or remove it",
        ),
        (
            "etcd_endpoints=https://bad!host:2379\netcd_cacert=P/ca.pem\n",
            "D/app1.cnf:2: [server default] etcd_endpoints: `https://bad!host:2379`: the host `bad!host` is neither an IP address nor a DNS name",
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/nope.pem\n",
            "D/app1.cnf:3: [server default] etcd_cacert: cannot read P/nope.pem: No such file or directory (os error 2)",
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/junk.pem\n",
            &format!("D/app1.cnf:3: [server default] etcd_cacert: P/junk.pem: {no_pem}"),
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/ca.key\n",
            &format!("D/app1.cnf:3: [server default] etcd_cacert: P/ca.key: {no_pem}"),
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/ca.pem\netcd_cert=P/client.pem\n",
            "D/app1.cnf:4: [server default] etcd_cert: etcd_cert and etcd_key go together: set both or neither",
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/ca.pem\netcd_key=P/client.key\n",
            "D/app1.cnf:4: [server default] etcd_key: etcd_cert and etcd_key go together: set both or neither",
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/ca.pem\netcd_cert=P/client.key\netcd_key=P/client.key\n",
            &format!("D/app1.cnf:4: [server default] etcd_cert: P/client.key: {no_pem}"),
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/ca.pem\netcd_cert=P/client.pem\netcd_key=P/client.pem\n",
            "D/app1.cnf:5: [server default] etcd_key: P/client.pem: holds no PEM private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or EC PRIVATE KEY)",
        ),
        (
            "etcd_endpoints=https://a:2379\netcd_cacert=P/ca.pem\netcd_cert=P/client.pem\netcd_key=P/other.key\n",
            "D/app1.cnf:5: [server default] etcd_key: P/other.key: is not the key of the certificate in etcd_cert",
        ),
    ];
    for (keys, want) in cases {
        let text = format!(
            "[server default]\n{}[server1]\nhostname=h\n",
            keys.replace("P/", &format!("{d}/"))
        );
        let got: Vec<String> = errors("app1.cnf", &text)
            .into_iter()
            .map(|e| e.replace(&d, "P"))
            .collect();
        assert_eq!(got, [*want], "{keys}");
    }
}

#[test]
fn etcd_tls_loads_with_a_ca_and_a_client_certificate_and_hides_the_key() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    tls_files(dir.path());
    let p = |f: &str| dir.path().join(f).display().to_string();
    std::fs::set_permissions(p("client.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = write(
        dir.path(),
        "app1.toml",
        &format!(
            "[server_default]\netcd_endpoints = \"https://127.0.0.1:2379, https://[::1]:2379\"\n\
             etcd_cacert = \"{}\"\netcd_cert = \"{}\"\netcd_key = \"{}\"\n\n[server1]\nhostname = \"h\"\n",
            p("ca.pem"),
            p("client.pem"),
            p("client.key")
        ),
    );
    let loaded = load(&app, &no_global()).unwrap();
    let etcd = loaded.config.app.etcd.as_ref().unwrap();
    let tls = etcd.tls.as_ref().unwrap();
    let key = std::fs::read_to_string(p("client.key")).unwrap();
    assert_eq!(tls.ca_pem, std::fs::read_to_string(p("ca.pem")).unwrap());
    assert_eq!(tls.client.as_ref().unwrap().1.expose(), key);
    assert!(!format!("{:?}", loaded.config).contains(key.lines().nth(1).unwrap()));
    assert_eq!(
        loaded.warnings,
        [format!(
            "{} holds a secret (etcd_key) and is readable by every user; run: chmod o-r {}",
            p("client.key"),
            p("client.key")
        )]
    );
    // Without a client certificate too.
    let text = std::fs::read_to_string(&app).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("etcd_ce") && !l.starts_with("etcd_key"))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&app, text).unwrap();
    let loaded = load(&app, &no_global()).unwrap();
    assert_eq!(loaded.config.app.etcd.unwrap().tls.unwrap().client, None);
}
