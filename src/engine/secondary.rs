//! masterha_secondary_check's verdict: is the master down as seen from other hosts? Each
//! secondary host (a "route") says what it saw; the routes are read in the order given and the
//! first one that does not confirm the death decides, as MHA's tool did.

use std::fmt;

/// What one secondary host saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteView {
    /// The host answered over SSH and the master's port did not answer there.
    MasterUnreachable,
    /// ping_type=INSERT: the master's port answered there, but a write from there failed.
    MasterNotWritable { detail: String },
    /// The master answered there.
    MasterReachable { detail: String },
    /// The host itself could not be reached (SSH failed), so it says nothing.
    RouteUnreachable { detail: String },
}

/// The answer of the whole check; MHA's exit codes 0, 2 and 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every route confirms the master is down.
    MasterDown,
    /// A route could not be asked: the death is not confirmed.
    RouteUnreachable,
    /// A route reaches the master: it is alive.
    MasterReachable,
}

/// A route and what it saw, printed in MHA's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub host: String,
    pub view: RouteView,
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.host;
        match &self.view {
            RouteView::MasterUnreachable => write!(
                f,
                "Monitoring server {h} is reachable, Master is not reachable from {h}. OK."
            ),
            RouteView::MasterNotWritable { .. } => write!(
                f,
                "Monitoring server {h} is reachable, Master is not writable from {h}. OK."
            ),
            RouteView::MasterReachable { .. } => write!(f, "Master is reachable from {h}!"),
            RouteView::RouteUnreachable { .. } => {
                write!(f, "Monitoring server {h} is NOT reachable!")
            }
        }
    }
}

impl Route {
    /// Why, beyond MHA's line (empty when MHA's line says it all).
    pub fn detail(&self) -> Option<&str> {
        match &self.view {
            RouteView::MasterUnreachable => None,
            RouteView::MasterNotWritable { detail }
            | RouteView::MasterReachable { detail }
            | RouteView::RouteUnreachable { detail } => Some(detail),
        }
    }
}

/// The verdict and how many routes it took: the routes in order up to the first that does not
/// confirm the death (MHA stopped asking there). No route at all confirms nothing: MHA exited
/// 0 then, but a check that asked nobody proves nothing, so it is RouteUnreachable.
pub fn verdict(routes: &[Route]) -> (Verdict, usize) {
    if routes.is_empty() {
        return (Verdict::RouteUnreachable, 0);
    }
    for (i, r) in routes.iter().enumerate() {
        match r.view {
            RouteView::MasterUnreachable | RouteView::MasterNotWritable { .. } => {}
            RouteView::MasterReachable { .. } => return (Verdict::MasterReachable, i + 1),
            RouteView::RouteUnreachable { .. } => return (Verdict::RouteUnreachable, i + 1),
        }
    }
    (Verdict::MasterDown, routes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(host: &str, view: RouteView) -> Route {
        Route {
            host: host.into(),
            view,
        }
    }

    #[test]
    fn the_first_route_that_does_not_confirm_decides() {
        let down = || RouteView::MasterUnreachable;
        let reach = || RouteView::MasterReachable { detail: "x".into() };
        let gone = || RouteView::RouteUnreachable { detail: "y".into() };
        let ro = || RouteView::MasterNotWritable { detail: "z".into() };
        for (views, want) in [
            (vec![down(), down()], (Verdict::MasterDown, 2)),
            (vec![down(), ro()], (Verdict::MasterDown, 2)),
            (vec![down(), reach(), gone()], (Verdict::MasterReachable, 2)),
            (vec![gone(), reach()], (Verdict::RouteUnreachable, 1)),
            (vec![reach(), gone()], (Verdict::MasterReachable, 1)),
            (vec![], (Verdict::RouteUnreachable, 0)),
        ] {
            let routes: Vec<Route> = views.into_iter().map(|v| r("h", v)).collect();
            assert_eq!(verdict(&routes), want, "{routes:?}");
        }
    }

    /// MHA's lines, word for word.
    #[test]
    fn mhas_lines() {
        for (view, line) in [
            (
                RouteView::MasterUnreachable,
                "Monitoring server db2 is reachable, Master is not reachable from db2. OK.",
            ),
            (
                RouteView::MasterNotWritable { detail: "d".into() },
                "Monitoring server db2 is reachable, Master is not writable from db2. OK.",
            ),
            (
                RouteView::MasterReachable { detail: "d".into() },
                "Master is reachable from db2!",
            ),
            (
                RouteView::RouteUnreachable { detail: "d".into() },
                "Monitoring server db2 is NOT reachable!",
            ),
        ] {
            assert_eq!(r("db2", view).to_string(), line);
        }
    }
}
