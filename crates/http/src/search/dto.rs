//! Wire types of `GET /search`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use workbench_core::{FieldErrors, Validator};

use crate::body::{component, name_list_pattern, patterned, trimmed_text};
use crate::files::dto::FileResponse;
use crate::products::dto::ProductResponse;
use crate::tasks::dto::TaskResponse;
use crate::users::dto::UserResponse;

/// The groups a search may cover, in the order they are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Users,
    Tasks,
    Products,
    Files,
}

impl Group {
    pub const ALL: [Group; 4] = [Group::Users, Group::Tasks, Group::Products, Group::Files];

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Users => "users",
            Group::Tasks => "tasks",
            Group::Products => "products",
            Group::Files => "files",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

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
    trimmed_text(1, MAX_QUERY_CHARS, "1 to 200 characters once trimmed").examples(["kettle"])
);

/// The schema of `type`.
#[derive(Debug)]
pub struct SearchGroupsSchema;

component!(
    SearchGroupsSchema,
    "SearchGroups",
    patterned(
        name_list_pattern(&Group::ALL.map(Group::as_str)),
        "Comma-separated groups: `users`, `tasks`, `products`, `files` (empty items are ignored; none means all)"
    )
    .examples(["tasks,products"])
);

/// `GET /search`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// What to look for: a case-insensitive substring of a username or name (and email, for
    /// admins), of a task's title or description, of a product's name, brand or model, or of a
    /// file's name.
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
    pub text: String,
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
        let limit = v.check(
            "limit",
            match self.limit {
                None => Ok(DEFAULT_LIMIT),
                Some(n) if n < 1 => Err("must be at least 1".to_owned()),
                Some(n) => Ok(n.unsigned_abs().min(MAX_LIMIT)),
            },
        );
        v.finish()?;
        Ok(Search { text: text.expect("checked"), groups: groups.expect("checked"), limit: limit.expect("checked") })
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
        assert_eq!(all, Search { text: "kettle".into(), groups: Group::ALL.to_vec(), limit: DEFAULT_LIMIT });
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
}
