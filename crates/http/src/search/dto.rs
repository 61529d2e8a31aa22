//! Wire types of `GET /search`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, TypeFailures, Validator};
use workbench_search::{Group, Query, SavedSearch, SavedSearchDraft};
use workbench_tasks::TaskFacets;

use crate::body::{Lenient, component, lenient, name_list_pattern, patterned, trimmed_text};
use crate::chat::dto::MessageResponse;
use crate::files::dto::FileResponse;
use crate::products::dto::ProductResponse;
use crate::tasks::dto::TaskResponse;
use crate::users::dto::UserResponse;

/// The most characters `q` may have once trimmed.
pub const MAX_QUERY_CHARS: usize = 200;
/// Results per group when `limit` is left out, and the most a client may ask for.
pub const DEFAULT_LIMIT: u64 = 10;
pub const MAX_LIMIT: u64 = 50;

/// The schema of `q`.
#[derive(Debug)]
pub struct SearchTextSchema;

component!(
    SearchTextSchema,
    "SearchText",
    trimmed_text(1, MAX_QUERY_CHARS, "1 to 200 characters once trimmed, in the search language")
        .examples(["kettle", "descale -vinegar status:pending tag:home due:<2026-12-01"])
);

/// The schema of `type`.
#[derive(Debug)]
pub struct SearchGroupsSchema;

component!(
    SearchGroupsSchema,
    "SearchGroups",
    patterned(
        name_list_pattern(&Group::ALL.map(Group::as_str)),
        "Comma-separated groups: `users`, `tasks`, `products`, `files`, `messages` (empty items are ignored; none means all)"
    )
    .examples(["tasks,products"])
);

/// `GET /search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for, in the search language: words (each must appear in a task's title or
    /// description; the other groups match the words as one phrase: a username or name, and
    /// email for admins; a product's name, brand or model; a file's name; a message's content),
    /// `"exact phrase"`,
    /// `-excluded` (tasks), and qualifiers `type:task|product|file|message|user`, `status:`, `priority:`,
    /// `tag:`, `project:<id>`, `assignee:me|<username>`, `due:<2026-12-01` (also `<=`, `>`, `>=`,
    /// dates or RFC 3339 instants), `is:overdue`, `has:attachment`. A qualifier other than
    /// `type:` narrows tasks only, so without `type:` such a search covers tasks alone. Several
    /// `type:`, `status:`, `priority:` or `project:` values mean any of them; several `tag:`s
    /// all of them. A query holds at most 32 terms. Every term that cannot be read (and the first
    /// beyond 32) is named in one `422` on `q`.
    #[param(required = true, value_type = SearchTextSchema, inline)]
    pub q: Option<String>,
    /// Which groups to search; all of them when left out.
    #[param(rename = "type", value_type = Option<SearchGroupsSchema>, inline)]
    #[serde(rename = "type")]
    pub groups: Option<String>,
    /// Results per group, from 1; default 10, more than 50 is read as 50.
    #[param(minimum = 1, default = 10)]
    pub limit: Option<i64>,
}

/// A validated search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub query: Query,
    pub groups: Vec<Group>,
    pub limit: u64,
}

impl SearchQuery {
    /// Validates every parameter, naming each one that fails.
    pub fn parse(self) -> Result<Search, FieldErrors> {
        let mut v = Validator::default();
        let text = v.check(
            "q",
            match self.q.as_deref().map(str::trim) {
                None | Some("") => Err("is required and must not be blank".to_owned()),
                Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                    Err(format!("must be at most {MAX_QUERY_CHARS} characters"))
                }
                Some(q) => Ok(q.to_owned()),
            },
        );
        let groups = v.check("type", groups(self.groups.as_deref()));
        // The terms are read only once `q` is known to be there and of a sane length.
        let query = match text.as_deref().map(Query::parse) {
            Some(Ok(query)) => Some(query),
            Some(Err(terms)) => {
                for error in terms.into_vec() {
                    v.fail(&error.field, error.message);
                }
                None
            }
            None => None,
        };
        let limit = v.check(
            "limit",
            match self.limit {
                None => Ok(DEFAULT_LIMIT),
                Some(n) if n < 1 => Err("must be at least 1".to_owned()),
                Some(n) => Ok(n.unsigned_abs().min(MAX_LIMIT)),
            },
        );
        let (query, (groups, limit)) = v.finish_with(query.zip(groups.zip(limit)))?;
        let groups = query.groups(&groups);
        Ok(Search { query, groups, limit })
    }
}

fn groups(raw: Option<&str>) -> Result<Vec<Group>, String> {
    let mut groups = Vec::new();
    for name in raw.unwrap_or_default().split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let group = Group::parse(name).ok_or_else(|| {
            let known = Group::ALL.map(Group::as_str).join(", ");
            format!("{name:?} is not one of {known}")
        })?;
        if !groups.contains(&group) {
            groups.push(group);
        }
    }
    if groups.is_empty() {
        groups = Group::ALL.to_vec();
    }
    Ok(groups)
}

/// What a search found, by group: each group holds what the caller may see of it, in the shape
/// its own routes answer, and is present only when it was searched.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct SearchResponse {
    /// Users by username or name (admins: also by email); disabled accounts for admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserResponse>>,
    /// Tasks the caller owns or is assigned to (moderators and admins: every task), newest
    /// first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<Vec<TaskResponse>>,
    /// Active products of the public catalogue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<Vec<ProductResponse>>,
    /// The caller's own files by name (admins: anyone's), newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileResponse>>,
    /// Messages of the caller's conversations (their rooms and direct messages), newest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MessageResponse>>,
    /// Every match of each group present, not only those returned.
    pub totals: Totals,
    /// How the matching tasks spread (every match, not only those returned); present when tasks
    /// were searched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facets: Option<Facets>,
}

/// How many matches each searched group has; a group not searched is absent.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Totals {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tasks: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub products: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
}

/// The matching tasks counted by status, priority, tag and project (by id); a value no match has
/// is absent.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Facets {
    #[schema(example = json!({"pending": 3, "completed": 1}))]
    pub status: BTreeMap<&'static str, u64>,
    #[schema(example = json!({"high": 2, "low": 2}))]
    pub priority: BTreeMap<&'static str, u64>,
    #[schema(example = json!({"home": 2}))]
    pub tag: BTreeMap<String, u64>,
    #[schema(example = json!({"7": 4}))]
    pub project: BTreeMap<String, u64>,
}

impl From<TaskFacets> for Facets {
    fn from(f: TaskFacets) -> Self {
        Self {
            status: f.status.into_iter().map(|(s, n)| (s.as_str(), n)).collect(),
            priority: f.priority.into_iter().map(|(p, n)| (p.as_str(), n)).collect(),
            tag: f.tag,
            project: f.project.into_iter().map(|(p, n)| (p.0.to_string(), n)).collect(),
        }
    }
}

/// The schema of a saved search's name (the rule of a token's name).
#[derive(Debug)]
pub struct SavedSearchNameSchema;

component!(SavedSearchNameSchema, "SavedSearchName", {
    let (w, control) = (crate::body::WHITESPACE_CLASS, "\\u0000-\\u001f\\u007f-\\u009f");
    let inner = workbench_search::NAME_MAX_CHARS - 2;
    let pattern = format!("^[{w}]*[^{w}{control}](?:[^{control}]{{0,{inner}}}[^{w}{control}])?[{w}]*$");
    patterned(pattern, "1 to 100 characters once trimmed, no control characters").examples(["Due this week"])
});

/// `POST /searches`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SaveSearchRequest {
    /// What the search is for: 1 to 100 characters once trimmed, no control characters.
    #[schema(value_type = SavedSearchNameSchema, required = true)]
    #[serde(default)]
    pub name: Lenient<String>,
    /// A query of the search language, as `GET /search?q=` takes it (1 to 200 characters, at most
    /// 32 terms); every term that cannot be read (and the first beyond 32) is named in one `422`
    /// on `q`.
    #[schema(value_type = SearchTextSchema, required = true)]
    #[serde(default)]
    pub q: Lenient<String>,
}

impl SaveSearchRequest {
    pub fn into_draft(self) -> SavedSearchDraft {
        let mut type_failures = TypeFailures::default();
        let name = lenient("name", self.name, &mut type_failures);
        let q = lenient("q", self.q, &mut type_failures);
        SavedSearchDraft { name, q, type_failures }
    }
}

/// A saved search.
#[derive(Debug, Serialize, ToSchema)]
pub struct SavedSearchResponse {
    pub id: i64,
    pub name: String,
    /// The query, to send as `GET /search?q=`.
    pub q: String,
    pub created_at: DateTime<Utc>,
}

impl From<SavedSearch> for SavedSearchResponse {
    fn from(s: SavedSearch) -> Self {
        Self { id: s.id.0, name: s.name, q: s.q, created_at: s.created_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: Option<&str>, groups: Option<&str>, limit: Option<i64>) -> SearchQuery {
        SearchQuery { q: q.map(Into::into), groups: groups.map(Into::into), limit }
    }

    #[test]
    fn every_group_is_searched_unless_some_are_named() {
        let all = query(Some(" kettle "), None, None).parse().unwrap();
        assert_eq!(all.query.words, ["kettle"]);
        assert_eq!((all.groups, all.limit), (Group::ALL.to_vec(), DEFAULT_LIMIT));
        let some = query(Some("x"), Some("products, tasks,,tasks"), Some(500)).parse().unwrap();
        assert_eq!(some.groups, [Group::Products, Group::Tasks]);
        assert_eq!(some.limit, MAX_LIMIT);
    }

    #[test]
    fn every_bad_parameter_is_named_at_once() {
        let e = query(Some("  "), Some("tasks,colours"), Some(0)).parse().unwrap_err();
        let fields: Vec<_> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["q", "type", "limit"]);
        assert!(query(None, None, None).parse().is_err());
        assert!(query(Some(&"a".repeat(201)), None, None).parse().is_err());
    }

    #[test]
    fn bad_terms_are_named_with_the_other_parameters() {
        let e = query(Some("kettle colour:red status:done"), Some("tasks"), Some(0)).parse().unwrap_err();
        let fields: Vec<_> = e.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["q", "q", "limit"]);
    }

    #[test]
    fn qualifiers_choose_the_groups() {
        let typed = query(Some("type:product kettle"), Some("tasks"), None).parse().unwrap();
        assert_eq!(typed.groups, [Group::Products], "type: wins over the parameter");
        let narrowed = query(Some("kettle status:pending"), None, None).parse().unwrap();
        assert_eq!(narrowed.groups, [Group::Tasks]);
    }
}
