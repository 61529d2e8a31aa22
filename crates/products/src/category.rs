//! Categories of the catalogue and the values they are made of.

use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, FieldErrors, TypeFailures, Validator, at_most_chars};

use crate::fields::{nullable, required_change};

/// A category's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CategoryId(pub i64);

impl std::fmt::Display for CategoryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A category of products. `slug` is unique; `version` starts at 1 and grows by one with every
/// change (the contract's `ETag`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// The category's id.
    pub id: CategoryId,
    /// Its name, 1 to 100 characters.
    pub name: String,
    /// Its name in URLs: 1 to 64 characters of `[a-z0-9-]`, unique.
    pub slug: String,
    /// What it holds, at most 1,000 characters, if said.
    pub description: Option<String>,
    /// Starts at 1 and grows by one with every change.
    pub version: i64,
}

/// A category's name: 1 to 100 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryName(BoundedText<{ CategoryName::MAX_CHARS }>);

impl CategoryName {
    /// The most characters of a name.
    pub const MAX_CHARS: usize = 100;

    /// A name from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw.as_ref())?))
    }

    /// The name, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The name, trimmed, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0.into_inner()
    }
}

/// A category's description: at most 1 000 characters, kept as written.
pub const MAX_CATEGORY_DESCRIPTION_CHARS: usize = 1_000;

fn parse_description(raw: String) -> Result<String, String> {
    Ok(at_most_chars(raw, MAX_CATEGORY_DESCRIPTION_CHARS)?)
}

/// The name of a category in URLs: 1 to 64 characters of `[a-z0-9-]`, unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    /// The most characters of a slug.
    pub const MAX_CHARS: usize = 64;

    /// Accepts a slug exactly as given (no case folding: `Audio` is refused, not changed).
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        let s = raw.as_ref();
        if s.is_empty() || s.len() > Self::MAX_CHARS {
            return Err(format!("must be 1 to {} characters", Self::MAX_CHARS));
        }
        if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err("must contain only lower-case letters a-z, digits and hyphens".into());
        }
        Ok(Self(s.to_owned()))
    }

    /// The slug of a name: lower-cased, Latin letters with accents folded to their base letters
    /// (`é` → `e`, `ß` → `ss`, `Æ` → `ae`), every other run of characters turned into one hyphen,
    /// no hyphen at either end, cut to 64 characters. Fails when nothing is left (a name written
    /// only in a non-Latin script): the client must then send a slug.
    pub fn derive(name: &str) -> Result<Self, String> {
        let mut slug = String::with_capacity(name.len());
        let mut gap = false;
        for c in name.chars().flat_map(char::to_lowercase) {
            let folded = match c {
                'a'..='z' | '0'..='9' => Some(FoldedChar::One(c)),
                _ => fold_latin(c).map(FoldedChar::Many),
            };
            match folded {
                Some(piece) => {
                    if gap && !slug.is_empty() {
                        slug.push('-');
                    }
                    gap = false;
                    match piece {
                        FoldedChar::One(c) => slug.push(c),
                        FoldedChar::Many(s) => slug.push_str(s),
                    }
                }
                None => gap = true,
            }
        }
        slug.truncate(Self::MAX_CHARS);
        let slug = slug.trim_end_matches('-');
        if slug.is_empty() {
            return Err("cannot be derived from the name; send one".into());
        }
        Ok(Self(slug.to_owned()))
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The slug as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0
    }
}

enum FoldedChar {
    One(char),
    Many(&'static str),
}

/// The ASCII letters of an accented lower-case Latin letter, for slugs.
fn fold_latin(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ß' => "ss",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'þ' => "th",
        _ => return None,
    })
}

/// A category as a client sent it for creation, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryDraft {
    /// The name; required.
    pub name: Option<String>,
    /// Derived from the name when left out.
    pub slug: Option<String>,
    /// What it holds, at most 1,000 characters.
    pub description: Option<String>,
    /// Fields sent with a value of the wrong type: absent above, and reported as they failed.
    pub type_failures: TypeFailures,
}

/// A validated new category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCategory {
    /// The name, checked.
    pub name: CategoryName,
    /// The slug, as sent or derived from the name.
    pub slug: Slug,
    /// The description, if any.
    pub description: Option<String>,
}

impl NewCategory {
    /// Validates a draft, reporting every failing field at once. A slug that cannot be derived
    /// from a valid name is reported under `slug`.
    pub fn parse(draft: CategoryDraft) -> Result<Self, FieldErrors> {
        let mut v = Validator::seeded(draft.type_failures);
        let name = v.required("name", draft.name, CategoryName::parse);
        let slug = match (draft.slug, &name) {
            (Some(raw), _) => v.check("slug", Slug::parse(raw)),
            (None, Some(name)) => v.check("slug", Slug::derive(name.as_str())),
            (None, None) => None,
        };
        let description = v.optional("description", draft.description, parse_description);
        let category = match (name, slug, description) {
            (Some(name), Some(slug), Ok(description)) => Some(Self { name, slug, description }),
            _ => None,
        };
        v.finish_with(category)
    }
}

/// Changes a client sent, before validation. The outer `Option` says whether a field was sent;
/// the inner one whether it was `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryPatch {
    /// A new name (the slug stays unless one is sent); `null` is refused.
    pub name: Option<Option<String>>,
    /// A new slug; `null` is refused.
    pub slug: Option<Option<String>>,
    /// A new description, or `null` to clear it.
    pub description: Option<Option<String>>,
}

/// Validated changes. `None` keeps a field; `description: Some(None)` clears it. A new name keeps
/// the slug (links to the category stay valid) unless a slug is sent too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryChanges {
    /// A new name.
    pub name: Option<CategoryName>,
    /// A new slug.
    pub slug: Option<Slug>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
}

impl CategoryChanges {
    /// Validates a patch, reporting every failing field at once; `null` is refused for `name`
    /// and `slug`.
    pub fn parse(patch: CategoryPatch) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let name = required_change(&mut v, "name", patch.name, CategoryName::parse);
        let slug = required_change(&mut v, "slug", patch.slug, Slug::parse);
        let description = nullable(&mut v, "description", patch.description, parse_description);
        v.finish()?;
        Ok(Self { name, slug, description })
    }

    /// Applies the changes and moves the version on.
    pub fn apply(&self, category: &mut Category) {
        if let Some(name) = &self.name {
            category.name = name.as_str().to_owned();
        }
        if let Some(slug) = &self.slug {
            category.slug = slug.as_str().to_owned();
        }
        if let Some(description) = &self.description {
            category.description.clone_from(description);
        }
        category.version += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_exactly() {
        assert!(Slug::parse("audio-hifi-2").is_ok());
        for bad in ["", "Audio", "audio hifi", "audio_hifi", "café", &"a".repeat(65)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Slug::parse("a".repeat(64)).is_ok());
    }

    #[test]
    fn slugs_are_derived_from_names_folding_latin_accents() {
        let derive = |name: &str| Slug::derive(name).map(Slug::into_inner);
        assert_eq!(derive("Kitchen & Home").unwrap(), "kitchen-home");
        assert_eq!(derive("  Électroménager — Größe XL ").unwrap(), "electromenager-grosse-xl");
        assert_eq!(derive("TV/Audio (2026)").unwrap(), "tv-audio-2026");
        assert_eq!(derive("Œuvres d'Ærø").unwrap(), "oeuvres-d-aero");
        assert!(derive("家電").is_err(), "nothing Latin is left");
        let long = derive(&format!("{} tail", "x".repeat(63))).unwrap();
        assert_eq!(long, "x".repeat(63), "cut at 64 without a trailing hyphen");
    }

    #[test]
    fn a_draft_reports_every_failing_field_and_derives_the_slug() {
        let e = NewCategory::parse(CategoryDraft {
            name: Some(" ".into()),
            slug: Some("Not A Slug".into()),
            description: Some("d".repeat(1_001)),
            type_failures: TypeFailures::default(),
        })
        .unwrap_err();
        for field in ["name", "slug", "description"] {
            assert!(e.contains(field), "{field} missing from {e}");
        }
        let e =
            NewCategory::parse(CategoryDraft { name: Some("家電".into()), ..CategoryDraft::default() }).unwrap_err();
        assert!(e.contains("slug") && !e.contains("name"));
        let ok = NewCategory::parse(CategoryDraft { name: Some(" Smart Home ".into()), ..CategoryDraft::default() })
            .unwrap();
        assert_eq!((ok.name.as_str(), ok.slug.as_str()), ("Smart Home", "smart-home"));
    }

    #[test]
    fn changes_keep_the_slug_refuse_null_names_and_bump_the_version() {
        let mut c = Category {
            id: CategoryId(1),
            name: "Audio".into(),
            slug: "audio".into(),
            description: Some("d".into()),
            version: 1,
        };
        let e = CategoryChanges::parse(CategoryPatch { name: Some(None), slug: Some(None), ..Default::default() });
        let e = e.unwrap_err();
        assert!(e.contains("name") && e.contains("slug"));
        let changes = CategoryChanges::parse(CategoryPatch {
            name: Some(Some("Hi-Fi".into())),
            description: Some(None),
            ..Default::default()
        })
        .unwrap();
        changes.apply(&mut c);
        assert_eq!(
            (c.name.as_str(), c.slug.as_str(), c.description.as_deref(), c.version),
            ("Hi-Fi", "audio", None, 2)
        );
    }
}
