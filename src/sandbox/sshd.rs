//! The sandbox's sshd: a real OpenSSH server on a loopback port with keys generated for it,
//! accepting only the sandbox's client key for the current user.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Result, SandboxError, SshdState, io_err, process};

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

pub fn start(bin: &Binaries, dir: &Path, port: u16) -> Result<SshdState> {
    let ssh_dir = dir.join("ssh");
    std::fs::create_dir_all(&ssh_dir).map_err(io_err("cannot create", &ssh_dir))?;
    let host_key = ssh_dir.join("host_ed25519_key");
    let client_key = ssh_dir.join("id_ed25519");
    keygen(bin, &host_key, "mha-sandbox-host")?;
    keygen(bin, &client_key, "mha-sandbox-client")?;
    let read = |p: PathBuf| std::fs::read_to_string(&p).map_err(io_err("cannot read", &p));
    let client_pub = read(client_key.with_extension("pub"))?;
    let host_pub = read(host_key.with_extension("pub"))?;
    let authorized = ssh_dir.join("authorized_keys");
    std::fs::write(&authorized, &client_pub).map_err(io_err("cannot write", &authorized))?;
    // known_hosts entry for a non-22 port: "[host]:port keytype key".
    let mut fields = host_pub.split_whitespace();
    let known_hosts = ssh_dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!(
            "[127.0.0.1]:{port} {} {}\n",
            fields.next().unwrap_or(""),
            fields.next().unwrap_or("")
        ),
    )
    .map_err(io_err("cannot write", &known_hosts))?;
    let config = ssh_dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "# Written by `mha sandbox up`.\nPort {port}\nListenAddress 127.0.0.1\nHostKey {}\n\
             PidFile {}\nAuthorizedKeysFile {}\nAllowUsers {}\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PermitRootLogin prohibit-password\nUsePAM no\nStrictModes no\nMaxStartups 100:30:200\n\
             Subsystem sftp internal-sftp\n",
            host_key.display(),
            ssh_dir.join("sshd.pid").display(),
            authorized.display(),
            current_user(),
        ),
    )
    .map_err(io_err("cannot write", &config))?;
    let mut state = SshdState {
        port,
        pid: None,
        config,
        client_key,
        known_hosts,
        log: ssh_dir.join("sshd.log"),
    };
    state.pid = Some(spawn(bin, &state)?);
    Ok(state)
}

/// Start sshd in the foreground mode (-D) so the pid we record is sshd's own.
pub fn spawn(bin: &Binaries, state: &SshdState) -> Result<u32> {
    use std::os::unix::process::CommandExt;
    // Debian's sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&state.log)
        .map_err(io_err("cannot write", &state.log))?;
    let child = Command::new(&bin.sshd)
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
        if std::net::TcpStream::connect(("127.0.0.1", state.port)).is_ok() {
            return Ok(pid);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(SandboxError::Node {
        node: "sshd".into(),
        message: format!("not listening on port {}", state.port),
    })
}
