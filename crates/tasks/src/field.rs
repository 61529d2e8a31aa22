//! Custom fields: typed fields a project defines, the values its tasks carry, and the filters on
//! them.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use workbench_core::{BoundedText, FieldErrors, Validator};
use workbench_projects::ProjectId;

/// A custom field's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FieldId(pub i64);

impl std::fmt::Display for FieldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A task's custom field values, by field id: strings for text, select and date (`YYYY-MM-DD`)
/// fields, numbers for number fields and user ids.
pub type FieldValues = BTreeMap<FieldId, Value>;

/// Field values as a client sent them, keyed by the field id as text (`null` removes a value in
/// a change).
pub type RawFieldValues = BTreeMap<String, Value>;

/// What a custom field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Up to 1,000 characters.
    Text,
    /// A finite number.
    Number,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// One of the field's options.
    Select,
    /// A member of the project, by user id.
    User,
}

impl FieldType {
    /// Every type.
    pub const ALL: [FieldType; 5] =
        [FieldType::Text, FieldType::Number, FieldType::Date, FieldType::Select, FieldType::User];

    /// The type's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Select => "select",
            FieldType::User => "user",
        }
    }

    /// The type named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of text, number, date, select, user"))
    }

    /// Whether its values are ordered (`>=` and `<=` filters apply).
    pub fn is_ordered(self) -> bool {
        matches!(self, FieldType::Number | FieldType::Date)
    }
}

/// A project's custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDefinition {
    /// Its id: the key of its values on tasks.
    pub id: FieldId,
    /// The project that defines it.
    pub project_id: ProjectId,
    /// Its name, unique in the project (ignoring case).
    pub name: String,
    /// What it holds.
    pub field_type: FieldType,
    /// A select field's options, in order; `None` for other types.
    pub options: Option<Vec<String>>,
    /// Whether every task of the project must carry a value.
    pub required: bool,
    /// When it was defined.
    pub created_at: DateTime<Utc>,
}

/// The most characters of a text field's value.
pub const MAX_TEXT_VALUE_CHARS: usize = 1_000;
/// The most options of a select field.
pub const MAX_OPTIONS: usize = 100;
/// The most fields a project defines.
pub const MAX_FIELDS_PER_PROJECT: usize = 50;

impl FieldDefinition {
    /// `value` checked against the field's type: the value to store, or the message a `422`
    /// naming `fields.<id>` carries. A user field's member check is the service's.
    pub fn check(&self, value: &Value) -> Result<Value, String> {
        match (self.field_type, value) {
            (FieldType::Text, Value::String(s)) if s.chars().count() <= MAX_TEXT_VALUE_CHARS => Ok(value.clone()),
            (FieldType::Text, Value::String(_)) => Err(format!("must be at most {MAX_TEXT_VALUE_CHARS} characters")),
            (FieldType::Text, _) => Err("must be a string".into()),
            (FieldType::Number, Value::Number(n)) if n.as_f64().is_some_and(f64::is_finite) => Ok(value.clone()),
            (FieldType::Number, _) => Err("must be a number".into()),
            (FieldType::Date, Value::String(s)) => parse_date(s).map(|_| value.clone()),
            (FieldType::Date, _) => Err("must be a date, YYYY-MM-DD".into()),
            (FieldType::Select, Value::String(s)) if self.options.iter().flatten().any(|o| o == s) => Ok(value.clone()),
            (FieldType::Select, _) => {
                Err(format!("must be one of {}", self.options.as_deref().unwrap_or_default().join(", ")))
            }
            (FieldType::User, Value::Number(n)) if n.as_i64().is_some_and(|id| id > 0) => Ok(value.clone()),
            (FieldType::User, _) => Err("must be the id of a member of the project".into()),
        }
    }

    /// A filter's value for this field, parsed from query text: the stored value it is compared
    /// with, or why it cannot be.
    pub fn filter_value(&self, raw: &str) -> Result<FieldOperand, String> {
        match self.field_type {
            FieldType::Number => raw
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite())
                .map(FieldOperand::Number)
                .ok_or_else(|| format!("{raw:?} is not a number")),
            FieldType::User => raw
                .trim()
                .parse::<i64>()
                .map(|id| FieldOperand::Number(id as f64))
                .map_err(|_| format!("{raw:?} is not a user id")),
            FieldType::Date => parse_date(raw.trim()).map(|_| FieldOperand::Text(raw.trim().to_owned())),
            FieldType::Text | FieldType::Select => Ok(FieldOperand::Text(raw.to_owned())),
        }
    }
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("{s:?} is not a date, YYYY-MM-DD"))
}

/// A new field as a client sent it, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldDraft {
    /// Its name; required.
    pub name: Option<String>,
    /// Its type's name; required.
    pub field_type: Option<String>,
    /// A select field's options; required for one, refused for the others.
    pub options: Option<Vec<String>>,
    /// Whether every task must carry a value; `false` when missing.
    pub required: Option<bool>,
}

/// A validated new field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewField {
    /// The project that defines it.
    pub project_id: ProjectId,
    /// Its name, trimmed, 1 to 100 characters.
    pub name: String,
    /// What it holds.
    pub field_type: FieldType,
    /// A select field's options.
    pub options: Option<Vec<String>>,
    /// Whether every task must carry a value.
    pub required: bool,
}

impl NewField {
    /// Validates a draft, reporting every failing field at once.
    pub fn parse(project_id: ProjectId, draft: FieldDraft) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let name = v.required("name", draft.name, |n| BoundedText::<100>::parse(&n).map(BoundedText::into_inner));
        let field_type = v.required("type", draft.field_type, |t| FieldType::parse(&t));
        let options = match (field_type, draft.options) {
            (Some(FieldType::Select), Some(options)) => v.check("options", parse_options(options)).map(Some),
            (Some(FieldType::Select), None) => {
                v.fail("options", "a select field needs its options");
                None
            }
            (Some(_), Some(_)) => {
                v.fail("options", "only a select field has options");
                None
            }
            (_, None) => Some(None),
            (None, Some(_)) => None,
        };
        let field = match (name, field_type, options) {
            (Some(name), Some(field_type), Some(options)) => {
                Some(Self { project_id, name, field_type, options, required: draft.required.unwrap_or(false) })
            }
            _ => None,
        };
        v.finish_with(field)
    }
}

fn parse_options(raw: Vec<String>) -> Result<Vec<String>, String> {
    let mut options: Vec<String> = Vec::with_capacity(raw.len());
    for option in raw {
        let option = BoundedText::<100>::parse(&option).map_err(|e| format!("each option {e}"))?.into_inner();
        if options.contains(&option) {
            return Err(format!("{option:?} is given twice"));
        }
        options.push(option);
    }
    match options.len() {
        0 => Err("a select field needs at least one option".into()),
        n if n > MAX_OPTIONS => Err(format!("must have at most {MAX_OPTIONS} options")),
        _ => Ok(options),
    }
}

/// What a field filter compares a stored value with.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldOperand {
    /// A text, select or date (`YYYY-MM-DD`, ordered as text) value.
    Text(String),
    /// A number or a user id.
    Number(f64),
}

/// How a field filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldComparison {
    /// Equal to the operand.
    Equal,
    /// At or above it.
    AtLeast,
    /// At or below it.
    AtMost,
}

/// Tasks whose value of a field compares so with an operand.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldCondition {
    /// The field: any of these, of one type (a search's `field:<name>=` names the fields of that
    /// name in every project the viewer sees; a task is in one of them).
    pub fields: Vec<FieldId>,
    /// How.
    pub comparison: FieldComparison,
    /// With what.
    pub operand: FieldOperand,
}

// A filter holds at most a few conditions, compared whole for cache keys; the operand's float is
// never NaN (parsing refuses it).
impl Eq for FieldCondition {}

impl FieldCondition {
    /// The condition a list's query parameter asks: `key` is what follows `field.` (`7`, `7>`
    /// or `7<`, the last two from `field.7>=v` and `field.7<=v`), checked against `field`.
    pub fn parse(field: &FieldDefinition, comparison: FieldComparison, raw: &str) -> Result<Self, String> {
        if comparison != FieldComparison::Equal && !field.field_type.is_ordered() {
            return Err(format!("a {} field is compared by equality only", field.field_type.as_str()));
        }
        Ok(Self { fields: vec![field.id], comparison, operand: field.filter_value(raw)? })
    }

    /// A stable text for cache keys.
    pub fn key(&self) -> String {
        let op = match self.comparison {
            FieldComparison::Equal => "=",
            FieldComparison::AtLeast => ">=",
            FieldComparison::AtMost => "<=",
        };
        let fields: Vec<String> = self.fields.iter().map(FieldId::to_string).collect();
        match &self.operand {
            FieldOperand::Text(t) => format!("{}{op}t:{t}", fields.join(",")),
            FieldOperand::Number(n) => format!("{}{op}n:{n}", fields.join(",")),
        }
    }
}

/// The condition a search's `field:<name><op><value>` asks of `fields` (those of that name the
/// viewer sees): the fields of the first one's type whose values `raw` can be, or why none can.
pub fn named_condition(
    fields: &[FieldDefinition],
    comparison: FieldComparison,
    raw: &str,
) -> Result<FieldCondition, String> {
    let first = fields.first().ok_or("no field of a project you are a member of has that name")?;
    let mut condition = FieldCondition::parse(first, comparison, raw)?;
    condition.fields = fields.iter().filter(|f| f.field_type == first.field_type).map(|f| f.id).collect();
    Ok(condition)
}

/// Splits a search's `field:` value (`Room=Kitchen`, `points>=3`, `due<=2026-12-01`) into the
/// field's name, the comparison and the value.
pub fn split_field_term(value: &str) -> Option<(&str, FieldComparison, &str)> {
    let at = value.find(['=', '>', '<'])?;
    let (name, rest) = value.split_at(at);
    let (comparison, raw) = if let Some(raw) = rest.strip_prefix(">=") {
        (FieldComparison::AtLeast, raw)
    } else if let Some(raw) = rest.strip_prefix("<=") {
        (FieldComparison::AtMost, raw)
    } else {
        (FieldComparison::Equal, rest.strip_prefix('=')?)
    };
    (!name.is_empty() && !raw.is_empty()).then_some((name, comparison, raw))
}

/// The query key of a field filter (`field.7`, `field.7>`, `field.7<`): the field's id and the
/// comparison, or `None` for another key.
pub fn field_filter_key(key: &str) -> Option<Result<(FieldId, FieldComparison), String>> {
    let rest = key.strip_prefix("field.")?;
    let (id, comparison) = match rest.as_bytes().last() {
        Some(b'>') => (&rest[..rest.len() - 1], FieldComparison::AtLeast),
        Some(b'<') => (&rest[..rest.len() - 1], FieldComparison::AtMost),
        _ => (rest, FieldComparison::Equal),
    };
    Some(
        id.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(|id| (FieldId(id), comparison))
            .ok_or_else(|| format!("{key:?} does not name a field: field.<id>, field.<id>>= or field.<id><=")),
    )
}

/// The values a client sent, checked against `definitions` (every failure named
/// `fields.<id>`): the values to store. `None` values (removals) are kept as such; with
/// `complete` (a new task, or one entering the project), a required field must have a value.
pub fn check_values(
    v: &mut Validator,
    definitions: &[FieldDefinition],
    raw: &RawFieldValues,
    existing: &FieldValues,
    complete: bool,
) -> BTreeMap<FieldId, Option<Value>> {
    let mut checked = BTreeMap::new();
    for (key, value) in raw {
        let name = format!("fields.{key}");
        let Some(field) = key.parse::<i64>().ok().and_then(|id| definitions.iter().find(|f| f.id.0 == id)) else {
            v.fail(&name, "is not a field of the task's project");
            continue;
        };
        if value.is_null() {
            if field.required {
                v.fail(&name, "is required");
            }
            checked.insert(field.id, None);
            continue;
        }
        match field.check(value) {
            Ok(value) => {
                checked.insert(field.id, Some(value));
            }
            Err(message) => v.fail(&name, &message),
        }
    }
    if complete {
        for field in definitions.iter().filter(|f| f.required) {
            let has = match checked.get(&field.id) {
                Some(value) => value.is_some(),
                None => existing.contains_key(&field.id),
            };
            if !has && !raw.contains_key(&field.id.to_string()) {
                v.fail(&format!("fields.{}", field.id), "is required");
            }
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(field_type: FieldType, options: Option<Vec<&str>>) -> FieldDefinition {
        FieldDefinition {
            id: FieldId(7),
            project_id: ProjectId(1),
            name: "f".into(),
            field_type,
            options: options.map(|o| o.into_iter().map(String::from).collect()),
            required: false,
            created_at: workbench_users::now(),
        }
    }

    #[test]
    fn values_are_checked_by_type() {
        let number = field(FieldType::Number, None);
        assert!(number.check(&serde_json::json!(3.5)).is_ok());
        assert_eq!(number.check(&serde_json::json!("3")).unwrap_err(), "must be a number");
        let date = field(FieldType::Date, None);
        assert!(date.check(&serde_json::json!("2026-12-01")).is_ok());
        assert!(date.check(&serde_json::json!("2026-13-01")).is_err());
        assert!(date.check(&serde_json::json!("2026-1-01")).is_err());
        let select = field(FieldType::Select, Some(vec!["low", "high"]));
        assert!(select.check(&serde_json::json!("high")).is_ok());
        assert_eq!(select.check(&serde_json::json!("mid")).unwrap_err(), "must be one of low, high");
        let text = field(FieldType::Text, None);
        assert!(text.check(&serde_json::json!("x".repeat(1000))).is_ok());
        assert!(text.check(&serde_json::json!("x".repeat(1001))).is_err());
        let user = field(FieldType::User, None);
        assert!(user.check(&serde_json::json!(4)).is_ok());
        assert!(user.check(&serde_json::json!(-4)).is_err());
    }

    #[test]
    fn a_select_field_needs_options_and_only_it_has_them() {
        let draft = |t: &str, options: Option<Vec<&str>>| FieldDraft {
            name: Some("Size".into()),
            field_type: Some(t.into()),
            options: options.map(|o| o.into_iter().map(String::from).collect()),
            required: None,
        };
        assert!(NewField::parse(ProjectId(1), draft("select", None)).unwrap_err().contains("options"));
        assert!(NewField::parse(ProjectId(1), draft("number", Some(vec!["a"]))).unwrap_err().contains("options"));
        assert!(NewField::parse(ProjectId(1), draft("colour", None)).unwrap_err().contains("type"));
        let ok = NewField::parse(ProjectId(1), draft("select", Some(vec!["s", "m"]))).unwrap();
        assert_eq!(ok.options.unwrap(), ["s", "m"]);
    }

    #[test]
    fn filter_keys_name_a_field_and_a_comparison() {
        assert_eq!(field_filter_key("field.7").unwrap().unwrap(), (FieldId(7), FieldComparison::Equal));
        assert_eq!(field_filter_key("field.7>").unwrap().unwrap(), (FieldId(7), FieldComparison::AtLeast));
        assert_eq!(field_filter_key("field.7<").unwrap().unwrap(), (FieldId(7), FieldComparison::AtMost));
        assert!(field_filter_key("field.x").unwrap().is_err());
        assert!(field_filter_key("status").is_none());
        let select = field(FieldType::Select, Some(vec!["a"]));
        assert!(FieldCondition::parse(&select, FieldComparison::AtLeast, "a").is_err());
    }

    #[test]
    fn required_fields_must_be_given_on_create() {
        let mut required = field(FieldType::Number, None);
        required.required = true;
        let mut v = Validator::default();
        check_values(&mut v, &[required.clone()], &RawFieldValues::new(), &FieldValues::new(), true);
        assert!(v.finish().unwrap_err().contains("fields.7"));
        let mut v = Validator::default();
        let raw = RawFieldValues::from([("7".to_owned(), serde_json::json!(1))]);
        let checked = check_values(&mut v, &[required], &raw, &FieldValues::new(), true);
        assert!(v.finish().is_ok());
        assert_eq!(checked[&FieldId(7)], Some(serde_json::json!(1)));
    }
}
