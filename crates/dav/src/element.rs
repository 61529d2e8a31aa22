//! Property values to write: text, an href, or a tree of elements.

use crate::PropName;

/// An XML element of a property's value (`<C:comp name="VTODO"/>` in a
/// `supported-calendar-component-set`). Names carry their namespace; the writer picks prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The element's name.
    pub name: PropName,
    /// Unprefixed attributes, in the order written.
    pub attrs: Vec<(String, String)>,
    /// Child elements, written after the text.
    pub children: Vec<Element>,
    /// Text content, escaped when written.
    pub text: Option<String>,
}

impl Element {
    /// An empty element named `name`.
    pub fn new(name: PropName) -> Self {
        Self { name, attrs: Vec::new(), children: Vec::new(), text: None }
    }

    /// A `<D:href>` holding `href` (already percent-encoded by the caller).
    pub fn href(href: impl Into<String>) -> Self {
        Self::new(PropName::dav("href")).text(href)
    }

    /// With the attribute `key="value"`.
    #[must_use]
    pub fn attr(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.attrs.push((key.into(), value.into()));
        self
    }

    /// With `child` after the children already there.
    #[must_use]
    pub fn child(mut self, child: Element) -> Self {
        self.children.push(child);
        self
    }

    /// With `text` as its text content.
    #[must_use]
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }
}

/// The value of one property in a multistatus answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No content (`<D:collection/>` is a child, but a property like `<D:displayname/>` may be
    /// empty).
    Empty,
    /// Text, escaped when written; `calendar-data`'s CRLFs survive.
    Text(String),
    /// One `<D:href>` (already percent-encoded by the caller).
    Href(String),
    /// Child elements.
    Elements(Vec<Element>),
}
