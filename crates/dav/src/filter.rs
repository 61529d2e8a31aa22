//! CalDAV's calendar-query filter (RFC 4791 §9.7): its types and how a body spells them.
//! What a filter matches is in `matching`.

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::xml::Node;
use crate::{XmlError, ns};

/// `<C:comp-filter>` (§9.7.1): a test on the components of one name inside the enclosing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompFilter {
    /// The component name (`VCALENDAR`, `VTODO`, `VALARM`...).
    pub name: String,
    /// `<C:is-not-defined/>`: the test is that no such component exists.
    pub is_not_defined: bool,
    /// The component must overlap this range (§9.9).
    pub time_range: Option<TimeRange>,
    /// Every one of these must match a property of the component.
    pub props: Vec<PropFilter>,
    /// Every one of these must match among the component's subcomponents.
    pub comps: Vec<CompFilter>,
}

/// `<C:prop-filter>` (§9.7.2): a test on the properties of one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// The property name (`STATUS`), compared case-insensitively as iCalendar names are.
    pub name: String,
    /// `<C:is-not-defined/>`: the test is that the component has no such property.
    pub is_not_defined: bool,
    /// The property's date or date-time must fall in this range.
    pub time_range: Option<TimeRange>,
    /// The property's value must match this.
    pub text_match: Option<TextMatch>,
    /// Every one of these must match a parameter of the property.
    pub params: Vec<ParamFilter>,
}

/// `<C:param-filter>` (§9.7.3): a test on a property's parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    /// The parameter name (`PARTSTAT`), compared case-insensitively.
    pub name: String,
    /// `<C:is-not-defined/>`: the test is that the property has no such parameter.
    pub is_not_defined: bool,
    /// The parameter's value must match this.
    pub text_match: Option<TextMatch>,
}

/// `<C:text-match>` (§9.7.5): a substring test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The substring looked for, as the body gives it.
    pub text: String,
    /// `negate-condition="yes"`: the test is that the substring is absent.
    pub negate: bool,
    /// How characters compare.
    pub collation: Collation,
}

/// How a text-match compares characters (RFC 4790; CalDAV requires the first two, §7.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Collation {
    /// `i;ascii-casemap`, the default: ASCII letters compare without case, other characters exactly.
    #[default]
    AsciiCasemap,
    /// `i;octet`: bytes compare exactly.
    Octet,
    /// `i;unicode-casemap` (RFC 5051), which Apple's clients and python-caldav send: letters of
    /// every script compare without case (by their lower-case forms; the RFC's decomposition of
    /// accented letters is not applied, so `é` and `e\u{301}` stay apart).
    UnicodeCasemap,
}

/// `<C:time-range>` (§9.9): `start` inclusive, `end` exclusive; an open end is infinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// The first instant in the range; `None` is minus infinity.
    pub start: Option<DateTime<Utc>>,
    /// The first instant after the range; `None` is plus infinity.
    pub end: Option<DateTime<Utc>>,
}

/// Reads a `<C:comp-filter>`. Elements of other namespaces are skipped (RFC 4918 §17).
pub(crate) fn comp_filter(node: &Node) -> Result<CompFilter, XmlError> {
    let mut filter = CompFilter {
        name: node.require_attr("name")?.trim().to_owned(),
        is_not_defined: false,
        time_range: None,
        props: Vec::new(),
        comps: Vec::new(),
    };
    for child in caldav_children(node) {
        match child.name.name.as_str() {
            "is-not-defined" => filter.is_not_defined = true,
            "time-range" => filter.time_range = Some(time_range(child)?),
            "prop-filter" => filter.props.push(prop_filter(child)?),
            "comp-filter" => filter.comps.push(comp_filter(child)?),
            _ => {}
        }
    }
    Ok(filter)
}

fn prop_filter(node: &Node) -> Result<PropFilter, XmlError> {
    let mut filter = PropFilter {
        name: node.require_attr("name")?.trim().to_owned(),
        is_not_defined: false,
        time_range: None,
        text_match: None,
        params: Vec::new(),
    };
    for child in caldav_children(node) {
        match child.name.name.as_str() {
            "is-not-defined" => filter.is_not_defined = true,
            "time-range" => filter.time_range = Some(time_range(child)?),
            "text-match" => filter.text_match = Some(text_match(child)?),
            "param-filter" => filter.params.push(param_filter(child)?),
            _ => {}
        }
    }
    Ok(filter)
}

fn param_filter(node: &Node) -> Result<ParamFilter, XmlError> {
    let mut filter =
        ParamFilter { name: node.require_attr("name")?.trim().to_owned(), is_not_defined: false, text_match: None };
    for child in caldav_children(node) {
        match child.name.name.as_str() {
            "is-not-defined" => filter.is_not_defined = true,
            "text-match" => filter.text_match = Some(text_match(child)?),
            _ => {}
        }
    }
    Ok(filter)
}

fn text_match(node: &Node) -> Result<TextMatch, XmlError> {
    let collation = match node.attr("collation").map(str::trim) {
        None | Some("i;ascii-casemap") => Collation::AsciiCasemap,
        Some("i;octet") => Collation::Octet,
        Some("i;unicode-casemap") => Collation::UnicodeCasemap,
        Some(other) => return Err(XmlError::UnsupportedCollation(other.to_owned())),
    };
    let negate = match node.attr("negate-condition").map(str::trim) {
        None | Some("no") => false,
        Some("yes") => true,
        Some(other) => return Err(XmlError::Invalid(format!("negate-condition is \"yes\" or \"no\", not {other:?}"))),
    };
    // The text as given: leading or trailing spaces are part of the substring asked for.
    Ok(TextMatch { text: node.text.clone(), negate, collation })
}

fn time_range(node: &Node) -> Result<TimeRange, XmlError> {
    let range = TimeRange { start: utc_attr(node, "start")?, end: utc_attr(node, "end")? };
    if range.start.is_none() && range.end.is_none() {
        return Err(XmlError::Missing {
            parent: node.name.clone(),
            missing: "attribute \"start\" or \"end\"".to_owned(),
        });
    }
    Ok(range)
}

/// A time-range bound: RFC 4791 §9.9 allows only UTC date-times (`20261201T000000Z`).
fn utc_attr(node: &Node, name: &str) -> Result<Option<DateTime<Utc>>, XmlError> {
    let Some(raw) = node.attr(name) else { return Ok(None) };
    NaiveDateTime::parse_from_str(raw.trim(), "%Y%m%dT%H%M%SZ").map(|at| Some(at.and_utc())).map_err(|_| {
        XmlError::Invalid(format!("time-range {name} {raw:?} is not a UTC date-time like 20261201T000000Z"))
    })
}

fn caldav_children(node: &Node) -> impl Iterator<Item = &Node> {
    node.children.iter().filter(|c| c.name.ns == ns::CALDAV)
}

impl TimeRange {
    /// `start <= at` (true when the range has no start).
    pub(crate) fn starts_by(&self, at: DateTime<Utc>) -> bool {
        self.start.is_none_or(|start| start <= at)
    }

    /// `start < at` (true when the range has no start).
    pub(crate) fn starts_before(&self, at: DateTime<Utc>) -> bool {
        self.start.is_none_or(|start| start < at)
    }

    /// `end > at` (true when the range has no end).
    pub(crate) fn ends_after(&self, at: DateTime<Utc>) -> bool {
        self.end.is_none_or(|end| end > at)
    }

    /// `end >= at` (true when the range has no end).
    pub(crate) fn ends_by(&self, at: DateTime<Utc>) -> bool {
        self.end.is_none_or(|end| end >= at)
    }
}
