//! MHA-style Perl hooks (Getopt::Long with the option lists MHA passes, dying on anything
//! else) through a live switchover and a live failover: an unchanged MHA hook must work.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mha::sandbox::{self, Fault, Mode};

use crate::bed::{self, Cluster};

const T: Duration = Duration::from_secs(30);

/// A Perl hook that records its arguments, one call per line, then parses them as MHA's
/// samples do: an unknown option or a value given to a switch makes GetOptions fail (exit 1).
fn perl_hook(dir: &Path, name: &str, options: &[&str], exit_for: &str) -> (PathBuf, PathBuf) {
    let log = dir.join(format!("{name}.args"));
    let script = dir.join(format!("{name}.pl"));
    let opts = options
        .iter()
        .map(|o| format!("'{o}'"))
        .collect::<Vec<_>>()
        .join(", ");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/perl\nuse strict;\nuse warnings;\nuse Getopt::Long;\n\
             open(my $fh, '>>', '{}') or die;\nprint $fh join(\"\\x1f\", @ARGV), \"\\n\";\nclose $fh;\n\
             my %o;\nGetOptions(\\%o, {opts}) or exit 1;\n{exit_for}\nexit 0;\n",
            log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    (script, log)
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn calls(log: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| l.split('\u{1f}').map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mha_style_perl_hooks_survive_a_switchover_and_a_failover() {
    let c = Cluster::start(2, Mode::Gtid).await;
    let dir = c.dir.path();
    // The options MHA 0.58 passes each hook (its samples' GetOptions lists, plus the ssh
    // extras MHA adds when they are not the defaults).
    let ssh_extras = |p: &str| {
        vec![
            format!("{p}_ssh_host=s"),
            format!("{p}_ssh_ip=s"),
            format!("{p}_ssh_port=i"),
        ]
    };
    let mut failover_opts: Vec<String> = [
        "command=s",
        "ssh_user=s",
        "orig_master_host=s",
        "orig_master_ip=s",
        "orig_master_port=i",
        "new_master_host=s",
        "new_master_ip=s",
        "new_master_port=i",
        "new_master_user=s",
        "new_master_password=s",
        "ssh_options=s",
    ]
    .map(String::from)
    .to_vec();
    failover_opts.extend(ssh_extras("orig_master"));
    failover_opts.extend(ssh_extras("new_master"));
    let mut online_opts: Vec<String> = [
        "command=s",
        "orig_master_host=s",
        "orig_master_ip=s",
        "orig_master_port=i",
        "orig_master_user=s",
        "orig_master_password=s",
        "new_master_host=s",
        "new_master_ip=s",
        "new_master_port=i",
        "new_master_user=s",
        "new_master_password=s",
        "orig_master_ssh_user=s",
        "new_master_ssh_user=s",
        "orig_master_is_new_slave",
        "ssh_options=s",
    ]
    .map(String::from)
    .to_vec();
    online_opts.extend(ssh_extras("orig_master"));
    online_opts.extend(ssh_extras("new_master"));
    let shutdown_opts = [
        "command=s",
        "ssh_user=s",
        "host=s",
        "ip=s",
        "port=i",
        "pid_file=s",
        "ssh_host=s",
        "ssh_ip=s",
        "ssh_port=i",
        "ssh_options=s",
    ];
    let (fo, fo_log) = perl_hook(dir, "master_ip_failover", &refs(&failover_opts), "");
    let (oc, oc_log) = perl_hook(dir, "master_ip_online_change", &refs(&online_opts), "");
    // MHA's shutdown_script: exit 10 = "mysqld stopped, SSH still reachable" (0 would mean
    // powered off).
    let (sd, sd_log) = perl_hook(
        dir,
        "power_manager",
        &shutdown_opts,
        "exit 10 if ($o{command} || '') =~ /^stop/;",
    );
    let conf = c.state.app_config();
    let text = std::fs::read_to_string(&conf).unwrap().replacen(
        "ping_interval = 1\n",
        &format!(
            "ping_interval = 1\nhook_password_args = 1\nmaster_ip_failover_script = \"{}\"\nmaster_ip_online_change_script = \"{}\"\nshutdown_script = \"{}\"\n",
            fo.display(),
            oc.display(),
            sd.display()
        ),
        1,
    );
    std::fs::write(&conf, text).unwrap();
    let conf_s = conf.to_str().unwrap();
    // hook_password_args = 1: MHA's online-change sample connects with the passwords it is
    // given on its command line; mha's own output masks them.
    let password = std::fs::read_to_string(dir.join("secrets/mha.password"))
        .unwrap()
        .trim()
        .to_string();
    let run = |args: &[&str]| {
        let out = bed::run_mha(&bed::mha_bin(), args);
        let (o, e) = bed::text(&out);
        (out.status.code(), format!("{o}\n{e}"))
    };

    // The online switch, server1 → server2, the old master becoming a replica.
    let p2 = format!("--new_master_port={}", c.node("server2").port);
    let (code, out) = run(&[
        "master_switch",
        "--master_state=alive",
        "--conf",
        conf_s,
        "--new_master_host=127.0.0.1",
        &p2,
        "--orig_master_is_new_slave",
        "--interactive=0",
    ]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains(&password), "a password in the output:\n{out}");
    let online = calls(&oc_log);
    assert_eq!(
        online.iter().map(|c| c[0].clone()).collect::<Vec<_>>(),
        ["--command=stop", "--command=start"],
        "{online:?}"
    );
    for call in &online {
        assert!(
            call.iter().any(|a| a == "--orig_master_is_new_slave"),
            "a bare switch: {call:?}"
        );
        for key in ["orig_master_password", "new_master_password"] {
            assert!(
                call.iter().any(|a| a == &format!("--{key}={password}")),
                "{key}: {call:?}"
            );
        }
        assert!(
            call.iter().any(|a| a.starts_with(
                "--ssh_options=-o StrictHostKeyChecking=no -o PasswordAuthentication=no -o BatchMode=yes -o ConnectTimeout="
            )),
            "MHA's full ssh option string: {call:?}"
        );
        assert!(
            call.iter()
                .any(|a| a == &format!("--new_master_ssh_port={}", c.node("server2").sshd.port)),
            "{call:?}"
        );
    }

    // A crash of the new master, failed over by hand: status calls, stopssh, start.
    c.wait_replicating_from("server3", "server2", T).await;
    sandbox::fault(dir, "server2", Fault::Crash).await.unwrap();
    let dm = format!("--dead_master_port={}", c.node("server2").port);
    let (code, out) = run(&[
        "master_switch",
        "--master_state=dead",
        "--conf",
        conf_s,
        "--dead_master_host=127.0.0.1",
        &dm,
        "--interactive=0",
    ]);
    assert_eq!(code, Some(0), "{out}");
    let fo_calls = calls(&fo_log);
    let commands: Vec<&str> = fo_calls.iter().map(|c| c[0].as_str()).collect();
    assert!(
        commands.ends_with(&["--command=stopssh", "--command=start"]),
        "{fo_calls:?}"
    );
    assert!(
        fo_calls
            .last()
            .unwrap()
            .iter()
            .any(|a| a == &format!("--new_master_password={password}")),
        "{fo_calls:?}"
    );
    assert!(!out.contains(&password), "a password in the output:\n{out}");
    let sd_calls = calls(&sd_log);
    let stop = sd_calls
        .iter()
        .find(|c| c[0] == "--command=stopssh")
        .unwrap_or_else(|| panic!("{sd_calls:?}"));
    assert!(
        stop.iter()
            .any(|a| a == &format!("--ssh_port={}", c.node("server2").sshd.port)),
        "the ssh extras: {stop:?}"
    );
}
