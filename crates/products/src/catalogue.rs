//! The catalogue use cases: public reads through the cache, admin-only writes that invalidate it.

use std::sync::Arc;

use workbench_core::{Page, PageRequest, Validator};
use workbench_users::{Principal, now};

use crate::error::reference_message;
use crate::{
    CatalogueCache, Category, CategoryChanges, CategoryDraft, CategoryId, CategoryPatch, CategoryRepository,
    NewCategory, NewProduct, NewProductRecord, Product, ProductChanges, ProductDraft, ProductError, ProductFilter,
    ProductId, ProductPatch, ProductRepository, ProductSearch, Removal, Resource,
};

/// How often an update without `If-Match` re-reads and re-applies after losing a race.
pub(crate) const UPDATE_ATTEMPTS: usize = 5;

/// Reading the catalogue (anyone, no account needed) and changing it (admins only).
///
/// Reads of the category list, of single products and of quick searches go through the
/// [`CatalogueCache`]; product lists do not (their filters and pages are too many to be worth
/// it). Every successful write invalidates the cache.
#[derive(Clone)]
pub struct CatalogueService {
    categories: Arc<dyn CategoryRepository>,
    products: Arc<dyn ProductRepository>,
    cache: Arc<dyn CatalogueCache>,
}

impl std::fmt::Debug for CatalogueService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogueService").finish_non_exhaustive()
    }
}

impl CatalogueService {
    /// The service over the stored categories and products, read through `cache` (whose epochs keep
    /// a read racing an admin's write from being cached after it).
    pub fn new(
        categories: Arc<dyn CategoryRepository>,
        products: Arc<dyn ProductRepository>,
        cache: Arc<dyn CatalogueCache>,
    ) -> Self {
        Self { categories, products, cache }
    }

    /// Refuses anyone but admins. Checked before anything else, so that a non-admin learns
    /// nothing from validation (nor, at the HTTP edge, from a replayed idempotent creation).
    pub fn admin_only(caller: &Principal) -> Result<(), ProductError> {
        if caller.role.is_admin() {
            Ok(())
        } else {
            Err(ProductError::Forbidden("only admins may change the catalogue"))
        }
    }

    // --- Categories ---------------------------------------------------------------------------

    /// Every category, by name.
    pub async fn categories(&self) -> Result<Vec<Category>, ProductError> {
        if let Some(categories) = self.cache.categories().await {
            return Ok(categories);
        }
        let epoch = self.cache.epoch().await;
        let categories = self.categories.list().await?;
        self.cache.put_categories(&categories, epoch).await;
        Ok(categories)
    }

    /// Creates a category for an admin, from what a client sent (every failing field at once); a
    /// taken slug is a `Conflict` on `slug`.
    pub async fn create_category(&self, caller: &Principal, draft: CategoryDraft) -> Result<Category, ProductError> {
        Self::admin_only(caller)?;
        let category = NewCategory::parse(draft)?;
        let created = self.categories.create(category).await?;
        self.cache.invalidate().await;
        Ok(created)
    }

    /// Applies the changes an admin sent (every failing field at once). With `if_match`, the
    /// category must still be at that version (else `VersionMismatch`); without it, a concurrent
    /// change is re-read and the changes re-applied.
    pub async fn update_category(
        &self,
        caller: &Principal,
        id: CategoryId,
        patch: CategoryPatch,
        if_match: Option<i64>,
    ) -> Result<Category, ProductError> {
        Self::admin_only(caller)?;
        let changes = CategoryChanges::parse(patch)?;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.categories.find(id).await?.ok_or(ProductError::NotFound(Resource::Category))?;
            check_version(if_match, current.version)?;
            let mut updated = current.clone();
            changes.apply(&mut updated);
            if self.categories.update(updated.clone(), current.version).await? {
                self.cache.invalidate().await;
                return Ok(updated);
            }
        }
        Err(ProductError::Contention)
    }

    /// Deletes a category without products; one that still has some is `CategoryInUse`.
    pub async fn delete_category(
        &self,
        caller: &Principal,
        id: CategoryId,
        if_match: Option<i64>,
    ) -> Result<(), ProductError> {
        Self::admin_only(caller)?;
        match self.categories.delete(id, if_match).await? {
            Removal::Removed => {
                self.cache.invalidate().await;
                Ok(())
            }
            Removal::InUse => Err(ProductError::CategoryInUse),
            Removal::NotRemoved => {
                let current = self.categories.find(id).await?.map(|c| c.version);
                Err(not_removed(Resource::Category, current, if_match))
            }
        }
    }

    // --- Products -----------------------------------------------------------------------------

    /// One page of the catalogue.
    pub async fn products(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>, ProductError> {
        Ok(self.products.list(filter, page).await?)
    }

    /// One product, whatever its status.
    pub async fn product(&self, id: ProductId) -> Result<Product, ProductError> {
        if let Some(product) = self.cache.product(id).await {
            return Ok(product);
        }
        let epoch = self.cache.epoch().await;
        let product = self.products.find(id).await?.ok_or(ProductError::NotFound(Resource::Product))?;
        self.cache.put_product(&product, epoch).await;
        Ok(product)
    }

    /// The quick search (see [`ProductSearch`] for what it finds).
    pub async fn search(&self, search: ProductSearch) -> Result<Vec<Product>, ProductError> {
        if let Some(products) = self.cache.search(&search).await {
            return Ok(products);
        }
        let epoch = self.cache.epoch().await;
        let products = self.products.search(search.clone()).await?;
        self.cache.put_search(&search, &products, epoch).await;
        Ok(products)
    }

    /// Adds a product for an admin, from what a client sent. Every failing field is reported at
    /// once: those that could not be read, the field rules, and a category that does not exist.
    /// One deleted after that check is still reported on `category_id`: the database's foreign
    /// key decides.
    pub async fn create_product(&self, caller: &Principal, draft: ProductDraft) -> Result<Product, ProductError> {
        Self::admin_only(caller)?;
        // From the draft, not the checked product: an unknown category is reported even beside other failures.
        let category = draft.category_id.filter(|id| *id > 0).map(CategoryId);
        let (mut v, product) = NewProduct::check(draft);
        self.check_category(&mut v, category).await?;
        let product = v.finish_with(product)?;
        let created = self.products.create(NewProductRecord { product, created_at: now() }).await?;
        self.cache.invalidate().await;
        Ok(created)
    }

    /// Applies the changes an admin sent, validated like [`Self::create_product`]'s draft, with
    /// `If-Match` semantics as for categories. A change that would leave a price without a
    /// currency is refused on `currency`.
    pub async fn update_product(
        &self,
        caller: &Principal,
        id: ProductId,
        patch: ProductPatch,
        if_match: Option<i64>,
    ) -> Result<Product, ProductError> {
        Self::admin_only(caller)?;
        let category = patch.category_id.flatten().filter(|id| *id > 0).map(CategoryId);
        let (mut v, changes) = ProductChanges::check(patch);
        self.check_category(&mut v, category).await?;
        v.finish()?;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.products.find(id).await?.ok_or(ProductError::NotFound(Resource::Product))?;
            check_version(if_match, current.version)?;
            let mut updated = current.clone();
            changes.apply(&mut updated, now())?;
            if self.products.update(updated.clone(), current.version).await? {
                self.cache.invalidate().await;
                return Ok(updated);
            }
        }
        Err(ProductError::Contention)
    }

    /// Deletes a product nobody owns; an owned one is `ProductInUse` (discontinue it instead).
    pub async fn delete_product(
        &self,
        caller: &Principal,
        id: ProductId,
        if_match: Option<i64>,
    ) -> Result<(), ProductError> {
        Self::admin_only(caller)?;
        match self.products.delete(id, if_match).await? {
            Removal::Removed => {
                self.cache.invalidate().await;
                Ok(())
            }
            Removal::InUse => Err(ProductError::ProductInUse),
            Removal::NotRemoved => {
                let current = self.products.find(id).await?.map(|p| p.version);
                Err(not_removed(Resource::Product, current, if_match))
            }
        }
    }

    /// Records a failure on `category_id` unless `id` (when there is one) names a category.
    async fn check_category(&self, v: &mut Validator, id: Option<CategoryId>) -> Result<(), ProductError> {
        let Some(id) = id else { return Ok(()) };
        if self.categories.find(id).await?.is_none() {
            v.fail("category_id", reference_message("category_id"));
        }
        Ok(())
    }
}

/// `VersionMismatch` when the client named a version that is not the current one.
pub(crate) fn check_version(if_match: Option<i64>, current: i64) -> Result<(), ProductError> {
    match if_match {
        Some(expected) if expected != current => Err(ProductError::VersionMismatch { expected, current }),
        _ => Ok(()),
    }
}

/// Why a delete removed nothing, given the version found afterwards (`None`: gone).
pub(crate) fn not_removed(what: Resource, current: Option<i64>, if_match: Option<i64>) -> ProductError {
    match (current, if_match) {
        (Some(current), Some(expected)) => ProductError::VersionMismatch { expected, current },
        _ => ProductError::NotFound(what),
    }
}

#[cfg(test)]
mod tests {
    use mockall::predicate::eq;
    use workbench_core::RepositoryError;
    use workbench_users::{Role, User};

    use super::*;
    use crate::{
        CatalogueEpoch, MockCatalogueCache, MockCategoryRepository, MockProductRepository, ProductStatus,
        Specifications,
    };
    use workbench_core::TypeFailures;

    fn caller(role: Role) -> Principal {
        Principal::from(&User { role, ..User::sample(1) })
    }

    fn admin() -> Principal {
        caller(Role::Admin)
    }

    fn category(id: i64, version: i64) -> Category {
        Category { id: CategoryId(id), name: "Audio".into(), slug: "audio".into(), description: None, version }
    }

    fn product(id: i64, version: i64) -> Product {
        let at = now();
        Product {
            id: ProductId(id),
            name: "Headphones".into(),
            category_id: CategoryId(1),
            brand: "Sony".into(),
            model: None,
            description: None,
            price_cents: Some(100),
            currency: Some(crate::Currency::parse("EUR").unwrap()),
            warranty_months: 24,
            warranty_conditions: None,
            manufacturer_website: None,
            specifications: Specifications::default(),
            status: ProductStatus::Active,
            version,
            created_at: at,
            updated_at: at,
        }
    }

    fn draft() -> ProductDraft {
        ProductDraft {
            name: Some("Headphones".into()),
            category_id: Some(1),
            brand: Some("Sony".into()),
            warranty_months: Some(24),
            ..ProductDraft::default()
        }
    }

    /// A cache that misses, stands at epoch 7, and counts invalidations.
    fn empty_cache(invalidations: usize) -> MockCatalogueCache {
        let mut cache = MockCatalogueCache::new();
        cache.expect_epoch().returning(|| CatalogueEpoch(7));
        cache.expect_categories().returning(|| None);
        cache.expect_product().returning(|_| None);
        cache.expect_search().returning(|_| None);
        cache.expect_put_categories().returning(|_, _| ());
        cache.expect_put_product().returning(|_, _| ());
        cache.expect_put_search().returning(|_, _, _| ());
        cache.expect_invalidate().times(invalidations).returning(|| ());
        cache
    }

    fn service(
        categories: MockCategoryRepository,
        products: MockProductRepository,
        cache: MockCatalogueCache,
    ) -> CatalogueService {
        CatalogueService::new(Arc::new(categories), Arc::new(products), Arc::new(cache))
    }

    #[tokio::test]
    async fn only_admins_write_and_they_learn_so_before_any_validation() {
        let svc = service(MockCategoryRepository::new(), MockProductRepository::new(), empty_cache(0));
        for role in [Role::User, Role::Moderator] {
            let who = caller(role);
            let forbidden =
                |r: Result<(), ProductError>| assert!(matches!(r, Err(ProductError::Forbidden(_))), "{r:?}");
            forbidden(svc.create_category(&who, CategoryDraft::default()).await.map(drop));
            forbidden(svc.update_category(&who, CategoryId(1), CategoryPatch::default(), None).await.map(drop));
            forbidden(svc.create_product(&who, ProductDraft::default()).await.map(drop));
            forbidden(svc.create_product(&who, draft()).await.map(drop));
            forbidden(svc.update_product(&who, ProductId(1), ProductPatch::default(), None).await.map(drop));
            forbidden(svc.delete_product(&who, ProductId(1), None).await);
            forbidden(svc.delete_category(&who, CategoryId(1), None).await);
        }
        let super_admin = caller(Role::SuperAdmin);
        let validated = svc.create_category(&super_admin, CategoryDraft::default()).await;
        assert!(matches!(validated, Err(ProductError::Validation(_))), "{validated:?}");
    }

    #[tokio::test]
    async fn the_category_list_is_read_through_the_cache_with_the_epoch_taken_before_the_read() {
        let mut seq = mockall::Sequence::new();
        let mut cache = MockCatalogueCache::new();
        cache.expect_categories().times(1).in_sequence(&mut seq).returning(|| None);
        cache.expect_epoch().times(1).in_sequence(&mut seq).returning(|| CatalogueEpoch(3));
        let mut categories = MockCategoryRepository::new();
        categories.expect_list().times(1).in_sequence(&mut seq).returning(|| Ok(vec![category(1, 1)]));
        cache
            .expect_put_categories()
            .withf(|c, epoch| c.len() == 1 && *epoch == CatalogueEpoch(3))
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| ());
        let svc = service(categories, MockProductRepository::new(), cache);
        assert_eq!(svc.categories().await.unwrap(), [category(1, 1)]);

        let mut cache = MockCatalogueCache::new();
        cache.expect_categories().returning(|| Some(vec![category(2, 1)]));
        let mut categories = MockCategoryRepository::new();
        categories.expect_list().never();
        let svc = service(categories, MockProductRepository::new(), cache);
        assert_eq!(svc.categories().await.unwrap()[0].id, CategoryId(2), "a hit costs no query");
    }

    #[tokio::test]
    async fn products_and_searches_are_read_through_the_cache() {
        let mut products = MockProductRepository::new();
        products.expect_find().with(eq(ProductId(5))).times(1).returning(|_| Ok(Some(product(5, 1))));
        products.expect_find().with(eq(ProductId(6))).times(1).returning(|_| Ok(None));
        products.expect_search().times(1).returning(|_| Ok(vec![product(5, 1)]));
        let mut cache = MockCatalogueCache::new();
        cache.expect_epoch().returning(|| CatalogueEpoch(7));
        cache.expect_product().returning(|_| None);
        cache.expect_search().returning(|_| None);
        cache
            .expect_put_product()
            .withf(|p, e| p.id == ProductId(5) && *e == CatalogueEpoch(7))
            .times(1)
            .returning(|_, _| ());
        cache.expect_put_search().withf(|s, p, _| s.limit() == 10 && p.len() == 1).times(1).returning(|_, _, _| ());
        let svc = service(MockCategoryRepository::new(), products, cache);
        assert_eq!(svc.product(ProductId(5)).await.unwrap().id, ProductId(5));
        assert!(matches!(svc.product(ProductId(6)).await, Err(ProductError::NotFound(Resource::Product))));
        svc.search(ProductSearch::parse(Some("so".into()), None).unwrap()).await.unwrap();
    }

    #[tokio::test]
    async fn an_unknown_category_is_reported_with_every_other_field() {
        let mut categories = MockCategoryRepository::new();
        // Once per write: the check that reports it is the only lookup.
        categories.expect_find().with(eq(CategoryId(9))).times(2).returning(|_| Ok(None));
        let mut products = MockProductRepository::new();
        products.expect_create().never();
        products.expect_find().never();
        let svc = service(categories, products, empty_cache(0));
        let mut type_failures = TypeFailures::default();
        type_failures.record("status", "unknown variant `sold`");
        let bad = ProductDraft { category_id: Some(9), brand: None, type_failures, ..draft() };
        match svc.create_product(&admin(), bad).await {
            Err(ProductError::Validation(e)) => {
                let fields: Vec<_> = e.as_slice().iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["status", "brand", "category_id"], "{e}");
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
        let patch = ProductPatch { category_id: Some(Some(9)), ..Default::default() };
        let e = svc.update_product(&admin(), ProductId(1), patch, None).await;
        assert!(matches!(e, Err(ProductError::Validation(e)) if e.contains("category_id")));
    }

    #[tokio::test]
    async fn a_category_deleted_meanwhile_is_still_a_field_error() {
        let mut categories = MockCategoryRepository::new();
        categories.expect_find().times(1).returning(|id| Ok(Some(category(id.0, 1))));
        let mut products = MockProductRepository::new();
        products.expect_create().returning(|_| Err(RepositoryError::MissingReference { field: "category_id" }));
        let svc = service(categories, products, empty_cache(0));
        let err = svc.create_product(&admin(), draft()).await;
        assert!(matches!(err, Err(ProductError::Validation(e)) if e.contains("category_id")));
    }

    #[tokio::test]
    async fn successful_writes_invalidate_the_cache_and_conflicts_do_not() {
        let mut categories = MockCategoryRepository::new();
        categories.expect_create().times(1).returning(|new| {
            Ok(Category {
                id: CategoryId(1),
                name: new.name.into_inner(),
                slug: new.slug.into_inner(),
                description: None,
                version: 1,
            })
        });
        categories.expect_create().times(1).returning(|_| Err(RepositoryError::Conflict { field: "slug" }));
        let svc = service(categories, MockProductRepository::new(), empty_cache(1));
        let new = || CategoryDraft { name: Some("Audio".into()), ..Default::default() };
        assert_eq!(svc.create_category(&admin(), new()).await.unwrap().slug, "audio");
        let err = svc.create_category(&admin(), new()).await;
        assert!(matches!(err, Err(ProductError::Conflict { field: "slug" })));
    }

    #[tokio::test]
    async fn a_stale_if_match_is_refused_without_writing() {
        let mut products = MockProductRepository::new();
        products.expect_find().returning(|_| Ok(Some(product(1, 3))));
        products.expect_update().never();
        let svc = service(MockCategoryRepository::new(), products, empty_cache(0));
        let err = svc.update_product(&admin(), ProductId(1), ProductPatch::default(), Some(2)).await;
        assert!(matches!(err, Err(ProductError::VersionMismatch { expected: 2, current: 3 })));
    }

    #[tokio::test]
    async fn losing_a_race_is_a_retry_without_if_match_and_a_mismatch_with_it() {
        let mut products = MockProductRepository::new();
        let mut reads = 0;
        products.expect_find().returning(move |_| {
            reads += 1;
            Ok(Some(product(1, if reads == 1 { 3 } else { 4 })))
        });
        let mut seq = mockall::Sequence::new();
        products
            .expect_update()
            .withf(|p, v| *v == 3 && p.version == 4)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(false));
        products
            .expect_update()
            .withf(|p, v| *v == 4 && p.version == 5)
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(true));
        let svc = service(MockCategoryRepository::new(), products, empty_cache(1));
        let changes = ProductPatch { brand: Some(Some("SONY".into())), ..Default::default() };
        let updated = svc.update_product(&admin(), ProductId(1), changes.clone(), None).await.unwrap();
        assert_eq!((updated.version, updated.brand.as_str()), (5, "SONY"));

        let mut products = MockProductRepository::new();
        let mut reads = 0;
        products.expect_find().returning(move |_| {
            reads += 1;
            Ok(Some(product(1, if reads == 1 { 3 } else { 4 })))
        });
        products.expect_update().times(1).returning(|_, _| Ok(false));
        let svc = service(MockCategoryRepository::new(), products, empty_cache(0));
        let err = svc.update_product(&admin(), ProductId(1), changes, Some(3)).await;
        assert!(matches!(err, Err(ProductError::VersionMismatch { expected: 3, current: 4 })), "{err:?}");
    }

    #[tokio::test]
    async fn a_price_left_without_currency_is_refused_before_writing() {
        let mut products = MockProductRepository::new();
        products.expect_find().returning(|_| Ok(Some(product(1, 1))));
        products.expect_update().never();
        let svc = service(MockCategoryRepository::new(), products, empty_cache(0));
        let changes = ProductPatch { currency: Some(None), ..Default::default() };
        let err = svc.update_product(&admin(), ProductId(1), changes, None).await;
        assert!(matches!(err, Err(ProductError::Validation(e)) if e.contains("currency")));
    }

    #[tokio::test]
    async fn deletes_blocked_by_dependants_are_their_own_errors() {
        let mut categories = MockCategoryRepository::new();
        categories.expect_delete().returning(|_, _| Ok(Removal::InUse));
        let mut products = MockProductRepository::new();
        products.expect_delete().returning(|_, _| Ok(Removal::InUse));
        let svc = service(categories, products, empty_cache(0));
        assert!(matches!(svc.delete_category(&admin(), CategoryId(1), None).await, Err(ProductError::CategoryInUse)));
        assert!(matches!(svc.delete_product(&admin(), ProductId(1), None).await, Err(ProductError::ProductInUse)));
    }

    #[tokio::test]
    async fn a_delete_that_removed_nothing_says_why() {
        let mut categories = MockCategoryRepository::new();
        categories.expect_delete().returning(|_, _| Ok(Removal::NotRemoved));
        categories.expect_find().with(eq(CategoryId(1))).returning(|_| Ok(Some(category(1, 4))));
        categories.expect_find().with(eq(CategoryId(2))).returning(|_| Ok(None));
        let svc = service(categories, MockProductRepository::new(), empty_cache(0));
        let stale = svc.delete_category(&admin(), CategoryId(1), Some(3)).await;
        assert!(matches!(stale, Err(ProductError::VersionMismatch { expected: 3, current: 4 })), "{stale:?}");
        let gone = svc.delete_category(&admin(), CategoryId(2), None).await;
        assert!(matches!(gone, Err(ProductError::NotFound(Resource::Category))));
    }

    #[tokio::test]
    async fn category_updates_keep_the_slug_and_invalidate() {
        let mut categories = MockCategoryRepository::new();
        categories.expect_find().returning(|_| Ok(Some(category(1, 1))));
        categories
            .expect_update()
            .withf(|c, v| *v == 1 && c.version == 2 && c.slug == "audio")
            .returning(|_, _| Ok(true));
        let svc = service(categories, MockProductRepository::new(), empty_cache(1));
        let changes = CategoryPatch { name: Some(Some("Hi-Fi".into())), ..Default::default() };
        let updated = svc.update_category(&admin(), CategoryId(1), changes, Some(1)).await.unwrap();
        assert_eq!((updated.name.as_str(), updated.slug.as_str()), ("Hi-Fi", "audio"));
    }
}
