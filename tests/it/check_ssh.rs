//! `mha check_ssh` and the SSH seam against a real sandbox: every node has its own sshd, so
//! manager→host and host→host SSH are real connections, host keys are really checked, and a
//! stopped sshd is really unreachable.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};
use mha::ssh::{self, SshError, SshTarget};

use crate::bed::{self, Cluster};

/// Not the sandbox's host key: an unrelated ed25519 public key.
const OTHER_HOST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIITEN60pikcv8ByDUmnbb19zyv6QZk7mACriFe3Xqwa2";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn check_ssh(conf: &Path) -> Run {
    let conf = conf.to_str().unwrap().to_string();
    let out = tokio::task::spawn_blocking(move || {
        bed::run_mha(&bed::mha_bin(), &["check_ssh", "--conf", &conf])
    })
    .await
    .unwrap();
    let (stdout, stderr) = bed::text(&out);
    Run {
        code: out.status.code().unwrap(),
        stdout,
        stderr,
    }
}

/// The SSH endpoint names check_ssh prints, `user@host(ip:port)`, in server order.
fn endpoints(c: &Cluster) -> Vec<String> {
    let user = nix::unistd::User::from_uid(nix::unistd::geteuid())
        .unwrap()
        .unwrap()
        .name;
    ["server1", "server2", "server3"]
        .iter()
        .map(|n| format!("{user}@127.0.0.1(127.0.0.1:{})", c.node(n).sshd.port))
        .collect()
}

fn pair_ok(from: &str, to: &str) -> String {
    format!(" Connecting via SSH from {from} to {to}..\n  ok.\n")
}

/// A copy of the sandbox's app1.toml with another known_hosts file and, optionally, other
/// ssh_options.
fn variant(c: &Cluster, name: &str, known_hosts: &Path, ssh_options: Option<&str>) -> PathBuf {
    let original = std::fs::read_to_string(c.state.app_config()).unwrap();
    let mut replaced = (false, ssh_options.is_none());
    let text: Vec<String> = original
        .lines()
        .map(|line| {
            if line.starts_with("ssh_known_hosts_file = ") {
                replaced.0 = true;
                format!("ssh_known_hosts_file = {:?}", known_hosts.to_str().unwrap())
            } else if let (Some(opts), true) = (ssh_options, line.starts_with("ssh_options = ")) {
                replaced.1 = true;
                format!("ssh_options = {opts:?}")
            } else {
                line.to_string()
            }
        })
        .collect();
    assert_eq!(
        replaced,
        (true, true),
        "app1.toml changed shape:\n{original}"
    );
    let path = c.dir.path().join(name);
    std::fs::write(&path, text.join("\n") + "\n").unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ssh_passes_and_refuses_unknown_or_changed_host_keys() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let hosts = endpoints(&c);

    // (a) All 3 manager→host and 6 host→host connections work.
    let run = check_ssh(&c.state.app_config()).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.starts_with("Starting SSH connection tests..\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("\nAll SSH connection tests passed successfully.\n"),
        "{}",
        run.stdout
    );
    for (i, from) in hosts.iter().enumerate() {
        assert!(
            run.stdout.contains(&pair_ok("the manager", from)),
            "{}",
            run.stdout
        );
        for (j, to) in hosts.iter().enumerate() {
            if i != j {
                assert!(
                    run.stdout.contains(&pair_ok(from, to)),
                    "{from} → {to}:\n{}",
                    run.stdout
                );
            }
        }
    }
    assert_eq!(run.stdout.matches("  ok.\n").count(), 9, "{}", run.stdout);
    assert_eq!(
        run.stdout
            .lines()
            .filter(
                |l| l.starts_with(" Connecting via SSH from ") && !l.contains("from the manager")
            )
            .count(),
        6
    );
    // The sandbox gives the same key and known_hosts both ways: no ssh_options warning.
    assert!(!run.stderr.contains("ssh_options"), "{}", run.stderr);

    // The seam itself: output, stderr and exit status of a command; a timeout that names it.
    let loaded =
        mha::config::load(&c.state.app_config(), &mha::config::GlobalConf::Default).unwrap();
    let (target, warnings) = SshTarget::from_config(&loaded.config.servers[0].ssh);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(target.verify_host_key);
    let session = ssh::connect(&target).await.unwrap();
    let out = session
        .exec("echo out; echo err >&2; exit 3", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(out.exit_status, Some(3));
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    let slow = session.exec("sleep 5", Duration::from_millis(300)).await;
    assert!(
        matches!(
            &slow,
            Err(SshError::Timeout {
                what: "remote command",
                ..
            })
        ),
        "{slow:?}"
    );
    // The session still works after a command timed out.
    let out = session
        .exec("exit 0", Duration::from_secs(10))
        .await
        .unwrap();
    assert!(out.success());
    session.close().await;

    // (c) An empty known_hosts: every host key is unknown, nothing is trusted.
    let empty = c.dir.path().join("known_hosts.empty");
    std::fs::write(&empty, "").unwrap();
    let run = check_ssh(&variant(&c, "unknown.toml", &empty, None)).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.ends_with("\nSSH Configuration Check Failed!\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("  ok."), "{}", run.stdout);
    assert_eq!(
        run.stdout
            .matches(": unknown host key ssh-ed25519 SHA256:")
            .count(),
        6,
        "{}",
        run.stdout
    );
    for s in ["server1", "server2", "server3"] {
        let port = c.node(s).sshd.port;
        let entry = format!("{} has no entry for [127.0.0.1]:{port}", empty.display());
        assert!(run.stdout.contains(&entry), "{s}: {}", run.stdout);
        // The line to add is the one the sandbox itself trusts for that host.
        let known = std::fs::read_to_string(&c.state.ssh_keys.known_hosts).unwrap();
        let line = known
            .lines()
            .find(|l| l.starts_with(&format!("[127.0.0.1]:{port} ssh-ed25519 ")))
            .unwrap_or_else(|| panic!("{known}"));
        let key: Vec<&str> = line.split_whitespace().take(3).collect();
        let add = format!("add this line to {}: `{}`", empty.display(), key.join(" "));
        assert!(run.stdout.contains(&add), "{s}: {add}\n{}", run.stdout);
    }
    assert!(
        run.stdout
            .contains("9 of 9 SSH connections failed or could not be checked:"),
        "{}",
        run.stdout
    );
    // ssh_known_hosts_file beat the sandbox's `-o UserKnownHostsFile`, and the user is told.
    assert!(
        run.stderr
            .contains("is ignored by mha's own SSH connections: ssh_known_hosts_file is set"),
        "{}",
        run.stderr
    );

    // A known_hosts that records another key for the same host and port: refused as a
    // mismatch, not merely unknown.
    let wrong = c.dir.path().join("known_hosts.wrong");
    let entries: String = ["server1", "server2", "server3"]
        .iter()
        .map(|s| format!("[127.0.0.1]:{} {OTHER_HOST_KEY}\n", c.node(s).sshd.port))
        .collect();
    std::fs::write(&wrong, entries).unwrap();
    let run = check_ssh(&variant(&c, "changed.toml", &wrong, None)).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.matches(": host key mismatch: ").count(),
        6,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "but line 2 of {} records another key for [127.0.0.1]:{}",
            wrong.display(),
            c.node("server2").sshd.port
        )),
        "{}",
        run.stdout
    );

    // (d) ssh_options turning host key checks off (as MHA always did): passes with an empty
    // known_hosts, for the manager's connections and for ssh on the hosts.
    let empty2 = c.dir.path().join("known_hosts.empty2");
    std::fs::write(&empty2, "").unwrap();
    let opts = format!(
        "-i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile={}",
        c.state.ssh_keys.client_key.display(),
        empty2.display()
    );
    let run = check_ssh(&variant(&c, "unchecked.toml", &empty2, Some(&opts))).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .ends_with("\nAll SSH connection tests passed successfully.\n"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("  ok.\n").count(), 9, "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_ssh_names_the_host_whose_sshd_is_down() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let dir = c.dir.path().to_path_buf();
    let hosts = endpoints(&c);
    let (s1, s2, s3) = (&hosts[0], &hosts[1], &hosts[2]);
    let s3_port = c.node("server3").sshd.port;

    sandbox::fault(&dir, "server3", Fault::SshStop)
        .await
        .unwrap();
    let run = check_ssh(&c.state.app_config()).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let out = &run.stdout;
    assert!(
        out.ends_with("\nSSH Configuration Check Failed!\n"),
        "{out}"
    );
    // The pairs that do not involve server3 still work.
    for (from, to) in [("the manager", s1), ("the manager", s2), (s1, s2), (s2, s1)] {
        assert!(out.contains(&pair_ok(from, to)), "{from} → {to}:\n{out}");
    }
    assert_eq!(out.matches("  ok.\n").count(), 4, "{out}");
    // Everything towards server3 fails, and says why.
    assert!(
        out.contains(&format!(
            "SSH connection from the manager to {s3} failed!\n  \
             {}@127.0.0.1:{s3_port}: cannot connect: Connection refused",
            s3.split('@').next().unwrap()
        )),
        "{out}"
    );
    for from in [s1, s2] {
        assert!(
            out.contains(&format!(
                "SSH connection from {from} to {s3} failed!\n  ssh exited with status 255: \
                 ssh: connect to host 127.0.0.1 port {s3_port}: Connection refused"
            )),
            "{from} → server3:\n{out}"
        );
        assert!(
            out.contains(&format!(
                "  from {from} to {s3}: ssh exited with status 255"
            )),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("  from the manager to {s3}: ")),
        "{out}"
    );
    // server3's own outgoing pairs could not be tried, and the summary says so.
    for to in [s1, s2] {
        assert!(
            out.contains(&format!("  from {s3} to {to}: not checked, no SSH session")),
            "{out}"
        );
    }
    assert!(
        out.contains("5 of 9 SSH connections failed or could not be checked:"),
        "{out}"
    );

    // skip_init_ssh_check = 1 on server3 (the last block of app1.toml): skipped, said so, and
    // the rest passes.
    let original = std::fs::read_to_string(c.state.app_config()).unwrap();
    assert!(
        original.trim_end().ends_with(&format!(
            "master_pid_file = {:?}",
            c.node("server3")
                .cnf
                .with_file_name("mysqld.pid")
                .to_str()
                .unwrap()
        )),
        "{original}"
    );
    let skip = dir.join("skip3.toml");
    std::fs::write(&skip, format!("{original}skip_init_ssh_check = 1\n")).unwrap();
    let run = check_ssh(&skip).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            " Skipping SSH checks of {s3} (server3): skip_init_ssh_check=1.\n"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("  ok.\n").count(), 4, "{}", run.stdout);
    assert!(!run.stdout.contains(&format!("to {s3}")), "{}", run.stdout);

    // Back up: the same check passes again.
    sandbox::fault(&dir, "server3", Fault::SshStart)
        .await
        .unwrap();
    let run = check_ssh(&c.state.app_config()).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.matches("  ok.\n").count(), 9, "{}", run.stdout);
}
