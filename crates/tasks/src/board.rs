//! Boards: a project's buckets (columns) and where its tasks stand in them.
//!
//! A task's place in its bucket is a number ([`Task::board_position`](crate::Task::board_position)):
//! a task that landed in a bucket by itself (created, completed into the done bucket, moved in from
//! another project) stands at `id * POSITION_STEP`, with nothing written; a move writes the one
//! moved row, at a position between its new neighbours that is never a multiple of the step, so
//! that the two kinds never meet. When repeated moves to one spot have used up the room between
//! two neighbours, the few rows after the spot are spread again ([`respread`]): a rebalance of a
//! bounded window, never the column.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, FieldErrors, Validator};
use workbench_projects::ProjectId;

use crate::TaskId;

/// The room a task that landed by itself leaves after the one before it.
pub const POSITION_STEP: i64 = 1 << 16;

/// The most rows a rebalance respreads: beyond them the store renumbers the bucket (see
/// [`respread`]), which repeated moves to one spot reach only after millions of moves.
pub const REBALANCE_WINDOW: usize = 1_024;

/// A bucket's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BucketId(pub i64);

impl std::fmt::Display for BucketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A column of a project's board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Its id.
    pub id: BucketId,
    /// The project whose board it is on.
    pub project_id: ProjectId,
    /// Its name, 1 to 100 characters.
    pub name: String,
    /// The most tasks a move may bring it to; `None` for no limit.
    pub limit: Option<i32>,
    /// Whether it is the project's done bucket: moving a task there completes it, and completing
    /// a task elsewhere moves it there.
    pub done: bool,
    /// Its place on the board (lowest first, then by id).
    pub position: i64,
    /// How many tasks it holds.
    pub task_count: u64,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The name of the bucket every project starts with.
pub const FIRST_BUCKET_NAME: &str = "Backlog";

/// A bucket as a client sent it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketDraft {
    /// Its name; required.
    pub name: Option<String>,
    /// Its limit; none when missing.
    pub limit: Option<i64>,
    /// Whether it is the done bucket; `false` when missing.
    pub done: Option<bool>,
}

/// Changes to a bucket a client sent. The outer `Option` says whether a field was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketPatch {
    /// A new name.
    pub name: Option<String>,
    /// A new limit, or `null` to lift it.
    pub limit: Option<Option<i64>>,
    /// Whether it is the done bucket.
    pub done: Option<bool>,
    /// A new place on the board.
    pub position: Option<i64>,
}

fn bucket_name(raw: String) -> Result<String, String> {
    let name = BoundedText::<100>::parse(&raw).map_err(|e| e.to_string())?;
    // Trimmed text as sent: the allocation is kept when there was nothing to trim.
    Ok(if name.as_str().len() == raw.len() { raw } else { name.into_inner() })
}

fn bucket_limit(raw: i64) -> Result<i32, String> {
    i32::try_from(raw).ok().filter(|n| *n >= 1).ok_or_else(|| "must be a positive number of tasks".to_owned())
}

impl BucketDraft {
    /// The name, limit and done mark, validated; every failing field at once.
    pub fn parse(self) -> Result<(String, Option<i32>, bool), FieldErrors> {
        let mut v = Validator::default();
        let name = v.required("name", self.name, bucket_name);
        let limit = v.optional("limit", self.limit, bucket_limit);
        match (name, limit) {
            (Some(name), Ok(limit)) => v.finish_with(Some((name, limit, self.done.unwrap_or(false)))),
            _ => v.finish_with(None),
        }
    }
}

impl BucketPatch {
    /// `bucket` with the changes applied (validated; every failing field at once), its
    /// `updated_at` moved to `now`.
    pub fn apply(self, mut bucket: Bucket, now: DateTime<Utc>) -> Result<Bucket, FieldErrors> {
        let mut v = Validator::default();
        if let Some(name) = self.name.and_then(|n| v.check("name", bucket_name(n))) {
            bucket.name = name;
        }
        match self.limit {
            Some(Some(limit)) => {
                if let Some(limit) = v.check("limit", bucket_limit(limit)) {
                    bucket.limit = Some(limit);
                }
            }
            Some(None) => bucket.limit = None,
            None => {}
        }
        if let Some(done) = self.done {
            bucket.done = done;
        }
        if let Some(position) = self.position {
            bucket.position = position;
        }
        bucket.updated_at = now;
        v.finish_with(Some(bucket))
    }
}

/// Where a client asked a task to go in a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// At the end.
    Last,
    /// Right after this task.
    After(TaskId),
    /// Right before this task.
    Before(TaskId),
}

/// A move as a client sent it, before validation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MoveRequest {
    /// The bucket; required.
    pub bucket_id: Option<i64>,
    /// The task to follow.
    pub after_id: Option<i64>,
    /// The task to precede.
    pub before_id: Option<i64>,
}

impl MoveRequest {
    /// The bucket and the placement, validated; every failing field at once.
    pub fn parse(self) -> Result<(BucketId, Placement), FieldErrors> {
        let mut v = Validator::default();
        let positive = |id: i64| if id > 0 { Ok(id) } else { Err("must be a positive id") };
        let bucket = v.required("bucket_id", self.bucket_id, positive);
        let after = v.optional("after_id", self.after_id, positive);
        let before = v.optional("before_id", self.before_id, positive);
        let placement = match (after, before) {
            (Ok(Some(_)), Ok(Some(_))) => {
                v.fail("before_id", "give after_id or before_id, not both");
                None
            }
            (Ok(Some(after)), Ok(None)) => Some(Placement::After(TaskId(after))),
            (Ok(None), Ok(Some(before))) => Some(Placement::Before(TaskId(before))),
            (Ok(None), Ok(None)) => Some(Placement::Last),
            _ => None,
        };
        match (bucket, placement) {
            (Some(bucket), Some(placement)) => v.finish_with(Some((BucketId(bucket), placement))),
            _ => v.finish_with(None),
        }
    }
}

/// A position that a move may take: never a multiple of [`POSITION_STEP`], which are the places
/// of tasks that landed by themselves.
fn movable(position: i64) -> bool {
    position.rem_euclid(POSITION_STEP) != 0
}

/// A position strictly between `low` and `high` (either open-ended) that a move may take, if
/// there is room for one.
pub fn position_between(low: Option<i64>, high: Option<i64>) -> Option<i64> {
    let candidate = match (low, high) {
        (None, None) => POSITION_STEP / 2,
        (Some(low), None) => low.checked_add(POSITION_STEP / 2)?,
        (None, Some(high)) => high.checked_sub(POSITION_STEP / 2)?,
        (Some(low), Some(high)) => low + (high - low) / 2,
    };
    [candidate, candidate + 1, candidate - 1]
        .into_iter()
        .find(|p| movable(*p) && low.is_none_or(|low| *p > low) && high.is_none_or(|high| *p < high))
}

/// A rebalance after `low` (the position the moved task follows; `None` for the start of the
/// bucket): given the positions of the rows that follow it, in order (at most
/// [`REBALANCE_WINDOW`] + 1, fewer when the bucket ends), the new position of the moved task and
/// of the first `k` of them, spread evenly up to the `k + 1`-th (or past the end of the bucket),
/// each movable. `None` when the window is too dense to respread: the store then renumbers the
/// bucket.
pub fn respread(low: Option<i64>, following: &[i64], bucket_ends: bool) -> Option<Vec<i64>> {
    let start = low.unwrap_or_else(|| following.first().map_or(0, |first| first - POSITION_STEP * 2));
    for k in 1..=following.len().min(REBALANCE_WINDOW) {
        let high = following.get(k).copied();
        let slots = i64::try_from(k).ok()? + 1;
        let step = match high {
            Some(high) => (high - start) / (slots + 1),
            None if bucket_ends => POSITION_STEP / 2,
            None => break,
        };
        if step < 4 {
            continue;
        }
        return (1..=slots)
            .map(|i| {
                let p = start.checked_add(step.checked_mul(i)?)?;
                Some(if movable(p) { p } else { p + 1 })
            })
            .collect();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_takes_the_middle_and_never_a_landing_place() {
        assert_eq!(position_between(Some(POSITION_STEP), Some(3 * POSITION_STEP)), Some(2 * POSITION_STEP + 1));
        assert_eq!(position_between(Some(10), Some(12)), Some(11));
        assert_eq!(position_between(Some(10), Some(11)), None);
        assert!(position_between(Some(5 * POSITION_STEP), None).is_some_and(|p| p > 5 * POSITION_STEP && movable(p)));
        assert!(position_between(None, Some(POSITION_STEP)).is_some_and(|p| p < POSITION_STEP && movable(p)));
    }

    #[test]
    fn moves_to_one_spot_run_out_of_room_then_respread_a_window() {
        let (low, mut high) = (POSITION_STEP, 2 * POSITION_STEP);
        let mut moves = 0;
        while let Some(p) = position_between(Some(low), Some(high)) {
            high = p;
            moves += 1;
        }
        assert!(moves >= 14, "{moves} moves before the room ran out");
        // The smallest window with room: the moved task and the packed row, spread up to the next
        // row at 2 * STEP, which stays where it is.
        let following = [high, 2 * POSITION_STEP, 3 * POSITION_STEP];
        let spread = respread(Some(low), &following, false).unwrap();
        assert_eq!(spread.len(), 2, "{spread:?}");
        assert!(spread.windows(2).all(|w| w[0] < w[1]) && spread[0] > low && spread[1] < 2 * POSITION_STEP);
        assert!(spread.iter().all(|p| movable(*p)));
        // A window packed to its end takes more rows.
        let packed = [low + 1, low + 2, low + 3, 3 * POSITION_STEP];
        let spread = respread(Some(low), &packed, false).unwrap();
        assert_eq!(spread.len(), 4, "{spread:?}");
        assert!(spread.windows(2).all(|w| w[0] < w[1]) && spread[3] < 3 * POSITION_STEP);
    }

    #[test]
    fn a_move_names_one_neighbour_at_most() {
        let both = MoveRequest { bucket_id: Some(1), after_id: Some(2), before_id: Some(3) };
        assert!(both.parse().unwrap_err().contains("before_id"));
        let last = MoveRequest { bucket_id: Some(1), ..MoveRequest::default() }.parse().unwrap();
        assert_eq!(last, (BucketId(1), Placement::Last));
        assert!(MoveRequest::default().parse().unwrap_err().contains("bucket_id"));
    }
}
