//! Layering and typing: raw blocks from the global file, the app file, `init_conf_load_script`
//! and each server block become one typed [`Config`]. Every value remembers where it came from.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, ConfigErrors};
use super::keys::{self, KeyDef, Kind, Scope};
use super::raw::{BlockKind, RawBlock, RawEntry, RawFile, RawValue};
use super::*;
use crate::secret::Secret;

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Origin {
    Default,
    GlobalFile {
        file: PathBuf,
        line: Option<usize>,
    },
    ServerDefault {
        file: PathBuf,
        line: Option<usize>,
    },
    InitConfLoadScript {
        line: usize,
    },
    ServerBlock {
        file: PathBuf,
        block: String,
        line: Option<usize>,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |line: &Option<usize>| line.map(|l| format!(":{l}")).unwrap_or_default();
        match self {
            Origin::Default => f.write_str("default"),
            Origin::GlobalFile { file, line } => write!(f, "global {}{}", file.display(), at(line)),
            Origin::ServerDefault { file, line } => {
                write!(f, "[server default] {}{}", file.display(), at(line))
            }
            Origin::InitConfLoadScript { line } => {
                write!(f, "init_conf_load_script output line {line}")
            }
            Origin::ServerBlock { file, block, line } => {
                write!(f, "[{block}] {}{}", file.display(), at(line))
            }
        }
    }
}

/// A typed value as read from one layer.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(String),
    Port(u16),
    Flag(bool),
    Secs(Duration),
    Count(u32),
    List(Vec<String>),
}

impl Val {
    fn shown(&self, secret: bool) -> serde_json::Value {
        use serde_json::Value as J;
        if secret {
            return J::String(crate::secret::MASK.into());
        }
        match self {
            Val::Text(s) => J::String(s.clone()),
            Val::Port(p) => J::from(*p),
            Val::Flag(b) => J::from(u8::from(*b)),
            Val::Secs(d) if d.subsec_nanos() == 0 => J::from(d.as_secs()),
            Val::Secs(d) => serde_json::Number::from_f64(d.as_secs_f64())
                .map(J::Number)
                .unwrap_or(J::Null),
            Val::Count(c) => J::from(*c),
            Val::List(l) => J::String(l.join(",")),
        }
    }
}

fn parse_value(def: &KeyDef, raw: &RawValue) -> Result<Val, String> {
    let bad = || format!("expected {}, got {}", def.kind.expected(), raw.shown());
    let text = match raw {
        RawValue::Text(s) => Some(s.trim()),
        _ => None,
    };
    let int = match raw {
        RawValue::Int(i) => Some(*i),
        _ => text.and_then(|t| t.parse::<i64>().ok()),
    };
    match def.kind {
        Kind::Text | Kind::Secret => match raw {
            RawValue::Text(s) => Ok(Val::Text(s.clone())),
            _ => Err(bad()),
        },
        Kind::Port => int
            .and_then(|i| u16::try_from(i).ok())
            .filter(|p| *p > 0)
            .map(Val::Port)
            .ok_or_else(bad),
        Kind::Flag => match (raw, int) {
            (RawValue::Bool(b), _) => Ok(Val::Flag(*b)),
            (_, Some(0)) => Ok(Val::Flag(false)),
            (_, Some(1)) => Ok(Val::Flag(true)),
            _ => Err(bad()),
        },
        Kind::Seconds => int
            .filter(|i| *i > 0)
            .map(|i| Val::Secs(Duration::from_secs(i as u64)))
            .ok_or_else(bad),
        Kind::FractionalSeconds | Kind::Timeout => {
            let x = match raw {
                RawValue::Float(x) => Some(*x),
                _ => int
                    .map(|i| i as f64)
                    .or_else(|| text.and_then(|t| t.parse::<f64>().ok())),
            };
            x.filter(|x| x.is_finite() && *x > 0.0 && *x <= f64::from(keys::MAX_TIMEOUT_SECS))
                .map(Duration::from_secs_f64)
                // A value too small for the clock would be a zero wait.
                .filter(|d| !d.is_zero())
                .map(Val::Secs)
                .ok_or_else(bad)
        }
        Kind::Count => int
            .and_then(|i| u32::try_from(i).ok())
            .filter(|c| *c > 0)
            .map(Val::Count)
            .ok_or_else(bad),
        Kind::Choice(words) => text
            .and_then(|t| words.iter().find(|w| w.eq_ignore_ascii_case(t)))
            .map(|w| Val::Text(w.to_string()))
            .ok_or_else(bad),
        Kind::ListenAddr => text
            .filter(|t| t.parse::<std::net::SocketAddr>().is_ok())
            .map(|t| Val::Text(t.to_string()))
            .ok_or_else(bad),
        Kind::List => match raw {
            // MHA removes every space from the list before splitting on commas.
            RawValue::Text(s) => Ok(Val::List(
                s.split(',')
                    .map(|p| p.replace(char::is_whitespace, ""))
                    .filter(|p| !p.is_empty())
                    .collect(),
            )),
            RawValue::List(items) => Ok(Val::List(
                items.iter().map(|p| p.trim().to_string()).collect(),
            )),
            _ => Err(bad()),
        },
    }
}

/// One layer's checked entries.
struct Layer {
    origin_of: Box<dyn Fn(Option<usize>) -> Origin>,
    /// The file the values were written in (for world-readable secret warnings).
    file: Option<PathBuf>,
    values: Vec<(&'static KeyDef, Val, Option<usize>)>,
}

impl Layer {
    fn get(&self, key: &str) -> Option<(&Val, Option<usize>)> {
        self.values
            .iter()
            .find(|(d, _, _)| d.name == key)
            .map(|(_, v, l)| (v, *l))
    }
}

/// Check every entry of a block: known key, allowed in this kind of block, right type.
fn check_block(
    path: &Path,
    block: &RawBlock,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<String>,
) -> Vec<(&'static KeyDef, Val, Option<usize>)> {
    let shown_block = match block.kind {
        BlockKind::ServerDefault => "server default",
        _ => &block.name,
    };
    let mut out = Vec::new();
    for RawEntry { key, value, line } in &block.entries {
        let err = |msg: String| {
            ConfigError::new(path, msg)
                .line(*line)
                .block(shown_block)
                .key(key)
        };
        let Some(def) = keys::find(key) else {
            let hint = keys::suggest(key)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            errors.push(err(format!("unknown parameter{hint}")));
            continue;
        };
        let misplaced = match (block.kind, def.scope) {
            (BlockKind::ServerDefault, Scope::ServerOnly) => Some(
                "identifies one server; set it in that server's block, not in [server default]"
                    .to_string(),
            ),
            (BlockKind::Server, Scope::App) => {
                Some("is application-wide; set it in [server default]".to_string())
            }
            (BlockKind::Binlog, _) if !def.binlog => {
                Some("is not allowed in a binlog server block".to_string())
            }
            _ => None,
        };
        if let Some(m) = misplaced {
            errors.push(err(format!("`{key}` {m}")));
            continue;
        }
        if block.kind == BlockKind::ServerDefault && def.scope == Scope::PerServer {
            warnings.push(format!(
                "{}{}: `{key}` in [server default] is ignored, as MHA ignores it: it applies to no server; set it in each server's block",
                path.display(),
                line.map(|l| format!(":{l}")).unwrap_or_default()
            ));
            continue;
        }
        match parse_value(def, value) {
            Ok(v) => out.push((def, v, *line)),
            Err(m) => errors.push(err(m)),
        }
    }
    for base in ["password", "repl_password", "ssh_key"] {
        let set: Vec<_> = [
            base.to_string(),
            format!("{base}_file"),
            format!("{base}_env"),
        ]
        .into_iter()
        .filter(|k| out.iter().any(|(d, _, _)| d.name == k))
        .collect();
        if set.len() > 1 {
            errors.push(
                ConfigError::new(
                    path,
                    format!(
                        "{} are all set; give the secret one way only",
                        set.join(" and ")
                    ),
                )
                .block(shown_block)
                .key(base),
            );
        }
    }
    out
}

fn home_expand(p: &str) -> PathBuf {
    match (p.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(p),
    }
}

/// The values one server (or the application) sees, most specific layer first.
struct View<'a> {
    layers: Vec<&'a Layer>,
}

impl View<'_> {
    fn lookup(&self, key: &str) -> Option<(Val, Origin, Option<&Path>)> {
        for layer in &self.layers {
            if let Some((v, line)) = layer.get(key) {
                return Some((v.clone(), (layer.origin_of)(line), layer.file.as_deref()));
            }
        }
        let def = keys::find(key)?;
        if def.default.is_empty() {
            return None;
        }
        let v = parse_value(def, &RawValue::Text(def.default.into())).ok()?;
        Some((v, Origin::Default, None))
    }

    fn text(&self, key: &str) -> Option<String> {
        match self.lookup(key) {
            Some((Val::Text(s), _, _)) if !s.is_empty() => Some(s),
            _ => None,
        }
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.lookup(key), Some((Val::Flag(true), _, _)))
    }

    fn port(&self, key: &str) -> u16 {
        match self.lookup(key) {
            Some((Val::Port(p), _, _)) => p,
            _ => unreachable!("{key} has a port default"),
        }
    }

    fn secs(&self, key: &str) -> Duration {
        match self.lookup(key) {
            Some((Val::Secs(d), _, _)) => d,
            _ => unreachable!("{key} has a seconds default"),
        }
    }

    fn list(&self, key: &str) -> Vec<PathBuf> {
        match self.lookup(key) {
            Some((Val::List(l), _, _)) => l.into_iter().map(PathBuf::from).collect(),
            _ => vec![],
        }
    }

    /// A flag set to a value mha does not support: a configuration error at the line that
    /// set it, with `why` (what mha does instead, and what to do).
    fn refuse_flag(&self, key: &str, unsupported: bool, why: &str, ctx: &mut Ctx) {
        for layer in &self.layers {
            let Some((v, line)) = layer.get(key) else {
                continue;
            };
            if *v == Val::Flag(unsupported) {
                let mut e = ConfigError::new(layer.file.clone().unwrap_or_default(), why)
                    .line(line)
                    .key(key);
                if let Origin::ServerBlock { block, .. } = (layer.origin_of)(line) {
                    e = e.block(&block);
                }
                if !ctx.errors.contains(&e) {
                    ctx.errors.push(e);
                }
            }
            return;
        }
    }

    /// An error about `key` at the line that set it (the application's file when unset).
    fn error_at(&self, key: &str, app_path: &Path, why: String) -> ConfigError {
        let (file, line, block) = match self.lookup(key).map(|(_, origin, _)| origin) {
            Some(Origin::GlobalFile { file, line } | Origin::ServerDefault { file, line }) => {
                (file, line, "server default".to_string())
            }
            Some(Origin::ServerBlock { file, block, line }) => (file, line, block),
            _ => (app_path.to_path_buf(), None, "server default".to_string()),
        };
        ConfigError::new(file, why)
            .line(line)
            .block(&block)
            .key(key)
    }

    /// The secret `base` from the most specific layer that gives it in any of its three forms.
    fn secret(&self, base: &str, ctx: &mut Ctx) -> Option<(Secret, Origin)> {
        let forms = [
            base.to_string(),
            format!("{base}_file"),
            format!("{base}_env"),
        ];
        for layer in &self.layers {
            for (i, form) in forms.iter().enumerate() {
                let Some((Val::Text(v), line)) = layer.get(form) else {
                    continue;
                };
                let origin = (layer.origin_of)(line);
                let fail = |msg: String| {
                    let mut e = ConfigError::new(layer.file.clone().unwrap_or_default(), msg)
                        .line(line)
                        .key(form);
                    if let Origin::ServerBlock { block, .. } = &origin {
                        e = e.block(block);
                    }
                    e
                };
                let value = match i {
                    0 => {
                        if let Some(file) = &layer.file {
                            ctx.warn_if_world_readable(file, form);
                        }
                        v.clone()
                    }
                    1 => {
                        let path = home_expand(v);
                        match std::fs::read_to_string(&path) {
                            Ok(content) => {
                                ctx.warn_if_world_readable(&path, form);
                                if base == "ssh_key" {
                                    content
                                } else {
                                    content.lines().next().unwrap_or("").to_string()
                                }
                            }
                            Err(e) => {
                                ctx.errors
                                    .push(fail(format!("cannot read {}: {e}", path.display())));
                                return None;
                            }
                        }
                    }
                    _ => match std::env::var(v) {
                        Ok(val) => val,
                        Err(_) => {
                            ctx.errors
                                .push(fail(format!("environment variable {v} is not set")));
                            return None;
                        }
                    },
                };
                return Some((Secret::new(value), origin));
            }
        }
        None
    }
}

struct Ctx {
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Ctx {
    fn warn_if_world_readable(&mut self, file: &Path, key: &str) {
        if let Ok(meta) = std::fs::metadata(file)
            && meta.permissions().mode() & 0o004 != 0
        {
            let w = format!(
                "{} holds a secret ({key}) and is readable by every user; run: chmod o-r {}",
                file.display(),
                file.display()
            );
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
    }
}

pub(super) struct Inputs<'a> {
    pub app: &'a RawFile,
    pub global: Option<&'a RawFile>,
    /// `name=value` lines printed by init_conf_load_script, if it ran.
    pub init_script_output: Option<&'a str>,
}

/// The `init_conf_load_script` configured in the app or global defaults, if any.
pub(super) fn init_conf_load_script(app: &RawFile, global: Option<&RawFile>) -> Option<String> {
    [Some(app), global]
        .into_iter()
        .flatten()
        .filter_map(|f| f.server_default()?.get("init_conf_load_script"))
        .find_map(|e| match &e.value {
            RawValue::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        })
}

pub(super) fn resolve(inputs: Inputs<'_>) -> Result<(Config, Vec<String>), ConfigErrors> {
    let app_path = inputs.app.path.clone();
    let mut ctx = Ctx {
        errors: vec![],
        warnings: vec![],
    };

    let mut default_layers: Vec<Layer> = Vec::new(); // least specific first
    if let Some(global) = inputs.global {
        for b in &global.blocks {
            if b.kind != BlockKind::ServerDefault {
                ctx.warnings.push(format!(
                    "{}: block [{}] ignored: only [server default] is read from the global file",
                    global.path.display(),
                    b.name
                ));
            }
        }
        if let Some(b) = global.server_default() {
            let file = global.path.clone();
            let values = check_block(&file, b, &mut ctx.errors, &mut ctx.warnings);
            let f2 = file.clone();
            default_layers.push(Layer {
                origin_of: Box::new(move |line| Origin::GlobalFile {
                    file: f2.clone(),
                    line,
                }),
                file: Some(file),
                values,
            });
        }
    }
    if let Some(b) = inputs.app.server_default() {
        let values = check_block(&app_path, b, &mut ctx.errors, &mut ctx.warnings);
        let f2 = app_path.clone();
        default_layers.push(Layer {
            origin_of: Box::new(move |line| Origin::ServerDefault {
                file: f2.clone(),
                line,
            }),
            file: Some(app_path.clone()),
            values,
        });
    }
    if let Some(out) = inputs.init_script_output {
        let mut entries = Vec::new();
        for (i, line) in out.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) => entries.push(RawEntry {
                    key: k.trim().into(),
                    value: RawValue::Text(v.trim().into()),
                    line: Some(i + 1),
                }),
                None => ctx.errors.push(ConfigError::new(
                    &app_path,
                    format!(
                        "init_conf_load_script printed line {} without `name=value`",
                        i + 1
                    ),
                )),
            }
        }
        let block = RawBlock {
            name: "server default".into(),
            kind: BlockKind::ServerDefault,
            line: None,
            entries,
        };
        let values = check_block(
            Path::new("init_conf_load_script output"),
            &block,
            &mut ctx.errors,
            &mut ctx.warnings,
        );
        default_layers.push(Layer {
            origin_of: Box::new(|line| Origin::InitConfLoadScript {
                line: line.unwrap_or(0),
            }),
            file: None,
            values,
        });
    }
    default_layers.reverse(); // most specific first

    let app_view = View {
        layers: default_layers.iter().collect(),
    };
    let app = AppSettings {
        ping_interval: app_view.secs("ping_interval"),
        ping_type: match app_view.text("ping_type").as_deref() {
            Some("CONNECT") => PingType::Connect,
            Some("INSERT") => PingType::Insert,
            _ => PingType::Select,
        },
        ping_failures: match app_view.lookup("ping_failures") {
            Some((Val::Count(c), _, _)) => c,
            _ => 4,
        },
        fast_crash_detection: app_view.flag("fast_crash_detection"),
        replica_check_interval: app_view.secs("replica_check_interval"),
        http_listen: app_view.text("http_listen").and_then(|t| t.parse().ok()),
        hook_password_args: app_view.flag("hook_password_args"),
        auto_rejoin: app_view.flag("auto_rejoin"),
        fencing: match app_view.text("fencing").as_deref() {
            Some("read_only") => Fencing::ReadOnly,
            Some("none") => Fencing::None,
            _ => Fencing::Kill,
        },
        semi_sync: match app_view.text("semi_sync").as_deref() {
            Some("on") => SemiSyncSetting::On,
            Some("off") => SemiSyncSetting::Off,
            _ => SemiSyncSetting::Auto,
        },
        secondary_check_script: app_view.text("secondary_check_script"),
        master_ip_failover_script: app_view.text("master_ip_failover_script"),
        master_ip_online_change_script: app_view.text("master_ip_online_change_script"),
        shutdown_script: app_view.text("shutdown_script"),
        report_script: app_view.text("report_script"),
        hook_timeout: app_view.secs("hook_timeout"),
        init_conf_load_script: app_view.text("init_conf_load_script"),
        manager_workdir: PathBuf::from(app_view.text("manager_workdir").unwrap_or_default()),
        manager_log: app_view.text("manager_log").map(PathBuf::from),
        log_level: app_view.text("log_level").unwrap_or_else(|| "info".into()),
        log_format: app_view
            .text("log_format")
            .unwrap_or_else(|| "human".into())
            .to_ascii_lowercase(),
        timeouts: timeouts(&app_view),
        etcd: etcd_settings(&app_view, &app_path, &mut ctx),
    };
    let mut effective = vec![
        effective_block("application", &app_view, |d| {
            d.scope == Scope::App && !d.timeout
        }),
        effective_block("timeouts", &app_view, |d| d.timeout),
    ];

    let mut servers = Vec::new();
    let mut binlog_servers = Vec::new();
    for block in inputs
        .app
        .blocks
        .iter()
        .filter(|b| b.kind != BlockKind::ServerDefault)
    {
        let values = check_block(&app_path, block, &mut ctx.errors, &mut ctx.warnings);
        let (f2, name) = (app_path.clone(), block.name.clone());
        let own = Layer {
            origin_of: Box::new(move |line| Origin::ServerBlock {
                file: f2.clone(),
                block: name.clone(),
                line,
            }),
            file: Some(app_path.clone()),
            values,
        };
        let mut layers = vec![&own];
        layers.extend(default_layers.iter());
        let view = View { layers };
        let Some(hostname) = view.text("hostname") else {
            if block.get("hostname").is_some() {
                continue; // its value was wrong, and that is reported already
            }
            ctx.errors.push(
                ConfigError::new(&app_path, "has no hostname; every server needs `hostname`")
                    .line(block.line)
                    .block(&block.name),
            );
            continue;
        };
        let ssh = ssh_config(&view, &hostname, &mut ctx);
        let master_binlog_dir = view.list("master_binlog_dir");
        let remote_workdir = PathBuf::from(view.text("remote_workdir").unwrap_or_default());
        let client_bindir = view.text("client_bindir").map(PathBuf::from);
        let client_libdir = view.text("client_libdir").map(PathBuf::from);
        if block.kind == BlockKind::Binlog {
            effective.push(effective_block(&block.name, &view, |d| d.binlog));
            binlog_servers.push(BinlogServerConfig {
                block: block.name.clone(),
                ip: view.text("ip").unwrap_or_else(|| hostname.clone()),
                hostname,
                ssh,
                master_binlog_dir,
                remote_workdir,
                client_bindir,
                client_libdir,
            });
            continue;
        }
        refuse_unsupported(&view, &mut ctx);
        let server = ServerConfig {
            block: block.name.clone(),
            ip: view.text("ip").unwrap_or_else(|| hostname.clone()),
            hostname,
            port: view.port("port"),
            node_label: view.text("node_label"),
            user: view.text("user").unwrap_or_else(|| "root".into()),
            password: view
                .secret("password", &mut ctx)
                .map(|s| s.0)
                .unwrap_or_default(),
            repl_user: view.text("repl_user"),
            repl_password: view.secret("repl_password", &mut ctx).map(|s| s.0),
            ssh,
            candidate_master: view.flag("candidate_master"),
            no_master: view.flag("no_master"),
            ignore_fail: view.flag("ignore_fail"),
            skip_init_ssh_check: view.flag("skip_init_ssh_check"),
            skip_reset_slave: view.flag("skip_reset_slave"),
            check_repl_delay: view.flag("check_repl_delay"),
            check_repl_filter: view.flag("check_repl_filter"),
            latest_priority: view.flag("latest_priority"),
            multi_tier_slave: view.flag("multi_tier_slave"),
            remote_workdir,
            master_binlog_dir,
            master_pid_file: view.text("master_pid_file").map(PathBuf::from),
            handle_raw_binlog: view.flag("handle_raw_binlog"),
            disable_log_bin: view.flag("disable_log_bin"),
            client_bindir,
            client_libdir,
            use_gtid_auto_pos: view.flag("use_gtid_auto_pos"),
        };
        if server.candidate_master && server.no_master {
            ctx.warnings.push(format!(
                "{}: [{}] has both candidate_master=1 and no_master=1; no_master wins (as in MHA)",
                app_path.display(),
                server.block
            ));
        }
        effective.push(effective_block(&block.name, &view, |d| {
            d.scope != Scope::App
        }));
        servers.push((server, block.line));
    }

    if servers.is_empty() && ctx.errors.is_empty() {
        ctx.errors.push(ConfigError::new(
            &app_path,
            "no server is defined; add a [server1] block with a hostname",
        ));
    }
    let mut seen: HashMap<(String, u16), &str> = HashMap::new();
    for (s, line) in &servers {
        if let Some(first) = seen.insert((s.ip.clone(), s.port), &s.block) {
            ctx.errors.push(
                ConfigError::new(&app_path, format!("{}:{} is already used by [{first}]; each server needs its own address and port", s.ip, s.port))
                    .line(*line)
                    .block(&s.block),
            );
        }
    }

    if !ctx.errors.is_empty() {
        return Err(ConfigErrors(ctx.errors));
    }
    let app_name = app_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".into());
    Ok((
        Config {
            app_name,
            path: app_path,
            global_path: inputs.global.map(|g| g.path.clone()),
            app,
            servers: servers.into_iter().map(|(s, _)| s).collect(),
            binlog_servers,
            effective,
        },
        ctx.warnings,
    ))
}

/// MHA values whose mechanism mha does not have: refused with the reason, never ignored.
fn refuse_unsupported(view: &View<'_>, ctx: &mut Ctx) {
    view.refuse_flag(
        "handle_raw_binlog",
        false,
        "0 (MHA: convert the dead master's binlog to SQL text on its host) is not supported: mha always copies the binlog bytes raw over SSH and decodes them on the manager with mariadb-binlog, which is MHA's default handle_raw_binlog=1; remove the line",
        ctx,
    );
    view.refuse_flag(
        "disable_log_bin",
        true,
        "1 (MHA: apply the recovered events without writing them to the target's binlog) is not supported: mha applies the dead master's events once, on the new master, and the other replicas fetch them from its binlog (GTID catch-up), so they must be binlogged; remove the line (MHA's default 0)",
        ctx,
    );
}

fn timeouts(view: &View<'_>) -> Timeouts {
    let secs = |key| view.secs(key);
    Timeouts {
        sql: secs("sql_timeout"),
        observe: secs("observe_timeout"),
        watch_connect: secs("watch_connect_timeout"),
        heartbeat_wait: secs("heartbeat_wait_timeout"),
        detection_max_age: secs("detection_max_age"),
        dead_master_connect: secs("dead_master_connect_timeout"),
        dead_master_recheck: secs("dead_master_recheck_timeout"),
        dead_master_ssh: secs("dead_master_ssh_timeout"),
        fence_kill: secs("fence_kill_timeout"),
        binlog_save: secs("binlog_save_timeout"),
        relay_log_apply: secs("relay_log_apply_timeout"),
        replication_start: secs("replication_start_timeout"),
        failover_catch_up: secs("failover_catch_up_timeout"),
        switch_catch_up: secs("switch_catch_up_timeout"),
        switch_orig_master_catch_up: secs("switch_orig_master_catch_up_timeout"),
        switch_lock_wait: match view.lookup("switch_lock_wait_timeout") {
            Some((Val::Secs(d), _, _)) => Some(d),
            _ => None,
        },
        check_ssh: secs("check_ssh_timeout"),
    }
}

fn ssh_config(view: &View<'_>, hostname: &str, ctx: &mut Ctx) -> SshConfig {
    let host = view
        .text("ssh_host")
        .unwrap_or_else(|| hostname.to_string());
    SshConfig {
        user: view
            .text("ssh_user")
            .unwrap_or_else(crate::ssh::current_os_user),
        ip: view.text("ssh_ip").unwrap_or_else(|| host.clone()),
        host,
        port: view.port("ssh_port"),
        connection_timeout: view.secs("ssh_connection_timeout"),
        options: view.text("ssh_options"),
        key: view.secret("ssh_key", ctx).map(|(s, _)| s),
        known_hosts_file: home_expand(&view.text("ssh_known_hosts_file").unwrap_or_default()),
    }
}

/// The effective values of one block for `check_config`, secrets masked.
fn effective_block(
    name: &str,
    view: &View<'_>,
    include: impl Fn(&KeyDef) -> bool,
) -> EffectiveBlock {
    let entries = keys::KEYS
        .iter()
        .filter(|d| include(d))
        .filter_map(|d| {
            let Some((v, origin, _)) = view.lookup(d.name) else {
                // Unset, but still a wait: say what it is then.
                return (!d.unset.is_empty()).then(|| EffectiveEntry {
                    key: d.name.to_string(),
                    value: serde_json::Value::String(d.unset.into()),
                    origin: Origin::Default,
                });
            };
            Some(EffectiveEntry {
                key: d.name.to_string(),
                value: v.shown(d.kind == Kind::Secret),
                origin,
            })
        })
        .collect();
    EffectiveBlock {
        name: name.to_string(),
        entries,
    }
}

/// The `etcd_*` keys; None when `etcd_endpoints` is empty. The endpoints are all `http://`
/// or all `https://` (TLS, with `etcd_cacert`).
fn etcd_settings(view: &View, app_path: &Path, ctx: &mut Ctx) -> Option<EtcdSettings> {
    let endpoints: Vec<String> = view
        .list("etcd_endpoints")
        .into_iter()
        .map(|p| p.to_string_lossy().trim().trim_end_matches('/').to_string())
        .filter(|e| !e.is_empty())
        .collect();
    if endpoints.is_empty() {
        return None;
    }
    let tls = etcd_https(view, app_path, &endpoints, ctx)
        .and_then(|https| etcd_tls(view, app_path, https, ctx));
    Some(EtcdSettings {
        endpoints,
        prefix: view
            .text("etcd_prefix")
            .unwrap_or_else(|| "/mha".into())
            .trim_end_matches('/')
            .to_string(),
        lease_ttl: view.secs("etcd_lease_ttl"),
        user: view.text("etcd_user"),
        password: view.secret("etcd_password", ctx).map(|s| s.0),
        tls,
    })
}

/// Whether the endpoints are `https://` ones; each is checked, and a mix is refused (None).
fn etcd_https(view: &View, app_path: &Path, endpoints: &[String], ctx: &mut Ctx) -> Option<bool> {
    let (mut http, mut https) = (false, false);
    for e in endpoints {
        let (tls, hostport) = match (e.strip_prefix("http://"), e.strip_prefix("https://")) {
            (Some(h), _) => (false, h),
            (_, Some(h)) => (true, h),
            _ => (false, ""),
        };
        (http, https) = (http || !tls, https || tls);
        let why = if hostport.is_empty() || hostport.contains('/') {
            Some("not an http://host:port or https://host:port URL".to_string())
        } else if tls {
            crate::tls::server_name(hostport).err()
        } else {
            None
        };
        if let Some(why) = why {
            let e = view.error_at("etcd_endpoints", app_path, format!("`{e}`: {why}"));
            ctx.errors.push(e);
        }
    }
    if http && https {
        let why = "mixes http:// and https:// URLs; give every member's URL with the same scheme";
        ctx.errors
            .push(view.error_at("etcd_endpoints", app_path, why.into()));
        return None;
    }
    Some(https)
}

/// `etcd_cacert`, `etcd_cert` and `etcd_key`, read and checked: refused with `http://`
/// endpoints, `etcd_cacert` required with `https://` ones.
fn etcd_tls(view: &View, app_path: &Path, https: bool, ctx: &mut Ctx) -> Option<EtcdTls> {
    const KEYS: [&str; 3] = ["etcd_cacert", "etcd_cert", "etcd_key"];
    let [ca, cert, key] = KEYS.map(|k| view.text(k));
    let mut fail = |key: &str, why: &str| ctx.errors.push(view.error_at(key, app_path, why.into()));
    if !https {
        for k in KEYS.iter().filter(|k| view.text(k).is_some()) {
            fail(
                k,
                "is set but etcd_endpoints are not https:// URLs; use https:// or remove it",
            );
        }
        return None;
    }
    let Some(ca) = ca else {
        let why = "https:// URLs need etcd_cacert (the PEM file of the CA that signed the \
                   etcd members' certificates)";
        fail("etcd_endpoints", why);
        return None;
    };
    if cert.is_some() != key.is_some() {
        let set = if cert.is_some() {
            "etcd_cert"
        } else {
            "etcd_key"
        };
        fail(
            set,
            "etcd_cert and etcd_key go together: set both or neither",
        );
        return None;
    }
    let ca = pem_file(view, app_path, "etcd_cacert", &ca, ctx);
    let client = cert.zip(key).map(|(cert, key)| {
        let cert = pem_file(view, app_path, "etcd_cert", &cert, ctx);
        (cert, pem_file(view, app_path, "etcd_key", &key, ctx))
    });
    let tls = match (ca, client) {
        (Some(ca_pem), None) => EtcdTls {
            ca_pem,
            client: None,
        },
        (Some(ca_pem), Some((Some(cert), Some(key)))) => EtcdTls {
            ca_pem,
            client: Some((cert, Secret::new(key))),
        },
        _ => return None,
    };
    if let Err((key, why)) = crate::tls::client_config(&tls.ca_pem, tls.client.as_ref()) {
        let path = view.text(key).unwrap_or_default();
        let why = format!("{}: {why}", home_expand(&path).display());
        ctx.errors.push(view.error_at(key, app_path, why));
        return None;
    }
    Some(tls)
}

/// The text of the PEM file that `key` names (`etcd_key`'s is a secret: a warning if every
/// user can read it).
fn pem_file(view: &View, app_path: &Path, key: &str, path: &str, ctx: &mut Ctx) -> Option<String> {
    let path = home_expand(path);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            if key == "etcd_key" {
                ctx.warn_if_world_readable(&path, key);
            }
            Some(text)
        }
        Err(e) => {
            let why = format!("cannot read {}: {e}", path.display());
            ctx.errors.push(view.error_at(key, app_path, why));
            None
        }
    }
}
