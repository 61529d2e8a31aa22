//! The `mixed` scenario of the shared harness (`../shared/bench/scenario.lua`), call for call, so
//! that a fixed rate of it here is the same work as a closed loop of it there: 60 % a task by
//! id, 20 % a page of the list (half of them filtered by status), 12 % a status change, 8 % a new
//! task, all on one user's tasks (every write invalidates what a cache holds for that user).

use rand::Rng;

const STATUSES: [&str; 3] = ["pending", "in_progress", "completed"];
const PRIORITIES: [&str; 3] = ["low", "medium", "high"];

/// One request of the mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `GET /tasks/{id}`.
    Get { id: i64 },
    /// `GET /tasks?per_page=20&page={page}[&status={status}]`.
    List { page: u32, status: Option<&'static str> },
    /// `PATCH /tasks/{id}` with `{"status": …}`.
    Patch { id: i64, status: &'static str },
    /// `POST /tasks` with a title unique to this run.
    Create { n: u64, priority: &'static str },
}

/// What the mix draws from: the seeded tasks' ids and how many pages of 20 they fill.
#[derive(Debug, Clone)]
pub struct Mix {
    pub ids: Vec<i64>,
    pub pages: u32,
}

impl Mix {
    /// The `n`-th call of a worker (`n` keeps created titles apart).
    pub fn draw(&self, rng: &mut impl Rng, n: u64) -> Call {
        let roll = rng.random_range(1..=100u32);
        match roll {
            1..=60 => Call::Get { id: self.id(rng) },
            61..=80 => {
                let page = rng.random_range(1..=self.pages.max(1));
                Call::List { page, status: (roll <= 70).then(|| one_of(rng, &STATUSES)) }
            }
            81..=92 => Call::Patch { id: self.id(rng), status: one_of(rng, &STATUSES) },
            _ => Call::Create { n, priority: one_of(rng, &PRIORITIES) },
        }
    }

    fn id(&self, rng: &mut impl Rng) -> i64 {
        self.ids[rng.random_range(0..self.ids.len())]
    }
}

fn one_of(rng: &mut impl Rng, values: &[&'static str]) -> &'static str {
    values[rng.random_range(0..values.len())]
}

impl Call {
    /// The scenario's name for this call in the report.
    pub fn name(&self) -> &'static str {
        match self {
            Call::Get { .. } => "get_task",
            Call::List { .. } => "list_tasks",
            Call::Patch { .. } => "patch_task",
            Call::Create { .. } => "create_task",
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    #[test]
    fn the_mix_keeps_the_harness_weights() {
        let mix = Mix { ids: (1..=1000).collect(), pages: 50 };
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = std::collections::HashMap::<&str, u32>::new();
        let mut filtered = 0;
        for n in 0..100_000 {
            let call = mix.draw(&mut rng, n);
            if let Call::List { status: Some(_), .. } = call {
                filtered += 1;
            }
            *counts.entry(call.name()).or_default() += 1;
        }
        let share = |name| f64::from(counts[name]) / 1000.0;
        assert!((share("get_task") - 60.0).abs() < 1.0, "{counts:?}");
        assert!((share("list_tasks") - 20.0).abs() < 1.0, "{counts:?}");
        assert!((share("patch_task") - 12.0).abs() < 1.0, "{counts:?}");
        assert!((share("create_task") - 8.0).abs() < 1.0, "{counts:?}");
        assert!((f64::from(filtered) / 1000.0 - 10.0).abs() < 1.0, "{filtered}");
    }

    #[test]
    fn ids_and_pages_come_from_the_seeded_tasks() {
        let mix = Mix { ids: vec![41, 42], pages: 3 };
        let mut rng = StdRng::seed_from_u64(1);
        for n in 0..1000 {
            match mix.draw(&mut rng, n) {
                Call::Get { id } | Call::Patch { id, .. } => assert!(id == 41 || id == 42),
                Call::List { page, .. } => assert!((1..=3).contains(&page)),
                Call::Create { n: title, .. } => assert_eq!(title, n),
            }
        }
    }
}
