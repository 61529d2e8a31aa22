//! The collection use cases: what a user owns, seen and changed by that user only.

use std::sync::Arc;

use workbench_core::{FieldError, FieldErrors, Page, PageRequest};
use workbench_users::{Principal, now};

use crate::catalogue::{UPDATE_ATTEMPTS, check_version, combine, not_removed};
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
    pub fn new(items: Arc<dyn UserProductRepository>, catalogue: CatalogueService) -> Self {
        Self { items, catalogue }
    }

    /// Validates a new item completely: the field rules and that the product exists and is
    /// active, reporting every failing field at once.
    pub async fn prepare(&self, draft: UserProductDraft) -> Result<NewUserProduct, ProductError> {
        let product = draft.product_id.filter(|id| *id > 0).map(ProductId);
        let parsed = NewUserProduct::parse(draft, today());
        let product_error = match product {
            Some(id) => self.usable_product(id).await?.err(),
            None => None,
        };
        combine(parsed, product_error)
    }

    /// Adds an item to `owner`'s collection. Its `warranty_expires` defaults to the purchase
    /// date plus the product's warranty. The same serial twice for one product is a `Conflict`
    /// on `serial_number`; an unknown or discontinued product a field error on `product_id`.
    pub async fn create(&self, owner: &Principal, item: NewUserProduct) -> Result<UserProduct, ProductError> {
        let product = self.usable_product(item.product_id).await?.map_err(single)?;
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

    /// Validates changes completely, like [`Self::prepare`]; a product named here must exist
    /// (whether it may still be chosen depends on the item: see [`Self::update`]).
    pub async fn prepare_changes(&self, patch: UserProductPatch) -> Result<UserProductChanges, ProductError> {
        let product = patch.product_id.flatten().filter(|id| *id > 0).map(ProductId);
        let parsed = UserProductChanges::parse(patch, today());
        let product_error = match product {
            Some(id) => match self.catalogue.product(id).await {
                Ok(_) => None,
                Err(ProductError::NotFound(_)) => Some(FieldError::new("product_id", reference_message("product_id"))),
                Err(other) => return Err(other),
            },
            None => None,
        };
        combine(parsed, product_error)
    }

    /// Applies `changes` to one of the caller's items. With `if_match`, the item must still be
    /// at that version (else `VersionMismatch`); without it, a concurrent change is re-read and
    /// the changes re-applied. Moving the item to another product requires that product to be
    /// active; naming the product it already is changes nothing, even if it is discontinued.
    pub async fn update(
        &self,
        owner: &Principal,
        id: UserProductId,
        mut changes: UserProductChanges,
        if_match: Option<i64>,
    ) -> Result<UserProduct, ProductError> {
        let mut product: Option<Product> = None;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.items.find(owner.id, id).await?.ok_or(ProductError::NotFound(Resource::UserProduct))?;
            check_version(if_match, current.version)?;
            if changes.product_id == Some(current.product.id) {
                changes.product_id = None;
            }
            if let Some(wanted) = changes.product_id
                && product.as_ref().is_none_or(|p| p.id != wanted)
            {
                product = Some(self.usable_product(wanted).await?.map_err(single)?);
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

    /// The product, if it can be added to a collection; otherwise why not, as a field error.
    async fn usable_product(&self, id: ProductId) -> Result<Result<Product, FieldError>, ProductError> {
        match self.catalogue.product(id).await {
            Ok(product) if product.is_active() => Ok(Ok(product)),
            Ok(_) => Ok(Err(FieldError::new("product_id", "is discontinued; only active products can be added"))),
            Err(ProductError::NotFound(_)) => Ok(Err(FieldError::new("product_id", reference_message("product_id")))),
            Err(other) => Err(other),
        }
    }
}

fn single(error: FieldError) -> ProductError {
    FieldErrors::single(error.field, error.message).into()
}

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
            notes: None,
            files_count: 0,
            created_at: at,
            updated_at: at,
        }
    }

    /// The catalogue: product 1 active (1 month of warranty), 2 discontinued, others unknown.
    fn catalogue() -> CatalogueService {
        let mut products = MockProductRepository::new();
        products.expect_find().returning(|id| {
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
        CollectionService::new(Arc::new(items), catalogue())
    }

    fn draft(product_id: i64) -> UserProductDraft {
        UserProductDraft { product_id: Some(product_id), ..Default::default() }
    }

    #[tokio::test]
    async fn unknown_and_discontinued_products_are_field_errors_with_the_others() {
        let svc = service(MockUserProductRepository::new());
        for product_id in [2, 3] {
            let bad = UserProductDraft { purchase_price_cents: Some(-1), ..draft(product_id) };
            match svc.prepare(bad).await {
                Err(ProductError::Validation(e)) => {
                    assert!(e.contains("product_id") && e.contains("purchase_price_cents"), "{e}");
                }
                other => panic!("expected a validation error, got {other:?}"),
            }
        }
        let new = NewUserProduct::parse(draft(2), today()).unwrap();
        let err = svc.create(&caller(1), new).await;
        assert!(matches!(err, Err(ProductError::Validation(e)) if e.contains("product_id")));
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
        let svc = service(items);
        let new = svc.prepare(UserProductDraft { purchase_date: Some(date(2024, 1, 31)), ..draft(1) }).await.unwrap();
        svc.create(&caller(4), new).await.unwrap();
    }

    #[tokio::test]
    async fn the_same_serial_twice_is_a_conflict_on_serial_number() {
        let mut items = MockUserProductRepository::new();
        items.expect_create().returning(|_| Err(RepositoryError::Conflict { field: "serial_number" }));
        let svc = service(items);
        let new = svc.prepare(UserProductDraft { serial_number: Some("SN1".into()), ..draft(1) }).await.unwrap();
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
        let err = svc.update(&caller(1), UserProductId(9), UserProductChanges::default(), Some(2)).await;
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
        let changes = UserProductChanges { notes: Some(Some("mine".into())), ..Default::default() };
        let updated = svc.update(&caller(1), UserProductId(9), changes, None).await.unwrap();
        assert_eq!(updated.version, 5);
    }

    #[tokio::test]
    async fn moving_to_a_discontinued_product_is_refused_but_keeping_one_is_not() {
        let mut items = MockUserProductRepository::new();
        items.expect_find().returning(|_, _| Ok(Some(item(1, 2, 1))));
        items.expect_update().times(1).returning(|i, _| Ok(Some(i)));
        let svc = service(items);
        let keep =
            svc.prepare_changes(UserProductPatch { product_id: Some(Some(2)), ..Default::default() }).await.unwrap();
        assert_eq!(svc.update(&caller(1), UserProductId(9), keep, None).await.unwrap().product.id, ProductId(2));

        let mut items = MockUserProductRepository::new();
        items.expect_find().returning(|_, _| Ok(Some(item(1, 1, 1))));
        items.expect_update().never();
        let svc = service(items);
        let changes = UserProductChanges { product_id: Some(ProductId(2)), ..Default::default() };
        let err = svc.update(&caller(1), UserProductId(9), changes, None).await;
        assert!(matches!(err, Err(ProductError::Validation(e)) if e.contains("product_id")));
        let unknown = svc.prepare_changes(UserProductPatch { product_id: Some(Some(3)), ..Default::default() }).await;
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
