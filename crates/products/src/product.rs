//! Products of the catalogue and the values they are made of.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use workbench_core::{BoundedText, FieldErrors, TypeFailures, Validator, at_most_chars};

use crate::CategoryId;
use crate::fields::{cents, nullable, positive_id, required_change};

/// A product's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProductId(pub i64);

impl std::fmt::Display for ProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a product is still sold. A discontinued product stays in the catalogue (people own
/// it) but cannot be added to a collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProductStatus {
    /// Sold: it may be added to a collection.
    Active,
    /// No longer sold: it stays in the catalogue for those who own it, but cannot be added to a
    /// collection.
    Discontinued,
}

impl ProductStatus {
    /// Every status.
    pub const ALL: [ProductStatus; 2] = [ProductStatus::Active, ProductStatus::Discontinued];

    /// The status's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Active => "active",
            ProductStatus::Discontinued => "discontinued",
        }
    }

    /// The status named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of active, discontinued"))
    }
}

/// A product. `price_cents` is in the minor unit of `currency` (cents of EUR, yen of JPY);
/// `version` starts at 1 and grows by one with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// The product's id.
    pub id: ProductId,
    /// The product's name, 1 to 200 characters.
    pub name: String,
    /// The category it is listed under.
    pub category_id: CategoryId,
    /// Its brand, 1 to 100 characters (compared without regard to case).
    pub brand: String,
    /// Its model designation (`WH-1000XM5`), if any.
    pub model: Option<String>,
    /// What it is, if anything is said.
    pub description: Option<String>,
    /// Its price in the minor unit of `currency`, if known.
    pub price_cents: Option<i64>,
    /// The ISO 4217 currency of `price_cents`; set whenever it is.
    pub currency: Option<Currency>,
    /// How long the manufacturer's warranty lasts, 0 to 600 months.
    pub warranty_months: u16,
    /// The warranty's terms, if given.
    pub warranty_conditions: Option<String>,
    /// The manufacturer's page for it, if known.
    pub manufacturer_website: Option<String>,
    /// Its technical specifications: a JSON object of at most 64 KiB.
    pub specifications: Specifications,
    /// Whether it is still sold.
    pub status: ProductStatus,
    /// Starts at 1 and grows by one with every change: the `ETag`, and what `If-Match` is checked
    /// against.
    pub version: i64,
    /// When it was added to the catalogue.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Whether it is still sold.
    pub fn is_active(&self) -> bool {
        self.status == ProductStatus::Active
    }
}

/// A product's name: 1 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductName(BoundedText<{ ProductName::MAX_CHARS }>);

impl ProductName {
    /// The most characters of a name.
    pub const MAX_CHARS: usize = 200;

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

/// A brand: 1 to 100 characters after trimming. Compared without regard to case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand(BoundedText<{ Brand::MAX_CHARS }>);

impl Brand {
    /// The most characters of a brand.
    pub const MAX_CHARS: usize = 100;

    /// A brand from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw.as_ref())?))
    }

    /// The brand, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The brand, trimmed, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0.into_inner()
    }
}

/// A model designation (`WH-1000XM5`): 1 to 100 characters after trimming.
pub const MAX_MODEL_CHARS: usize = 100;
/// A product's description: at most 10 000 characters, kept as written.
pub const MAX_PRODUCT_DESCRIPTION_CHARS: usize = 10_000;
/// Warranty conditions: at most 5 000 characters, kept as written.
pub const MAX_WARRANTY_CONDITIONS_CHARS: usize = 5_000;
/// The longest warranty: 50 years.
pub const MAX_WARRANTY_MONTHS: u16 = 600;

fn parse_model(raw: impl AsRef<str>) -> Result<String, String> {
    Ok(BoundedText::<MAX_MODEL_CHARS>::parse(raw.as_ref())?.into_inner())
}

fn parse_description(raw: String) -> Result<String, String> {
    Ok(at_most_chars(raw, MAX_PRODUCT_DESCRIPTION_CHARS)?)
}

fn parse_conditions(raw: String) -> Result<String, String> {
    Ok(at_most_chars(raw, MAX_WARRANTY_CONDITIONS_CHARS)?)
}

/// How long a product's warranty lasts, in months: 0 to 600.
pub fn parse_warranty_months(raw: i64) -> Result<u16, String> {
    u16::try_from(raw)
        .ok()
        .filter(|m| *m <= MAX_WARRANTY_MONTHS)
        .ok_or_else(|| format!("must be between 0 and {MAX_WARRANTY_MONTHS}"))
}

/// A currency by its ISO 4217 code. Only codes of real, current currencies are accepted: units
/// of account (`XAU`, `XDR`), the testing code `XTS`, "no currency" `XXX` and superseded codes
/// (`HRK`, now `EUR`) are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Accepts exactly three upper-case letters naming a current currency (`EUR`; not `eur`).
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        let raw = raw.as_ref();
        if raw.len() != 3 || !raw.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err("must be an ISO 4217 code of three upper-case letters".into());
        }
        let code = iso_currency::Currency::from_code(raw).ok_or("is not an ISO 4217 currency code")?;
        if code.is_special() {
            return Err("must be a currency, not a unit of account or a reserved code".into());
        }
        if let Some(successor) = code.is_superseded() {
            return Err(format!("is no longer in use; it was replaced by {}", successor.code()));
        }
        Ok(Self(code))
    }

    /// Every code [`Currency::parse`] accepts, in ISO 4217's order.
    pub fn codes_in_use() -> Vec<&'static str> {
        use iso_currency::IntoEnumIterator;
        iso_currency::Currency::iter().filter(|c| Self::parse(c.code()).is_ok()).map(|c| c.code()).collect()
    }

    /// Any ISO 4217 code, current or not: for values read back from storage, which were valid
    /// when written and must stay readable after their currency is superseded.
    pub fn from_stored(code: &str) -> Option<Self> {
        iso_currency::Currency::from_code(code).map(Self)
    }

    /// The three-letter code (`EUR`).
    pub fn code(self) -> &'static str {
        self.0.code()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    /// Reads any ISO 4217 code (see [`Currency::from_stored`]): what is deserialised was written
    /// by this program, a cache entry for instance.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::from_stored(&code).ok_or_else(|| serde::de::Error::custom(format!("unknown currency {code:?}")))
    }
}

/// A manufacturer's web page: an absolute `http` or `https` URL with a host, without whitespace
/// or control characters, at most 2 048 characters, stored as written (trimmed). The rule is
/// the one a client can check from the OpenAPI document's pattern; a blank value means "none"
/// (see [`Website::unless_blank`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Website(String);

impl Website {
    /// The most characters of a website's URL.
    pub const MAX_CHARS: usize = 2_048;

    /// A website from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        let raw = raw.as_ref().trim();
        let rest = raw.strip_prefix("https://").or_else(|| raw.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'));
        if !host_ok || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("must be an absolute http or https URL".into());
        }
        Ok(Self(at_most_chars(raw, Self::MAX_CHARS)?.to_owned()))
    }

    /// `raw` unless it is blank: a blank website is no website (so that a form's empty field
    /// clears it); anything else is for [`Website::parse`] to judge.
    pub fn unless_blank(raw: Option<String>) -> Option<String> {
        raw.filter(|s| !s.trim().is_empty())
    }

    /// The URL, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL, trimmed, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A product's technical specifications: any JSON object (nested values allowed), at most
/// 64 KiB as JSON. Keys keep the order they were given in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Specifications(Map<String, Value>);

impl Specifications {
    /// The most bytes of the specifications as JSON.
    pub const MAX_BYTES: usize = 64 * 1024;

    /// Accepts a JSON object; anything else (an array, a string, `null`) is refused.
    pub fn parse(raw: Value) -> Result<Self, String> {
        let Value::Object(map) = raw else {
            return Err("must be a JSON object".into());
        };
        let specifications = Self(map);
        if specifications.to_json().len() > Self::MAX_BYTES {
            return Err(format!("must be at most {} KiB as JSON", Self::MAX_BYTES / 1024));
        }
        Ok(specifications)
    }

    /// Reads the stored JSON text back.
    pub fn from_json(text: &str) -> Result<Self, String> {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err("not a JSON object".into()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The compact JSON text.
    pub fn to_json(&self) -> String {
        // Serialising a map of JSON values cannot fail: every key is a string.
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".to_owned())
    }

    /// The specifications' keys and values, in the order given.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The specifications as one JSON object.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// A product as a client sent it for creation, before validation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductDraft {
    /// The product's name, 1 to 200 characters; required.
    pub name: Option<String>,
    /// The category it is listed under; required, and it must exist.
    pub category_id: Option<i64>,
    /// Its brand, 1 to 100 characters (compared without regard to case); required.
    pub brand: Option<String>,
    /// Its model designation (`WH-1000XM5`), 1 to 100 characters.
    pub model: Option<String>,
    /// What it is, at most 10,000 characters.
    pub description: Option<String>,
    /// Its price in the minor unit of `currency`, never negative.
    pub price_cents: Option<i64>,
    /// The ISO 4217 code of `price_cents`' currency (`EUR`); required with a price.
    pub currency: Option<String>,
    /// How long the manufacturer's warranty lasts, 0 to 600 months; required.
    pub warranty_months: Option<i64>,
    /// The warranty's terms, at most 5,000 characters.
    pub warranty_conditions: Option<String>,
    /// The manufacturer's page for it, an `http` or `https` URL; blank means none.
    pub manufacturer_website: Option<String>,
    /// Its technical specifications: a JSON object of at most 64 KiB; `{}` when missing.
    pub specifications: Option<Value>,
    /// Whether it is still sold; `active` when missing.
    pub status: Option<ProductStatus>,
    /// Fields sent with a value of the wrong type: absent above, and reported as they failed.
    pub type_failures: TypeFailures,
}

/// A validated new product. Required: `name`, `category_id`, `brand`, `warranty_months`;
/// `currency` whenever `price_cents` is set. Specifications default to `{}`, status to `active`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProduct {
    /// The product's name, 1 to 200 characters.
    pub name: ProductName,
    /// The category it is listed under, not yet checked to exist.
    pub category_id: CategoryId,
    /// Its brand, 1 to 100 characters (compared without regard to case).
    pub brand: Brand,
    /// Its model designation (`WH-1000XM5`), 1 to 100 characters.
    pub model: Option<String>,
    /// What it is, at most 10,000 characters.
    pub description: Option<String>,
    /// Its price in the minor unit of `currency`, never negative.
    pub price_cents: Option<i64>,
    /// The ISO 4217 currency of `price_cents`.
    pub currency: Option<Currency>,
    /// How long the manufacturer's warranty lasts, 0 to 600 months.
    pub warranty_months: u16,
    /// The warranty's terms, at most 5,000 characters.
    pub warranty_conditions: Option<String>,
    /// The manufacturer's page for it, an `http` or `https` URL.
    pub manufacturer_website: Option<Website>,
    /// Its technical specifications: a JSON object of at most 64 KiB.
    pub specifications: Specifications,
    /// Whether it is still sold.
    pub status: ProductStatus,
}

/// The message for a price without a currency.
const CURRENCY_REQUIRED: &str = "is required when price_cents is set";

impl NewProduct {
    /// Validates a draft, reporting every failing field at once (those that could not be read
    /// first). Whether the category exists is the service's question.
    pub fn parse(draft: ProductDraft) -> Result<Self, FieldErrors> {
        let (v, product) = Self::check(draft);
        v.finish_with(product)
    }

    /// The draft checked by the field rules, and the validator that holds what failed, left open
    /// for what only the service can check (whether the category exists).
    pub(crate) fn check(draft: ProductDraft) -> (Validator, Option<Self>) {
        let mut v = Validator::seeded(draft.type_failures);
        let price_without_currency = draft.price_cents.is_some() && draft.currency.is_none();
        let name = v.required("name", draft.name, ProductName::parse);
        let category_id = v.required("category_id", draft.category_id, positive_id);
        let brand = v.required("brand", draft.brand, Brand::parse);
        let model = v.optional("model", draft.model, parse_model);
        let description = v.optional("description", draft.description, parse_description);
        let price_cents = v.optional("price_cents", draft.price_cents, cents);
        let currency = v.optional("currency", draft.currency, Currency::parse);
        if price_without_currency {
            v.fail("currency", CURRENCY_REQUIRED);
        }
        let warranty_months = v.required("warranty_months", draft.warranty_months, parse_warranty_months);
        let warranty_conditions = v.optional("warranty_conditions", draft.warranty_conditions, parse_conditions);
        let manufacturer_website =
            v.optional("manufacturer_website", Website::unless_blank(draft.manufacturer_website), Website::parse);
        let specifications = v.optional("specifications", draft.specifications, Specifications::parse);
        let product = match (
            name,
            category_id,
            brand,
            model,
            description,
            price_cents,
            currency,
            warranty_months,
            warranty_conditions,
            manufacturer_website,
            specifications,
        ) {
            (
                Some(name),
                Some(category_id),
                Some(brand),
                Ok(model),
                Ok(description),
                Ok(price_cents),
                Ok(currency),
                Some(warranty_months),
                Ok(warranty_conditions),
                Ok(manufacturer_website),
                Ok(specifications),
            ) => Some(Self {
                name,
                category_id: CategoryId(category_id),
                brand,
                model,
                description,
                price_cents,
                currency,
                warranty_months,
                warranty_conditions,
                manufacturer_website,
                specifications: specifications.unwrap_or_default(),
                status: draft.status.unwrap_or(ProductStatus::Active),
            }),
            _ => None,
        };
        (v, product)
    }
}

/// What the repository stores for a new product.
#[derive(Debug, Clone, PartialEq)]
pub struct NewProductRecord {
    /// The product as checked.
    pub product: NewProduct,
    /// When it is added: its `created_at` and `updated_at`.
    pub created_at: DateTime<Utc>,
}

/// Changes a client sent, before validation. The outer `Option` says whether a field was sent;
/// the inner one whether it was `null`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductPatch {
    /// A new name, 1 to 200 characters; `null` is refused.
    pub name: Option<Option<String>>,
    /// Another category, which must exist; `null` is refused.
    pub category_id: Option<Option<i64>>,
    /// A new brand, 1 to 100 characters; `null` is refused.
    pub brand: Option<Option<String>>,
    /// A new model designation, 1 to 100 characters, or `null` to clear it.
    pub model: Option<Option<String>>,
    /// A new description, at most 10,000 characters, or `null` to clear it.
    pub description: Option<Option<String>>,
    /// A new price in the minor unit of the currency, or `null` to clear it.
    pub price_cents: Option<Option<i64>>,
    /// A new ISO 4217 currency code, or `null` to clear it (refused while the product has a price).
    pub currency: Option<Option<String>>,
    /// A new warranty length, 0 to 600 months; `null` is refused.
    pub warranty_months: Option<Option<i64>>,
    /// New warranty terms, at most 5,000 characters, or `null` to clear them.
    pub warranty_conditions: Option<Option<String>>,
    /// A new manufacturer's page (blank or `null` clears it).
    pub manufacturer_website: Option<Option<String>>,
    /// New specifications, replacing the old: a JSON object; `null` is refused.
    pub specifications: Option<Option<Value>>,
    /// Discontinue (or reinstate) the product; `null` is refused.
    pub status: Option<Option<ProductStatus>>,
}

/// Validated changes. `None` keeps a field; for nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProductChanges {
    /// A new name.
    pub name: Option<ProductName>,
    /// Another category, not yet checked to exist.
    pub category_id: Option<CategoryId>,
    /// A new brand.
    pub brand: Option<Brand>,
    /// A new model designation, or `Some(None)` to clear it.
    pub model: Option<Option<String>>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// A new price, or `Some(None)` to clear it.
    pub price_cents: Option<Option<i64>>,
    /// A new currency, or `Some(None)` to clear it (refused by [`ProductChanges::apply`] while a price
    /// remains).
    pub currency: Option<Option<Currency>>,
    /// A new warranty length in months.
    pub warranty_months: Option<u16>,
    /// New warranty terms, or `Some(None)` to clear them.
    pub warranty_conditions: Option<Option<String>>,
    /// A new manufacturer's page, or `Some(None)` to clear it.
    pub manufacturer_website: Option<Option<Website>>,
    /// New specifications, replacing the old.
    pub specifications: Option<Specifications>,
    /// A new status.
    pub status: Option<ProductStatus>,
}

impl ProductChanges {
    /// Validates a patch, reporting every failing field at once. `null` is refused for the
    /// fields a product cannot be without (`name`, `category_id`, `brand`, `warranty_months`,
    /// `specifications`, `status`).
    pub fn parse(patch: ProductPatch) -> Result<Self, FieldErrors> {
        let (v, changes) = Self::check(patch);
        v.finish_with(Some(changes))
    }

    /// The patch checked by the field rules (a field that failed is left out of the changes), and
    /// the validator that holds what failed, left open like [`NewProduct::check`]'s.
    pub(crate) fn check(patch: ProductPatch) -> (Validator, Self) {
        let mut v = Validator::default();
        let name = required_change(&mut v, "name", patch.name, ProductName::parse);
        let category_id = required_change(&mut v, "category_id", patch.category_id, positive_id).map(CategoryId);
        let brand = required_change(&mut v, "brand", patch.brand, Brand::parse);
        let model = nullable(&mut v, "model", patch.model, parse_model);
        let description = nullable(&mut v, "description", patch.description, parse_description);
        let price_cents = nullable(&mut v, "price_cents", patch.price_cents, cents);
        let currency = nullable(&mut v, "currency", patch.currency, Currency::parse);
        let warranty_months = required_change(&mut v, "warranty_months", patch.warranty_months, parse_warranty_months);
        let warranty_conditions = nullable(&mut v, "warranty_conditions", patch.warranty_conditions, parse_conditions);
        let website = patch.manufacturer_website.map(Website::unless_blank);
        let manufacturer_website = nullable(&mut v, "manufacturer_website", website, Website::parse);
        let specifications = match patch.specifications {
            None => None,
            Some(raw) => v.check("specifications", Specifications::parse(raw.unwrap_or(Value::Null))),
        };
        let status = required_change(&mut v, "status", patch.status, Ok::<_, String>);
        let changes = Self {
            name,
            category_id,
            brand,
            model,
            description,
            price_cents,
            currency,
            warranty_months,
            warranty_conditions,
            manufacturer_website,
            specifications,
            status,
        };
        (v, changes)
    }

    /// Applies the changes as of `now`: `version` and `updated_at` move on. Fails, changing
    /// nothing, when the result would have a price without a currency.
    pub fn apply(&self, product: &mut Product, now: DateTime<Utc>) -> Result<(), FieldErrors> {
        let price_cents = self.price_cents.unwrap_or(product.price_cents);
        let currency = self.currency.unwrap_or(product.currency);
        if price_cents.is_some() && currency.is_none() {
            return Err(FieldErrors::single("currency", CURRENCY_REQUIRED));
        }
        if let Some(name) = &self.name {
            product.name = name.as_str().to_owned();
        }
        if let Some(category_id) = self.category_id {
            product.category_id = category_id;
        }
        if let Some(brand) = &self.brand {
            product.brand = brand.as_str().to_owned();
        }
        if let Some(model) = &self.model {
            product.model.clone_from(model);
        }
        if let Some(description) = &self.description {
            product.description.clone_from(description);
        }
        product.price_cents = price_cents;
        product.currency = currency;
        if let Some(months) = self.warranty_months {
            product.warranty_months = months;
        }
        if let Some(conditions) = &self.warranty_conditions {
            product.warranty_conditions.clone_from(conditions);
        }
        if let Some(website) = &self.manufacturer_website {
            product.manufacturer_website = website.as_ref().map(|w| w.as_str().to_owned());
        }
        if let Some(specifications) = &self.specifications {
            product.specifications = specifications.clone();
        }
        if let Some(status) = self.status {
            product.status = status;
        }
        product.version += 1;
        product.updated_at = now;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn draft() -> ProductDraft {
        ProductDraft {
            name: Some("Noise-cancelling headphones".into()),
            category_id: Some(1),
            brand: Some("Sony".into()),
            warranty_months: Some(24),
            ..ProductDraft::default()
        }
    }

    fn product() -> Product {
        let at = workbench_users::now();
        let new =
            NewProduct::parse(ProductDraft { price_cents: Some(39_900), currency: Some("EUR".into()), ..draft() })
                .unwrap();
        Product {
            id: ProductId(1),
            name: new.name.into_inner(),
            category_id: new.category_id,
            brand: new.brand.into_inner(),
            model: new.model,
            description: new.description,
            price_cents: new.price_cents,
            currency: new.currency,
            warranty_months: new.warranty_months,
            warranty_conditions: new.warranty_conditions,
            manufacturer_website: None,
            specifications: new.specifications,
            status: new.status,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn currencies_are_real_current_upper_case_codes() {
        for good in ["EUR", "USD", "JPY", "KWD", "CHF", "XOF", "CHE"] {
            assert_eq!(Currency::parse(good).unwrap().code(), good);
        }
        for bad in ["eur", "Eur", "EURO", "EU", "", "ABC", "ZZZ", "E1R"] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
        }
        for special in ["XAU", "XDR", "XTS", "XXX"] {
            assert!(Currency::parse(special).is_err(), "{special} is not a currency to price in");
        }
        let hrk = Currency::parse("HRK").unwrap_err();
        assert!(hrk.contains("EUR"), "{hrk}");
        assert!(Currency::from_stored("HRK").is_some(), "stored values stay readable");
        let in_use = Currency::codes_in_use();
        assert!(in_use.contains(&"EUR") && in_use.contains(&"CHE"));
        assert!(!in_use.contains(&"HRK") && !in_use.contains(&"XAU"));
    }

    #[test]
    fn currencies_travel_as_their_code() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(serde_json::to_value(eur).unwrap(), json!("EUR"));
        assert_eq!(serde_json::from_value::<Currency>(json!("EUR")).unwrap(), eur);
        assert!(serde_json::from_value::<Currency>(json!("NOPE")).is_err());
    }

    #[test]
    fn websites_are_http_or_https_urls_with_a_host() {
        assert_eq!(
            Website::parse(" https://www.sony.com/headphones ").unwrap().as_str(),
            "https://www.sony.com/headphones"
        );
        assert!(Website::parse("http://example.com").is_ok());
        for bad in
            ["ftp://example.com", "javascript:alert(1)", "www.sony.com", "https://", "https:///x", "http://a b", ""]
        {
            assert!(Website::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Website::parse(format!("https://example.com/{}", "a".repeat(2_048))).is_err());
    }

    #[test]
    fn specifications_must_be_an_object_and_keep_their_order() {
        for bad in [json!([1, 2]), json!("x"), json!(3), json!(null), json!(true)] {
            assert!(Specifications::parse(bad.clone()).is_err(), "{bad} accepted");
        }
        let specs = Specifications::parse(json!({"z": 1, "a": {"nested": ["é", 2.5]}, "m": null})).unwrap();
        assert_eq!(specs.to_json(), r#"{"z":1,"a":{"nested":["é",2.5]},"m":null}"#);
        assert_eq!(Specifications::from_json(&specs.to_json()).unwrap(), specs);
        assert!(Specifications::from_json("[1]").is_err());
        let huge = json!({"blob": "x".repeat(Specifications::MAX_BYTES)});
        assert!(Specifications::parse(huge).is_err());
    }

    #[test]
    fn warranty_months_are_bounded() {
        assert_eq!(parse_warranty_months(0), Ok(0));
        assert_eq!(parse_warranty_months(600), Ok(600));
        assert!(parse_warranty_months(601).is_err());
        assert!(parse_warranty_months(-1).is_err());
    }

    #[test]
    fn a_draft_reports_every_failing_field_at_once() {
        let e = NewProduct::parse(ProductDraft {
            name: Some(" ".into()),
            category_id: Some(0),
            brand: None,
            model: Some("".into()),
            description: Some("d".repeat(10_001)),
            price_cents: Some(-1),
            currency: Some("eur".into()),
            warranty_months: Some(601),
            warranty_conditions: Some("c".repeat(5_001)),
            manufacturer_website: Some("ftp://x".into()),
            specifications: Some(json!([1])),
            status: None,
            type_failures: TypeFailures::default(),
        })
        .unwrap_err();
        for field in [
            "name",
            "category_id",
            "brand",
            "model",
            "description",
            "price_cents",
            "currency",
            "warranty_months",
            "warranty_conditions",
            "manufacturer_website",
            "specifications",
        ] {
            assert!(e.contains(field), "{field} missing from {e}");
        }
    }

    #[test]
    fn a_price_needs_a_currency_and_defaults_fill_the_rest() {
        let e = NewProduct::parse(ProductDraft { price_cents: Some(100), ..draft() }).unwrap_err();
        assert!(e.contains("currency") && !e.contains("price_cents"));
        let ok = NewProduct::parse(draft()).unwrap();
        assert_eq!((ok.status, ok.specifications.as_map().len(), ok.price_cents), (ProductStatus::Active, 0, None));
        let ok = NewProduct::parse(ProductDraft { currency: Some("EUR".into()), ..draft() }).unwrap();
        assert_eq!(ok.currency.map(Currency::code), Some("EUR"), "a currency alone is harmless");
    }

    #[test]
    fn changes_refuse_null_where_a_product_needs_a_value() {
        let e = ProductChanges::parse(ProductPatch {
            name: Some(None),
            category_id: Some(None),
            brand: Some(None),
            warranty_months: Some(None),
            specifications: Some(None),
            status: Some(None),
            ..ProductPatch::default()
        })
        .unwrap_err();
        for field in ["name", "category_id", "brand", "warranty_months", "specifications", "status"] {
            assert!(e.contains(field), "{field} missing from {e}");
        }
    }

    #[test]
    fn changes_apply_clear_and_bump_the_version() {
        let mut p = product();
        let later = p.updated_at + chrono::TimeDelta::seconds(5);
        let changes = ProductChanges::parse(ProductPatch {
            brand: Some(Some("SONY".into())),
            model: Some(Some("WH-1000XM5".into())),
            specifications: Some(Some(json!({"driver_mm": 30}))),
            status: Some(Some(ProductStatus::Discontinued)),
            ..ProductPatch::default()
        })
        .unwrap();
        changes.apply(&mut p, later).unwrap();
        assert_eq!(
            (p.brand.as_str(), p.model.as_deref(), p.version, p.updated_at),
            ("SONY", Some("WH-1000XM5"), 2, later)
        );
        assert_eq!(p.specifications.into_value(), json!({"driver_mm": 30}));
        assert_eq!(p.status, ProductStatus::Discontinued);
        assert_eq!(p.price_cents, Some(39_900), "fields left out are kept");
    }

    #[test]
    fn clearing_the_currency_of_a_priced_product_is_refused_whole() {
        let mut p = product();
        let before = p.clone();
        let clear_currency = ProductChanges::parse(ProductPatch {
            name: Some(Some("Renamed".into())),
            currency: Some(None),
            ..ProductPatch::default()
        })
        .unwrap();
        let e = clear_currency.apply(&mut p, workbench_users::now()).unwrap_err();
        assert!(e.contains("currency"));
        assert_eq!(p, before, "nothing changed");
        let clear_both = ProductChanges::parse(ProductPatch {
            price_cents: Some(None),
            currency: Some(None),
            ..ProductPatch::default()
        })
        .unwrap();
        clear_both.apply(&mut p, workbench_users::now()).unwrap();
        assert_eq!((p.price_cents, p.currency), (None, None));
    }
}
