//! Which products and owned items a list shows.

use workbench_core::{FieldErrors, Validator};

use crate::fields::name_list;
use crate::{CategoryId, ProductStatus, UserProductStatus};

/// Catalogue list parameters as a client sent them. Ids are already parsed (an unparsable one
/// is the caller's `400`); names are checked here (an unknown one is a `422`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawProductFilter {
    /// Only products of this category.
    pub category_id: Option<i64>,
    /// Only products of this brand (any case).
    pub brand: Option<String>,
    /// Comma-separated statuses.
    pub status: Option<String>,
    /// Only products whose name, brand or model contains this text (any case).
    pub q: Option<String>,
}

/// A validated catalogue filter. Lists are ordered by name (without regard to case), then id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductFilter {
    /// Of this category.
    pub category_id: Option<CategoryId>,
    /// Equal to the brand without regard to case; already trimmed and lower-cased.
    pub brand: Option<String>,
    /// Any of these statuses; empty means all.
    pub statuses: Vec<ProductStatus>,
    /// Case-insensitive substring of name, brand or model; already trimmed and lower-cased.
    pub text: Option<String>,
}

impl ProductFilter {
    /// Validates list parameters, naming every bad one. Blank `brand` and `q` filter nothing.
    pub fn parse(raw: RawProductFilter) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let statuses = raw.status.map(|s| v.check("status", name_list(&s, ProductStatus::parse)));
        v.finish()?;
        Ok(Self {
            category_id: raw.category_id.map(CategoryId),
            brand: fold(raw.brand),
            statuses: statuses.flatten().unwrap_or_default(),
            text: fold(raw.q),
        })
    }
}

/// Trimmed and lower-cased (every script, not only ASCII); `None` when blank.
fn fold(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty())
}

/// A validated quick search of the catalogue (`GET /products/search`).
///
/// Only active products are found: the quick search is how a user picks a product to add to
/// their collection, and a discontinued one cannot be added. Products whose name starts with the
/// text come first, then the others, each group by name. A blank text finds the first active
/// products by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProductSearch {
    text: String,
    limit: u8,
}

impl ProductSearch {
    /// How many products a quick search answers when the client names no limit.
    pub const DEFAULT_LIMIT: u8 = 10;
    /// The most a quick search answers: a larger `limit` is clamped to it.
    pub const MAX_LIMIT: u8 = 50;

    /// Validates `q` and `limit`: `limit` 0 is refused (naming `limit`), over 50 is clamped.
    pub fn parse(q: Option<String>, limit: Option<u64>) -> Result<Self, FieldErrors> {
        let limit = match limit {
            None => Self::DEFAULT_LIMIT,
            Some(0) => return Err(FieldErrors::single("limit", "must be at least 1")),
            Some(n) => n.min(u64::from(Self::MAX_LIMIT)) as u8,
        };
        Ok(Self { text: fold(q).unwrap_or_default(), limit })
    }

    /// The text to find, trimmed and lower-cased; empty for "any".
    pub fn text(&self) -> &str {
        &self.text
    }

    /// How many products to answer, 1 to [`Self::MAX_LIMIT`].
    pub fn limit(&self) -> u8 {
        self.limit
    }

    /// A stable name for the search, for cache keys.
    pub fn key(&self) -> String {
        format!("{}:{}", self.limit, self.text)
    }
}

/// A validated filter of the caller's collection. Lists are newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProductFilter {
    /// Any of these statuses; empty means all.
    pub statuses: Vec<UserProductStatus>,
}

impl UserProductFilter {
    /// Validates the comma-separated `status` parameter, naming it when a name is unknown.
    pub fn parse(status: Option<&str>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let statuses = status.map(|s| v.check("status", name_list(s, UserProductStatus::parse)));
        v.finish()?;
        Ok(Self { statuses: statuses.flatten().unwrap_or_default() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_filters_fold_text_and_check_statuses() {
        let f = ProductFilter::parse(RawProductFilter {
            category_id: Some(3),
            brand: Some("  SONY ".into()),
            status: Some("active, discontinued,active".into()),
            q: Some(" ÉCRAN Größe ".into()),
        })
        .unwrap();
        assert_eq!(f.category_id, Some(CategoryId(3)));
        assert_eq!(f.brand.as_deref(), Some("sony"));
        assert_eq!(f.statuses, [ProductStatus::Active, ProductStatus::Discontinued]);
        assert_eq!(f.text.as_deref(), Some("écran größe"));
        let blank = ProductFilter::parse(RawProductFilter { q: Some("  ".into()), ..Default::default() }).unwrap();
        assert_eq!(blank, ProductFilter::default());
        let e = ProductFilter::parse(RawProductFilter { status: Some("sold".into()), ..Default::default() });
        assert!(e.unwrap_err().contains("status"));
    }

    #[test]
    fn quick_search_limits_default_clamp_and_refuse_zero() {
        assert_eq!(ProductSearch::parse(None, None).unwrap().limit(), 10);
        assert_eq!(ProductSearch::parse(None, Some(51)).unwrap().limit(), 50);
        assert_eq!(ProductSearch::parse(None, Some(u64::MAX)).unwrap().limit(), 50);
        assert_eq!(ProductSearch::parse(None, Some(1)).unwrap().limit(), 1);
        assert!(ProductSearch::parse(None, Some(0)).unwrap_err().contains("limit"));
        let s = ProductSearch::parse(Some(" Kühl ".into()), Some(5)).unwrap();
        assert_eq!((s.text(), s.key()), ("kühl", "5:kühl".to_owned()));
        assert_ne!(s.key(), ProductSearch::parse(Some("kühl".into()), Some(6)).unwrap().key());
    }

    #[test]
    fn collection_filter_names_a_bad_status() {
        let f = UserProductFilter::parse(Some("active,broken")).unwrap();
        assert_eq!(f.statuses, [UserProductStatus::Active, UserProductStatus::Broken]);
        assert!(UserProductFilter::parse(Some("lost")).unwrap_err().contains("status"));
        assert!(UserProductFilter::parse(None).unwrap().statuses.is_empty());
    }
}
