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

/// The sandbox's app1.toml, rewritten line by line by `edit` (None drops the line), saved as
/// `name`.
fn edited_conf(
    c: &crate::bed::Cluster,
    name: &str,
    edit: impl Fn(&str) -> Option<String>,
) -> std::path::PathBuf {
    let text = std::fs::read_to_string(c.state.app_config()).unwrap();
    let out: Vec<String> = text.lines().filter_map(edit).collect();
    let p = c.dir.path().join(name);
    std::fs::write(&p, out.join("\n") + "\n").unwrap();
    p
}

/// `mha check_ssh --conf CONF` with HOME set to `home` and SSH_AUTH_SOCK to `agent` (or
/// unset): (exit code, stdout + stderr).
fn check_ssh_as(
    conf: &std::path::Path,
    home: &std::path::Path,
    agent: Option<&std::path::Path>,
) -> (i32, String) {
    let mut cmd = std::process::Command::new(mha_bin());
    cmd.args(["check_ssh", "--conf", conf.to_str().unwrap()])
        .env("HOME", home)
        .env_remove("SSH_AUTH_SOCK");
    if let Some(a) = agent {
        cmd.env("SSH_AUTH_SOCK", a);
    }
    let out = cmd.output().unwrap();
    let (o, e) = text(&out);
    (out.status.code().unwrap(), format!("{o}\n{e}"))
}

/// A real ssh-agent on a socket in `dir`, killed (by pid) when dropped.
struct Agent {
    child: std::process::Child,
    sock: std::path::PathBuf,
}

impl Agent {
    fn start(dir: &std::path::Path) -> Agent {
        let sock = dir.join("agent.sock");
        let child = std::process::Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(&sock)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = std::time::Instant::now();
        while !sock.exists() {
            assert!(start.elapsed().as_secs() < 10, "ssh-agent did not start");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Agent { child, sock }
    }

    /// ssh-add `key`, its passphrase given by an askpass script.
    fn add(&self, key: &std::path::Path, passphrase: &str, dir: &std::path::Path) {
        let askpass = dir.join("askpass");
        crate::bed::script(&askpass, &format!("echo '{passphrase}'\n"));
        let out = std::process::Command::new("ssh-add")
            .arg(key)
            .env("SSH_AUTH_SOCK", &self.sock)
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "ssh-add: {:?}", text(&out));
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `ProxyJump` in `~/.ssh/config` (issue 13, item 9): mha's own client reaches server3's
/// sshd through server2's sshd as jump host (its address and port from its own Host block,
/// host keys of both checked against the same known_hosts); with the jump host's port wrong,
/// check_ssh fails and names the jump hop, so the connection really goes through it; without
/// the jump host's known_hosts entry, its unknown host key is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ssh_through_a_proxy_jump_from_the_users_ssh_config() {
    let c = crate::bed::Cluster::start(2, mha::sandbox::Mode::Gtid).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let block = std::sync::Mutex::new(String::new());
    let conf = edited_conf(&c, "jump.toml", |l| {
        if let Some(b) = l.strip_prefix("[server").and_then(|b| b.strip_suffix(']')) {
            *block.lock().unwrap() = format!("server{b}");
            Some(l.to_string())
        } else if l.starts_with("ssh_port = ") && *block.lock().unwrap() == "server3" {
            Some(format!(
                "ssh_host = \"db3-behind-jump\"\nssh_ip = \"127.0.0.1\"\n{l}"
            ))
        } else {
            Some(l.to_string())
        }
    });
    let write_config = |jump_port: u16| {
        let file = format!(
            "Host db3-behind-jump\n  HostName 127.0.0.1\n  ProxyJump jumphost\n\n\
             Host jumphost\n  HostName 127.0.0.1\n  Port {jump_port}\n"
        );
        std::fs::write(home.join(".ssh/config"), file).unwrap();
    };
    write_config(c.node("server2").sshd.port);
    let (code, out) = check_ssh_as(&conf, &home, None);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("All SSH connection tests passed successfully."),
        "{out}"
    );

    // Nothing listens on the jump host's port now: server3 is unreachable and the error
    // names the jump hop; the other servers are unaffected.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let bad = closed.local_addr().unwrap().port();
    drop(closed);
    write_config(bad);
    let (code, out) = check_ssh_as(&conf, &home, None);
    assert_eq!(code, 1, "{out}");
    let text = std::fs::read_to_string(&conf).unwrap();
    let user = text
        .lines()
        .find_map(|l| l.strip_prefix("ssh_user = \""))
        .and_then(|u| u.strip_suffix('"'))
        .unwrap();
    let hop = format!(
        "{user}@127.0.0.1:{}: cannot connect: through the jump host {user}@127.0.0.1:{bad}: \
         cannot connect: Connection refused",
        c.node("server3").sshd.port
    );
    assert!(out.contains(&hop), "{out}");

    // The jump host's host key is verified against the same known_hosts: without its entry,
    // server3 is refused with the jump hop named (server2 itself fails the same way).
    write_config(c.node("server2").sshd.port);
    let kh = dir.path().join("known_hosts");
    let jump_entry = format!("[127.0.0.1]:{} ", c.node("server2").sshd.port);
    let keys = std::fs::read_to_string(&c.state.ssh_keys.known_hosts).unwrap();
    let kept: Vec<&str> = keys
        .lines()
        .filter(|l| !l.starts_with(&jump_entry))
        .collect();
    assert_eq!(kept.len() + 1, keys.lines().count(), "{keys}");
    std::fs::write(&kh, kept.join("\n") + "\n").unwrap();
    let kh_conf = dir.path().join("jump-kh.toml");
    let text: Vec<String> = std::fs::read_to_string(&conf)
        .unwrap()
        .lines()
        .map(|l| match l.starts_with("ssh_known_hosts_file") {
            true => format!("ssh_known_hosts_file = \"{}\"", kh.display()),
            false => l.to_string(),
        })
        .collect();
    std::fs::write(&kh_conf, text.join("\n") + "\n").unwrap();
    let (code, out) = check_ssh_as(&kh_conf, &home, None);
    assert_eq!(code, 1, "{out}");
    let hop = format!(
        "{user}@127.0.0.1:{}: cannot connect: through the jump host {user}@127.0.0.1:{}: \
         unknown host key",
        c.node("server3").sshd.port,
        c.node("server2").sshd.port
    );
    assert!(out.contains(&hop), "{out}");
}

/// SSH as DBAs have it, against the sandbox's real sshd: a passphrase-protected key held by
/// a real ssh-agent makes check_ssh pass (and without the agent the error says what to do);
/// a `~/.ssh/config` Host alias with HostName, Port and IdentityFile makes it pass too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ssh_through_ssh_agent_and_the_users_ssh_config() {
    let c = crate::bed::Cluster::start(2, mha::sandbox::Mode::Gtid).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let keys = &c.state.ssh_keys;
    let kh = keys.known_hosts.display().to_string();

    // A passphrase-protected key, authorized on the sandbox's sshd, held by ssh-agent.
    let enc = dir.path().join("id_enc");
    let out = std::process::Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "s3cret-phrase",
            "-C",
            "dba",
            "-f",
        ])
        .arg(&enc)
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let mut authorized = std::fs::read_to_string(&keys.authorized_keys).unwrap();
    authorized.push_str(&std::fs::read_to_string(enc.with_extension("pub")).unwrap());
    std::fs::write(&keys.authorized_keys, authorized).unwrap();
    let agent = Agent::start(dir.path());
    agent.add(&enc, "s3cret-phrase", dir.path());

    // mha's own connections: the -i key is encrypted, so the agent's key is used; the ssh
    // run on the hosts finds the agent through IdentityAgent.
    let opts = format!(
        "ssh_options = \"-i {} -o UserKnownHostsFile={kh} -o IdentityAgent={}\"",
        enc.display(),
        agent.sock.display()
    );
    let conf = edited_conf(&c, "agent.toml", |l| {
        if l.starts_with("ssh_key_file") {
            None
        } else if l.starts_with("ssh_options") {
            Some(opts.clone())
        } else {
            Some(l.to_string())
        }
    });
    let (code, out) = check_ssh_as(&conf, &home, Some(&agent.sock));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("All SSH connection tests passed successfully."),
        "{out}"
    );
    let (code, out) = check_ssh_as(&conf, &home, None);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("is protected by a passphrase: load it into ssh-agent (ssh-add)"),
        "{out}"
    );
    assert!(!out.contains("s3cret-phrase"), "{out}");

    // ~/.ssh/config: each server's ssh_host is an alias; HostName, Port and IdentityFile
    // come from the file (ssh_ip given: an alias is no DNS name).
    let mut ssh_config = String::new();
    for n in ["server1", "server2", "server3"] {
        ssh_config.push_str(&format!(
            "Host sandbox-{n}\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n\n",
            c.node(n).sshd.port,
            keys.client_key.display()
        ));
    }
    std::fs::write(home.join(".ssh/config"), ssh_config).unwrap();
    let opts = format!(
        "ssh_options = \"-o UserKnownHostsFile={kh} -o IdentityFile={}\"",
        keys.client_key.display()
    );
    let block = std::sync::Mutex::new(String::new());
    let conf = edited_conf(&c, "alias.toml", |l| {
        if let Some(b) = l.strip_prefix("[server").and_then(|b| b.strip_suffix(']')) {
            *block.lock().unwrap() = format!("server{b}");
            Some(l.to_string())
        } else if l.starts_with("ssh_key_file") {
            None
        } else if l.starts_with("ssh_options") {
            Some(opts.clone())
        } else if l.starts_with("ssh_port = ") {
            let b = block.lock().unwrap().clone();
            Some(format!(
                "ssh_host = \"sandbox-{b}\"\nssh_ip = \"127.0.0.1\""
            ))
        } else {
            Some(l.to_string())
        }
    });
    let (code, out) = check_ssh_as(&conf, &home, None);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("All SSH connection tests passed successfully."),
        "{out}"
    );
    // The same without the file: port 22 and no key, so it fails.
    std::fs::remove_file(home.join(".ssh/config")).unwrap();
    let (code, out) = check_ssh_as(&conf, &home, None);
    assert_eq!(code, 1, "{out}");
}
