//! The products domain of Workbench.
//!
//! The public catalogue — [`Category`] and [`Product`], read by anyone and changed by admins —
//! and each user's private collection of [`UserProduct`]s with their serials, purchases and
//! warranties. The rules: validated fields reported all at once, slugs, ISO 4217 currencies,
//! specifications that are JSON objects, warranty arithmetic that clamps month ends
//! ([`warranty_expiry`]), the warranty overview ([`WarrantyQuery`]), versions for optimistic
//! concurrency. The ports: [`CategoryRepository`], [`ProductRepository`],
//! [`UserProductRepository`] and the read-through [`CatalogueCache`]. [`CatalogueService`] and
//! [`CollectionService`] tie them together; [`demo`] holds seed data for a newcomer.

#![warn(missing_docs)]

mod catalogue;
mod category;
mod collection;
pub mod demo;
mod error;
mod fields;
mod filter;
mod ports;
mod product;
mod user_product;
mod warranty;

pub use catalogue::CatalogueService;
pub use category::{
    Category, CategoryChanges, CategoryDraft, CategoryId, CategoryName, CategoryPatch, MAX_CATEGORY_DESCRIPTION_CHARS,
    NewCategory, Slug,
};
pub use collection::CollectionService;
pub use error::{ProductError, Resource};
pub use filter::{ProductFilter, ProductSearch, RawProductFilter, UserProductFilter};
pub use ports::{
    CatalogueCache, CatalogueEpoch, CategoryRepository, ProductRepository, Removal, UserProductRepository,
};
pub use product::{
    Brand, Currency, MAX_MODEL_CHARS, MAX_PRODUCT_DESCRIPTION_CHARS, MAX_WARRANTY_CONDITIONS_CHARS,
    MAX_WARRANTY_MONTHS, NewProduct, NewProductRecord, Product, ProductChanges, ProductDraft, ProductId, ProductName,
    ProductPatch, ProductStatus, Specifications, Website, parse_warranty_months,
};
pub use user_product::{
    MAX_NOTES_CHARS, NewUserProduct, NewUserProductRecord, ProductSummary, SerialNumber, UserProduct,
    UserProductChanges, UserProductDraft, UserProductId, UserProductPatch, UserProductStatus,
};
pub use warranty::{WarrantyFilter, WarrantyQuery, WarrantyWindow, is_under_warranty, today, warranty_expiry};

#[cfg(feature = "mock")]
pub use ports::{MockCatalogueCache, MockCategoryRepository, MockProductRepository, MockUserProductRepository};
