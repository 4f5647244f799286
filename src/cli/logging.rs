//! Logs go to standard error, or to manager_log once the manager sets it: human text by
//! default, JSON lines with `--log-format json`, or MHA's own line format with
//! `--log-format mha` / `log_format = mha` (so that log parsers and alerting rules written for
//! MHA keep matching). Command results go to standard output.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::fmt::{FmtContext, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use super::args::LogFormat;

static LOG_FILE: OnceLock<Mutex<Option<File>>> = OnceLock::new();

fn log_file() -> &'static Mutex<Option<File>> {
    LOG_FILE.get_or_init(|| Mutex::new(None))
}

/// Send every later log line to `path` (appending), as MHA's manager_log.
pub fn log_to_file(path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let f = File::options().create(true).append(true).open(path)?;
    *log_file().lock().unwrap_or_else(|e| e.into_inner()) = Some(f);
    // Colour codes do not belong in a log file; the subscriber decided at start, so
    // manager_log users should run without a terminal or set NO_COLOR.
    Ok(())
}

type SharedFile = Arc<Mutex<File>>;

/// The manager_log of each application of a manager that runs several, by the id of the
/// span its task runs in. The span is held here too: a closed span's id would be reused.
type AppLogs = HashMap<tracing::Id, (tracing::Span, SharedFile)>;
static APP_LOGS: OnceLock<Mutex<AppLogs>> = OnceLock::new();

fn app_logs() -> std::sync::MutexGuard<'static, AppLogs> {
    APP_LOGS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The span an application's task runs in (`app{app=NAME}` on each of its lines); with
/// `log`, its lines go to that file. Lines of tasks spawned without the span go to the
/// manager's own log.
pub fn app_span(app: &str, log: Option<&Path>) -> std::io::Result<tracing::Span> {
    let span = tracing::info_span!("app", app = %app);
    if let (Some(path), Some(id)) = (log, span.id()) {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = File::options().create(true).append(true).open(path)?;
        app_logs().insert(id, (span.clone(), Arc::new(Mutex::new(f))));
    }
    Ok(span)
}

/// The log file of the application whose span is current, if it has one.
fn current_app_log() -> Option<SharedFile> {
    use tracing_subscriber::registry::{LookupSpan, Registry};
    let logs = app_logs();
    if logs.is_empty() {
        return None;
    }
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let span = registry.span(id)?;
            span.scope()
                .find_map(|s| logs.get(&s.id()).map(|(_, f)| f.clone()))
        })
        .flatten()
}

struct Target(Option<SharedFile>);

impl Target {
    fn with<T>(&self, f: impl FnOnce(&mut dyn Write) -> T) -> T {
        if let Some(app) = &self.0 {
            return f(&mut *app.lock().unwrap_or_else(|e| e.into_inner()));
        }
        match log_file()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(file) => f(file),
            None => f(&mut std::io::stderr()),
        }
    }
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.with(|w| w.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.with(|w| w.flush())
    }
}

struct MakeTarget;

impl<'a> MakeWriter<'a> for MakeTarget {
    type Writer = Target;
    fn make_writer(&'a self) -> Target {
        Target(current_app_log())
    }
}

/// The text format in force: human or MHA's. It can change after start-up because the
/// `log_format` key is only known once the configuration is read (JSON cannot: its span
/// fields are recorded as JSON from the first line on, so it is chosen on the command line).
static TEXT_FORMAT: AtomicU8 = AtomicU8::new(HUMAN);
const HUMAN: u8 = 0;
const MHA: u8 = 1;
/// Whether `--log-format` was given: then it wins over the configuration.
static FROM_COMMAND_LINE: AtomicU8 = AtomicU8::new(0);

pub fn init(format: Option<LogFormat>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // MHA_LOG wins; otherwise everything down to debug reaches log_level's filter, which the
    // configuration (and a reload) sets.
    let filter = match EnvFilter::try_from_env("MHA_LOG") {
        Ok(f) => {
            crate::log_level::set_from_env();
            f
        }
        Err(_) => EnvFilter::new("info,mha=debug"),
    };
    let level =
        tracing_subscriber::filter::filter_fn(|meta| crate::log_level::enabled(meta.level()));
    use std::io::IsTerminal;
    if format.is_some() {
        FROM_COMMAND_LINE.store(1, Ordering::Relaxed);
    }
    if format == Some(LogFormat::Mha) {
        TEXT_FORMAT.store(MHA, Ordering::Relaxed);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeTarget)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        Some(LogFormat::Json) => builder.json().finish().with(level).try_init(),
        _ => builder
            .event_format(TextFormat {
                human: format::format().with_target(false),
            })
            .finish()
            .with(level)
            .try_init(),
    };
}

/// The configuration's `log_level` (unless MHA_LOG is set) and `log_format` (`human` or
/// `mha`, unless `--log-format` was given).
pub fn apply_config(app: &crate::config::AppSettings) {
    crate::log_level::apply(&app.log_level);
    let log_format = app.log_format.as_str();
    if FROM_COMMAND_LINE.load(Ordering::Relaxed) == 1 {
        return;
    }
    let mode = if log_format.eq_ignore_ascii_case("mha") {
        MHA
    } else {
        HUMAN
    };
    TEXT_FORMAT.store(mode, Ordering::Relaxed);
}

/// tracing-subscriber's default line, or MHA's.
struct TextFormat {
    human: format::Format<format::Full>,
}

impl<S, N> FormatEvent<S, N> for TextFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        if TEXT_FORMAT.load(Ordering::Relaxed) != MHA {
            return self.human.format_event(ctx, writer, event);
        }
        let meta = event.metadata();
        // MHA's lines are the message alone: the structured fields mha adds (`master=...`)
        // would break rules anchored at the end of MHA's text. A field-only event keeps them.
        let mut visitor = MessageOnly::default();
        event.record(&mut visitor);
        let message = match visitor.message {
            Some(m) => m,
            None => {
                let mut fields = String::new();
                ctx.field_format()
                    .format_fields(Writer::new(&mut fields), event)?;
                fields
            }
        };
        writer.write_str(&mha_line(
            &ctime(std::time::SystemTime::now()),
            *meta.level(),
            meta.file().zip(meta.line()),
            &message,
        ))
    }
}

/// The `message` field of an event, if it has one.
#[derive(Default)]
struct MessageOnly {
    message: Option<String>,
}

impl tracing::field::Visit for MessageOnly {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.message = Some(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.message = Some(value.to_string());
        }
    }
}

/// One line as MHA's Log::Dispatch callbacks write it (ManagerConst.pm `log_fmt` and
/// `add_timestamp`): `<localtime> - [<level>] <message>`; errors also name the source file
/// and line, `[error][<file>, ln<N>] <message>`.
pub fn mha_line(time: &str, level: Level, at: Option<(&str, u32)>, message: &str) -> String {
    let level = match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG | Level::TRACE => "debug",
    };
    let mut line = format!("{time} - [{level}]");
    if level == "error"
        && let Some((file, n)) = at
    {
        let _ = write!(line, "[{file}, ln{n}]");
    }
    let _ = writeln!(line, " {}", message.trim_end_matches('\n'));
    line
}

/// Perl's `scalar(localtime)`: `Mon Nov 25 10:00:00 2026`, the day of the month padded with
/// a space, in the local time zone.
pub fn ctime(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: localtime_r writes into the tm we own and reads only `secs`.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() {
            return format!("@{secs}");
        }
        tm
    };
    ctime_of(&tm)
}

fn ctime_of(tm: &libc::tm) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[tm.tm_wday.rem_euclid(7) as usize],
        MONTHS[tm.tm_mon.rem_euclid(12) as usize],
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        tm.tm_year + 1900
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(wday: i32, mon: i32, mday: i32, h: i32, m: i32, s: i32, year: i32) -> libc::tm {
        // SAFETY: an all-zero tm is valid; the fields read are set below.
        let mut t: libc::tm = unsafe { std::mem::zeroed() };
        (t.tm_wday, t.tm_mon, t.tm_mday) = (wday, mon, mday);
        (t.tm_hour, t.tm_min, t.tm_sec, t.tm_year) = (h, m, s, year - 1900);
        t
    }

    /// Lines as MHA 0.58 writes them (its manager log, as users grep it).
    #[test]
    fn lines_in_mhas_format() {
        let t = ctime_of(&tm(3, 10, 25, 10, 0, 0, 2026));
        assert_eq!(t, "Wed Nov 25 10:00:00 2026");
        assert_eq!(
            ctime_of(&tm(4, 8, 9, 14, 3, 5, 2021)),
            "Thu Sep  9 14:03:05 2021"
        );
        for (level, at, msg, want) in [
            (
                Level::INFO,
                None,
                "Ping(SELECT) succeeded, waiting until MySQL doesn't respond..",
                "Wed Nov 25 10:00:00 2026 - [info] Ping(SELECT) succeeded, waiting until MySQL doesn't respond..\n",
            ),
            (
                Level::WARN,
                Some(("src/x.rs", 3)),
                "Connection failed 2 time(s)..",
                "Wed Nov 25 10:00:00 2026 - [warning] Connection failed 2 time(s)..\n",
            ),
            (
                Level::ERROR,
                Some(("src/executor/monitor/mod.rs", 427)),
                "Error happened on checking configurations.",
                "Wed Nov 25 10:00:00 2026 - [error][src/executor/monitor/mod.rs, ln427] Error happened on checking configurations.\n",
            ),
            (
                Level::DEBUG,
                None,
                "x\n",
                "Wed Nov 25 10:00:00 2026 - [debug] x\n",
            ),
        ] {
            assert_eq!(mha_line(&t, level, at, msg), want);
        }
        // The real clock gives the same shape.
        let now = ctime(std::time::SystemTime::now());
        assert_eq!(now.len(), 24, "{now}");
    }
}
