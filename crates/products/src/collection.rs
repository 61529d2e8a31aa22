//! The collection use cases: what a user owns, seen and changed by that user only.

use std::sync::Arc;

use workbench_core::{FieldErrors, Page, PageRequest, Validator};
use workbench_users::{Principal, now};

use crate::catalogue::{UPDATE_ATTEMPTS, check_version, not_removed};
use crate::error::reference_message;
use crate::{
    CatalogueService, NewUserProduct, Product, ProductError, ProductId, Removal, Resource, UserProduct,
    UserProductChanges, UserProductDraft, UserProductFilter, UserProductId, UserProductPatch, UserProductRepository,
    WarrantyQuery, today,
};

/// Each user's collection of owned products, and its warranty overview.
///
/// An item is only ever seen by its owner: everyone else, admins included, is told it does not
/// exist. Products are looked up through the [`CatalogueService`] (and so its cache); the
/// collection itself is never cached.
#[derive(Clone)]
pub struct CollectionService {
    items: Arc<dyn UserProductRepository>,
    catalogue: CatalogueService,
}

impl std::fmt::Debug for CollectionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CollectionService").finish_non_exhaustive()
    }
}

impl CollectionService {
    /// The service over the owned items in `items`, checking the products they refer to through
    /// `catalogue`.
    pub fn new(items: Arc<dyn UserProductRepository>, catalogue: CatalogueService) -> Self {
        Self { items, catalogue }
    }

    /// Adds an item to `owner`'s collection, from what a client sent. Every failing field is
    /// reported at once: those that could not be read, the field rules, and a product that is
    /// unknown or discontinued (on `product_id`). Its `warranty_expires` defaults to the purchase
    /// date plus the product's warranty. The same serial twice for one product is a `Conflict`
    /// on `serial_number`.
    pub async fn create(&self, owner: &Principal, draft: UserProductDraft) -> Result<UserProduct, ProductError> {
        // From the draft, not the checked item: an unusable product is reported even beside other failures.
        let product = draft.product_id.filter(|id| *id > 0).map(ProductId);
        let (mut v, item) = NewUserProduct::check(draft, today());
        let product = match product {
            Some(id) => self.usable_product(&mut v, id).await?,
            None => None,
        };
        let (item, product) = v.finish_with(item.zip(product))?;
        let record = item.into_record(owner.id, &product, now());
        Ok(self.items.create(record).await?)
    }

    /// One item of the caller's; anyone else's is `NotFound`.
    pub async fn get(&self, owner: &Principal, id: UserProductId) -> Result<UserProduct, ProductError> {
        self.items.find(owner.id, id).await?.ok_or(ProductError::NotFound(Resource::UserProduct))
    }

    /// One page of the caller's collection, newest first.
    pub async fn list(
        &self,
        owner: &Principal,
        filter: UserProductFilter,
        page: PageRequest,
    ) -> Result<Page<UserProduct>, ProductError> {
        Ok(self.items.list(owner.id, filter, page).await?)
    }

    /// Applies the changes the owner sent to one of their items, validated like
    /// [`Self::create`]'s draft, except that a product named here need only exist: whether it may
    /// still be chosen depends on the item. Moving the item to another product requires that
    /// product to be active; naming the product it already is changes nothing, even if it is
    /// discontinued. With `if_match`, the item must still be at that version (else
    /// `VersionMismatch`); without it, a concurrent change is re-read and the changes re-applied.
    pub async fn update(
        &self,
        owner: &Principal,
        id: UserProductId,
        patch: UserProductPatch,
        if_match: Option<i64>,
    ) -> Result<UserProduct, ProductError> {
        let named = patch.product_id.flatten().filter(|id| *id > 0).map(ProductId);
        let (mut v, mut changes) = UserProductChanges::check(patch, today());
        let product = match named {
            Some(id) => self.existing_product(&mut v, id).await?,
            None => None,
        };
        v.finish()?;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.items.find(owner.id, id).await?.ok_or(ProductError::NotFound(Resource::UserProduct))?;
            check_version(if_match, current.version)?;
            if changes.product_id == Some(current.product.id) {
                changes.product_id = None;
            }
            // Checked on each attempt: whether the item moves depends on the copy it is applied to.
            if changes.product_id.is_some() && product.as_ref().is_some_and(|p| !p.is_active()) {
                return Err(FieldErrors::single("product_id", DISCONTINUED).into());
            }
            let mut updated = current.clone();
            changes.apply(&mut updated, product.as_ref(), now())?;
            if let Some(stored) = self.items.update(updated, current.version).await? {
                return Ok(stored);
            }
        }
        Err(ProductError::Contention)
    }

    /// Removes one of the caller's items; one with files attached is `FilesAttached`.
    pub async fn delete(
        &self,
        owner: &Principal,
        id: UserProductId,
        if_match: Option<i64>,
    ) -> Result<(), ProductError> {
        match self.items.delete(owner.id, id, if_match).await? {
            Removal::Removed => Ok(()),
            Removal::InUse => Err(ProductError::FilesAttached),
            Removal::NotRemoved => {
                let current = self.items.find(owner.id, id).await?.map(|item| item.version);
                Err(not_removed(Resource::UserProduct, current, if_match))
            }
        }
    }

    /// The caller's items whose warranty the query selects, as of today (UTC). Only items the
    /// caller still has (active or broken) are listed.
    pub async fn warranties(&self, owner: &Principal, query: WarrantyQuery) -> Result<Vec<UserProduct>, ProductError> {
        Ok(self.items.warranties(owner.id, query.window(today())).await?)
    }

    /// The product, if it can be added to a collection; otherwise `None`, with why not recorded
    /// on `product_id`.
    async fn usable_product(&self, v: &mut Validator, id: ProductId) -> Result<Option<Product>, ProductError> {
        let product = self.existing_product(v, id).await?;
        match product {
            Some(product) if !product.is_active() => {
                v.fail("product_id", DISCONTINUED);
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// The product, if it exists (whatever its status); otherwise `None`, recorded on
    /// `product_id`.
    async fn existing_product(&self, v: &mut Validator, id: ProductId) -> Result<Option<Product>, ProductError> {
        match self.catalogue.product(id).await {
            Ok(product) => Ok(Some(product)),
            Err(ProductError::NotFound(_)) => {
                v.fail("product_id", reference_message("product_id"));
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }
}

/// Why a product cannot be chosen for an item.
const DISCONTINUED: &str = "is discontinued; only active products can be added";

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use mockall::predicate::eq;
    use workbench_core::RepositoryError;
    use workbench_users::{Role, User, UserId};

    use super::*;
    use crate::{
        CatalogueEpoch, CategoryId, MockCatalogueCache, MockCategoryRepository, MockProductRepository,
        MockUserProductRepository, ProductStatus, ProductSummary, Specifications, UserProductStatus,
    };
    use workbench_core::TypeFailures;

    fn caller(id: i64) -> Principal {
        Principal::from(&User { role: Role::User, ..User::sample(id) })
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn product(id: i64, status: ProductStatus, warranty_months: u16) -> Product {
        let at = now();
        Product {
            id: ProductId(id),
            name: format!("Product {id}"),
            category_id: CategoryId(1),
            brand: "Acme".into(),
            model: None,
            description: None,
            price_cents: None,
            currency: None,
            warranty_months,
            warranty_conditions: None,
            manufacturer_website: None,
            specifications: Specifications::default(),
            status,
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn item(owner: i64, product: i64, version: i64) -> UserProduct {
        let at = now();
        UserProduct {
            id: UserProductId(9),
            user_id: UserId(owner),
            product: ProductSummary {
                id: ProductId(product),
                name: format!("Product {product}"),
                brand: "Acme".into(),
                model: None,
                category_name: "Tools".into(),
                warranty_months: 12,
            },
            version,
            serial_number: None,
            purchase_date: None,
            purchase_price_cents: None,
            warranty_expires: None,
            status: UserProductStatus::Active,
            tradeable: false,
            notes: None,
            files_count: 0,
            created_at: at,
            updated_at: at,
        }
    }

    /// The catalogue: product 1 active (1 month of warranty), 2 discontinued, others unknown;
    /// read `reads` times.
    fn catalogue(reads: impl Into<mockall::TimesRange>) -> CatalogueService {
        let mut products = MockProductRepository::new();
        products.expect_find().times(reads).returning(|id| {
            Ok(match id.0 {
                1 => Some(product(1, ProductStatus::Active, 1)),
                2 => Some(product(2, ProductStatus::Discontinued, 12)),
                _ => None,
            })
        });
        let mut cache = MockCatalogueCache::new();
        cache.expect_product().returning(|_| None);
        cache.expect_epoch().returning(|| CatalogueEpoch(1));
        cache.expect_put_product().returning(|_, _| ());
        CatalogueService::new(Arc::new(MockCategoryRepository::new()), Arc::new(products), Arc::new(cache))
    }

    fn service(items: MockUserProductRepository) -> CollectionService {
        CollectionService::new(Arc::new(items), catalogue(..))
    }

    fn draft(product_id: i64) -> UserProductDraft {
        UserProductDraft { product_id: Some(product_id), ..Default::default() }
    }

    #[tokio::test]
    async fn unknown_and_discontinued_products_are_field_errors_with_the_others() {
        let mut items = MockUserProductRepository::new();
        items.expect_create().never();
        // Once per creation: the check that reports it is the only lookup.
        let svc = CollectionService::new(Arc::new(items), catalogue(3));
        for product_id in [2, 3] {
            let bad = UserProductDraft { purchase_price_cents: Some(-1), ..draft(product_id) };
            match svc.create(&caller(1), bad).await {
                Err(ProductError::Validation(e)) => {
                    let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
                    assert_eq!(fields, ["purchase_price_cents", "product_id"], "{e}");
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
        let err = svc.create(&caller(1), draft(2)).await;
        assert!(matches!(err, Err(ProductError::Validation(e)) if e.contains("product_id")));
    }

    #[tokio::test]
    async fn fields_that_could_not_be_read_come_first_and_replace_what_the_rules_say() {
        let svc = CollectionService::new(Arc::new(MockUserProductRepository::new()), catalogue(0));
        let mut type_failures = TypeFailures::default();
        type_failures.record("product_id", "invalid type: string \"1\", expected i64");
        let bad = UserProductDraft { notes: Some("n".repeat(10_001)), type_failures, ..Default::default() };
        let Err(ProductError::Validation(e)) = svc.create(&caller(1), bad).await else {
            panic!("expected a validation error");
        };
        let fields: Vec<_> = e.as_slice().iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(fields[0], ("product_id", "invalid type: string \"1\", expected i64"));
        assert_eq!(fields.iter().map(|f| f.0).collect::<Vec<_>>(), ["product_id", "notes"]);
    }

    #[tokio::test]
    async fn creation_derives_the_expiry_from_the_product_with_month_end_clamping() {
        let mut items = MockUserProductRepository::new();
        items
            .expect_create()
            .withf(|r| {
                r.user_id == UserId(4)
                    && r.warranty_expires == Some(date(2024, 2, 29))
                    && r.status == UserProductStatus::Active
            })
            .times(1)
            .returning(|_| Ok(item(4, 1, 1)));
        let svc = CollectionService::new(Arc::new(items), catalogue(1));
        svc.create(&caller(4), UserProductDraft { purchase_date: Some(date(2024, 1, 31)), ..draft(1) }).await.unwrap();
    }

    #[tokio::test]
    async fn the_same_serial_twice_is_a_conflict_on_serial_number() {
        let mut items = MockUserProductRepository::new();
        items.expect_create().returning(|_| Err(RepositoryError::Conflict { field: "serial_number" }));
        let svc = service(items);
        let new = UserProductDraft { serial_number: Some("SN1".into()), ..draft(1) };
        assert!(matches!(svc.create(&caller(1), new).await, Err(ProductError::Conflict { field: "serial_number" })));
    }

    #[tokio::test]
    async fn reads_are_scoped_to_the_caller() {
        let mut items = MockUserProductRepository::new();
        items.expect_find().with(eq(UserId(1)), eq(UserProductId(9))).returning(|_, _| Ok(Some(item(1, 1, 1))));
        items.expect_find().with(eq(UserId(2)), eq(UserProductId(9))).returning(|_, _| Ok(None));
        let svc = service(items);
        assert!(svc.get(&caller(1), UserProductId(9)).await.is_ok());
        let other = svc.get(&caller(2), UserProductId(9)).await;
        assert!(matches!(other, Err(ProductError::NotFound(Resource::UserProduct))));
    }

    #[tokio::test]
    async fn a_stale_if_match_is_refused_and_a_lost_race_retried() {
        let mut items = MockUserProductRepository::new();
        items.expect_find().returning(|_, _| Ok(Some(item(1, 1, 3))));
        items.expect_update().never();
        let svc = service(items);
        let err = svc.update(&caller(1), UserProductId(9), UserProductPatch::default(), Some(2)).await;
        assert!(matches!(err, Err(ProductError::VersionMismatch { expected: 2, current: 3 })));

        let mut items = MockUserProductRepository::new();
        let mut reads = 0;
        items.expect_find().returning(move |_, _| {
            reads += 1;
            Ok(Some(item(1, 1, 2 + reads)))
        });
        let mut seq = mockall::Sequence::new();
        items.expect_update().withf(|_, v| *v == 3).times(1).in_sequence(&mut seq).returning(|_, _| Ok(None));
        items
            .expect_update()
            .withf(|i, v| *v == 4 && i.version == 5 && i.notes.as_deref() == Some("mine"))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|i, _| Ok(Some(i)));
        let svc = service(items);
        let changes = UserProductPatch { notes: Some(Some("mine".into())), ..Default::default() };
        let updated = svc.update(&caller(1), UserProductId(9), changes, None).await.unwrap();
        assert_eq!(updated.version, 5);
    }

    #[tokio::test]
    async fn moving_to_a_discontinued_product_is_refused_but_keeping_one_is_not() {
        let to_2 = || UserProductPatch { product_id: Some(Some(2)), ..Default::default() };
        let mut items = MockUserProductRepository::new();
        items.expect_find().returning(|_, _| Ok(Some(item(1, 2, 1))));
        items.expect_update().times(1).returning(|i, _| Ok(Some(i)));
        let svc = CollectionService::new(Arc::new(items), catalogue(1));
        assert_eq!(svc.update(&caller(1), UserProductId(9), to_2(), None).await.unwrap().product.id, ProductId(2));

        let mut items = MockUserProductRepository::new();
        items.expect_find().times(1).returning(|_, _| Ok(Some(item(1, 1, 1))));
        items.expect_update().never();
        // Once per change: the product checked with the fields is the one the item moves to.
        let svc = CollectionService::new(Arc::new(items), catalogue(2));
        let err = svc.update(&caller(1), UserProductId(9), to_2(), None).await;
        assert!(matches!(err, Err(ProductError::Validation(e)) if e.contains("product_id")));
        // An unknown product is refused with the other fields, before the item is read.
        let unknown = UserProductPatch { product_id: Some(Some(3)), ..Default::default() };
        let unknown = svc.update(&caller(1), UserProductId(9), unknown, None).await;
        assert!(matches!(unknown, Err(ProductError::Validation(e)) if e.contains("product_id")));
    }

    #[tokio::test]
    async fn items_with_files_cannot_be_deleted_and_missing_ones_are_not_found() {
        let mut items = MockUserProductRepository::new();
        items
            .expect_delete()
            .with(eq(UserId(1)), eq(UserProductId(9)), eq(None))
            .returning(|_, _, _| Ok(Removal::InUse));
        items
            .expect_delete()
            .with(eq(UserId(2)), eq(UserProductId(9)), eq(Some(1)))
            .returning(|_, _, _| Ok(Removal::NotRemoved));
        items.expect_find().returning(|_, _| Ok(None));
        let svc = service(items);
        assert!(matches!(svc.delete(&caller(1), UserProductId(9), None).await, Err(ProductError::FilesAttached)));
        let other = svc.delete(&caller(2), UserProductId(9), Some(1)).await;
        assert!(matches!(other, Err(ProductError::NotFound(Resource::UserProduct))));
    }

    #[tokio::test]
    async fn the_warranty_overview_asks_for_the_window_as_of_today() {
        let mut items = MockUserProductRepository::new();
        // Not compared with a window computed here: the day may turn between the two readings.
        items
            .expect_warranties()
            .withf(|owner, w| {
                let span = w.from.zip(w.until).map(|(from, until)| (until - from).num_days());
                *owner == UserId(1) && span == Some(7) && !w.latest_first
            })
            .times(1)
            .returning(|_, _| Ok(vec![item(1, 1, 1)]));
        let svc = service(items);
        let query = WarrantyQuery::parse(Some("expiring"), Some(7)).unwrap();
        assert_eq!(svc.warranties(&caller(1), query).await.unwrap().len(), 1);
    }
}
