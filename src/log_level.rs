//! MHA's `log_level` (debug, info, warning, error): the least severe level logged. Read at
//! start-up and again on the manager's SIGHUP reload; the `MHA_LOG` environment filter, when
//! set, wins over it (as `--log-format` wins over `log_format`).

use std::sync::atomic::{AtomicU8, Ordering};

use tracing::Level;

/// 0 = debug, 1 = info, 2 = warning, 3 = error.
static MIN: AtomicU8 = AtomicU8::new(1);
static FROM_ENV: AtomicU8 = AtomicU8::new(0);

fn rank(level: &Level) -> u8 {
    match *level {
        Level::TRACE | Level::DEBUG => 0,
        Level::INFO => 1,
        Level::WARN => 2,
        Level::ERROR => 3,
    }
}

/// The rank of an MHA level name; None for a name MHA does not have.
pub fn parse(name: &str) -> Option<u8> {
    match name.to_ascii_lowercase().as_str() {
        "debug" => Some(0),
        "info" => Some(1),
        "warning" => Some(2),
        "error" => Some(3),
        _ => None,
    }
}

/// `MHA_LOG` is set: the configuration's log_level is not applied.
pub fn set_from_env() {
    FROM_ENV.store(1, Ordering::Relaxed);
}

/// The configuration's `log_level` (validated when the configuration was read).
pub fn apply(name: &str) {
    if FROM_ENV.load(Ordering::Relaxed) == 1 {
        return;
    }
    if let Some(min) = parse(name) {
        MIN.store(min, Ordering::Relaxed);
    }
}

/// Is an event at `level` logged under the configured log_level?
pub fn enabled(level: &Level) -> bool {
    FROM_ENV.load(Ordering::Relaxed) == 1 || rank(level) >= MIN.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mha_levels_map_to_tracing_levels() {
        for (name, logged, dropped) in [
            (
                "debug",
                &[Level::DEBUG, Level::INFO][..],
                &[Level::TRACE][..],
            ),
            ("info", &[Level::INFO, Level::WARN], &[Level::DEBUG]),
            ("warning", &[Level::WARN, Level::ERROR], &[Level::INFO]),
            ("ERROR", &[Level::ERROR], &[Level::WARN]),
        ] {
            let min = parse(name).unwrap();
            for l in logged {
                assert!(rank(l) >= min, "{name}: {l} is logged");
            }
            for l in dropped {
                assert!(rank(l) < min || *l == Level::TRACE, "{name}: {l} is not");
            }
        }
        assert_eq!(parse("notice"), None);
    }
}
