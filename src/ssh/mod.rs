//! The SSH seam: mha's own SSH client (russh). Public-key authentication only, host keys checked
//! against an OpenSSH known_hosts file (MHA disabled that check everywhere; mha does it unless
//! `ssh_options` says `-o StrictHostKeyChecking=no`), and a timeout on every step. Errors name
//! `user@host:port` and the step that failed; never a key or the command text.

pub mod known_hosts;
pub mod options;
pub mod pool;
pub mod seam;
pub mod user_config;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, client};

use crate::config::SshConfig;
use crate::secret::Secret;

pub use options::{quote, split_words};

/// Defaults of `ssh_port` and `ssh_connection_timeout` (config/keys.rs), which `ssh_options` may
/// override (see [`SshTarget::from_config`]).
const DEFAULT_PORT: u16 = 22;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The key files OpenSSH tries by default, in its order, under `~/.ssh/`.
const DEFAULT_KEY_FILES: &[&str] = &["id_ed25519", "id_ecdsa", "id_rsa"];

/// Which private key mha authenticates with.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// Key material from `ssh_key`, `ssh_key_file` or `ssh_key_env` (read at config load).
    Config(Secret),
    /// `-i FILE` from `ssh_options`: read at connect time, as ssh does, so a missing file is an
    /// error on the connection that needs it rather than on every command.
    File(PathBuf),
    /// Nothing configured: the current user's `~/.ssh/id_ed25519`, `id_ecdsa`, `id_rsa`.
    DefaultFiles,
}

/// Where and how to connect.
#[derive(Debug, Clone, PartialEq)]
pub struct SshTarget {
    pub user: String,
    /// The address to connect to (`ssh_ip`); also the name looked up in known_hosts.
    pub host: String,
    pub port: u16,
    /// Covers TCP connect, key exchange and authentication.
    pub connect_timeout: Duration,
    pub key: KeySource,
    pub known_hosts: PathBuf,
    pub verify_host_key: bool,
    /// Why mha cannot connect as configured (a `ProxyCommand` or a chain of jump hosts in
    /// ~/.ssh/config): every connection fails with it.
    pub refused: Option<String>,
    /// The jump host (`ProxyJump` in ~/.ssh/config) the connection goes through.
    pub jump: Option<Box<SshTarget>>,
}

/// The OS user mha runs as (ssh_user's default, as MHA).
pub(crate) fn current_os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "root".into())
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from).or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map(|u| u.dir)
    })
}

/// `~/.ssh/known_hosts` as config/resolve.rs expands the default of `ssh_known_hosts_file`.
pub(crate) fn default_known_hosts() -> PathBuf {
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".ssh/known_hosts"),
        None => PathBuf::from("~/.ssh/known_hosts"),
    }
}

impl SshTarget {
    /// The target for one host's SSH settings, plus warnings about `ssh_options`.
    ///
    /// Precedence: mha's dedicated keys win over `ssh_options`, which only replaces defaults.
    /// `ssh_key`/`ssh_key_file`/`ssh_key_env` beat `-i`; `ssh_known_hosts_file` beats
    /// `-o UserKnownHostsFile` unless it is left at `~/.ssh/known_hosts`; `ssh_port` beats `-p`
    /// unless it is 22; `ssh_connection_timeout` beats `-o ConnectTimeout` unless it is 5. The
    /// resolved config does not say whether a value was written or defaulted, so a value equal to
    /// its default counts as a default. Every conflict where `ssh_options` loses is a warning, so
    /// the rule is never silent. `-o StrictHostKeyChecking=no` has no dedicated key and always
    /// applies.
    pub fn from_config(c: &SshConfig) -> (SshTarget, Vec<String>) {
        let opts = options::parse(c.options.as_deref().unwrap_or(""));
        let mut warnings = opts.warnings;
        let mut loses = |option: String, key: &str| {
            warnings.push(format!(
                "ssh_options: `{option}` is ignored by mha's own SSH connections: {key} is set"
            ))
        };
        let key = match (&c.key, opts.identity_file) {
            (Some(secret), Some(file)) => {
                // The sandbox (and careful users) give the same key both ways; no noise then.
                let same = std::fs::read_to_string(&file)
                    .is_ok_and(|text| text.trim() == secret.expose().trim());
                if !same {
                    loses(
                        format!("-i {}", file.display()),
                        "ssh_key, ssh_key_file or ssh_key_env",
                    );
                }
                KeySource::Config(secret.clone())
            }
            (Some(secret), None) => KeySource::Config(secret.clone()),
            (None, Some(file)) => KeySource::File(file),
            (None, None) => KeySource::DefaultFiles,
        };
        let known_hosts = match opts.known_hosts_file {
            Some(f) if c.known_hosts_file == default_known_hosts() => f,
            Some(f) => {
                if f != c.known_hosts_file {
                    loses(
                        format!("-o UserKnownHostsFile={}", f.display()),
                        "ssh_known_hosts_file",
                    );
                }
                c.known_hosts_file.clone()
            }
            None => c.known_hosts_file.clone(),
        };
        let port = match opts.port {
            Some(p) if c.port == DEFAULT_PORT => p,
            Some(p) => {
                if p != c.port {
                    loses(format!("-p {p}"), "ssh_port");
                }
                c.port
            }
            None => c.port,
        };
        let connect_timeout = match opts.connect_timeout {
            Some(t) if c.connection_timeout == DEFAULT_CONNECT_TIMEOUT => t,
            Some(t) => {
                if t != c.connection_timeout {
                    loses(
                        format!("-o ConnectTimeout={}", t.as_secs()),
                        "ssh_connection_timeout",
                    );
                }
                c.connection_timeout
            }
            None => c.connection_timeout,
        };
        let mut target = SshTarget {
            user: c.user.clone(),
            host: c.ip.clone(),
            port,
            connect_timeout,
            key,
            known_hosts,
            verify_host_key: opts.strict_host_key_checking != Some(false),
            refused: None,
            jump: None,
        };
        // Unit tests never read the real user's file.
        if let Some(path) = user_config::default_path().filter(|_| !cfg!(test)) {
            let settings = user_config::for_host(&path, &c.host);
            warnings.extend(target.apply_user_config(c, settings, &path));
        }
        (target, warnings)
    }

    /// `~/.ssh/config` for `ssh_host`, as ssh would read it when MHA ran `ssh ssh_host`:
    /// HostName is where to connect; Port, User and IdentityFile fill in what mha's own
    /// settings leave at their defaults (ssh_port 22, ssh_user = the OS user, no key given).
    fn apply_user_config(
        &mut self,
        c: &SshConfig,
        s: user_config::HostSettings,
        path: &std::path::Path,
    ) -> Vec<String> {
        if let Some(h) = s.hostname {
            self.host = h;
        }
        if let Some(p) = s.port
            && self.port == DEFAULT_PORT
        {
            self.port = p;
        }
        if let Some(u) = s.user
            && c.user == current_os_user()
        {
            self.user = u;
        }
        if let Some(f) = s.identity_file
            && self.key == KeySource::DefaultFiles
        {
            self.key = KeySource::File(f);
        }
        let mut warnings = s.warnings;
        if let Some((keyword, value, line)) = s.proxy {
            let at = format!(
                "{}:{line} says `{keyword} {value}` for {}",
                path.display(),
                c.host
            );
            let jump = if keyword.eq_ignore_ascii_case("proxyjump") {
                user_config::parse_jump(&value)
            } else if value == "none" {
                Ok(None)
            } else {
                Err("mha's own SSH client cannot run a ProxyCommand; use ProxyJump".into())
            };
            match jump {
                Ok(None) => {}
                Ok(Some(spec)) => {
                    let jump_settings = user_config::for_host(path, &spec.host);
                    match self.jump_target(spec, jump_settings, path) {
                        Ok((t, w)) => {
                            self.jump = Some(Box::new(t));
                            warnings.extend(w);
                        }
                        Err(why) => self.refuse(&at, &why),
                    }
                }
                Err(why) => self.refuse(&at, &why),
            }
        }
        warnings
    }

    fn refuse(&mut self, at: &str, why: &str) {
        self.refused = Some(format!(
            "{at}: {why}; reach the host directly or through one jump host, or run mha on a \
             host that can"
        ));
    }

    /// The jump host of a `ProxyJump` value: its user and port from the value, else from its
    /// own `Host` block in ~/.ssh/config (which also gives HostName and IdentityFile), else
    /// the OS user and port 22; the key sources, known_hosts and timeout of this target.
    fn jump_target(
        &self,
        spec: user_config::JumpSpec,
        s: user_config::HostSettings,
        path: &std::path::Path,
    ) -> Result<(SshTarget, Vec<String>), String> {
        if let Some((keyword, value, line)) = s.proxy.filter(|p| p.1 != "none") {
            return Err(format!(
                "the jump host {} has its own `{keyword} {value}` ({}:{line}): mha's own SSH \
                 client goes through one jump host, not a chain",
                spec.host,
                path.display()
            ));
        }
        let key = match s.identity_file {
            Some(f) if !matches!(self.key, KeySource::Config(_)) => KeySource::File(f),
            _ => self.key.clone(),
        };
        let target = SshTarget {
            user: spec.user.or(s.user).unwrap_or_else(current_os_user),
            host: s.hostname.unwrap_or(spec.host),
            port: spec.port.or(s.port).unwrap_or(DEFAULT_PORT),
            connect_timeout: self.connect_timeout,
            key,
            known_hosts: self.known_hosts.clone(),
            verify_host_key: self.verify_host_key,
            refused: None,
            jump: None,
        };
        Ok((target, s.warnings))
    }

    /// `user@host:port`, the name used in errors.
    pub fn name(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }

    /// How known_hosts names this host: `host`, or `[host]:port` when the port is not 22.
    fn known_hosts_entry(&self) -> String {
        if self.port == DEFAULT_PORT {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{target}: cannot connect: {message}")]
    Connect { target: String, message: String },
    #[error("{target}: {what} timed out after {}s", after.as_secs_f64())]
    Timeout {
        target: String,
        what: &'static str,
        after: Duration,
    },
    #[error(
        "{target}: unknown host key {} {}: {detail}; if the fingerprint is right, add this line \
         to {}: `{} {}` (or run ssh-keyscan -p {} {} >> {}), or skip host key checks with \
         ssh_options = \"-o StrictHostKeyChecking=no\" as MHA did",
        .key.key_type, .key.fingerprint, .key.known_hosts, .key.entry, .key.openssh,
        .key.port, .key.host, .key.known_hosts
    )]
    UnknownHostKey {
        target: String,
        key: Box<PresentedKey>,
        detail: String,
    },
    #[error(
        "{target}: host key mismatch: the server presented {} {}, but line {line} of {} records \
         another key for {}; someone may be intercepting the connection, or the host was \
         reinstalled (then remove the old key: ssh-keygen -R '{}' -f {})",
        .key.key_type, .key.fingerprint, .key.known_hosts, .key.entry, .key.entry,
        .key.known_hosts
    )]
    HostKeyMismatch {
        target: String,
        key: Box<PresentedKey>,
        line: usize,
    },
    #[error("{target}: host key refused: {reason}")]
    HostKeyRefused { target: String, reason: String },
    #[error("{target}: private key: {message}")]
    Key { target: String, message: String },
    #[error("{target}: public key authentication refused (tried {tried})")]
    Auth { target: String, tried: String },
    #[error("{target}: running a command failed: {message}")]
    Exec { target: String, message: String },
}

/// The host key a server presented and where mha looked it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentedKey {
    pub key_type: String,
    /// `SHA256:...`
    pub fingerprint: String,
    pub host: String,
    pub port: u16,
    /// How known_hosts names the host: `host` or `[host]:port`.
    pub entry: String,
    pub known_hosts: String,
    /// The key as a known_hosts line writes it: `ssh-ed25519 AAAA...`.
    pub openssh: String,
}

/// What a TCP connection opened from a remote host found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TcpProbe {
    /// The server there spoke first: it is alive.
    Answered(String),
    /// Refused, unreachable, or silent until the timeout.
    NoAnswer(String),
    /// The probe could not be made from this host (forwarding off, session broken).
    Unavailable(String),
}

/// What a remote command did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// `None` when the command ended without an exit status (killed by a signal).
    pub exit_status: Option<u32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ExecOutput {
    pub fn success(&self) -> bool {
        self.exit_status == Some(0)
    }
}

/// A private key ready for authentication, with a label for error messages.
struct LoadedKey {
    label: String,
    key: PrivateKey,
}

fn decode_key(text: &str, label: &str) -> Result<PrivateKey, String> {
    russh::keys::decode_secret_key(text, None).map_err(|e| match e {
        russh::keys::Error::KeyIsEncrypted => format!(
            "{label} is protected by a passphrase: load it into ssh-agent (ssh-add) and run mha \
             with SSH_AUTH_SOCK set, or use a key without one"
        ),
        // The parser's messages describe the format, never the key material.
        e => format!("{label} cannot be used: {e}"),
    })
}

/// The ssh-agent socket mha may use for `target`: SSH_AUTH_SOCK, unless a key is configured
/// with ssh_key/ssh_key_file/ssh_key_env (that key alone, as ssh with IdentitiesOnly).
fn agent_socket(target: &SshTarget) -> Option<PathBuf> {
    if matches!(target.key, KeySource::Config(_)) {
        return None;
    }
    std::env::var_os("SSH_AUTH_SOCK")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// The key files to try. With an agent, a key file that is passphrase-protected (or no key
/// file at all) is not an error: the agent holds the key, as ssh would use it.
fn load_keys(target: &SshTarget, agent: bool) -> Result<Vec<LoadedKey>, SshError> {
    let key_err = |message: String| SshError::Key {
        target: target.name(),
        message,
    };
    let encrypted = |path: &std::path::Path| {
        agent
            && std::fs::read_to_string(path).is_ok_and(|t| {
                matches!(
                    russh::keys::decode_secret_key(&t, None),
                    Err(russh::keys::Error::KeyIsEncrypted)
                )
            })
    };
    match &target.key {
        KeySource::Config(secret) => {
            let label = "the key from ssh_key, ssh_key_file or ssh_key_env".to_string();
            let key = decode_key(secret.expose(), &label).map_err(key_err)?;
            Ok(vec![LoadedKey { label, key }])
        }
        KeySource::File(path) if encrypted(path) => Ok(vec![]),
        KeySource::File(path) => {
            let label = format!("{} (ssh_options -i or IdentityFile)", path.display());
            let text = std::fs::read_to_string(path)
                .map_err(|e| key_err(format!("cannot read {}: {e}", path.display())))?;
            let key = decode_key(&text, &label).map_err(key_err)?;
            Ok(vec![LoadedKey { label, key }])
        }
        KeySource::DefaultFiles => {
            let Some(home) = home_dir() else {
                return Err(key_err(
                    "no home directory to find ~/.ssh/id_* in; set ssh_key_file".into(),
                ));
            };
            let mut keys = Vec::new();
            let mut notes = Vec::new();
            for name in DEFAULT_KEY_FILES {
                let path = home.join(".ssh").join(name);
                let label = path.display().to_string();
                match std::fs::read_to_string(&path) {
                    Ok(text) => match decode_key(&text, &label) {
                        Ok(key) => keys.push(LoadedKey { label, key }),
                        Err(note) => notes.push(note),
                    },
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => notes.push(format!("cannot read {label}: {e}")),
                }
            }
            if keys.is_empty() && agent {
                return Ok(keys);
            }
            if keys.is_empty() {
                if notes.is_empty() {
                    notes.push(format!(
                        "none of {} exists in {}",
                        DEFAULT_KEY_FILES.join(", "),
                        home.join(".ssh").display()
                    ));
                }
                return Err(key_err(format!(
                    "no usable key ({}); set ssh_key_file",
                    notes.join("; ")
                )));
            }
            for note in notes {
                tracing::warn!(ssh = %target.name(), "skipping a default SSH key: {note}");
            }
            Ok(keys)
        }
    }
}

/// russh calls this during key exchange; a refusal carries the reason to `connect`.
struct Verifier {
    target: SshTarget,
}

#[derive(Debug)]
enum HandlerError {
    Ssh(russh::Error),
    Refused(SshError),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

impl client::Handler for Verifier {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let t = &self.target;
        let key = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key,
            PublicKeyOrCertificate::Certificate(_) => {
                return Err(HandlerError::Refused(SshError::HostKeyRefused {
                    target: t.name(),
                    reason: "the server presented a host certificate; mha checks plain host \
                             keys against known_hosts only"
                        .into(),
                }));
            }
        };
        if !t.verify_host_key {
            tracing::debug!(
                ssh = %t.name(),
                key_type = %known_hosts::key_type(key),
                fingerprint = %known_hosts::fingerprint(key),
                "host key not checked (StrictHostKeyChecking=no)"
            );
            return Ok(true);
        }
        let path = &t.known_hosts;
        let shown = path.display().to_string();
        let verdict = known_hosts::check(path, &t.host, t.port, key).map_err(|message| {
            HandlerError::Refused(SshError::HostKeyRefused {
                target: t.name(),
                reason: message,
            })
        })?;
        let entry = t.known_hosts_entry();
        let presented = Box::new(PresentedKey {
            key_type: known_hosts::key_type(key),
            fingerprint: known_hosts::fingerprint(key),
            host: t.host.clone(),
            port: t.port,
            entry: entry.clone(),
            known_hosts: shown.clone(),
            openssh: key
                .to_openssh()
                .map(|k| k.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| known_hosts::key_type(key)),
        });
        let unknown = |detail: String| {
            Err(HandlerError::Refused(SshError::UnknownHostKey {
                target: t.name(),
                key: presented.clone(),
                detail,
            }))
        };
        match verdict {
            known_hosts::Verdict::Known => Ok(true),
            known_hosts::Verdict::Changed { line } => {
                Err(HandlerError::Refused(SshError::HostKeyMismatch {
                    target: t.name(),
                    key: presented.clone(),
                    line,
                }))
            }
            known_hosts::Verdict::OtherTypes { lines } => unknown(format!(
                "{shown} has only keys of other types for {entry} (line {})",
                lines
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            known_hosts::Verdict::Unknown if !path.exists() => {
                unknown(format!("known_hosts file {shown} does not exist"))
            }
            known_hosts::Verdict::Unknown => unknown(format!("{shown} has no entry for {entry}")),
        }
    }
}

/// An authenticated SSH connection to one host.
pub struct SshSession {
    handle: client::Handle<Verifier>,
    /// The session to the jump host the connection goes through, kept as long as this one.
    jump: Option<client::Handle<Verifier>>,
    target: String,
}

/// Connect, verify the host key and authenticate, all within `target.connect_timeout` (which
/// covers the jump host too, when there is one).
pub async fn connect(target: &SshTarget) -> Result<SshSession, SshError> {
    if let Some(why) = &target.refused {
        return Err(SshError::Connect {
            target: target.name(),
            message: why.clone(),
        });
    }
    // Keys first: a missing or unreadable key is a local problem, not worth a connection.
    let agent = agent_socket(target);
    let keys = load_keys(target, agent.is_some())?;
    let after = target.connect_timeout;
    let deadline = tokio::time::Instant::now() + after;
    let timed_out = |t: &SshTarget| SshError::Timeout {
        target: t.name(),
        what: "connect",
        after,
    };
    let jump = match &target.jump {
        None => None,
        Some(j) => {
            let via_err = |e: SshError| SshError::Connect {
                target: target.name(),
                message: format!("through the jump host {e}"),
            };
            let agent = agent_socket(j);
            let keys = load_keys(j, agent.is_some()).map_err(via_err)?;
            let open = handshake(j, keys, agent, None);
            let handle = tokio::time::timeout_at(deadline, open)
                .await
                .map_err(|_| via_err(timed_out(j)))?
                .map_err(via_err)?;
            Some(handle)
        }
    };
    let handle = tokio::time::timeout_at(deadline, handshake(target, keys, agent, jump.as_ref()))
        .await
        .map_err(|_| timed_out(target))??;
    Ok(SshSession {
        handle,
        jump,
        target: target.name(),
    })
}

/// The SSH transport to `target`: a TCP connection, or a `direct-tcpip` channel opened by the
/// jump host's session `via` (what `ssh -J` does); key exchange and host key check included.
async fn open(
    target: &SshTarget,
    via: Option<&client::Handle<Verifier>>,
) -> Result<client::Handle<Verifier>, SshError> {
    // Keepalives close a session whose host went away (no FIN, no RST) within about 6 s, so
    // the pool (pool.rs) notices and reconnects instead of handing out a dead session.
    let config = Arc::new(client::Config {
        nodelay: true,
        keepalive_interval: Some(Duration::from_secs(2)),
        keepalive_max: 3,
        ..Default::default()
    });
    let verifier = Verifier {
        target: target.clone(),
    };
    let connect_err = |message: String| SshError::Connect {
        target: target.name(),
        message,
    };
    let opened = match via {
        None => client::connect(config, (target.host.as_str(), target.port), verifier).await,
        Some(jump) => {
            let channel = jump
                .channel_open_direct_tcpip(&target.host, u32::from(target.port), "127.0.0.1", 0)
                .await
                .map_err(|e| {
                    connect_err(format!(
                        "the jump host could not open a connection to {}:{}: {e}",
                        target.host, target.port
                    ))
                })?;
            client::connect_stream(config, channel.into_stream(), verifier).await
        }
    };
    opened.map_err(|e| match e {
        HandlerError::Refused(e) => e,
        HandlerError::Ssh(e) => connect_err(e.to_string()),
    })
}

/// [`open`], then authenticate as ssh does: the agent's keys first, then the key files.
async fn handshake(
    target: &SshTarget,
    keys: Vec<LoadedKey>,
    agent: Option<PathBuf>,
    via: Option<&client::Handle<Verifier>>,
) -> Result<client::Handle<Verifier>, SshError> {
    let name = target.name();
    let connect_err = |message: String| SshError::Connect {
        target: name.clone(),
        message,
    };
    let mut handle = open(target, via).await?;
    let rsa_hash = if agent.is_some() || keys.iter().any(|k| k.key.algorithm().is_rsa()) {
        handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten()
    } else {
        None
    };
    let mut tried = Vec::new();
    if let Some(sock) = agent {
        match with_agent(&mut handle, &target.user, &sock, rsa_hash).await {
            Ok(None) => return Ok(handle),
            Ok(Some(t)) | Err(t) => tried.push(t),
        }
    }
    for LoadedKey { label, key } in keys {
        let auth = handle
            .authenticate_publickey(
                target.user.clone(),
                PrivateKeyWithHashAlg::new(Arc::new(key), rsa_hash),
            )
            .await
            .map_err(|e| connect_err(format!("during authentication: {e}")))?;
        if auth.success() {
            tracing::debug!(ssh = %name, key = %label, "SSH connection authenticated");
            return Ok(handle);
        }
        tried.push(label);
    }
    Err(SshError::Auth {
        target: name,
        tried: tried.join(", "),
    })
}

/// Public-key authentication with each key ssh-agent (at `sock`) holds. `Ok(None)`: in;
/// otherwise what was tried (or why the agent could not be used), for the error.
async fn with_agent(
    handle: &mut client::Handle<Verifier>,
    user: &str,
    sock: &std::path::Path,
    rsa_hash: Option<russh::keys::HashAlg>,
) -> Result<Option<String>, String> {
    use russh::keys::agent::client::AgentClient;
    let shown = format!("ssh-agent ({})", sock.display());
    let mut agent = AgentClient::connect_uds(sock)
        .await
        .map_err(|e| format!("{shown}: cannot connect: {e}"))?;
    let ids = agent
        .request_identities()
        .await
        .map_err(|e| format!("{shown}: cannot list keys: {e}"))?;
    let n = ids.len();
    for id in ids {
        let key = id.public_key().into_owned();
        let hash = if key.algorithm().is_rsa() {
            rsa_hash
        } else {
            None
        };
        let auth = handle
            .authenticate_publickey_with(user.to_string(), key, hash, &mut agent)
            .await
            .map_err(|e| format!("{shown}: {e}"))?;
        if auth.success() {
            tracing::debug!(key = %id.comment(), "SSH connection authenticated by ssh-agent");
            return Ok(None);
        }
    }
    Ok(Some(format!("{shown}: {n} key(s)")))
}

impl SshSession {
    /// `user@host:port`
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Run `command` through the remote user's shell and collect its output and exit status.
    pub async fn exec(&self, command: &str, timeout: Duration) -> Result<ExecOutput, SshError> {
        self.exec_with_input(command, &[], timeout).await
    }

    /// [`SshSession::exec`] with `input` written to the command's standard input (how a
    /// secret reaches a remote command without being on its command line).
    pub async fn exec_with_input(
        &self,
        command: &str,
        input: &[u8],
        timeout: Duration,
    ) -> Result<ExecOutput, SshError> {
        tokio::time::timeout(timeout, self.exec_inner(command, input))
            .await
            .map_err(|_| SshError::Timeout {
                target: self.target.clone(),
                what: "remote command",
                after: timeout,
            })?
    }

    async fn exec_inner(&self, command: &str, input: &[u8]) -> Result<ExecOutput, SshError> {
        let exec_err = |message: String| SshError::Exec {
            target: self.target.clone(),
            message,
        };
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| exec_err(format!("cannot open a session channel: {e}")))?;
        channel
            .exec(true, command)
            .await
            .map_err(|e| exec_err(e.to_string()))?;
        if !input.is_empty() {
            channel
                .data(input)
                .await
                .map_err(|e| exec_err(format!("cannot send the command's input: {e}")))?;
        }
        // EOF on stdin lets a command that reads it finish.
        let _ = channel.eof().await;
        let mut out = ExecOutput::default();
        while let Some(msg) = channel.wait().await {
            match msg {
                ChannelMsg::Data { data } => out.stdout.extend_from_slice(&data),
                ChannelMsg::ExtendedData { data, ext: 1 } => out.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => out.exit_status = Some(exit_status),
                ChannelMsg::Failure => {
                    return Err(exec_err("the server refused to run the command".into()));
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The connection to the server is gone (closed, or keepalives unanswered).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed() || self.jump.as_ref().is_some_and(|j| j.is_closed())
    }

    /// From the remote host, open a TCP connection to `host:port` (an SSH `direct-tcpip`
    /// channel, what `ssh -W` uses) and wait up to `timeout` for the server there to speak
    /// first, as a MySQL server does with its handshake (or with an error packet such as "Too
    /// many connections": either way a live server). Then log in as `login` and quit, so the
    /// probe never counts as a connection error against the remote host (see
    /// sql/handshake.rs). Used to ask a replica's host whether it can reach the master when
    /// the manager cannot.
    pub async fn probe_tcp(
        &self,
        host: &str,
        port: u16,
        timeout: Duration,
        login: Option<(&str, &Secret)>,
    ) -> TcpProbe {
        use crate::sql::handshake::{self, Greeting};
        let started = std::time::Instant::now();
        let mut channel = match tokio::time::timeout(
            timeout,
            self.handle
                .channel_open_direct_tcpip(host, u32::from(port), "127.0.0.1", 0),
        )
        .await
        {
            Err(_) => {
                return TcpProbe::NoAnswer(format!(
                    "no connection within {:.1} s",
                    timeout.as_secs_f64()
                ));
            }
            Ok(Ok(c)) => c,
            // sshd answers "Connect failed" when the target refuses or is unreachable,
            // "administratively prohibited" when forwarding is off.
            Ok(Err(russh::Error::ChannelOpenFailure(
                russh::ChannelOpenFailure::AdministrativelyProhibited,
            ))) => {
                return TcpProbe::Unavailable(format!(
                    "{}: TCP forwarding is disabled (AllowTcpForwarding)",
                    self.target
                ));
            }
            Ok(Err(russh::Error::ChannelOpenFailure(other))) => {
                return TcpProbe::NoAnswer(format!("connect failed ({other:?})"));
            }
            Ok(Err(e)) => return TcpProbe::Unavailable(format!("{}: {e}", self.target)),
        };
        let mut buf = Vec::new();
        // Read one whole packet within what is left of `timeout`.
        macro_rules! next_packet {
            ($left:expr) => {{
                let read = async {
                    loop {
                        if let Some(p) = handshake::take_packet(&mut buf) {
                            break Some(p);
                        }
                        match channel.wait().await {
                            Some(ChannelMsg::Data { data }) => buf.extend_from_slice(&data),
                            Some(ChannelMsg::Eof | ChannelMsg::Close) | None => break None,
                            Some(_) => {}
                        }
                    }
                };
                tokio::time::timeout($left, read).await
            }};
        }
        let greeting = match next_packet!(timeout) {
            Err(_) => {
                let _ = channel.close().await;
                return TcpProbe::NoAnswer(format!(
                    "no handshake within {:.1} s",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => {
                return TcpProbe::NoAnswer("the connection closed without a handshake".into());
            }
            Ok(Some(p)) => p,
        };
        let (scramble, plugin) = match handshake::parse_greeting(&greeting) {
            Ok(Greeting::Handshake { scramble, plugin }) => (scramble, plugin),
            Ok(Greeting::Error { code, message }) => {
                let _ = channel.close().await;
                return TcpProbe::Answered(format!("the server answered error {code} {message}"));
            }
            Err(e) => {
                let _ = channel.close().await;
                return TcpProbe::Answered(format!("something answers on the port: {e}"));
            }
        };
        let mut detail = "the server sent its handshake".to_string();
        if let Some((user, password)) = login
            && let Some(answer) = handshake::scramble_answer(&plugin, password.expose(), &scramble)
        {
            let left = timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(200));
            let sent = channel
                .data(&handshake::login_packet(user, &plugin, &answer)[..])
                .await
                .is_ok();
            detail = match (sent, next_packet!(left)) {
                (true, Ok(Some(p))) => match p.first() {
                    Some(0x00) => {
                        let _ = channel.data(&handshake::quit_packet()[..]).await;
                        "the server sent its handshake and the manager's user logged in".into()
                    }
                    Some(0xff) => "the server sent its handshake, then refused the login".into(),
                    // caching_sha2_password's "fast auth done", then its OK.
                    Some(0x01) if p.get(1) == Some(&3) => {
                        let _ = next_packet!(left);
                        let _ = channel.data(&handshake::quit_packet()[..]).await;
                        "the server sent its handshake and the manager's user logged in".into()
                    }
                    _ => "the server sent its handshake (login not completed)".into(),
                },
                _ => detail,
            };
        }
        let _ = channel.eof().await;
        let _ = channel.close().await;
        TcpProbe::Answered(detail)
    }

    /// Say goodbye to the server; dropping the session also closes it, less politely.
    pub async fn close(self) {
        for handle in std::iter::once(self.handle).chain(self.jump) {
            let _ = handle.disconnect(Disconnect::ByApplication, "", "en").await;
        }
    }
}

/// Log in as the configured user and run `exit 0`, within twice the connect timeout: the
/// reachability check used at start-up, as death evidence and before salvaging binlogs.
/// `Err` says why, never with secrets.
pub async fn login_check(config: &crate::config::SshConfig) -> Result<(), String> {
    let (target, _warnings) = SshTarget::from_config(config);
    let attempt = async {
        let session = connect(&target).await?;
        let out = session.exec("exit 0", config.connection_timeout).await?;
        session.close().await;
        Ok::<bool, SshError>(out.success())
    };
    match tokio::time::timeout(config.connection_timeout * 2, attempt).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(format!("{}: `exit 0` failed", target.name())),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("{}: timed out", target.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(options: Option<&str>) -> SshConfig {
        SshConfig {
            user: "mha".into(),
            host: "db1".into(),
            ip: "10.0.0.1".into(),
            port: 22,
            connection_timeout: DEFAULT_CONNECT_TIMEOUT,
            options: options.map(str::to_string),
            key: None,
            known_hosts_file: default_known_hosts(),
        }
    }

    /// ~/.ssh/config fills in what mha's own settings leave at their defaults, never more.
    #[test]
    fn the_users_ssh_config_fills_defaults_only() {
        let file = "Host db1\n  HostName 192.0.2.1\n  Port 2222\n  User dba\n  IdentityFile /k\n";
        let settings = user_config::lookup(file, "db1", "cfg");
        let path = std::path::Path::new("cfg");
        let mut os = config(None);
        os.user = current_os_user();
        let mut set = config(Some("-i /mine"));
        set.port = 2300;
        for (c, want) in [
            (os, ("192.0.2.1", 2222, "dba", KeySource::File("/k".into()))),
            (
                set,
                ("192.0.2.1", 2300, "mha", KeySource::File("/mine".into())),
            ),
        ] {
            let (mut t, _) = SshTarget::from_config(&c);
            t.apply_user_config(&c, settings.clone(), path);
            assert_eq!(
                (t.host.as_str(), t.port, t.user.as_str(), t.key.clone()),
                want
            );
            assert_eq!(t.refused, None);
        }
    }

    /// A one-hop ProxyJump becomes the jump target (its settings from the value, the key
    /// sources, known_hosts and timeout of the target); `none` is direct; a ProxyCommand or
    /// a chain makes every connection fail with the file and line.
    #[test]
    fn a_proxy_jump_is_one_hop_and_the_rest_is_refused() {
        let path = std::path::Path::new("cfg");
        let with = |file: &str| {
            let c = config(Some("-i /k -o ConnectTimeout=3"));
            let (mut t, _) = SshTarget::from_config(&c);
            t.apply_user_config(&c, user_config::lookup(file, "db1", "cfg"), path);
            t
        };
        let t = with("Host db*\n  ProxyJump dba@bastion:2222\n");
        assert_eq!(t.refused, None);
        let j = t.jump.clone().expect("a jump host");
        assert_eq!(j.name(), "dba@bastion:2222");
        assert_eq!(j.key, KeySource::File("/k".into()));
        assert_eq!(j.connect_timeout, Duration::from_secs(3));
        assert_eq!(
            (j.known_hosts, j.verify_host_key),
            (t.known_hosts.clone(), true)
        );
        let j = with("Host db1\n  ProxyJump bastion\n").jump.unwrap();
        assert_eq!((j.user, j.port), (current_os_user(), 22));
        let t = with("Host db1\n  ProxyJump none\nHost *\n  ProxyJump bastion\n");
        assert_eq!((t.jump, t.refused), (None, None));

        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for (file, why) in [
            (
                "Host db*\n  ProxyJump a,b\n",
                "cfg:2 says `ProxyJump a,b` for db1: mha's own SSH client goes through one jump host, not a chain",
            ),
            (
                "ProxyCommand nc %h %p\n",
                "cfg:1 says `ProxyCommand nc %h %p` for db1: mha's own SSH client cannot run a ProxyCommand",
            ),
            (
                "Host db1\n ProxyJump b:0\n",
                "cfg:2 says `ProxyJump b:0` for db1: \"0\" is not a port",
            ),
        ] {
            let t = with(file);
            assert!(t.jump.is_none());
            let got = t.refused.clone().unwrap();
            assert!(got.starts_with(why), "{got}");
            let err = rt.block_on(connect(&t)).err().unwrap().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    /// A jump host that accepts TCP but never speaks SSH: the connect timeout covers it, and
    /// the error names the jump hop.
    #[tokio::test]
    async fn the_connect_timeout_covers_the_jump_host() {
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = silent.local_addr().unwrap().port();
        let mut t = SshTarget::from_config(&config(None)).0;
        t.connect_timeout = Duration::from_millis(300);
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("id");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        t.key = KeySource::File(key);
        let mut j = t.clone();
        (j.host, j.port) = ("127.0.0.1".into(), port);
        t.jump = Some(Box::new(j));
        let started = std::time::Instant::now();
        let err = connect(&t).await.err().unwrap().to_string();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(
            err,
            format!(
                "mha@10.0.0.1:22: cannot connect: through the jump host mha@127.0.0.1:{port}: \
                 connect timed out after 0.3s"
            )
        );
        drop(silent);
    }

    #[test]
    fn defaults_without_ssh_options() {
        let (t, w) = SshTarget::from_config(&config(None));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(
            t,
            SshTarget {
                user: "mha".into(),
                host: "10.0.0.1".into(),
                port: 22,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                key: KeySource::DefaultFiles,
                known_hosts: default_known_hosts(),
                verify_host_key: true,
                refused: None,
                jump: None,
            }
        );
        assert_eq!(t.name(), "mha@10.0.0.1:22");
        assert_eq!(t.known_hosts_entry(), "10.0.0.1");
    }

    #[test]
    fn ssh_options_replace_defaults() {
        let (t, w) = SshTarget::from_config(&config(Some(
            "-i /k/id -p 2200 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/k/kh \
             -o ConnectTimeout=2",
        )));
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.key, KeySource::File("/k/id".into()));
        assert_eq!(t.port, 2200);
        assert_eq!(t.known_hosts, PathBuf::from("/k/kh"));
        assert_eq!(t.connect_timeout, Duration::from_secs(2));
        assert!(!t.verify_host_key);
        assert_eq!(t.known_hosts_entry(), "[10.0.0.1]:2200");
    }

    #[test]
    fn dedicated_keys_win_over_ssh_options_and_say_so() {
        let mut c = config(Some(
            "-i /k/id -p 2200 -o UserKnownHostsFile=/k/kh -o ConnectTimeout=2",
        ));
        c.key = Some(Secret::new("key material"));
        c.port = 2300;
        c.known_hosts_file = "/etc/mha/known_hosts".into();
        c.connection_timeout = Duration::from_secs(9);
        let (t, w) = SshTarget::from_config(&c);
        assert_eq!(t.key, KeySource::Config(Secret::new("key material")));
        assert_eq!(t.port, 2300);
        assert_eq!(t.known_hosts, PathBuf::from("/etc/mha/known_hosts"));
        assert_eq!(t.connect_timeout, Duration::from_secs(9));
        let want = [
            "`-i /k/id` is ignored by mha's own SSH connections: ssh_key, ssh_key_file or \
             ssh_key_env is set",
            "`-o UserKnownHostsFile=/k/kh` is ignored by mha's own SSH connections: \
             ssh_known_hosts_file is set",
            "`-p 2200` is ignored by mha's own SSH connections: ssh_port is set",
            "`-o ConnectTimeout=2` is ignored by mha's own SSH connections: \
             ssh_connection_timeout is set",
        ];
        assert_eq!(w.len(), want.len(), "{w:#?}");
        for (got, want) in w.iter().zip(want) {
            assert_eq!(got, &format!("ssh_options: {want}"));
        }
        assert!(!w.iter().any(|m| m.contains("key material")));
    }

    #[test]
    fn same_value_both_ways_is_not_a_conflict() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("id");
        std::fs::write(&key_file, "key material\n").unwrap();
        let mut c = config(Some(&format!(
            "-i {} -o UserKnownHostsFile=/etc/mha/kh -p 2300",
            key_file.display()
        )));
        c.key = Some(Secret::new("key material\n"));
        c.known_hosts_file = "/etc/mha/kh".into();
        c.port = 2300;
        let (t, w) = SshTarget::from_config(&c);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(t.port, 2300);
    }

    #[test]
    fn errors_never_show_key_material() {
        let t = SshTarget {
            key: KeySource::Config(Secret::new("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret")),
            ..SshTarget::from_config(&config(None)).0
        };
        let err = match load_keys(&t, false) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("garbage decoded as a key"),
        };
        assert!(
            err.starts_with("mha@10.0.0.1:22: private key: the key from ssh_key"),
            "{err}"
        );
        assert!(!err.contains("secret") && !err.contains("BEGIN"), "{err}");
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[test]
    fn a_missing_key_file_is_named() {
        let t = SshTarget {
            key: KeySource::File("/nonexistent/id".into()),
            ..SshTarget::from_config(&config(None)).0
        };
        let err = load_keys(&t, false)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cannot read /nonexistent/id"), "{err}");
    }
}
