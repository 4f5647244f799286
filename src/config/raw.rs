//! The raw model both readers produce: blocks of key/value entries with their line numbers,
//! before any layering or typing. TOML and MHA's INI differ only in how they get here.

use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    ServerDefault,
    Server,
    Binlog,
}

impl BlockKind {
    /// MHA's rule: "server default", or any name starting with `server` / `binlog`.
    /// TOML spells the defaults table `server_default`.
    pub fn of(name: &str) -> Option<BlockKind> {
        if name == "server default" || name == "server_default" {
            Some(BlockKind::ServerDefault)
        } else if name.starts_with("server")
            && name.len() > "server".len()
            && !name.contains(char::is_whitespace)
        {
            Some(BlockKind::Server)
        } else if name.starts_with("binlog")
            && name.len() > "binlog".len()
            && !name.contains(char::is_whitespace)
        {
            Some(BlockKind::Binlog)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<String>),
}

impl RawValue {
    /// How the value was written, for error messages.
    pub fn shown(&self) -> String {
        match self {
            RawValue::Text(s) => format!("{s:?}"),
            RawValue::Int(i) => i.to_string(),
            RawValue::Float(x) => x.to_string(),
            RawValue::Bool(b) => b.to_string(),
            RawValue::List(l) => format!("{l:?}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawEntry {
    pub key: String,
    pub value: RawValue,
    pub line: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawBlock {
    pub name: String,
    pub kind: BlockKind,
    pub line: Option<usize>,
    pub entries: Vec<RawEntry>,
}

impl RawBlock {
    pub fn get(&self, key: &str) -> Option<&RawEntry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawFile {
    pub path: PathBuf,
    /// Blocks in the order the file defines servers (see each reader for the rule).
    pub blocks: Vec<RawBlock>,
}

impl RawFile {
    pub fn server_default(&self) -> Option<&RawBlock> {
        self.blocks
            .iter()
            .find(|b| b.kind == BlockKind::ServerDefault)
    }
}
