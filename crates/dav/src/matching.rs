//! What a calendar-query filter matches (RFC 4791 §9.7.1–§9.7.5).

use std::borrow::Cow;

use ical::parser::ical::component::IcalCalendar;
use ical::property::Property;

use crate::component::Component;
use crate::time_range::{self, overlaps};
use crate::{Collation, CompFilter, ParamFilter, PropFilter, TextMatch};

impl CompFilter {
    /// Whether `calendar`, one calendar object, matches this top-level filter.
    ///
    /// The filter is read as the `VCALENDAR` comp-filter a calendar-query holds: a top-level
    /// filter naming another component finds no such component at the top.
    pub fn matches(&self, calendar: &IcalCalendar) -> bool {
        self.matches_among(&[Component::calendar(calendar)], None)
    }

    /// §9.7.1 on the subcomponents of `parent` (`candidates`): with is-not-defined, that none
    /// has the filter's name; otherwise that one of that name passes every test.
    fn matches_among(&self, candidates: &[Component<'_>], parent: Option<&Component<'_>>) -> bool {
        let mut named = candidates.iter().filter(|c| c.name.eq_ignore_ascii_case(&self.name));
        if self.is_not_defined {
            return named.next().is_none();
        }
        named.any(|component| {
            self.time_range.as_ref().is_none_or(|range| overlaps(component, parent, range))
                && self.props.iter().all(|filter| filter.matches(component.properties))
                && self.comps.iter().all(|filter| filter.matches_among(&component.children, Some(component)))
        })
    }
}

impl PropFilter {
    /// §9.7.2 on a component's properties: with is-not-defined, that none has the filter's name;
    /// otherwise that one of that name passes every test. A component without the property
    /// fails even a negated text-match, as the RFC has it (a todo with no `STATUS` does not match
    /// "STATUS not COMPLETED").
    fn matches(&self, properties: &[Property]) -> bool {
        let mut named = properties.iter().filter(|p| p.name.eq_ignore_ascii_case(&self.name));
        if self.is_not_defined {
            return named.next().is_none();
        }
        named.any(|property| {
            self.time_range.as_ref().is_none_or(|range| time_range::property_in(property, range))
                && self
                    .text_match
                    .as_ref()
                    .is_none_or(|text| text.matches(&unescape(property.value.as_deref().unwrap_or_default())))
                && self.params.iter().all(|filter| filter.matches(property))
        })
    }
}

impl ParamFilter {
    /// §9.7.3 on a property's parameters: with is-not-defined, that the property has no such
    /// parameter; otherwise that it has, and that one of its values passes the text-match.
    fn matches(&self, property: &Property) -> bool {
        let params = property.params.as_deref().unwrap_or_default();
        let mut values = params.iter().filter(|(name, _)| name.eq_ignore_ascii_case(&self.name)).peekable();
        if self.is_not_defined {
            return values.peek().is_none();
        }
        match &self.text_match {
            None => values.peek().is_some(),
            Some(text) => values.flat_map(|(_, values)| values).any(|value| text.matches(value.trim_matches('"'))),
        }
    }
}

impl TextMatch {
    /// §9.7.5: whether `value` holds the text (or, negated, does not).
    fn matches(&self, value: &str) -> bool {
        let found = match self.collation {
            Collation::AsciiCasemap => value.to_ascii_lowercase().contains(&self.text.to_ascii_lowercase()),
            Collation::Octet => value.contains(&self.text),
            Collation::UnicodeCasemap => value.to_lowercase().contains(&self.text.to_lowercase()),
        };
        found != self.negate
    }
}

/// A TEXT value as the user wrote it (RFC 5545 §3.3.11): `\,` `\;` `\\` and `\n` unescaped, so
/// that searching "a, b" finds what the file stores as `a\, b`.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut text = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => text.push('\n'),
            Some(escaped) => text.push(escaped),
            None => text.push('\\'),
        }
    }
    Cow::Owned(text)
}

#[cfg(test)]
pub(crate) mod tests;
