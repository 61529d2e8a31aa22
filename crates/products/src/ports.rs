//! What the products domain needs from the outside world. Each method's doc says what an adapter
//! MUST do; every adapter is tested against that contract (`crates/store/tests/store/products.rs`).

use async_trait::async_trait;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::{
    Category, CategoryId, NewCategory, NewProductRecord, NewUserProductRecord, Product, ProductFilter, ProductId,
    ProductSearch, UserProduct, UserProductFilter, UserProductId, WarrantyWindow,
};

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// The row was deleted.
    Removed,
    /// No such row, or not at the expected version: nothing was deleted.
    NotRemoved,
    /// Other rows still refer to it (the database's foreign key refused): nothing was deleted.
    InUse,
}

/// Where categories live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CategoryRepository: Send + Sync {
    /// Stores a new category at version 1. MUST return `Conflict { field: "slug" }` when the
    /// slug is taken, decided by a unique index so that concurrent creations cannot both win.
    async fn create(&self, category: NewCategory) -> Result<Category, RepositoryError>;

    /// Every category, by name then id.
    async fn list(&self) -> Result<Vec<Category>, RepositoryError>;

    /// The category `id`, if it exists.
    async fn find(&self, id: CategoryId) -> Result<Option<Category>, RepositoryError>;

    /// Stores `category` (already changed, its version already bumped) only if the stored
    /// version is still `expected_version`; returns whether it did. MUST change nothing when the
    /// version moved on, and return `Conflict { field: "slug" }` when the new slug is taken.
    async fn update(&self, category: Category, expected_version: i64) -> Result<bool, RepositoryError>;

    /// Deletes the category if it exists and, when `expected_version` is given, is still at
    /// that version. MUST return [`Removal::InUse`] (deleting nothing) while any product is in
    /// it, decided by the database's foreign key in the same statement, so that a product
    /// created concurrently cannot be left without its category.
    async fn delete(&self, id: CategoryId, expected_version: Option<i64>) -> Result<Removal, RepositoryError>;
}

/// Where the catalogue's products live.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ProductRepository: Send + Sync {
    /// Stores a new product at version 1 with `updated_at = created_at`, its specifications
    /// exactly as given (key order, nesting, any Unicode). MUST return
    /// `MissingReference { field: "category_id" }` when the category does not exist.
    async fn create(&self, product: NewProductRecord) -> Result<Product, RepositoryError>;

    /// The product `id`, if it exists.
    async fn find(&self, id: ProductId) -> Result<Option<Product>, RepositoryError>;

    /// One page of the products matching `filter`, by name (without regard to case, in every
    /// script) then id, and the total matching. `brand` and `text` compare case-insensitively
    /// for non-ASCII letters too (`ÉCRAN` finds `écran`) on every engine.
    async fn list(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>, RepositoryError>;

    /// At most `search.limit()` active products whose name, brand or model contains
    /// `search.text()` without regard to case (any active product when it is empty): those
    /// whose name starts with it first, then by name, then id.
    async fn search(&self, search: ProductSearch) -> Result<Vec<Product>, RepositoryError>;

    /// Stores `product` (already changed, its version already bumped) only if the stored
    /// version is still `expected_version`; returns whether it did. MUST change nothing when the
    /// version moved on, and return `MissingReference { field: "category_id" }` when the new
    /// category does not exist.
    async fn update(&self, product: Product, expected_version: i64) -> Result<bool, RepositoryError>;

    /// Deletes the product if it exists and, when `expected_version` is given, is still at that
    /// version. MUST return [`Removal::InUse`] (deleting nothing) while any user owns it,
    /// decided by the database's foreign key.
    async fn delete(&self, id: ProductId, expected_version: Option<i64>) -> Result<Removal, RepositoryError>;
}

/// Where users' collections live. Every method is scoped to one owner: an item of another user
/// MUST behave exactly as a missing one.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserProductRepository: Send + Sync {
    /// Stores a new item at version 1 with `updated_at = created_at` and returns it with its
    /// product summary. MUST return `Conflict { field: "serial_number" }` when the owner already
    /// has this product with this serial (a unique index decides, so that of concurrent
    /// creations exactly one wins), and `MissingReference { field: "product_id" }` when the
    /// product does not exist.
    async fn create(&self, item: NewUserProductRecord) -> Result<UserProduct, RepositoryError>;

    /// The owner's item `id`, with its product summary and how many files are attached.
    async fn find(&self, owner: UserId, id: UserProductId) -> Result<Option<UserProduct>, RepositoryError>;

    /// One page of the owner's items with any of `filter.statuses` (all when empty), newest
    /// first (creation time, then id), and the total matching.
    async fn list(
        &self,
        owner: UserId,
        filter: UserProductFilter,
        page: PageRequest,
    ) -> Result<Page<UserProduct>, RepositoryError>;

    /// Stores `item` (already changed, its version already bumped; its `product.id` names the
    /// product, the rest of its summary is ignored) only if it belongs to `item.user_id` and is
    /// still at `expected_version`. Returns the stored item read back (with the summary of its
    /// product), or `None` when nothing was changed. MUST return the same errors as
    /// [`Self::create`] for the serial and the product.
    async fn update(&self, item: UserProduct, expected_version: i64) -> Result<Option<UserProduct>, RepositoryError>;

    /// Deletes the owner's item if it exists and, when `expected_version` is given, is still at
    /// that version. MUST return [`Removal::InUse`] (deleting nothing) while files are
    /// attached to it.
    async fn delete(
        &self,
        owner: UserId,
        id: UserProductId,
        expected_version: Option<i64>,
    ) -> Result<Removal, RepositoryError>;

    /// The owner's items that are still theirs (status `active` or `broken`) and whose warranty
    /// ends within `window` (see [`WarrantyWindow::contains`]), soonest expiry first (latest
    /// first when `window.latest_first`), then by id. Items without an expiry date are left out.
    async fn warranties(&self, owner: UserId, window: WarrantyWindow) -> Result<Vec<UserProduct>, RepositoryError>;
}

/// A point in a [`CatalogueCache`]'s history of invalidations, taken before reading from the
/// repositories so that a value read before an invalidation is never cached after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CatalogueEpoch(pub u64);

/// A read-through cache of the public catalogue: the category list, products by id, and quick
/// search answers. It never holds anyone's collection.
///
/// Implementations MUST NOT fail: an unreachable cache behaves as an empty one (and logs), so
/// that an outage degrades to reading the database instead of failing requests.
///
/// Every admin write of a category or product invalidates the whole catalogue: such writes are
/// rare, and one product's change reaches the search answers and (through its category) the
/// category list, so finer invalidation would buy little and risk missing a dependant. A read
/// that fills the cache races with writes: its value may have been read just before a write
/// that invalidated the cache, and arrive just after. So a put names the epoch taken before the
/// read, and MUST store nothing when any invalidation happened since (on any instance sharing
/// the cache, as far as the adapter can tell: when it cannot vouch that it saw them all, it
/// stores nothing).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CatalogueCache: Send + Sync {
    /// Where the invalidation history stands now.
    async fn epoch(&self) -> CatalogueEpoch;

    /// The cached category list.
    async fn categories(&self) -> Option<Vec<Category>>;

    /// Caches the category list, read after `read_since` was taken (see the trait's rule).
    async fn put_categories(&self, categories: &[Category], read_since: CatalogueEpoch);

    /// The cached product `id`, if any.
    async fn product(&self, id: ProductId) -> Option<Product>;

    /// Caches a product, read after `read_since` was taken (see the trait's rule).
    async fn put_product(&self, product: &Product, read_since: CatalogueEpoch);

    /// The cached answer to a quick search (keyed by [`ProductSearch::key`]).
    async fn search(&self, search: &ProductSearch) -> Option<Vec<Product>>;

    /// Caches a quick search's answer, read after `read_since` was taken (see the trait's rule).
    async fn put_search(&self, search: &ProductSearch, products: &[Product], read_since: CatalogueEpoch);

    /// Forgets everything cached, on this instance before returning and on every other one
    /// sharing the cache as soon as it can, and moves the epoch on.
    async fn invalidate(&self);
}
