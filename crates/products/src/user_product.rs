//! What users own: a product of the catalogue with its serial, purchase and warranty, in one
//! user's private collection.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{BoundedText, FieldErrors, TypeFailures, Validator, at_most_chars};
use workbench_users::UserId;

use crate::fields::{cents, nullable, positive_id, required_change};
use crate::warranty::{is_under_warranty, warranty_expiry};
use crate::{Product, ProductId};

/// An owned item's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserProductId(pub i64);

impl std::fmt::Display for UserProductId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// Where an owned item stands in its owner's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UserProductStatus {
    /// The owner has it and it works.
    Active,
    /// The owner sold it: kept for the record, no longer theirs to trade.
    Sold,
    /// The owner still has it, but it does not work.
    Broken,
    /// No longer in use, kept for the record.
    Archived,
}

impl UserProductStatus {
    /// Every status.
    pub const ALL: [UserProductStatus; 4] =
        [UserProductStatus::Active, UserProductStatus::Sold, UserProductStatus::Broken, UserProductStatus::Archived];

    /// The status's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            UserProductStatus::Active => "active",
            UserProductStatus::Sold => "sold",
            UserProductStatus::Broken => "broken",
            UserProductStatus::Archived => "archived",
        }
    }

    /// The status named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("{s:?} is not one of active, sold, broken, archived"))
    }

    /// Whether the owner still has the item, so that its warranty matters to them: active and
    /// broken items do (a broken one most of all); sold and archived ones do not.
    pub fn still_owned(self) -> bool {
        matches!(self, UserProductStatus::Active | UserProductStatus::Broken)
    }
}

/// The catalogue product an item is, as an owned item shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductSummary {
    /// The product's id.
    pub id: ProductId,
    /// The product's name.
    pub name: String,
    /// The product's brand.
    pub brand: String,
    /// The product's model designation, if any.
    pub model: Option<String>,
    /// The name of the product's category.
    pub category_name: String,
    /// The product's warranty, from which the item's default `warranty_expires` is derived. Not
    /// part of the contract's summary; the HTTP layer leaves it out.
    pub warranty_months: u16,
}

/// An item in a user's collection. Only its owner ever sees it. `version` starts at 1 and grows
/// by one with every change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserProduct {
    /// The item's id.
    pub id: UserProductId,
    /// Its owner: the only one who sees it.
    pub user_id: UserId,
    /// The catalogue product it is.
    pub product: ProductSummary,
    /// Starts at 1 and grows by one with every change: the `ETag`, and what `If-Match` is checked
    /// against.
    pub version: i64,
    /// Its serial number, if the owner noted it (unique per owner and product).
    pub serial_number: Option<String>,
    /// When the owner bought it, if noted.
    pub purchase_date: Option<NaiveDate>,
    /// What the owner paid, in minor units of their own currency (the contract has no field for
    /// it).
    pub purchase_price_cents: Option<i64>,
    /// The last day the warranty covers.
    pub warranty_expires: Option<NaiveDate>,
    /// Where it stands in its owner's life.
    pub status: UserProductStatus,
    /// Offered on the market to other users (`GET /market`), who may propose trades for it.
    pub tradeable: bool,
    /// The owner's notes, at most 10,000 characters.
    pub notes: Option<String>,
    /// How many files (manuals, invoices) are attached.
    pub files_count: u64,
    /// When it was added to the collection.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl UserProduct {
    /// Whether the warranty still covers `today` (see [`crate::today`]): it does through
    /// `warranty_expires` itself; an item without an expiry date is not under warranty.
    pub fn is_under_warranty(&self, today: NaiveDate) -> bool {
        is_under_warranty(self.warranty_expires, today)
    }

    /// Whether `warranty_expires` is what the purchase date and the product's warranty give, so
    /// that it should follow when either changes. An item with neither date has nothing chosen.
    fn expiry_is_derived(&self) -> bool {
        match (self.purchase_date, self.warranty_expires) {
            (Some(purchased), Some(expires)) => expires == warranty_expiry(purchased, self.product.warranty_months),
            (None, None) => true,
            _ => false,
        }
    }
}

/// A serial number: 1 to 100 characters after trimming, compared exactly (case included).
/// Unique per owner and product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerialNumber(BoundedText<{ SerialNumber::MAX_CHARS }>);

impl SerialNumber {
    /// The most characters of a serial number.
    pub const MAX_CHARS: usize = 100;

    /// A serial number from what a client sent, trimmed; the message a `422` carries otherwise.
    pub fn parse(raw: impl AsRef<str>) -> Result<Self, String> {
        Ok(Self(BoundedText::parse(raw.as_ref())?))
    }

    /// The serial number, trimmed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The serial number, trimmed, as an owned `String`.
    pub fn into_inner(self) -> String {
        self.0.into_inner()
    }
}

/// An owner's notes on an item: at most 10 000 characters, kept as written.
pub const MAX_NOTES_CHARS: usize = 10_000;

fn parse_notes(raw: String) -> Result<String, String> {
    Ok(at_most_chars(raw, MAX_NOTES_CHARS)?)
}

/// A purchase date may not be in the future. "Today" is the UTC day, which is tomorrow's date
/// for nobody and yesterday's for people east of UTC: the day after it is allowed, so that
/// everyone's own today is.
fn purchase_date_rule(today: NaiveDate) -> impl Fn(NaiveDate) -> Result<NaiveDate, String> {
    let latest = today.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
    move |date| if date > latest { Err("must not be in the future".into()) } else { Ok(date) }
}

const EXPIRES_BEFORE_PURCHASE: &str = "must not be before purchase_date";

/// An item as a client sent it for creation, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProductDraft {
    /// The catalogue product the item is; required, and it must be active.
    pub product_id: Option<i64>,
    /// Its serial number, if noted.
    pub serial_number: Option<String>,
    /// When it was bought, no later than tomorrow's UTC date.
    pub purchase_date: Option<NaiveDate>,
    /// What the owner paid, in minor units, never negative.
    pub purchase_price_cents: Option<i64>,
    /// The last day the warranty covers; derived from the purchase date and the product's warranty
    /// when missing.
    pub warranty_expires: Option<NaiveDate>,
    /// Where it stands; `active` when missing.
    pub status: Option<UserProductStatus>,
    /// The owner's notes, at most 10,000 characters.
    pub notes: Option<String>,
    /// Fields sent with a value of the wrong type: absent above, and reported as they failed.
    pub type_failures: TypeFailures,
}

/// A validated new item. Only `product_id` is required; status defaults to `active`, and
/// `warranty_expires` to the purchase date plus the product's warranty when left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserProduct {
    /// The catalogue product the item is, not yet checked to exist and be active.
    pub product_id: ProductId,
    /// Its serial number, checked.
    pub serial_number: Option<SerialNumber>,
    /// When it was bought.
    pub purchase_date: Option<NaiveDate>,
    /// What the owner paid, in minor units.
    pub purchase_price_cents: Option<i64>,
    /// As sent; see [`NewUserProduct::into_record`] for the default.
    pub warranty_expires: Option<NaiveDate>,
    /// Where it stands.
    pub status: UserProductStatus,
    /// The owner's notes.
    pub notes: Option<String>,
}

impl NewUserProduct {
    /// Validates a draft as of `today`, reporting every failing field at once (those that could
    /// not be read first). Whether the product exists and is active is the service's question.
    pub fn parse(draft: UserProductDraft, today: NaiveDate) -> Result<Self, FieldErrors> {
        let (v, item) = Self::check(draft, today);
        v.finish_with(item)
    }

    /// The draft checked by the field rules, and the validator that holds what failed, left open
    /// for what only the service can check (whether the product may be added).
    pub(crate) fn check(draft: UserProductDraft, today: NaiveDate) -> (Validator, Option<Self>) {
        let mut v = Validator::seeded(draft.type_failures);
        let product_id = v.required("product_id", draft.product_id, positive_id);
        let serial_number = v.optional("serial_number", draft.serial_number, SerialNumber::parse);
        let purchase_date = v.optional("purchase_date", draft.purchase_date, purchase_date_rule(today));
        let purchase_price_cents = v.optional("purchase_price_cents", draft.purchase_price_cents, cents);
        let notes = v.optional("notes", draft.notes, parse_notes);
        if let (Some(purchased), Some(expires)) = (draft.purchase_date, draft.warranty_expires)
            && expires < purchased
        {
            v.fail("warranty_expires", EXPIRES_BEFORE_PURCHASE);
        }
        let item = match (product_id, serial_number, purchase_date, purchase_price_cents, notes) {
            (Some(product_id), Ok(serial_number), Ok(purchase_date), Ok(purchase_price_cents), Ok(notes)) => {
                Some(Self {
                    product_id: ProductId(product_id),
                    serial_number,
                    purchase_date,
                    purchase_price_cents,
                    warranty_expires: draft.warranty_expires,
                    status: draft.status.unwrap_or(UserProductStatus::Active),
                    notes,
                })
            }
            _ => None,
        };
        (v, item)
    }

    /// What to store for `owner`, created at `now`: `warranty_expires` defaults to the purchase
    /// date plus `product`'s warranty (no purchase date, no default).
    pub fn into_record(self, owner: UserId, product: &Product, now: DateTime<Utc>) -> NewUserProductRecord {
        let warranty_expires =
            self.warranty_expires.or_else(|| self.purchase_date.map(|p| warranty_expiry(p, product.warranty_months)));
        NewUserProductRecord {
            user_id: owner,
            product_id: self.product_id,
            serial_number: self.serial_number.map(SerialNumber::into_inner),
            purchase_date: self.purchase_date,
            purchase_price_cents: self.purchase_price_cents,
            warranty_expires,
            status: self.status,
            notes: self.notes,
            created_at: now,
        }
    }
}

/// What the repository stores for a new item, at version 1 with `updated_at = created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUserProductRecord {
    /// Its owner.
    pub user_id: UserId,
    /// The catalogue product it is.
    pub product_id: ProductId,
    /// Its serial number, trimmed.
    pub serial_number: Option<String>,
    /// When it was bought.
    pub purchase_date: Option<NaiveDate>,
    /// What the owner paid, in minor units.
    pub purchase_price_cents: Option<i64>,
    /// The last day the warranty covers, as sent or derived.
    pub warranty_expires: Option<NaiveDate>,
    /// Where it stands.
    pub status: UserProductStatus,
    /// The owner's notes.
    pub notes: Option<String>,
    /// When it is added: its `created_at` and `updated_at`.
    pub created_at: DateTime<Utc>,
}

/// Changes a client sent, before validation. The outer `Option` says whether a field was sent;
/// the inner one whether it was `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProductPatch {
    /// Another product (the owner picked the wrong one); `null` is refused.
    pub product_id: Option<Option<i64>>,
    /// A new serial number, or `null` to clear it.
    pub serial_number: Option<Option<String>>,
    /// A new purchase date, or `null` to clear it.
    pub purchase_date: Option<Option<NaiveDate>>,
    /// A new purchase price, or `null` to clear it.
    pub purchase_price_cents: Option<Option<i64>>,
    /// A new warranty end, or `null` to clear it.
    pub warranty_expires: Option<Option<NaiveDate>>,
    /// A new status; `null` is refused.
    pub status: Option<Option<UserProductStatus>>,
    /// Offer the item on the market (`true`) or take it off (`false`); `null` is refused.
    pub tradeable: Option<Option<bool>>,
    /// New notes, or `null` to clear them.
    pub notes: Option<Option<String>>,
}

/// Validated changes. `None` keeps a field; for nullable fields `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserProductChanges {
    /// Another product (the owner picked the wrong one): it must exist and be active.
    pub product_id: Option<ProductId>,
    /// A new serial number, or `Some(None)` to clear it.
    pub serial_number: Option<Option<SerialNumber>>,
    /// A new purchase date, or `Some(None)` to clear it.
    pub purchase_date: Option<Option<NaiveDate>>,
    /// A new purchase price, or `Some(None)` to clear it.
    pub purchase_price_cents: Option<Option<i64>>,
    /// A new warranty end, or `Some(None)` to clear it.
    pub warranty_expires: Option<Option<NaiveDate>>,
    /// A new status.
    pub status: Option<UserProductStatus>,
    /// Whether the item is offered on the market.
    pub tradeable: Option<bool>,
    /// New notes, or `Some(None)` to clear them.
    pub notes: Option<Option<String>>,
}

impl UserProductChanges {
    /// Validates a patch as of `today`, reporting every failing field at once; `null` is
    /// refused for `product_id` and `status`.
    pub fn parse(patch: UserProductPatch, today: NaiveDate) -> Result<Self, FieldErrors> {
        let (v, changes) = Self::check(patch, today);
        v.finish_with(Some(changes))
    }

    /// The patch checked by the field rules (a field that failed is left out of the changes), and
    /// the validator that holds what failed, left open like [`NewUserProduct::check`]'s.
    pub(crate) fn check(patch: UserProductPatch, today: NaiveDate) -> (Validator, Self) {
        let mut v = Validator::default();
        let product_id = required_change(&mut v, "product_id", patch.product_id, positive_id).map(ProductId);
        let serial_number = nullable(&mut v, "serial_number", patch.serial_number, SerialNumber::parse);
        let purchase_date = nullable(&mut v, "purchase_date", patch.purchase_date, purchase_date_rule(today));
        let purchase_price_cents = nullable(&mut v, "purchase_price_cents", patch.purchase_price_cents, cents);
        let status = required_change(&mut v, "status", patch.status, Ok::<_, String>);
        let tradeable = required_change(&mut v, "tradeable", patch.tradeable, Ok::<_, String>);
        let notes = nullable(&mut v, "notes", patch.notes, parse_notes);
        if let (Some(Some(purchased)), Some(Some(expires))) = (patch.purchase_date, patch.warranty_expires)
            && expires < purchased
        {
            v.fail("warranty_expires", EXPIRES_BEFORE_PURCHASE);
        }
        let changes = Self {
            product_id,
            serial_number,
            purchase_date,
            purchase_price_cents,
            warranty_expires: patch.warranty_expires,
            status,
            tradeable,
            notes,
        };
        (v, changes)
    }

    /// Applies the changes as of `now`; `version` and `updated_at` move on. `product` is the
    /// product named by `product_id` when the changes name one (the item's summary follows it;
    /// its category name is the repository's to fill in).
    ///
    /// A `warranty_expires` the owner never chose follows the purchase date and the product:
    /// when either changes and no `warranty_expires` is sent, it is derived again (cleared with
    /// the purchase date). One the owner chose is kept. Fails, changing nothing, when the result
    /// would expire before its purchase.
    pub fn apply(
        &self,
        item: &mut UserProduct,
        product: Option<&Product>,
        now: DateTime<Utc>,
    ) -> Result<(), FieldErrors> {
        let mut changed = item.clone();
        let derived = changed.expiry_is_derived();
        if let Some(product) = product.filter(|p| self.product_id == Some(p.id)) {
            changed.product = ProductSummary {
                id: product.id,
                name: product.name.clone(),
                brand: product.brand.clone(),
                model: product.model.clone(),
                category_name: changed.product.category_name.clone(),
                warranty_months: product.warranty_months,
            };
        }
        if let Some(serial) = &self.serial_number {
            changed.serial_number = serial.as_ref().map(|s| s.as_str().to_owned());
        }
        if let Some(purchase_date) = self.purchase_date {
            changed.purchase_date = purchase_date;
        }
        if let Some(price) = self.purchase_price_cents {
            changed.purchase_price_cents = price;
        }
        if let Some(status) = self.status {
            changed.status = status;
        }
        if let Some(tradeable) = self.tradeable {
            changed.tradeable = tradeable;
        }
        if let Some(notes) = &self.notes {
            changed.notes.clone_from(notes);
        }
        match self.warranty_expires {
            Some(expires) => changed.warranty_expires = expires,
            None if derived && (self.purchase_date.is_some() || self.product_id.is_some()) => {
                changed.warranty_expires =
                    changed.purchase_date.map(|p| warranty_expiry(p, changed.product.warranty_months));
            }
            None => {}
        }
        if let (Some(purchased), Some(expires)) = (changed.purchase_date, changed.warranty_expires)
            && expires < purchased
        {
            return Err(FieldErrors::single("warranty_expires", EXPIRES_BEFORE_PURCHASE));
        }
        changed.version += 1;
        changed.updated_at = now;
        *item = changed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CategoryId, ProductStatus, Specifications};

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn product(id: i64, warranty_months: u16) -> Product {
        let at = workbench_users::now();
        Product {
            id: ProductId(id),
            name: format!("Product {id}"),
            category_id: CategoryId(1),
            brand: "Acme".into(),
            model: Some(format!("M{id}")),
            description: None,
            price_cents: None,
            currency: None,
            warranty_months,
            warranty_conditions: None,
            manufacturer_website: None,
            specifications: Specifications::default(),
            status: ProductStatus::Active,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn item(purchase_date: Option<NaiveDate>, warranty_expires: Option<NaiveDate>) -> UserProduct {
        let at = workbench_users::now();
        UserProduct {
            id: UserProductId(9),
            user_id: UserId(1),
            product: ProductSummary {
                id: ProductId(1),
                name: "Product 1".into(),
                brand: "Acme".into(),
                model: Some("M1".into()),
                category_name: "Tools".into(),
                warranty_months: 24,
            },
            version: 1,
            serial_number: None,
            purchase_date,
            purchase_price_cents: None,
            warranty_expires,
            status: UserProductStatus::Active,
            tradeable: false,
            notes: None,
            files_count: 0,
            created_at: at,
            updated_at: at,
        }
    }

    fn fixed_today() -> NaiveDate {
        date(2026, 6, 15)
    }

    #[test]
    fn a_draft_reports_every_failing_field_at_once() {
        let e = NewUserProduct::parse(
            UserProductDraft {
                product_id: None,
                serial_number: Some("  ".into()),
                purchase_date: Some(date(2026, 6, 17)),
                purchase_price_cents: Some(-5),
                warranty_expires: Some(date(2026, 6, 1)),
                status: None,
                notes: Some("n".repeat(10_001)),
                type_failures: TypeFailures::default(),
            },
            fixed_today(),
        )
        .unwrap_err();
        for field in
            ["product_id", "serial_number", "purchase_date", "purchase_price_cents", "warranty_expires", "notes"]
        {
            assert!(e.contains(field), "{field} missing from {e}");
        }
    }

    #[test]
    fn purchases_up_to_tomorrow_utc_are_accepted() {
        let draft =
            |purchased| UserProductDraft { product_id: Some(1), purchase_date: Some(purchased), ..Default::default() };
        assert!(NewUserProduct::parse(draft(date(2026, 6, 16)), fixed_today()).is_ok());
        assert!(NewUserProduct::parse(draft(date(2026, 6, 17)), fixed_today()).unwrap_err().contains("purchase_date"));
    }

    #[test]
    fn the_expiry_defaults_to_purchase_plus_the_products_warranty() {
        let new = |purchase_date, warranty_expires| {
            NewUserProduct::parse(
                UserProductDraft { product_id: Some(1), purchase_date, warranty_expires, ..Default::default() },
                fixed_today(),
            )
            .unwrap()
        };
        let at = workbench_users::now();
        let record = new(Some(date(2024, 1, 31)), None).into_record(UserId(3), &product(1, 1), at);
        assert_eq!((record.warranty_expires, record.status), (Some(date(2024, 2, 29)), UserProductStatus::Active));
        let record = new(Some(date(2024, 1, 31)), Some(date(2030, 1, 1))).into_record(UserId(3), &product(1, 1), at);
        assert_eq!(record.warranty_expires, Some(date(2030, 1, 1)), "a date the owner sent wins");
        let record = new(None, None).into_record(UserId(3), &product(1, 24), at);
        assert_eq!(record.warranty_expires, None, "no purchase date, no default");
    }

    #[test]
    fn under_warranty_through_the_last_day() {
        let today = fixed_today();
        assert!(item(None, Some(today)).is_under_warranty(today));
        assert!(!item(None, Some(date(2026, 6, 14))).is_under_warranty(today));
        assert!(!item(None, None).is_under_warranty(today));
    }

    #[test]
    fn a_derived_expiry_follows_the_purchase_date_and_a_chosen_one_stays() {
        let now = workbench_users::now();
        let move_purchase = UserProductChanges::parse(
            UserProductPatch { purchase_date: Some(Some(date(2025, 1, 31))), ..Default::default() },
            fixed_today(),
        )
        .unwrap();
        let mut derived = item(Some(date(2024, 5, 1)), Some(date(2026, 5, 1)));
        move_purchase.apply(&mut derived, None, now).unwrap();
        assert_eq!(derived.warranty_expires, Some(date(2027, 1, 31)));
        assert_eq!((derived.version, derived.updated_at), (2, now));

        let mut chosen = item(Some(date(2024, 5, 1)), Some(date(2029, 1, 1)));
        move_purchase.apply(&mut chosen, None, now).unwrap();
        assert_eq!(chosen.warranty_expires, Some(date(2029, 1, 1)));

        let clear = UserProductChanges::parse(
            UserProductPatch { purchase_date: Some(None), ..Default::default() },
            fixed_today(),
        )
        .unwrap();
        let mut derived = item(Some(date(2024, 5, 1)), Some(date(2026, 5, 1)));
        clear.apply(&mut derived, None, now).unwrap();
        assert_eq!((derived.purchase_date, derived.warranty_expires), (None, None));
    }

    #[test]
    fn another_product_brings_its_warranty_along() {
        let now = workbench_users::now();
        let switch = UserProductChanges::parse(
            UserProductPatch { product_id: Some(Some(2)), ..Default::default() },
            fixed_today(),
        )
        .unwrap();
        let mut it = item(Some(date(2024, 1, 31)), Some(date(2026, 1, 31)));
        switch.apply(&mut it, Some(&product(2, 1)), now).unwrap();
        assert_eq!((it.product.id, it.product.name.as_str()), (ProductId(2), "Product 2"));
        assert_eq!(it.warranty_expires, Some(date(2024, 2, 29)));
    }

    #[test]
    fn an_expiry_before_the_purchase_is_refused_whole() {
        let now = workbench_users::now();
        let mut it = item(Some(date(2024, 5, 1)), Some(date(2029, 1, 1)));
        let before = it.clone();
        let bad = UserProductChanges::parse(
            UserProductPatch {
                warranty_expires: Some(Some(date(2024, 4, 30))),
                notes: Some(Some("n".into())),
                ..Default::default()
            },
            fixed_today(),
        )
        .unwrap();
        assert!(bad.apply(&mut it, None, now).unwrap_err().contains("warranty_expires"));
        assert_eq!(it, before);
        let both = UserProductPatch {
            purchase_date: Some(Some(date(2024, 5, 2))),
            warranty_expires: Some(Some(date(2024, 5, 1))),
            ..Default::default()
        };
        assert!(UserProductChanges::parse(both, fixed_today()).unwrap_err().contains("warranty_expires"));
    }

    #[test]
    fn patches_refuse_null_product_and_status_and_clear_the_rest() {
        let e = UserProductChanges::parse(
            UserProductPatch { product_id: Some(None), status: Some(None), ..Default::default() },
            fixed_today(),
        )
        .unwrap_err();
        assert!(e.contains("product_id") && e.contains("status"));
        let now = workbench_users::now();
        let mut it = item(None, None);
        it.serial_number = Some("SN1".into());
        it.notes = Some("x".into());
        UserProductChanges::parse(
            UserProductPatch {
                serial_number: Some(None),
                notes: Some(None),
                status: Some(Some(UserProductStatus::Sold)),
                ..Default::default()
            },
            fixed_today(),
        )
        .unwrap()
        .apply(&mut it, None, now)
        .unwrap();
        assert_eq!((it.serial_number, it.notes, it.status), (None, None, UserProductStatus::Sold));
    }
}
