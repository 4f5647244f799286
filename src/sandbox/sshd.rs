//! The sandbox's sshd processes: real OpenSSH servers, one per node on its own loopback port,
//! sharing one generated host key and accepting only the sandbox's client key for the current
//! user.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Result, SandboxError, SshKeys, SshdState, io_err, process};

pub struct Binaries {
    pub sshd: PathBuf,
    pub keygen: PathBuf,
}

impl Binaries {
    pub fn find() -> Result<Binaries> {
        let sshd = process::find_program(&["sshd"]).ok_or(SandboxError::Unavailable {
            program: "sshd".into(),
            package: "openssh-server",
        })?;
        let keygen = process::find_program(&["ssh-keygen"]).ok_or(SandboxError::Unavailable {
            program: "ssh-keygen".into(),
            package: "openssh-client",
        })?;
        Ok(Binaries { sshd, keygen })
    }
}

pub fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "root".into())
}

fn keygen(bin: &Binaries, path: &Path, comment: &str) -> Result<()> {
    let status = Command::new(&bin.keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(io_err("cannot run ssh-keygen for", path))?;
    if !status.success() {
        return Err(SandboxError::Node {
            node: "sshd".into(),
            message: format!("ssh-keygen failed ({status})"),
        });
    }
    Ok(())
}

/// Generate the host key and the client key, and authorise the client key.
pub fn keys(bin: &Binaries, dir: &Path) -> Result<SshKeys> {
    let ssh_dir = dir.join("ssh");
    std::fs::create_dir_all(&ssh_dir).map_err(io_err("cannot create", &ssh_dir))?;
    let keys = SshKeys {
        host_key: ssh_dir.join("host_ed25519_key"),
        client_key: ssh_dir.join("id_ed25519"),
        authorized_keys: ssh_dir.join("authorized_keys"),
        known_hosts: ssh_dir.join("known_hosts"),
    };
    keygen(bin, &keys.host_key, "mha-sandbox-host")?;
    keygen(bin, &keys.client_key, "mha-sandbox-client")?;
    let pub_key = keys.client_key.with_extension("pub");
    let client_pub = std::fs::read_to_string(&pub_key).map_err(io_err("cannot read", &pub_key))?;
    std::fs::write(&keys.authorized_keys, client_pub)
        .map_err(io_err("cannot write", &keys.authorized_keys))?;
    std::fs::write(&keys.known_hosts, "").map_err(io_err("cannot write", &keys.known_hosts))?;
    Ok(keys)
}

/// Write one node's sshd_config and its known_hosts entry.
pub fn configure(keys: &SshKeys, node_ssh_dir: &Path, host: &str, port: u16) -> Result<SshdState> {
    std::fs::create_dir_all(node_ssh_dir).map_err(io_err("cannot create", node_ssh_dir))?;
    let host_pub_path = keys.host_key.with_extension("pub");
    let host_pub =
        std::fs::read_to_string(&host_pub_path).map_err(io_err("cannot read", &host_pub_path))?;
    // known_hosts entry for a non-22 port: "[host]:port keytype key".
    let mut fields = host_pub.split_whitespace();
    let entry = format!(
        "[{host}]:{port} {} {}\n",
        fields.next().unwrap_or(""),
        fields.next().unwrap_or("")
    );
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&keys.known_hosts)
        .and_then(|mut f| f.write_all(entry.as_bytes()))
        .map_err(io_err("cannot write", &keys.known_hosts))?;
    let config = node_ssh_dir.join("sshd_config");
    // Sessions whose client vanished without closing (a host cut off the network, a killed
    // manager behind a dead link) end after about 6 s instead of outliving the sandbox.
    // Remote commands get a HOME of their own (empty): a login profile of the machine running
    // the sandbox (pyenv, nvm, ... sourced by bash for every SSH command) would otherwise add
    // its start-up time, 0.35 s on a development box, to every SSH step. Database hosts do
    // not carry a developer's profile.
    let home = node_ssh_dir.join("home");
    std::fs::create_dir_all(&home).map_err(io_err("cannot create", &home))?;
    // A node with an address of its own (a network namespace) also answers on the standard
    // port, as a real database host does: tools that take only a host name reach it
    // (masterha_secondary_check -s HOST).
    let standard_port = if host == "127.0.0.1" { "" } else { "Port 22\n" };
    std::fs::write(
        &config,
        format!(
            "# Written by `mha sandbox up`.\nPort {port}\n{standard_port}ListenAddress {host}\nHostKey {}\n\
             PidFile {}\nAuthorizedKeysFile {}\nAllowUsers {}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nMaxStartups 100:30:200\n\
             Subsystem sftp internal-sftp\nSetEnv HOME={}\n\
             ClientAliveInterval 2\nClientAliveCountMax 3\n",
            keys.host_key.display(),
            node_ssh_dir.join("sshd.pid").display(),
            keys.authorized_keys.display(),
            current_user(),
            home.display(),
        ),
    )
    .map_err(io_err("cannot write", &config))?;
    Ok(SshdState {
        port,
        pid: None,
        config,
        log: node_ssh_dir.join("sshd.log"),
    })
}

/// Start sshd in the foreground mode (-D) so the pid we record is sshd's own.
pub fn spawn(bin: &Binaries, node: &super::NodeState) -> Result<u32> {
    let state = &node.sshd;
    use std::os::unix::process::CommandExt;
    // Debian's sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state.log)
        .map_err(io_err("cannot write", &state.log))?;
    let child = super::in_netns(node.netns.as_deref(), &bin.sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&state.config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(io_err("cannot start", &bin.sshd))?;
    let pid = child.id();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if !process::is_alive(pid) {
            return Err(SandboxError::Node {
                node: "sshd".into(),
                message: format!(
                    "sshd exited at start-up:\n{}",
                    process::tail(&state.log, 10)
                ),
            });
        }
        if std::net::TcpStream::connect((node.host.as_str(), state.port)).is_ok() {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(SandboxError::Node {
        node: "sshd".into(),
        message: format!("not listening on port {}", state.port),
    })
}
