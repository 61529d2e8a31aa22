//! The public catalogue (cached) and each user's own products.

use std::sync::Arc;

use workbench_products::{CatalogueCache, CatalogueService, CollectionService};
use workbench_store::{Database, DieselCategoryRepository, DieselProductRepository, DieselUserProductRepository};

pub fn services(db: &Database, cache: Arc<dyn CatalogueCache>) -> (CatalogueService, CollectionService) {
    let catalogue = CatalogueService::new(
        Arc::new(DieselCategoryRepository::new(db.clone())),
        Arc::new(DieselProductRepository::new(db.clone())),
        cache,
    );
    let collection = CollectionService::new(Arc::new(DieselUserProductRepository::new(db.clone())), catalogue.clone());
    (catalogue, collection)
}
