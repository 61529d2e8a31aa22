//! The search language: what `GET /search?q=` understands, parsed once into typed terms.
//!
//! ```text
//! kettle "exact phrase" -broken type:task status:pending priority:high tag:home project:7
//! assignee:me due:<2026-12-01 is:overdue has:attachment
//! ```
//!
//! Words and phrases must all appear; `-word` and `-"phrase"` must not. Qualifiers narrow by a
//! typed value: several values of `type:`, `status:`, `priority:` or `project:` mean any of them,
//! several `tag:`s mean all of them. Every term that cannot be read is reported at once, each as
//! an error on `q` that quotes the term.

use chrono::{DateTime, Days, Utc};
use workbench_core::{FieldError, FieldErrors, parse_instant};
use workbench_projects::ProjectId;
use workbench_tasks::{FieldComparison, Priority, Refinement, Status, TaskFilter, TaskSort, split_field_term};
use workbench_users::UserId;

/// The field every error of the language is reported on.
pub const FIELD: &str = "q";

/// The most terms a query may hold. Each term is a condition the database checks on every task
/// in the caller's scope (a tag or a word, one more index probe or text match per task): without
/// a bound, a `q` of 200 characters holds up to 100 of them (33 tags). 32 is more than a query
/// typed by hand, or built by a client's filter panel, needs.
pub const MAX_TERMS: usize = 32;

/// What a search covers, in the order its groups are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Accounts, by username or name.
    Users,
    /// The tasks the caller may see.
    Tasks,
    /// Products of the public catalogue.
    Products,
    /// Files, by name: the caller's own (admins: anyone's).
    Files,
    /// Chat messages the caller may read.
    Messages,
}

impl Group {
    /// Every group, in the order they are answered.
    pub const ALL: [Group; 5] = [Group::Users, Group::Tasks, Group::Products, Group::Files, Group::Messages];

    /// The group's name in an answer and in the `type` parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Users => "users",
            Group::Tasks => "tasks",
            Group::Products => "products",
            Group::Files => "files",
            Group::Messages => "messages",
        }
    }

    /// A group by its name, plural (`tasks`, as the `type` parameter has it) or singular (`task`,
    /// as the `type:` qualifier does).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name || g.as_str().strip_suffix('s') == Some(name))
    }
}

/// Whose tasks `assignee:` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignee {
    /// The caller.
    Me,
    /// The account of this username (as typed; usernames are matched case-insensitively).
    Username(String),
}

/// A bound of `due:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Due strictly before the instant.
    Before(DateTime<Utc>),
    /// Due at or after the instant.
    From(DateTime<Utc>),
}

/// A query of the search language, every term read and typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Words and phrases that must all appear, lower-cased.
    pub words: Vec<String>,
    /// Words and phrases that must not appear, lower-cased.
    pub excluded: Vec<String>,
    /// The groups named by `type:`; empty when none was.
    pub types: Vec<Group>,
    /// `status:` values: a task must have one of them.
    pub statuses: Vec<Status>,
    /// `priority:` values: a task must have one of them.
    pub priorities: Vec<Priority>,
    /// Tags that must all be carried, normalised like stored tags.
    pub tags: Vec<String>,
    /// `project:` ids: a task must belong to one of them.
    pub projects: Vec<ProjectId>,
    /// Whose tasks `assignee:` asks for, if it was given.
    pub assignee: Option<Assignee>,
    /// The bounds `due:` sets, each a task's due date must keep.
    pub due: Vec<Due>,
    /// `is:overdue`: only tasks past their due date and not completed.
    pub overdue: bool,
    /// `has:attachment`: only tasks with an attached file.
    pub has_attachment: bool,
    /// `field:<name>=<value>` (or `>=`, `<=`): custom field values a task must have, by the
    /// field's name (resolved per viewer, see [`Query::tasks_for`]).
    pub fields: Vec<(String, FieldComparison, String)>,
}

impl Query {
    /// Reads `q` (already known not to be blank), naming every term it cannot read, and the
    /// first beyond [`MAX_TERMS`] (counted as written, repeats included: each is text to read).
    pub fn parse(q: &str) -> Result<Self, FieldErrors> {
        let mut query = Self::default();
        let mut errors = Vec::new();
        let terms = terms(q);
        if let Some(first_beyond) = terms.get(MAX_TERMS) {
            let message = format!(
                "{}: a search holds at most {MAX_TERMS} terms, and this is term {} of {}",
                first_beyond.quoted(),
                MAX_TERMS + 1,
                terms.len()
            );
            errors.push(FieldError::new(FIELD, message));
        }
        for term in &terms {
            if let Err(message) = query.add(term) {
                errors.push(FieldError::new(FIELD, format!("{}: {message}", term.quoted())));
            }
        }
        match FieldErrors::from_vec(errors) {
            None => Ok(query),
            Some(errors) => Err(errors),
        }
    }

    /// Whether some term narrows tasks only (a status, a due date ...): then a search that names
    /// no `type:` covers tasks alone, since no other group could honour the term.
    pub fn narrows_tasks(&self) -> bool {
        !(self.statuses.is_empty()
            && self.priorities.is_empty()
            && self.tags.is_empty()
            && self.projects.is_empty()
            && self.assignee.is_none()
            && self.due.is_empty()
            && !self.overdue
            && !self.has_attachment
            && self.fields.is_empty())
    }

    /// The groups this query covers: those named by `type:`, else tasks alone when a term narrows
    /// tasks only, else `default`.
    pub fn groups(&self, default: &[Group]) -> Vec<Group> {
        if !self.types.is_empty() {
            self.types.clone()
        } else if self.narrows_tasks() {
            vec![Group::Tasks]
        } else {
            default.to_vec()
        }
    }

    /// The text the groups that match one substring look for: the words as one phrase, in order.
    pub fn text(&self) -> String {
        self.words.join(" ")
    }

    /// The task filter of this query, newest first, `assignee` resolved by the caller (`None`
    /// when `assignee:` was not given), overdue as of `now`.
    pub fn task_filter(&self, assignee: Option<UserId>, now: DateTime<Utc>) -> TaskFilter {
        let mut words = self.words.iter().cloned();
        let mut tags = self.tags.iter().cloned();
        let due_before = self.due.iter().filter_map(|d| if let Due::Before(t) = d { Some(*t) } else { None }).min();
        let due_after = self.due.iter().filter_map(|d| if let Due::From(t) = d { Some(*t) } else { None }).max();
        TaskFilter {
            statuses: self.statuses.clone(),
            priorities: self.priorities.clone(),
            assignee_id: assignee,
            owner_id: None,
            tag: tags.next(),
            text: words.next(),
            due_before,
            due_after,
            overdue_at: self.overdue.then_some(now),
            refinement: Refinement {
                contains: words.collect(),
                excludes: self.excluded.clone(),
                tags: tags.collect(),
                project_ids: self.projects.clone(),
                has_attachment: self.has_attachment,
                fields: Vec::new(),
            },
            sort: TaskSort::default(),
        }
    }

    fn add(&mut self, term: &Term) -> Result<(), String> {
        let (key, value) = match term {
            Term::Text { text, negated: false } => {
                push_once(&mut self.words, text.to_lowercase());
                return Ok(());
            }
            Term::Text { text, negated: true } => {
                push_once(&mut self.excluded, text.to_lowercase());
                return Ok(());
            }
            Term::Qualifier { key, value, negated: true } => {
                return Err(format!("qualifier {key:?} cannot be excluded (only words and phrases can: {value:?})"));
            }
            Term::Unclosed(_) => return Err("the phrase has no closing quote".to_owned()),
            Term::Qualifier { key, value, negated: false } => (key.as_str(), value.as_str()),
        };
        if value.is_empty() {
            return Err(format!("qualifier {key:?} needs a value"));
        }
        match key {
            "type" => push_once(
                &mut self.types,
                Group::parse(value)
                    .ok_or_else(|| format!("{value:?} is not one of task, product, file, message, user"))?,
            ),
            "status" => push_once(&mut self.statuses, Status::parse(value)?),
            "priority" => push_once(&mut self.priorities, Priority::parse(value)?),
            "tag" => push_once(&mut self.tags, value.trim().to_lowercase()),
            "project" => push_once(
                &mut self.projects,
                value
                    .parse::<i64>()
                    .ok()
                    .filter(|id| *id > 0)
                    .map(ProjectId)
                    .ok_or_else(|| format!("{value:?} is not a project id (a positive integer)"))?,
            ),
            "assignee" => {
                let assignee =
                    if value.eq_ignore_ascii_case("me") { Assignee::Me } else { Assignee::Username(value.to_owned()) };
                match &self.assignee {
                    Some(given) if *given != assignee => return Err("a search names at most one assignee".to_owned()),
                    _ => self.assignee = Some(assignee),
                }
            }
            "due" => self.due.push(due(value)?),
            "is" if value == "overdue" => self.overdue = true,
            "is" => return Err(format!("{value:?} is not a state `is:` knows (overdue)")),
            "has" if value == "attachment" => self.has_attachment = true,
            "has" => return Err(format!("{value:?} is not something `has:` knows (attachment)")),
            "field" => {
                let (name, comparison, raw) = split_field_term(value)
                    .ok_or_else(|| format!("{value:?} is not <name>=<value>, <name>>=<value> or <name><=<value>"))?;
                self.fields.push((name.to_owned(), comparison, raw.to_owned()));
            }
            _ => {
                return Err(format!(
                    "unknown qualifier {key:?} (known: type, status, priority, tag, project, assignee, due, is, has, field)"
                ));
            }
        }
        Ok(())
    }
}

fn push_once<T: PartialEq>(values: &mut Vec<T>, value: T) {
    if !values.contains(&value) {
        values.push(value);
    }
}

/// `<D`, `<=D`, `>D`, `>=D` or `D` (that day), `D` a `YYYY-MM-DD` date or an RFC 3339 instant.
/// A date stands for its whole day (UTC): `>2026-12-01` starts on the 2nd, `<=2026-12-01` ends
/// with the 1st.
fn due(value: &str) -> Result<Due, String> {
    let (op, rest) = ["<=", ">=", "<", ">"]
        .into_iter()
        .find_map(|op| value.strip_prefix(op).map(|rest| (op, rest)))
        .unwrap_or(("", value));
    let at = parse_instant(rest).map_err(|_| {
        format!("{rest:?} is not a YYYY-MM-DD date or an RFC 3339 instant (after an optional <, <=, > or >=)")
    })?;
    let whole_day = !rest.contains('T') && !rest.contains('t');
    let next = |t: DateTime<Utc>| {
        if whole_day { t.checked_add_days(Days::new(1)) } else { Some(t + chrono::Duration::microseconds(1)) }
            .ok_or_else(|| format!("{rest:?} is too far in the future"))
    };
    Ok(match op {
        "<" => Due::Before(at),
        "<=" => Due::Before(next(at)?),
        ">" => Due::From(next(at)?),
        ">=" => Due::From(at),
        _ if whole_day => return Err(format!("{value:?}: a bare date needs <, <=, > or >= before it")),
        _ => return Err(format!("{value:?}: an instant needs <, <=, > or >= before it")),
    })
}

/// One term of a query as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Text {
        text: String,
        negated: bool,
    },
    Qualifier {
        key: String,
        value: String,
        negated: bool,
    },
    /// A phrase whose closing quote is missing: refused, rather than guessed at.
    Unclosed(String),
}

impl Term {
    /// The term as the client wrote it, for an error message.
    fn quoted(&self) -> String {
        let written = match self {
            Term::Text { text, negated } if text.contains(char::is_whitespace) => {
                format!("{}\"{text}\"", if *negated { "-" } else { "" })
            }
            Term::Text { text, negated } => format!("{}{text}", if *negated { "-" } else { "" }),
            Term::Qualifier { key, value, negated } => format!("{}{key}:{value}", if *negated { "-" } else { "" }),
            Term::Unclosed(raw) => raw.clone(),
        };
        format!("term `{written}`")
    }
}

/// Splits a query into terms: whitespace separates them except inside double quotes; a leading
/// `-` negates; `key:value` is a qualifier when `key` is a word of ASCII letters (so `10:30` and
/// `a:b:c`'s value stay readable), and its value may be quoted (`tag:"two words"`).
fn terms(q: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut chars = q.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let negated = c == '-';
        if negated {
            chars.next();
        }
        let mut word = String::new();
        let mut in_quotes = false;
        let mut quoted = false;
        while let Some(&(_, c)) = chars.peek() {
            if c == '"' {
                in_quotes = !in_quotes;
                quoted = true;
                chars.next();
                continue;
            }
            if c.is_whitespace() && !in_quotes {
                break;
            }
            word.push(c);
            chars.next();
        }
        let end = chars.peek().map_or(q.len(), |&(i, _)| i);
        if in_quotes {
            terms.push(Term::Unclosed(q[start..end].to_owned()));
            continue;
        }
        let qualifier = (!q[start..end].trim_start_matches('-').starts_with('"'))
            .then(|| word.split_once(':'))
            .flatten()
            .filter(|(key, _)| !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic()));
        match qualifier {
            Some((key, value)) => {
                terms.push(Term::Qualifier { key: key.to_ascii_lowercase(), value: value.to_owned(), negated })
            }
            // A lone `-` or `""` says nothing.
            None if word.trim().is_empty() => {}
            None if negated && !quoted && word.is_empty() => {}
            None => terms.push(Term::Text { text: word, negated }),
        }
    }
    terms
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn messages(q: &str) -> Vec<String> {
        Query::parse(q).unwrap_err().into_vec().into_iter().map(|e| format!("{}: {}", e.field, e.message)).collect()
    }

    #[test]
    fn words_phrases_and_exclusions() {
        let q = Query::parse(r#"  Kettle "Red Lid"  -broken -"old stock" kettle "#).unwrap();
        assert_eq!(q.words, ["kettle", "red lid"]);
        assert_eq!(q.excluded, ["broken", "old stock"]);
        assert!(!q.narrows_tasks());
        assert_eq!(q.text(), "kettle red lid");
    }

    #[test]
    fn qualifiers_are_typed() {
        let q = Query::parse(
            "type:task type:files status:pending status:in_progress priority:high tag:Home tag:work project:7 \
             assignee:me due:<2026-12-01 due:>=2026-11-01 is:overdue has:attachment",
        )
        .unwrap();
        assert_eq!(q.types, [Group::Tasks, Group::Files]);
        assert_eq!(q.statuses, [Status::Pending, Status::InProgress]);
        assert_eq!(q.priorities, [Priority::High]);
        assert_eq!(q.tags, ["home", "work"]);
        assert_eq!(q.projects, [ProjectId(7)]);
        assert_eq!(q.assignee, Some(Assignee::Me));
        assert_eq!(q.due, [Due::Before(at(2026, 12, 1)), Due::From(at(2026, 11, 1))]);
        assert!(q.overdue && q.has_attachment && q.narrows_tasks());
    }

    #[test]
    fn a_date_stands_for_its_whole_day() {
        let q = Query::parse("due:>2026-12-01 due:<=2026-12-31").unwrap();
        assert_eq!(q.due, [Due::From(at(2026, 12, 2)), Due::Before(at(2027, 1, 1))]);
        let f = q.task_filter(None, Utc::now());
        assert_eq!((f.due_after, f.due_before), (Some(at(2026, 12, 2)), Some(at(2027, 1, 1))));
    }

    #[test]
    fn every_bad_term_is_named_at_once() {
        let errors = messages(r#"kettle colour:red status:done due:soon is:late has:owner project:x -tag:a "open"#);
        assert_eq!(errors.len(), 8, "{errors:?}");
        assert!(errors.iter().all(|e| e.starts_with("q: term `")), "{errors:?}");
        for term in ["colour:red", "status:done", "due:soon", "is:late", "has:owner", "project:x", "-tag:a", "\"open"] {
            assert!(errors.iter().any(|e| e.contains(&format!("`{term}`"))), "{term} in {errors:?}");
        }
        assert!(errors[0].contains("unknown qualifier"));
    }

    #[test]
    fn a_query_holds_at_most_max_terms() {
        let tags = |n: usize| (1..=n).map(|i| format!("tag:t{i}")).collect::<Vec<_>>().join(" ");
        let q = Query::parse(&tags(MAX_TERMS)).unwrap();
        assert_eq!(q.tags.len(), MAX_TERMS);
        assert_eq!(
            messages(&format!("{} kettle", tags(MAX_TERMS))),
            ["q: term `kettle`: a search holds at most 32 terms, and this is term 33 of 33"]
        );
        let repeated = ["a"; 40].join(" ");
        assert_eq!(
            messages(&repeated),
            ["q: term `a`: a search holds at most 32 terms, and this is term 33 of 40"],
            "repeats count: each is text to read"
        );
        let errors = messages(&format!("{} colour:red", ["\"one two\""; 33].join(" ")));
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("q: term `\"one two\"`: a search holds at most 32 terms"), "{errors:?}");
        assert!(errors[1].contains("unknown qualifier"), "the other bad terms are still named: {errors:?}");
    }

    #[test]
    fn two_assignees_or_empty_values_are_refused() {
        assert_eq!(messages("assignee:me assignee:bob").len(), 1);
        assert!(Query::parse("assignee:me assignee:ME").is_ok());
        assert_eq!(messages("tag:").len(), 1);
        assert_eq!(messages("due:2026-12-01").len(), 1);
    }

    #[test]
    fn text_that_only_looks_like_a_qualifier_is_text() {
        let q = Query::parse(r#"10:30 "type:task" a1:b"#).unwrap();
        assert_eq!(q.words, ["10:30", "type:task", "a1:b"]);
        assert!(q.types.is_empty());
    }

    #[test]
    fn groups_follow_type_then_task_terms() {
        let all = Group::ALL;
        assert_eq!(Query::parse("kettle").unwrap().groups(&all), all);
        assert_eq!(Query::parse("kettle status:pending").unwrap().groups(&all), [Group::Tasks]);
        assert_eq!(Query::parse("type:product kettle").unwrap().groups(&all), [Group::Products]);
        assert_eq!(Group::parse("message"), Some(Group::Messages));
        assert_eq!(Group::parse("messages"), Some(Group::Messages));
        assert_eq!(Group::parse("colour"), None);
    }

    #[test]
    fn the_task_filter_carries_every_term() {
        let q = Query::parse("red kettle -lid tag:a tag:b project:3 has:attachment is:overdue").unwrap();
        let now = Utc::now();
        let f = q.task_filter(Some(UserId(9)), now);
        assert_eq!(f.text.as_deref(), Some("red"));
        assert_eq!(f.tag.as_deref(), Some("a"));
        assert_eq!(f.assignee_id, Some(UserId(9)));
        assert_eq!(f.overdue_at, Some(now));
        assert_eq!(f.refinement.contains, ["kettle"]);
        assert_eq!(f.refinement.excludes, ["lid"]);
        assert_eq!(f.refinement.tags, ["b"]);
        assert_eq!(f.refinement.project_ids, [ProjectId(3)]);
        assert!(f.refinement.has_attachment);
    }
}
