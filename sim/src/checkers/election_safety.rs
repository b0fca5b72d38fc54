//! Election safety (Raft paper §5.2, Figure 3): at most one leader can be elected in a given term.
//! Source of observations: every committed vote any manager held (its view of who leads that term), watched
//! on each manager's openraft metrics for every change while it runs.
use crate::recorder::Record;

pub fn check(record: &Record) -> Vec<String> {
    record
        .leaders
        .iter()
        .filter(|(_, leaders)| leaders.len() > 1)
        .map(|(term, leaders)| format!("election safety (Raft §5.2): term {term} had leaders {leaders:?}"))
        .collect()
}
