//! Edits of an application's configuration file that keep what the DBA wrote: comments, blank
//! lines and the order of everything not edited stay byte for byte. MHA's conf_host and
//! `--remove_dead_master_conf` rewrote the file through Config::Tiny, losing every comment and
//! blank line, and wrote it in place; a crash in the middle left half a file.
//!
//! Both formats follow one rule for what a block is, so they behave alike:
//! - A block starts with its *lead*: the comment lines directly above its `[header]` (no blank
//!   line between them and the header) plus at most one blank line above those (the separator).
//! - It runs from there to the line before the next block's lead, or to the end of the file for
//!   the last block (so comments at the very end of the file belong to the last block).
//!
//! So comments written right above a header leave with their block, and a comment separated
//! from the next header by a blank line stays with the block above it. Adding a block appends
//! one blank line and the block at the end of the file; deleting it again gives back the
//! original text (a file without a final newline gets one).
//!
//! Every write is checked before it replaces anything: the new text must parse with the same
//! reader [`super::parse_text`] uses, and every block not edited must read back with exactly
//! the same keys and values. Then it goes to a temporary file in the same directory (owner and
//! permissions of the original), which is fsynced, read back, parsed again and renamed over the
//! original. A symlinked config file stays a symlink; its target is replaced. There is no lock:
//! a file changed by someone else while we edit is detected just before the rename and refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::error::ConfigErrors;
use super::keys::{self, Kind, Scope};
use super::raw::{BlockKind, RawFile, RawValue};

/// MHA's default port, used when neither the block nor `[server default]` gives one.
const DEFAULT_PORT: u16 = 3306;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{}: cannot {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{}: not edited because the file has errors; fix them first\n{errors}", path.display())]
    Invalid { path: PathBuf, errors: ConfigErrors },
    #[error("{}: not edited because the result would not load\n{errors}", path.display())]
    WouldBreak { path: PathBuf, errors: ConfigErrors },
    #[error(
        "{}: not edited because the edit would also change blocks other than [{block}] (a bug in mha; please report it with the file)",
        path.display()
    )]
    Unexpected { path: PathBuf, block: String },
    #[error("{}: not edited because the file changed while it was being edited; try again", path.display())]
    ChangedMeanwhile { path: PathBuf },
    #[error("{}: [{block}] already exists", path.display())]
    BlockExists { path: PathBuf, block: String },
    #[error("{}: [{block}] is not a server block name: {reason}", path.display())]
    BadBlockName {
        path: PathBuf,
        block: String,
        reason: String,
    },
    #[error("{}: [{block}] {key}: unknown parameter{}", path.display(), suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownKey {
        path: PathBuf,
        block: String,
        key: String,
        suggestion: Option<&'static str>,
    },
    #[error("{}: [{block}] {key}: {reason}", path.display())]
    KeyNotAllowed {
        path: PathBuf,
        block: String,
        key: String,
        reason: String,
    },
    #[error("{}: [{block}] {key}: expected {expected}, got {shown}", path.display())]
    BadValue {
        path: PathBuf,
        block: String,
        key: String,
        expected: String,
        /// The value as given, or a mask for secrets.
        shown: String,
    },
    #[error(
        "{}: [{block}] {address} is already used by [{used_by}]; each server needs its own address and port",
        path.display()
    )]
    AddressInUse {
        path: PathBuf,
        block: String,
        address: String,
        used_by: String,
    },
    #[error("{}: several server blocks have hostname {hostname} ({}); give the port too", path.display(), blocks.join(", "))]
    AmbiguousHost {
        path: PathBuf,
        hostname: String,
        blocks: Vec<String>,
    },
}

/// Remove block `[block]`: a server (or binlog server) block, never `[server default]`.
/// `Ok(false)` when there is no such block; the file is then not touched.
pub fn delete_server_block(path: &Path, block: &str) -> Result<bool, WriteError> {
    if BlockKind::of(block) == Some(BlockKind::ServerDefault) {
        return Err(WriteError::BadBlockName {
            path: path.into(),
            block: block.into(),
            reason: "[server default] holds the settings of every server; it cannot be deleted"
                .into(),
        });
    }
    let (text, before) = read(path)?;
    if !before.blocks.iter().any(|b| b.name == block) {
        return Ok(false);
    }
    let new_text = match Format::of(path) {
        Format::Ini => ini_delete(&text, block),
        Format::Toml => toml_delete(&text, block),
    }
    .ok_or_else(|| WriteError::Unexpected {
        path: path.into(),
        block: block.into(),
    })?;
    let mut expected = shape(&before);
    expected.retain(|b| b.0 != block);
    commit(path, &text, &new_text, block, expected)?;
    Ok(true)
}

/// Append server block `[block]` with `hostname` first, then `entries` in the given order.
/// Keys are checked against the key table (server keys only), values by the readers' rules;
/// TOML values get their TOML type (ports, flags, counts as integers; lists as arrays).
pub fn add_server_block(
    path: &Path,
    block: &str,
    hostname: &str,
    entries: &[(String, String)],
) -> Result<(), WriteError> {
    let (text, new_text, expected) = with_server_block(path, block, hostname, entries)?;
    commit(path, &text, &new_text, block, expected)
}

/// The file's text as [`add_server_block`] would write it, checked the same way, without
/// writing anything: what a configuration with the block in it resolves to (`mha rejoin
/// --dry-run`).
pub fn text_with_server_block(
    path: &Path,
    block: &str,
    hostname: &str,
    entries: &[(String, String)],
) -> Result<String, WriteError> {
    let (_, new_text, expected) = with_server_block(path, block, hostname, entries)?;
    let after = super::parse_text(path, &new_text).map_err(|errors| WriteError::WouldBreak {
        path: path.into(),
        errors,
    })?;
    if shape(&after) != expected {
        return Err(WriteError::Unexpected {
            path: path.into(),
            block: block.into(),
        });
    }
    Ok(new_text)
}

/// The old text, the new text with the block appended, and what the new text must mean.
fn with_server_block(
    path: &Path,
    block: &str,
    hostname: &str,
    entries: &[(String, String)],
) -> Result<(String, String, Shape), WriteError> {
    check_block_name(path, block)?;
    let (text, before) = read(path)?;
    if before.blocks.iter().any(|b| b.name == block) {
        return Err(WriteError::BlockExists {
            path: path.into(),
            block: block.into(),
        });
    }
    let format = Format::of(path);
    let mut all = vec![("hostname".to_string(), hostname.to_string())];
    all.extend(entries.iter().cloned());
    let checked = check_entries(path, block, &all)?;
    check_address_free(path, block, &before, &checked)?;

    let new_text = match format {
        Format::Ini => ini_add(&text, block, &checked),
        Format::Toml => toml_add(&text, block, &checked).ok_or_else(|| WriteError::Invalid {
            path: path.into(),
            errors: super::ConfigError::new(path, "toml_edit cannot read this file").into(),
        })?,
    };
    let mut expected = shape(&before);
    expected.push((
        block.to_string(),
        BlockKind::Server,
        checked
            .iter()
            .map(|e| (e.key.to_string(), e.raw(format)))
            .collect(),
    ));
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((text, new_text, expected))
}

/// A server block's `hostname`, and its other entries as `key=value` text.
pub type BlockParams = (String, Vec<(String, String)>);

/// Server block `[block]` as [`add_server_block`] takes it back: its `hostname`, and its
/// other entries as `key=value` text in file order (lists joined with commas). None when
/// there is no such block. Kept before `--remove_dead_master_conf` deletes a block, so that
/// `mha rejoin` can write it again.
pub fn server_block_params(path: &Path, block: &str) -> Result<Option<BlockParams>, WriteError> {
    let (_, file) = read(path)?;
    let Some(b) = file
        .blocks
        .iter()
        .find(|b| b.name == block && b.kind == BlockKind::Server)
    else {
        return Ok(None);
    };
    let text = |v: &RawValue| match v {
        RawValue::Text(t) => t.clone(),
        RawValue::Int(i) => i.to_string(),
        RawValue::Float(x) => x.to_string(),
        RawValue::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        RawValue::List(l) => l.join(","),
    };
    let mut hostname = String::new();
    let mut params = Vec::new();
    for e in &b.entries {
        if e.key == "hostname" {
            hostname = text(&e.value);
        } else {
            params.push((e.key.clone(), text(&e.value)));
        }
    }
    Ok(Some((hostname, params)))
}

/// The name of the server block whose `hostname` is `hostname` (and whose port is `port`, when
/// given: the block's own port, else the file's `[server default]` port, else 3306; the global
/// defaults file is not read). Several matches without a port are an error naming them.
pub fn find_block_by_host(
    path: &Path,
    hostname: &str,
    port: Option<u16>,
) -> Result<Option<String>, WriteError> {
    let (_, file) = read(path)?;
    let matches: Vec<String> = servers(&file)
        .into_iter()
        .filter(|s| s.hostname == hostname && port.is_none_or(|p| p == s.port))
        .map(|s| s.block)
        .collect();
    match matches.len() {
        0 => Ok(None),
        1 => Ok(matches.into_iter().next()),
        _ => Err(WriteError::AmbiguousHost {
            path: path.into(),
            hostname: hostname.into(),
            blocks: matches,
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ini,
    Toml,
}

impl Format {
    /// The readers' rule (`super::parse_text`): `.toml` is TOML, anything else MHA's INI.
    fn of(path: &Path) -> Format {
        if path.extension().is_some_and(|e| e == "toml") {
            Format::Toml
        } else {
            Format::Ini
        }
    }
}

fn read(path: &Path) -> Result<(String, RawFile), WriteError> {
    let text = fs::read_to_string(path).map_err(|source| WriteError::Io {
        path: path.into(),
        action: "read the file",
        source,
    })?;
    let raw = super::parse_text(path, &text).map_err(|errors| WriteError::Invalid {
        path: path.into(),
        errors,
    })?;
    Ok((text, raw))
}

type Shape = Vec<(String, BlockKind, Vec<(String, RawValue)>)>;

/// What a file means, without line numbers, blocks sorted by name.
fn shape(file: &RawFile) -> Shape {
    let mut s: Shape = file
        .blocks
        .iter()
        .map(|b| {
            let entries = b
                .entries
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            (b.name.clone(), b.kind, entries)
        })
        .collect();
    s.sort_by(|a, b| a.0.cmp(&b.0));
    s
}

/// Check `new_text`, then replace the file with it atomically.
fn commit(
    path: &Path,
    old_text: &str,
    new_text: &str,
    block: &str,
    expected: Shape,
) -> Result<(), WriteError> {
    let after = super::parse_text(path, new_text).map_err(|errors| WriteError::WouldBreak {
        path: path.into(),
        errors,
    })?;
    if shape(&after) != expected {
        return Err(WriteError::Unexpected {
            path: path.into(),
            block: block.into(),
        });
    }
    replace_file(path, old_text, new_text)
}

#[cfg(test)]
thread_local! {
    /// Makes the next write fail just before the rename (tests of the failure path).
    static FAIL_BEFORE_RENAME: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Write to a temporary file beside the target, fsync, re-parse what is on disk, rename over
/// the target. The temporary file is removed on every failure.
fn replace_file(path: &Path, old_text: &str, new_text: &str) -> Result<(), WriteError> {
    let io_err = |action: &'static str| {
        move |source: io::Error| WriteError::Io {
            path: path.into(),
            action,
            source,
        }
    };
    // Replace the file a symlink points to, not the link.
    let target = fs::canonicalize(path).map_err(io_err("resolve the file's path"))?;
    let meta = fs::metadata(&target).map_err(io_err("read the file's permissions"))?;
    let dir = target.parent().unwrap_or(Path::new("/"));
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{name}.mha-{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    struct RemoveOnDrop<'a>(Option<&'a Path>);
    impl Drop for RemoveOnDrop<'_> {
        fn drop(&mut self) {
            if let Some(p) = self.0 {
                let _ = fs::remove_file(p);
            }
        }
    }
    // 0600 until the original's mode is applied: the file may hold passwords.
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err("create a temporary file in the file's directory"))?;
    let mut guard = RemoveOnDrop(Some(&tmp));
    file.write_all(new_text.as_bytes())
        .map_err(io_err("write the temporary file"))?;
    let own = file
        .metadata()
        .map_err(io_err("read the temporary file's owner"))?;
    if (own.uid(), own.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))
            .map_err(io_err("give the new file the original's owner"))?;
    }
    file.set_permissions(meta.permissions())
        .map_err(io_err("give the new file the original's permissions"))?;
    file.sync_all()
        .map_err(io_err("flush the temporary file to disk"))?;
    drop(file);

    let on_disk = fs::read_to_string(&tmp).map_err(io_err("read back the temporary file"))?;
    if on_disk != new_text {
        return Err(WriteError::Io {
            path: path.into(),
            action: "write the temporary file",
            source: io::Error::other("it reads back different from what was written"),
        });
    }
    super::parse_text(path, &on_disk).map_err(|errors| WriteError::WouldBreak {
        path: path.into(),
        errors,
    })?;
    if fs::read_to_string(&target).ok().as_deref() != Some(old_text) {
        return Err(WriteError::ChangedMeanwhile { path: path.into() });
    }
    #[cfg(test)]
    if FAIL_BEFORE_RENAME.with(|f| f.replace(false)) {
        return Err(io_err("replace the file")(io::Error::other(
            "injected failure",
        )));
    }
    fs::rename(&tmp, &target).map_err(io_err("replace the file"))?;
    guard.0 = None;
    // Best effort: makes the rename itself durable; the edit is done either way.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---- the block rule, shared by both formats ----

#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Header(String),
    Comment,
    Blank,
    Other,
}

/// Classify a line as MHA's INI reader does (`#`/`;` comments, `[name]` headers, trimmed).
fn classify(line: &str) -> Line {
    let t = line.trim();
    if t.is_empty() {
        Line::Blank
    } else if t.starts_with('#') || t.starts_with(';') {
        Line::Comment
    } else if let Some(rest) = t.strip_prefix('[') {
        Line::Header(rest.strip_suffix(']').unwrap_or(rest).trim().to_string())
    } else {
        Line::Other
    }
}

/// Where the lead of the header at `h` starts: comment lines directly above it, then at most
/// one blank line above those.
fn lead_start(lines: &[Line], h: usize) -> usize {
    let mut s = h;
    while s > 0 && lines[s - 1] == Line::Comment {
        s -= 1;
    }
    if s > 0 && lines[s - 1] == Line::Blank {
        s -= 1;
    }
    s
}

/// Split the comments and blank lines in front of a header into (what belongs to the block
/// above, the header's own lead). A last piece without a newline is the header's indentation.
fn split_gap(gap: &str) -> (&str, &str) {
    let pieces: Vec<&str> = gap.split_inclusive('\n').collect();
    let full = pieces.iter().take_while(|p| p.ends_with('\n')).count();
    let kinds: Vec<Line> = pieces[..full].iter().map(|p| classify(p)).collect();
    let at: usize = pieces[..lead_start(&kinds, full)]
        .iter()
        .map(|p| p.len())
        .sum();
    gap.split_at(at)
}

// ---- MHA's INI: edited as text, line by line ----

fn ini_delete(text: &str, block: &str) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let kinds: Vec<Line> = lines.iter().map(|l| classify(l)).collect();
    let h = kinds
        .iter()
        .position(|k| *k == Line::Header(block.to_string()))?;
    let end = match (h + 1..kinds.len()).find(|&i| matches!(kinds[i], Line::Header(_))) {
        Some(next) => lead_start(&kinds, next),
        None => lines.len(),
    };
    let start = lead_start(&kinds, h);
    Some(lines[..start].concat() + &lines[end..].concat())
}

fn ini_add(text: &str, block: &str, entries: &[Checked]) -> String {
    let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut out = text.to_string();
    if !out.is_empty() {
        if !out.ends_with('\n') {
            out.push_str(nl);
        }
        out.push_str(nl);
    }
    out.push_str(&format!("[{block}]{nl}"));
    for e in entries {
        out.push_str(&format!("{}={}{nl}", e.key, ini_value(&e.value)));
    }
    out
}

/// The reader trims values and strips one pair of surrounding quotes; quote values that would
/// otherwise read back differently.
fn ini_value(v: &str) -> String {
    let quoted = |q| v.len() >= 2 && v.starts_with(q) && v.ends_with(q);
    if v != v.trim() || quoted('"') || quoted('\'') {
        format!("\"{v}\"")
    } else {
        v.to_string()
    }
}

// ---- TOML: edited with toml_edit, moving only the comments the block rule says ----

fn toml_delete(text: &str, block: &str) -> Option<String> {
    let mut doc: DocumentMut = text.parse().ok()?;
    let pos = doc.get(block)?.as_table()?.position()?;
    let (keep, _) = split_gap(prefix_of(doc.get(block)?.as_table()?));
    let keep = keep.to_string();
    let next = doc
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.as_table()?.position()?)))
        .filter(|(_, p)| *p > pos)
        .min_by_key(|(_, p)| *p)
        .map(|(k, _)| k);
    doc.remove(block)?;
    match next {
        Some(next) => {
            let t = doc.get_mut(&next)?.as_table_mut()?;
            // What stood between the deleted block's last key and the next lead was the
            // deleted block's; the next block keeps its own lead.
            let (_, own) = split_gap(prefix_of(t));
            let prefix = keep + own;
            t.decor_mut().set_prefix(prefix);
        }
        // The end of the file belonged to the deleted (last) block.
        None => doc.set_trailing(keep),
    }
    Some(toml_text(&doc, text))
}

fn toml_add(text: &str, block: &str, entries: &[Checked]) -> Option<String> {
    let mut doc: DocumentMut = text.parse().ok()?;
    let mut table = Table::new();
    for e in entries {
        table.insert(e.key, Item::Value(e.toml()));
    }
    let last = doc
        .iter()
        .filter_map(|(_, v)| v.as_table()?.position())
        .max();
    table.set_position(Some(last.unwrap_or(0) + 1));
    // Comments at the end of the file stay above the new block, separated by a blank line.
    let mut prefix = doc.trailing().as_str().unwrap_or("").to_string();
    if !prefix.is_empty() && !prefix.ends_with('\n') {
        prefix.push('\n');
    }
    if last.is_some() || !prefix.is_empty() {
        prefix.push('\n');
    }
    table.decor_mut().set_prefix(prefix);
    doc.set_trailing("");
    doc.insert(block, Item::Table(table));
    Some(toml_text(&doc, text))
}

fn prefix_of(t: &Table) -> &str {
    t.decor().prefix().and_then(|p| p.as_str()).unwrap_or("")
}

/// toml_edit ends every key/value line with `\n`; give a CRLF file its line endings back.
/// (Any value this would change is caught by the check that other blocks read back the same.)
fn toml_text(doc: &DocumentMut, original: &str) -> String {
    let out = doc.to_string();
    if original.contains("\r\n") {
        out.replace("\r\n", "\n").replace('\n', "\r\n")
    } else {
        out
    }
}

// ---- checking a new block ----

fn check_block_name(path: &Path, block: &str) -> Result<(), WriteError> {
    let bad = |reason: &str| {
        Err(WriteError::BadBlockName {
            path: path.into(),
            block: block.into(),
            reason: reason.into(),
        })
    };
    if block
        .chars()
        .any(|c| c.is_control() || "[]#;=\"'".contains(c))
    {
        return bad("it may not contain control characters or any of [ ] # ; = \" '");
    }
    match BlockKind::of(block) {
        Some(BlockKind::Server) => Ok(()),
        Some(BlockKind::ServerDefault) => bad("[server default] is not a server"),
        Some(BlockKind::Binlog) => bad("it names a binlog server block"),
        None => bad("it must start with \"server\", followed by non-whitespace characters"),
    }
}

/// One entry of a new block, checked.
#[derive(Debug, Clone)]
struct Checked {
    key: &'static str,
    kind: Kind,
    /// As it will be read back: trimmed for every kind but text and secrets.
    value: String,
}

impl Checked {
    /// The value the reader of `format` will produce for it.
    fn raw(&self, format: Format) -> RawValue {
        match (format, self.toml()) {
            (Format::Ini, _) => RawValue::Text(self.value.clone()),
            (Format::Toml, Value::Integer(i)) => RawValue::Int(*i.value()),
            (Format::Toml, Value::Float(f)) => RawValue::Float(*f.value()),
            (Format::Toml, Value::Array(a)) => RawValue::List(
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            ),
            (Format::Toml, _) => RawValue::Text(self.value.clone()),
        }
    }

    fn toml(&self) -> Value {
        let v = self.value.as_str();
        match self.kind {
            Kind::Port | Kind::Flag | Kind::Seconds | Kind::Count => match v.parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => Value::from(v),
            },
            Kind::FractionalSeconds | Kind::Timeout => match (v.parse::<i64>(), v.parse::<f64>()) {
                (Ok(i), _) => Value::from(i),
                (_, Ok(x)) => Value::from(x),
                _ => Value::from(v),
            },
            // MHA removes every space from the list before splitting on commas.
            Kind::List => Value::Array(
                v.split(',')
                    .map(|p| p.replace(char::is_whitespace, ""))
                    .filter(|p| !p.is_empty())
                    .collect::<Array>(),
            ),
            Kind::Text | Kind::Secret | Kind::Choice(_) | Kind::ListenAddr => Value::from(v),
        }
    }
}

/// Known server keys, each once, with values the readers accept (the rules of
/// `resolve::parse_value` for text values).
fn check_entries(
    path: &Path,
    block: &str,
    entries: &[(String, String)],
) -> Result<Vec<Checked>, WriteError> {
    let mut out: Vec<Checked> = Vec::new();
    for (key, value) in entries {
        let not_allowed = |reason: &str| WriteError::KeyNotAllowed {
            path: path.into(),
            block: block.into(),
            key: key.clone(),
            reason: reason.into(),
        };
        let Some(def) = keys::find(key) else {
            return Err(WriteError::UnknownKey {
                path: path.into(),
                block: block.into(),
                key: key.clone(),
                suggestion: keys::suggest(key),
            });
        };
        if def.scope == Scope::App {
            return Err(not_allowed(
                "is application-wide; set it in [server default]",
            ));
        }
        if out.iter().any(|c| c.key == def.name) {
            return Err(not_allowed(if def.name == "hostname" {
                "is given as the hostname already; do not repeat it in the parameters"
            } else {
                "is given twice"
            }));
        }
        let trimmed = value.trim();
        let int = trimmed.parse::<i64>().ok();
        let ok = !value.contains(['\n', '\r'])
            && match def.kind {
                Kind::Text | Kind::Secret | Kind::List => true,
                Kind::Port => int.is_some_and(|p| (1..=65535).contains(&p)),
                Kind::Flag => matches!(int, Some(0 | 1)),
                Kind::Seconds => int.is_some_and(|s| s > 0),
                Kind::Count => int.is_some_and(|c| c > 0 && c <= i64::from(u32::MAX)),
                Kind::FractionalSeconds | Kind::Timeout => trimmed.parse::<f64>().is_ok_and(|x| {
                    x.is_finite() && x > 0.0 && x <= f64::from(keys::MAX_TIMEOUT_SECS)
                }),
                Kind::Choice(words) => words.iter().any(|w| w.eq_ignore_ascii_case(trimmed)),
                Kind::ListenAddr => trimmed.parse::<std::net::SocketAddr>().is_ok(),
            }
            && !(def.name == "hostname" && trimmed.is_empty());
        if !ok {
            let expected = match def.kind {
                Kind::Text | Kind::Secret | Kind::List if def.name == "hostname" => {
                    "a host name on one line".to_string()
                }
                Kind::Text | Kind::Secret | Kind::List => {
                    format!("{} on one line", def.kind.expected())
                }
                _ => def.kind.expected(),
            };
            return Err(WriteError::BadValue {
                path: path.into(),
                block: block.into(),
                key: key.clone(),
                expected,
                shown: if def.kind == Kind::Secret {
                    crate::secret::MASK.into()
                } else {
                    format!("{value:?}")
                },
            });
        }
        let value = match def.kind {
            Kind::Text | Kind::Secret => value.clone(),
            _ => trimmed.to_string(),
        };
        out.push(Checked {
            key: def.name,
            kind: def.kind,
            value,
        });
    }
    for base in ["password", "repl_password", "ssh_key"] {
        let forms = [
            base.to_string(),
            format!("{base}_file"),
            format!("{base}_env"),
        ];
        let set: Vec<&str> = out
            .iter()
            .map(|c| c.key)
            .filter(|k| forms.iter().any(|f| f == k))
            .collect();
        if set.len() > 1 {
            return Err(WriteError::KeyNotAllowed {
                path: path.into(),
                block: block.into(),
                key: base.into(),
                reason: format!(
                    "{} are all set; give the secret one way only",
                    set.join(" and ")
                ),
            });
        }
    }
    Ok(out)
}

/// A server block's address as the file gives it.
struct ServerAddr {
    block: String,
    hostname: String,
    ip: String,
    port: u16,
}

fn raw_text(v: &RawValue) -> Option<String> {
    match v {
        RawValue::Text(s) => Some(s.trim().to_string()),
        RawValue::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

fn raw_port(v: &RawValue) -> Option<u16> {
    match v {
        RawValue::Int(i) => u16::try_from(*i).ok(),
        RawValue::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn default_port(file: &RawFile) -> u16 {
    file.server_default()
        .and_then(|d| d.get("port"))
        .and_then(|e| raw_port(&e.value))
        .unwrap_or(DEFAULT_PORT)
}

fn servers(file: &RawFile) -> Vec<ServerAddr> {
    let default_port = default_port(file);
    file.blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Server)
        .filter_map(|b| {
            let hostname = raw_text(&b.get("hostname")?.value)?;
            let ip = b
                .get("ip")
                .and_then(|e| raw_text(&e.value))
                .filter(|ip| !ip.is_empty())
                .unwrap_or_else(|| hostname.clone());
            let port = b
                .get("port")
                .and_then(|e| raw_port(&e.value))
                .unwrap_or(default_port);
            Some(ServerAddr {
                block: b.name.clone(),
                hostname,
                ip,
                port,
            })
        })
        .collect()
}

/// The loader refuses two servers with the same address and port; refuse to write one.
fn check_address_free(
    path: &Path,
    block: &str,
    file: &RawFile,
    new: &[Checked],
) -> Result<(), WriteError> {
    let get = |k: &str| new.iter().find(|c| c.key == k).map(|c| c.value.trim());
    let hostname = get("hostname").unwrap_or_default();
    let ip = get("ip").filter(|ip| !ip.is_empty()).unwrap_or(hostname);
    let port = get("port")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| default_port(file));
    match servers(file)
        .into_iter()
        .find(|s| s.ip == ip && s.port == port)
    {
        Some(s) => Err(WriteError::AddressInUse {
            path: path.into(),
            block: block.into(),
            address: format!("{ip}:{port}"),
            used_by: s.block,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::{GlobalConf, load};
    use super::*;

    const INI: &str = "\
# app1: MHA configuration
[server default]
user=mha
password=secret
# replication
repl_user=repl
repl_password=replpw
ssh_user=root
manager_workdir=/var/tmp/app1

# the master
[server1]
hostname=db1
candidate_master=1

; replica in the same rack
[server2]
hostname=db2
port=3307
# was 3306 until 2023

[server3]
hostname = db3
no_master=1
# end of file
";

    const TOML: &str = r#"# app1: mha configuration
[server_default]
user = "mha"
password = "secret"  # inline comment
# replication
repl_user = "repl"
ssh_user = "root"
master_binlog_dir = ["/var/lib/mysql", "/var/log/mysql"]
ssh_options = """
-o ConnectTimeout=3
"""

# the master
[server1] # primary
hostname = "db1"
candidate_master = 1

# replica in the same rack
[server2]
hostname = "db2"
port = 3307
# was 3306 until 2023

[server3]
  hostname   =   'db3'
no_master = true
# end of file
"#;

    fn setup(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        fs::write(&p, text).unwrap();
        (dir, p)
    }

    fn no_global(dir: &Path) -> GlobalConf {
        let g = dir.join("global-empty.cnf");
        fs::write(&g, "").unwrap();
        GlobalConf::Explicit(g)
    }

    fn loads(dir: &Path, p: &Path) -> Vec<String> {
        let loaded = load(p, &no_global(dir)).unwrap_or_else(|e| panic!("{e}"));
        loaded
            .config
            .servers
            .iter()
            .map(|s| s.block.clone())
            .collect()
    }

    fn read(p: &Path) -> String {
        fs::read_to_string(p).unwrap()
    }

    fn entries(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Only the temp dir's own files: no temporary file left behind.
    fn dir_names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn ini_delete_removes_the_block_and_its_lead_only() {
        let cases = [
            (
                "server1",
                "\n# the master\n[server1]\nhostname=db1\ncandidate_master=1\n",
            ),
            (
                "server2",
                "\n; replica in the same rack\n[server2]\nhostname=db2\nport=3307\n# was 3306 until 2023\n",
            ),
            (
                "server3",
                "\n[server3]\nhostname = db3\nno_master=1\n# end of file\n",
            ),
        ];
        for (block, span) in cases {
            let (dir, p) = setup("app1.cnf", INI);
            assert!(delete_server_block(&p, block).unwrap());
            assert_eq!(read(&p), INI.replacen(span, "", 1), "deleting {block}");
            let left = loads(dir.path(), &p);
            assert_eq!(left.len(), 2);
            assert!(!left.contains(&block.to_string()));
        }
    }

    #[test]
    fn toml_delete_removes_the_block_and_its_lead_only() {
        let cases = [
            (
                "server1",
                "\n# the master\n[server1] # primary\nhostname = \"db1\"\ncandidate_master = 1\n",
            ),
            (
                "server2",
                "\n# replica in the same rack\n[server2]\nhostname = \"db2\"\nport = 3307\n# was 3306 until 2023\n",
            ),
            (
                "server3",
                "\n[server3]\n  hostname   =   'db3'\nno_master = true\n# end of file\n",
            ),
        ];
        for (block, span) in cases {
            let (dir, p) = setup("app1.toml", TOML);
            assert!(delete_server_block(&p, block).unwrap());
            assert_eq!(read(&p), TOML.replacen(span, "", 1), "deleting {block}");
            let left = loads(dir.path(), &p);
            assert_eq!(left.len(), 2);
            assert!(!left.contains(&block.to_string()));
        }
    }

    #[test]
    fn a_comment_apart_from_the_next_header_stays_with_the_block_above() {
        let ini = "[server1]\nhostname=a\n# about a\n\n# about b\n[server2]\nhostname=b\n";
        let (_d, p) = setup("app1.cnf", ini);
        delete_server_block(&p, "server2").unwrap();
        assert_eq!(read(&p), "[server1]\nhostname=a\n# about a\n");
        let (_d, p) = setup("app1.cnf", ini);
        delete_server_block(&p, "server1").unwrap();
        assert_eq!(read(&p), "\n# about b\n[server2]\nhostname=b\n");

        let toml = "[server1]\nhostname='a'\n# about a\n\n# about b\n[server2]\nhostname='b'\n";
        let (_d, p) = setup("app1.toml", toml);
        delete_server_block(&p, "server2").unwrap();
        assert_eq!(read(&p), "[server1]\nhostname='a'\n# about a\n");
        let (_d, p) = setup("app1.toml", toml);
        delete_server_block(&p, "server1").unwrap();
        assert_eq!(read(&p), "\n# about b\n[server2]\nhostname='b'\n");
    }

    #[test]
    fn add_appends_hostname_first_with_toml_types() {
        let params = entries(&[
            ("port", " 3308 "),
            ("candidate_master", "1"),
            ("master_binlog_dir", "/a, /b"),
            ("ssh_options", " -i /k "),
        ]);
        let (dir, p) = setup("app1.cnf", INI);
        add_server_block(&p, "server4", "db4", &params).unwrap();
        assert_eq!(
            read(&p),
            format!(
                "{INI}\n[server4]\nhostname=db4\nport=3308\ncandidate_master=1\nmaster_binlog_dir=/a, /b\nssh_options=\" -i /k \"\n"
            )
        );
        assert_eq!(loads(dir.path(), &p).last().unwrap(), "server4");
        let raw = super::super::parse_file(&p).unwrap();
        let b = raw.blocks.iter().find(|b| b.name == "server4").unwrap();
        assert_eq!(
            b.get("ssh_options").unwrap().value,
            RawValue::Text(" -i /k ".into())
        );

        let (dir, p) = setup("app1.toml", TOML);
        add_server_block(&p, "server4", "db4", &params).unwrap();
        let added = "\n[server4]\nhostname = \"db4\"\nport = 3308\ncandidate_master = 1\nmaster_binlog_dir = [\"/a\", \"/b\"]\nssh_options = \" -i /k \"\n";
        // Comments at the end of the file stay where they were, above the new block.
        assert_eq!(read(&p), format!("{TOML}{added}"));
        let loaded = load(&p, &no_global(dir.path())).unwrap().config;
        let s4 = loaded
            .servers
            .iter()
            .find(|s| s.block == "server4")
            .unwrap();
        assert_eq!((s4.port, s4.candidate_master), (3308, true));
        assert_eq!(
            s4.master_binlog_dir,
            [PathBuf::from("/a"), PathBuf::from("/b")]
        );
    }

    #[test]
    fn a_deleted_block_is_written_back_from_its_params() {
        let toml_server = "\n[server4]\nhostname = \"db4\"\nport = 3310\nmaster_binlog_dir = [\"/a\", \"/b\"]\nno_master = true\n";
        let ini_server =
            "\n[server4]\nhostname=db4\nport=3310\nmaster_binlog_dir=/a,/b\nno_master=1\n";
        for (name, text) in [
            ("app1.cnf", format!("{INI}{ini_server}")),
            ("app1.toml", format!("{TOML}{toml_server}")),
        ] {
            let (dir, p) = setup(name, &text);
            let before = load(&p, &no_global(dir.path())).unwrap().config;
            let (hostname, params) = server_block_params(&p, "server4").unwrap().unwrap();
            assert_eq!(hostname, "db4", "{name}");
            assert_eq!(
                params,
                entries(&[
                    ("port", "3310"),
                    ("master_binlog_dir", "/a,/b"),
                    ("no_master", "1")
                ]),
                "{name}"
            );
            assert!(server_block_params(&p, "server9").unwrap().is_none());
            delete_server_block(&p, "server4").unwrap();
            let without = read(&p);
            // The text it would have, then the file written: the same, comments kept.
            let planned = text_with_server_block(&p, "server4", &hostname, &params).unwrap();
            assert_eq!(read(&p), without, "{name}: a plan writes nothing");
            add_server_block(&p, "server4", &hostname, &params).unwrap();
            assert_eq!(read(&p), planned, "{name}");
            for comment in ["# the master", "# end of file", "# was 3306 until 2023"] {
                assert!(planned.contains(comment), "{name}: {comment}");
            }
            let after = load(&p, &no_global(dir.path())).unwrap().config;
            let s4 = |c: &crate::config::Config| {
                c.servers
                    .iter()
                    .find(|s| s.block == "server4")
                    .cloned()
                    .unwrap()
            };
            assert_eq!(s4(&after), s4(&before), "{name}");
        }
    }

    #[test]
    fn add_then_delete_gives_back_the_original_text() {
        let ini_texts = [
            INI,
            "[server default]\nuser=mha\n",
            "[server1]\nhostname=a\n\n",
            "[server1]\nhostname=a\n# trailing\n",
            "[server1]\r\nhostname=a\r\n; c\r\n",
            "# only a comment\n",
            "",
        ];
        let toml_texts = [
            TOML,
            "[server_default]\nuser = \"mha\"\n",
            "[server1]\nhostname = \"a\"\n\n",
            "[server1]\nhostname = \"a\"\n# trailing\n",
            "[server1]\r\nhostname = \"a\"\r\n# c\r\n\r\n[server2]\r\nhostname = \"b\"\r\n",
            "# only a comment\n",
            "",
        ];
        let all = ini_texts
            .iter()
            .map(|t| ("app1.cnf", t))
            .chain(toml_texts.iter().map(|t| ("app1.toml", t)));
        for (name, text) in all {
            let (_d, p) = setup(name, text);
            let params = entries(&[("port", "3399"), ("no_master", "1")]);
            add_server_block(&p, "server_new", "new-host", &params).unwrap();
            assert_ne!(read(&p), *text);
            assert!(delete_server_block(&p, "server_new").unwrap());
            assert_eq!(read(&p), *text, "{name}: {text:?}");
        }
    }

    #[test]
    fn add_refuses_bad_blocks_keys_and_values_with_clear_messages() {
        for (name, text) in [("app1.cnf", INI), ("app1.toml", TOML)] {
            let (dir, p) = setup(name, text);
            let d = dir.path().display().to_string();
            // (block, hostname, parameters, message)
            type Case<'a> = (&'a str, &'a str, Vec<(String, String)>, String);
            let cases: Vec<Case> = vec![
                (
                    "server2",
                    "x",
                    vec![],
                    format!("{d}/{name}: [server2] already exists"),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("candidate_mastr", "1")]),
                    format!(
                        "{d}/{name}: [server4] candidate_mastr: unknown parameter (did you mean `candidate_master`?)"
                    ),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("bogus", "1")]),
                    format!("{d}/{name}: [server4] bogus: unknown parameter"),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("ping_interval", "3")]),
                    format!(
                        "{d}/{name}: [server4] ping_interval: is application-wide; set it in [server default]"
                    ),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("port", "70000")]),
                    format!(
                        "{d}/{name}: [server4] port: expected a port number 1-65535, got \"70000\""
                    ),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("no_master", "yes")]),
                    format!("{d}/{name}: [server4] no_master: expected 0 or 1, got \"yes\""),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("password", "a\nb")]),
                    format!(
                        "{d}/{name}: [server4] password: expected a string on one line, got ********"
                    ),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("hostname", "y")]),
                    format!(
                        "{d}/{name}: [server4] hostname: is given as the hostname already; do not repeat it in the parameters"
                    ),
                ),
                (
                    "server4",
                    "",
                    vec![],
                    format!(
                        "{d}/{name}: [server4] hostname: expected a host name on one line, got \"\""
                    ),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("port", "1"), ("port", "2")]),
                    format!("{d}/{name}: [server4] port: is given twice"),
                ),
                (
                    "server4",
                    "x",
                    entries(&[("password", "a"), ("password_env", "B")]),
                    format!(
                        "{d}/{name}: [server4] password: password and password_env are all set; give the secret one way only"
                    ),
                ),
                (
                    "server4",
                    "db2",
                    entries(&[("port", "3307")]),
                    format!(
                        "{d}/{name}: [server4] db2:3307 is already used by [server2]; each server needs its own address and port"
                    ),
                ),
                (
                    "server4",
                    "db1",
                    vec![],
                    format!(
                        "{d}/{name}: [server4] db1:3306 is already used by [server1]; each server needs its own address and port"
                    ),
                ),
                (
                    "db4",
                    "x",
                    vec![],
                    format!(
                        "{d}/{name}: [db4] is not a server block name: it must start with \"server\", followed by non-whitespace characters"
                    ),
                ),
                (
                    "server default",
                    "x",
                    vec![],
                    format!(
                        "{d}/{name}: [server default] is not a server block name: [server default] is not a server"
                    ),
                ),
                (
                    "server]4",
                    "x",
                    vec![],
                    format!(
                        "{d}/{name}: [server]4] is not a server block name: it may not contain control characters or any of [ ] # ; = \" '"
                    ),
                ),
            ];
            for (block, host, params, want) in cases {
                let e = add_server_block(&p, block, host, &params).unwrap_err();
                assert_eq!(e.to_string(), want);
                assert_eq!(read(&p), text, "{want}");
            }
            assert_eq!(dir_names(dir.path()), [name]);
        }
    }

    #[test]
    fn a_failed_write_leaves_the_original_untouched() {
        for (name, text) in [("app1.cnf", INI), ("app1.toml", TOML)] {
            // Failure after the temporary file is written, just before the rename.
            let (dir, p) = setup(name, text);
            FAIL_BEFORE_RENAME.with(|f| f.set(true));
            let e = delete_server_block(&p, "server2").unwrap_err();
            assert!(e.to_string().contains("cannot replace the file"), "{e}");
            assert_eq!(read(&p), text);
            assert_eq!(dir_names(dir.path()), [name]);

            // A result that would not parse is never written.
            let broken = if name.ends_with("toml") {
                "[server1\n"
            } else {
                "orphan=1\n[server1]\n"
            };
            let e = commit(&p, text, broken, "server1", vec![]).unwrap_err();
            assert!(matches!(e, WriteError::WouldBreak { .. }), "{e}");
            assert!(
                e.to_string()
                    .contains("not edited because the result would not load")
            );
            assert_eq!(read(&p), text);

            // A result that parses but changes another block is refused too.
            let other = if name.ends_with("toml") {
                "[server9]\nhostname = \"z\"\n"
            } else {
                "[server9]\nhostname=z\n"
            };
            let e = commit(&p, text, other, "server1", vec![]).unwrap_err();
            assert!(matches!(e, WriteError::Unexpected { .. }), "{e}");
            assert_eq!(read(&p), text);
            assert_eq!(dir_names(dir.path()), [name]);
        }
        // A file with errors is not edited at all.
        let bad = "[server1]\nhostname=a\n[server1]\nhostname=b\n[server2]\nhostname=c\n";
        let (_d, p) = setup("app1.cnf", bad);
        let e = delete_server_block(&p, "server2").unwrap_err();
        assert!(e.to_string().contains("fix them first"), "{e}");
        assert!(e.to_string().contains("defined twice"), "{e}");
        assert_eq!(read(&p), bad);
        // So is a file that changed between our read and the rename.
        let (_d, p) = setup("app1.cnf", INI);
        let e = replace_file(&p, "something else", "[server1]\nhostname=a\n").unwrap_err();
        assert!(matches!(e, WriteError::ChangedMeanwhile { .. }), "{e}");
        assert_eq!(read(&p), INI);
    }

    #[test]
    fn permissions_owner_and_symlinks_are_kept() {
        for name in ["app1.cnf", "app1.toml"] {
            let text = if name.ends_with("toml") { TOML } else { INI };
            let (dir, p) = setup(name, text);
            fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
            let root = nix::unistd::geteuid().is_root();
            if root {
                std::os::unix::fs::chown(&p, Some(1234), Some(2345)).unwrap();
            }
            let link = dir
                .path()
                .join("link.".to_string() + name.rsplit('.').next().unwrap());
            std::os::unix::fs::symlink(&p, &link).unwrap();

            add_server_block(&link, "server9", "db9", &[]).unwrap();
            delete_server_block(&link, "server1").unwrap();
            assert!(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
            );
            let meta = fs::metadata(&p).unwrap();
            assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
            if root {
                assert_eq!((meta.uid(), meta.gid()), (1234, 2345));
            }
            assert_eq!(loads(dir.path(), &p).len(), 3);
        }
    }

    #[test]
    fn deleting_a_missing_block_or_server_default() {
        for (name, text) in [("app1.cnf", INI), ("app1.toml", TOML)] {
            let (_d, p) = setup(name, text);
            assert!(!delete_server_block(&p, "server7").unwrap());
            assert_eq!(read(&p), text);
            for block in ["server default", "server_default"] {
                let e = delete_server_block(&p, block).unwrap_err();
                assert!(e.to_string().contains("cannot be deleted"), "{e}");
            }
            assert_eq!(read(&p), text);
        }
    }

    #[test]
    fn binlog_blocks_can_be_deleted() {
        let text = "[server1]\nhostname=a\n\n[binlog1]\nhostname=b\n";
        let (_d, p) = setup("app1.cnf", text);
        assert!(delete_server_block(&p, "binlog1").unwrap());
        assert_eq!(read(&p), "[server1]\nhostname=a\n");
    }

    #[test]
    fn find_block_by_host_uses_the_effective_port() {
        let ini = "[server default]\nport=3310\n[server1]\nhostname=a\n[server2]\nhostname=a\nport=3311\n[server3]\nhostname=b\n";
        let toml = "[server_default]\nport = 3310\n[server1]\nhostname = \"a\"\n[server2]\nhostname = \"a\"\nport = 3311\n[server3]\nhostname = \"b\"\n";
        for (name, text) in [("app1.cnf", ini), ("app1.toml", toml)] {
            let (_d, p) = setup(name, text);
            let find = |h: &str, port| find_block_by_host(&p, h, port);
            assert_eq!(find("a", Some(3310)).unwrap().as_deref(), Some("server1"));
            assert_eq!(find("a", Some(3311)).unwrap().as_deref(), Some("server2"));
            assert_eq!(find("a", Some(3306)).unwrap(), None);
            assert_eq!(find("b", None).unwrap().as_deref(), Some("server3"));
            assert_eq!(find("c", None).unwrap(), None);
            let e = find("a", None).unwrap_err().to_string();
            assert!(
                e.ends_with(
                    "several server blocks have hostname a (server1, server2); give the port too"
                ),
                "{e}"
            );
        }
    }

    #[test]
    fn split_gap_follows_the_block_rule() {
        let cases = [
            ("", ("", "")),
            ("\n", ("", "\n")),
            ("\n\n", ("\n", "\n")),
            ("# a\n", ("", "# a\n")),
            ("# a\n\n", ("# a\n", "\n")),
            ("# a\n\n\n# b\n# c\n", ("# a\n\n", "\n# b\n# c\n")),
            ("# a\n  ", ("", "# a\n  ")),
            ("# a\n\n  ", ("# a\n", "\n  ")),
        ];
        for (gap, want) in cases {
            assert_eq!(split_gap(gap), want, "{gap:?}");
        }
    }
}
