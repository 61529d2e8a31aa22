//! The catalogue and collection adapters, run against SQLite always and PostgreSQL when it is
//! reachable (and always under `CI=true`): each case is written once and [`engine_cases!`] holds
//! both engines to the port contract (`crates/products/src/ports.rs`).

use std::sync::Arc;

use chrono::{NaiveDate, TimeDelta};
use serde_json::json;
use workbench_core::{PageRequest, RepositoryError};
use workbench_products::{
    Brand, Category, CategoryId, CategoryName, CategoryRepository, Currency, NewCategory, NewProduct, NewProductRecord,
    NewUserProductRecord, Product, ProductFilter, ProductId, ProductName, ProductRepository, ProductSearch,
    ProductStatus, RawProductFilter, Removal, Slug, Specifications, UserProduct, UserProductFilter, UserProductId,
    UserProductRepository, UserProductStatus, WarrantyFilter, WarrantyQuery, Website,
};
use workbench_store::testing::{instant, user};
use workbench_store::{
    Database, DieselCategoryRepository, DieselProductRepository, DieselUserProductRepository, engine_cases,
};
use workbench_users::UserId;

engine_cases!(
    categories_create_list_find,
    category_slug_and_name_conflicts,
    category_update_and_delete_follow_versions,
    category_delete_is_blocked_by_its_products,
    product_round_trips_every_field_and_specifications,
    product_with_unknown_category_is_a_missing_reference,
    product_filters,
    product_text_and_brand_match_case_insensitively_in_every_script,
    product_text_wildcards_are_literal,
    product_pagination_totals,
    quick_search_limit_prefix_first_active_only,
    product_update_follows_versions,
    product_delete_is_blocked_by_owners,
    user_product_round_trip_with_summary,
    user_products_are_scoped_to_their_owner,
    serials_are_unique_per_owner_and_product,
    concurrent_creations_with_one_serial_exactly_one_wins,
    user_product_with_unknown_product_is_a_missing_reference,
    user_product_list_filters_newest_first_with_totals,
    user_product_update_follows_versions,
    warranty_windows,
);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn categories(db: &Database) -> DieselCategoryRepository {
    DieselCategoryRepository::new(db.clone())
}

fn products(db: &Database) -> DieselProductRepository {
    DieselProductRepository::new(db.clone())
}

fn items(db: &Database) -> DieselUserProductRepository {
    DieselUserProductRepository::new(db.clone())
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn new_category(name: &str, slug: &str) -> NewCategory {
    NewCategory { name: CategoryName::parse(name).unwrap(), slug: Slug::parse(slug).unwrap(), description: None }
}

async fn category(db: &Database, name: &str, slug: &str) -> Category {
    categories(db).create(new_category(name, slug)).await.expect("the category is created")
}

/// An active product with a 24-month warranty and nothing optional.
fn draft(category: CategoryId, name: &str, brand: &str) -> NewProduct {
    NewProduct {
        name: ProductName::parse(name).unwrap(),
        category_id: category,
        brand: Brand::parse(brand).unwrap(),
        model: None,
        description: None,
        price_cents: None,
        currency: None,
        warranty_months: 24,
        warranty_conditions: None,
        manufacturer_website: None,
        specifications: Specifications::default(),
        status: ProductStatus::Active,
    }
}

async fn create_product(db: &Database, product: NewProduct) -> Product {
    products(db).create(NewProductRecord { product, created_at: instant() }).await.expect("the product is created")
}

async fn product(db: &Database, category: CategoryId, name: &str, brand: &str) -> Product {
    create_product(db, draft(category, name, brand)).await
}

fn record(owner: UserId, product: ProductId, serial: Option<&str>) -> NewUserProductRecord {
    NewUserProductRecord {
        user_id: owner,
        product_id: product,
        serial_number: serial.map(str::to_owned),
        purchase_date: None,
        purchase_price_cents: None,
        warranty_expires: None,
        status: UserProductStatus::Active,
        notes: None,
        created_at: instant(),
    }
}

async fn own(db: &Database, record: NewUserProductRecord) -> UserProduct {
    items(db).create(record).await.expect("the item is created")
}

fn filter(raw: RawProductFilter) -> ProductFilter {
    ProductFilter::parse(raw).expect("a valid filter")
}

fn page(n: u64, per_page: u64) -> PageRequest {
    PageRequest::new(Some(n), Some(per_page)).unwrap()
}

async fn names(db: &Database, raw: RawProductFilter) -> Vec<String> {
    let page = products(db).list(filter(raw), page(1, 100)).await.unwrap();
    assert_eq!(page.total, page.items.len() as u64);
    page.items.into_iter().map(|p| p.name).collect()
}

fn search(q: &str, limit: u64) -> ProductSearch {
    ProductSearch::parse(Some(q.to_owned()), Some(limit)).unwrap()
}

async fn found(db: &Database, q: &str, limit: u64) -> Vec<String> {
    products(db).search(search(q, limit)).await.unwrap().into_iter().map(|p| p.name).collect()
}

// ---------------------------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------------------------

async fn categories_create_list_find(db: Database) {
    let repo = categories(&db);
    let created = repo
        .create(NewCategory { description: Some("Things that\nmake noise".into()), ..new_category("Audio", "audio") })
        .await
        .unwrap();
    assert_eq!(
        (created.name.as_str(), created.slug.as_str(), created.description.as_deref(), created.version),
        ("Audio", "audio", Some("Things that\nmake noise"), 1)
    );
    category(&db, "éclairage", "eclairage").await;
    category(&db, "kitchen", "kitchen").await;
    category(&db, "Zebra", "zebra").await;
    category(&db, "appliances", "appliances").await;
    let listed: Vec<String> = repo.list().await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(listed, ["appliances", "Audio", "kitchen", "Zebra", "éclairage"], "by name, without regard to case");
    assert_eq!(repo.find(created.id).await.unwrap(), Some(created));
    assert_eq!(repo.find(CategoryId(999_999)).await.unwrap(), None);
}

async fn category_slug_and_name_conflicts(db: Database) {
    let repo = categories(&db);
    category(&db, "Audio", "audio").await;
    let video = category(&db, "Video", "video").await;
    let slug = repo.create(new_category("Sound", "audio")).await;
    assert!(matches!(slug, Err(RepositoryError::Conflict { field: "slug" })), "{slug:?}");
    let name = repo.create(new_category("Audio", "sound")).await;
    assert!(matches!(name, Err(RepositoryError::Conflict { field: "name" })), "{name:?}");
    let taken = Category { slug: "audio".into(), version: 2, ..video.clone() };
    let update = repo.update(taken, 1).await;
    assert!(matches!(update, Err(RepositoryError::Conflict { field: "slug" })), "{update:?}");
    assert_eq!(repo.find(video.id).await.unwrap(), Some(video));
    assert_eq!(repo.list().await.unwrap().len(), 2);
}

async fn category_update_and_delete_follow_versions(db: Database) {
    let repo = categories(&db);
    let audio = category(&db, "Audio", "audio").await;
    let changed = Category {
        name: "Hi-Fi".into(),
        slug: "hi-fi".into(),
        description: Some("d".into()),
        version: 2,
        ..audio.clone()
    };
    assert!(repo.update(changed.clone(), 1).await.unwrap());
    assert_eq!(repo.find(audio.id).await.unwrap(), Some(changed.clone()));
    let stale = Category { name: "Stale".into(), version: 2, ..audio.clone() };
    assert!(!repo.update(stale, 1).await.unwrap(), "the version moved on");
    assert_eq!(repo.find(audio.id).await.unwrap(), Some(changed.clone()));
    let cleared = Category { description: None, version: 3, ..changed };
    assert!(repo.update(cleared.clone(), 2).await.unwrap());
    assert_eq!(repo.find(audio.id).await.unwrap(), Some(cleared));

    assert_eq!(repo.delete(audio.id, Some(2)).await.unwrap(), Removal::NotRemoved);
    assert_eq!(repo.delete(audio.id, Some(3)).await.unwrap(), Removal::Removed);
    assert_eq!(repo.find(audio.id).await.unwrap(), None);
    assert_eq!(repo.delete(audio.id, None).await.unwrap(), Removal::NotRemoved);
    let video = category(&db, "Video", "video").await;
    assert_eq!(repo.delete(video.id, None).await.unwrap(), Removal::Removed);
}

async fn category_delete_is_blocked_by_its_products(db: Database) {
    let repo = categories(&db);
    let audio = category(&db, "Audio", "audio").await;
    let headphones = product(&db, audio.id, "Headphones", "Sony").await;
    assert_eq!(repo.delete(audio.id, None).await.unwrap(), Removal::InUse);
    assert_eq!(repo.delete(audio.id, Some(1)).await.unwrap(), Removal::InUse);
    assert!(repo.find(audio.id).await.unwrap().is_some(), "nothing was deleted");
    assert_eq!(products(&db).delete(headphones.id, None).await.unwrap(), Removal::Removed);
    assert_eq!(repo.delete(audio.id, Some(1)).await.unwrap(), Removal::Removed);
}

// ---------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------

async fn product_round_trips_every_field_and_specifications(db: Database) {
    let audio = category(&db, "Audio", "audio").await;
    let specifications = Specifications::parse(json!({
        "zeta": 1,
        "alpha": {"nested": [1, 2.5, null, true, "ü"], "empty": {}},
        "名前": "ヘッドホン 🎧",
        "big": 9_007_199_254_740_993_i64,
        "quote\"key": "line\nbreak",
    }))
    .unwrap();
    // Nanoseconds in: microseconds stored, on both engines.
    let created_at = instant() + TimeDelta::nanoseconds(789);
    let new = NewProduct {
        model: Some("WH-1000XM5".into()),
        description: Some("Noise cancelling.\n\n  Indented.".into()),
        price_cents: Some(39_900),
        currency: Some(Currency::parse("EUR").unwrap()),
        warranty_months: 600,
        warranty_conditions: Some("Keep the receipt.".into()),
        manufacturer_website: Some(Website::parse("https://example.com/wh?x=1&y=é").unwrap()),
        specifications: specifications.clone(),
        status: ProductStatus::Discontinued,
        ..draft(audio.id, "Wireless Headphones", "Sony")
    };
    let repo = products(&db);
    let created = repo.create(NewProductRecord { product: new, created_at }).await.unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.created_at, instant(), "truncated to microseconds");
    assert_eq!(created.updated_at, created.created_at);
    assert_eq!(created.specifications, specifications);
    let keys: Vec<&str> = created.specifications.as_map().keys().map(String::as_str).collect();
    assert_eq!(keys, ["zeta", "alpha", "名前", "big", "quote\"key"], "key order kept");
    assert_eq!(created.specifications.to_json(), specifications.to_json(), "byte for byte");
    assert_eq!(
        (
            created.name.as_str(),
            created.category_id,
            created.brand.as_str(),
            created.model.as_deref(),
            created.price_cents,
            created.currency.map(Currency::code),
            created.warranty_months,
            created.manufacturer_website.as_deref(),
            created.status,
        ),
        (
            "Wireless Headphones",
            audio.id,
            "Sony",
            Some("WH-1000XM5"),
            Some(39_900),
            Some("EUR"),
            600,
            Some("https://example.com/wh?x=1&y=é"),
            ProductStatus::Discontinued,
        )
    );
    assert_eq!(created.description.as_deref(), Some("Noise cancelling.\n\n  Indented."));
    assert_eq!(created.warranty_conditions.as_deref(), Some("Keep the receipt."));
    assert_eq!(repo.find(created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(repo.find(ProductId(999_999)).await.unwrap(), None);

    let bare = product(&db, audio.id, "Cable", "Generic").await;
    let stored = repo.find(bare.id).await.unwrap().unwrap();
    assert_eq!(stored.specifications.to_json(), "{}");
    assert_eq!((stored.model, stored.price_cents, stored.currency), (None, None, None));
}

async fn product_with_unknown_category_is_a_missing_reference(db: Database) {
    let created = products(&db)
        .create(NewProductRecord { product: draft(CategoryId(999_999), "Orphan", "Nobody"), created_at: instant() })
        .await;
    assert!(matches!(created, Err(RepositoryError::MissingReference { field: "category_id" })), "{created:?}");
}

async fn product_filters(db: Database) {
    let audio = category(&db, "Audio", "audio").await;
    let kitchen = category(&db, "Kitchen", "kitchen").await;
    product(&db, audio.id, "headphones", "Sony").await;
    create_product(&db, NewProduct { model: Some("HT-A5000".into()), ..draft(audio.id, "Soundbar", "SONY") }).await;
    create_product(&db, NewProduct { status: ProductStatus::Discontinued, ..draft(audio.id, "Walkman", "Sony") }).await;
    product(&db, kitchen.id, "Kettle", "Bosch").await;
    product(&db, kitchen.id, "apple corer", "OXO").await;

    assert_eq!(
        names(&db, RawProductFilter::default()).await,
        ["apple corer", "headphones", "Kettle", "Soundbar", "Walkman"],
        "by name without regard to case"
    );
    let category_id = |c: &Category| RawProductFilter { category_id: Some(c.id.0), ..Default::default() };
    assert_eq!(names(&db, category_id(&kitchen)).await, ["apple corer", "Kettle"]);
    assert_eq!(names(&db, RawProductFilter { category_id: Some(999), ..Default::default() }).await, [] as [&str; 0]);
    let brand = |b: &str| RawProductFilter { brand: Some(b.into()), ..Default::default() };
    assert_eq!(names(&db, brand("sony")).await, ["headphones", "Soundbar", "Walkman"]);
    assert_eq!(names(&db, brand("  SoNy ")).await, ["headphones", "Soundbar", "Walkman"]);
    assert_eq!(names(&db, brand("son")).await, [] as [&str; 0], "the brand is equal, not a substring");
    let status = |s: &str| RawProductFilter { status: Some(s.into()), ..Default::default() };
    assert_eq!(names(&db, status("discontinued")).await, ["Walkman"]);
    assert_eq!(names(&db, status("active,discontinued")).await.len(), 5);
    let q = |q: &str| RawProductFilter { q: Some(q.into()), ..Default::default() };
    assert_eq!(names(&db, q("SOUND")).await, ["Soundbar"], "in the name");
    assert_eq!(names(&db, q("bOsCh")).await, ["Kettle"], "in the brand");
    assert_eq!(names(&db, q("a5000")).await, ["Soundbar"], "in the model");
    assert_eq!(names(&db, q("e")).await, ["apple corer", "headphones", "Kettle"]);
    let all = RawProductFilter {
        category_id: Some(audio.id.0),
        brand: Some("sony".into()),
        status: Some("active".into()),
        q: Some("O".into()),
    };
    assert_eq!(names(&db, all).await, ["headphones", "Soundbar"], "every filter at once");
}

async fn product_text_and_brand_match_case_insensitively_in_every_script(db: Database) {
    let c = category(&db, "Misc", "misc").await;
    product(&db, c.id, "écran plat", "Élan").await;
    product(&db, c.id, "Kühlschrank", "Größe").await;
    product(&db, c.id, "ΣΩΚΡΑΤΗΣ", "Ωmega").await;
    product(&db, c.id, "Экран", "Ёлка").await;
    product(&db, c.id, "ecran ascii", "Elan").await;
    let q = |q: &str| RawProductFilter { q: Some(q.into()), ..Default::default() };
    assert_eq!(names(&db, q("ÉCRAN")).await, ["écran plat"]);
    assert_eq!(names(&db, q("KÜHL")).await, ["Kühlschrank"]);
    assert_eq!(names(&db, q("σωκρ")).await, ["ΣΩΚΡΑΤΗΣ"]);
    assert_eq!(names(&db, q("эКРАН")).await, ["Экран"]);
    assert_eq!(names(&db, q("ωMEGA")).await, ["ΣΩΚΡΑΤΗΣ"], "the brand, in Greek");
    let brand = |b: &str| RawProductFilter { brand: Some(b.into()), ..Default::default() };
    assert_eq!(names(&db, brand("élan")).await, ["écran plat"]);
    assert_eq!(names(&db, brand("ÉLAN")).await, ["écran plat"]);
    assert_eq!(names(&db, brand("ёЛКА")).await, ["Экран"]);
    assert_eq!(names(&db, brand("elan")).await, ["ecran ascii"], "accents are not ignored");
    assert_eq!(found(&db, "ÉCR", 10).await, ["écran plat"], "the quick search too");
}

async fn product_text_wildcards_are_literal(db: Database) {
    let c = category(&db, "Misc", "misc").await;
    product(&db, c.id, "100% cotton", "A").await;
    product(&db, c.id, "1000 cotton", "B").await;
    product(&db, c.id, "snake_case", "C").await;
    product(&db, c.id, "snakeXcase", "D").await;
    product(&db, c.id, "back\\slash", "E").await;
    let q = |q: &str| RawProductFilter { q: Some(q.into()), ..Default::default() };
    assert_eq!(names(&db, q("0%")).await, ["100% cotton"]);
    assert_eq!(names(&db, q("e_c")).await, ["snake_case"]);
    assert_eq!(names(&db, q("k\\s")).await, ["back\\slash"]);
    assert_eq!(found(&db, "100%", 10).await, ["100% cotton"]);
}

async fn product_pagination_totals(db: Database) {
    let c = category(&db, "Misc", "misc").await;
    for i in 0..23 {
        product(&db, c.id, &format!("Item {i:02}"), "Brand").await;
    }
    let repo = products(&db);
    let mut seen = Vec::new();
    for n in 1..=3 {
        let p = repo.list(ProductFilter::default(), page(n, 10)).await.unwrap();
        assert_eq!((p.total, p.pages()), (23, 3), "page {n}");
        seen.extend(p.items.into_iter().map(|p| p.name));
    }
    let expected: Vec<String> = (0..23).map(|i| format!("Item {i:02}")).collect();
    assert_eq!(seen, expected, "every product once, in order");
    let past = repo.list(ProductFilter::default(), page(4, 10)).await.unwrap();
    assert_eq!((past.items.len(), past.total), (0, 23), "a page past the end still knows the total");
    let exact = repo.list(ProductFilter::default(), page(1, 23)).await.unwrap();
    assert_eq!((exact.items.len(), exact.total), (23, 23));
    let none = filter(RawProductFilter { q: Some("nothing".into()), ..Default::default() });
    let empty = repo.list(none, page(1, 10)).await.unwrap();
    assert_eq!((empty.items.len(), empty.total, empty.pages()), (0, 0, 0));
}

async fn quick_search_limit_prefix_first_active_only(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    product(&db, c.id, "Amplifier for speakers", "Yamaha").await;
    product(&db, c.id, "Speaker stand", "Generic").await;
    product(&db, c.id, "speaker cable", "Generic").await;
    create_product(&db, NewProduct { model: Some("SPEAKER-1".into()), ..draft(c.id, "Bookshelf pair", "KEF") }).await;
    create_product(&db, NewProduct { status: ProductStatus::Discontinued, ..draft(c.id, "Speaker old", "Sony") }).await;
    product(&db, c.id, "Turntable", "Rega").await;

    assert_eq!(
        found(&db, "SPEAKER", 10).await,
        ["speaker cable", "Speaker stand", "Amplifier for speakers", "Bookshelf pair"],
        "names starting with the text first, then by name; active only"
    );
    assert_eq!(found(&db, "speaker", 2).await, ["speaker cable", "Speaker stand"], "the limit");
    assert_eq!(found(&db, "rega", 10).await, ["Turntable"], "by brand");
    let any = products(&db).search(ProductSearch::parse(None, Some(3)).unwrap()).await.unwrap();
    let any: Vec<&str> = any.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(any, ["Amplifier for speakers", "Bookshelf pair", "speaker cable"], "blank: first active by name");
    assert_eq!(found(&db, "nothing", 10).await, [] as [&str; 0]);
}

async fn product_update_follows_versions(db: Database) {
    let audio = category(&db, "Audio", "audio").await;
    let kitchen = category(&db, "Kitchen", "kitchen").await;
    let repo = products(&db);
    let original = product(&db, audio.id, "Headphones", "Sony").await;
    let later = instant() + TimeDelta::hours(1);
    let changed = Product {
        name: "Kettle Deluxe".into(),
        category_id: kitchen.id,
        brand: "Bosch".into(),
        model: Some("TWK".into()),
        price_cents: Some(4_999),
        currency: Some(Currency::parse("JPY").unwrap()),
        specifications: Specifications::parse(json!({"litres": 1.7, "colours": ["red", "black"]})).unwrap(),
        status: ProductStatus::Discontinued,
        version: 2,
        updated_at: later,
        ..original.clone()
    };
    assert!(repo.update(changed.clone(), 1).await.unwrap());
    let stored = repo.find(original.id).await.unwrap().unwrap();
    assert_eq!(stored, changed);
    assert_eq!(stored.created_at, original.created_at, "creation time kept");
    let by_new_name = |q: &str| RawProductFilter { q: Some(q.into()), ..Default::default() };
    assert_eq!(names(&db, by_new_name("deluxe")).await, ["Kettle Deluxe"], "the search columns follow");
    assert_eq!(names(&db, by_new_name("headphones")).await, [] as [&str; 0]);
    let by_brand = RawProductFilter { brand: Some("bosch".into()), ..Default::default() };
    assert_eq!(names(&db, by_brand).await, ["Kettle Deluxe"]);

    let stale = Product { name: "Stale".into(), version: 2, ..original.clone() };
    assert!(!repo.update(stale, 1).await.unwrap(), "the version moved on");
    assert_eq!(repo.find(original.id).await.unwrap(), Some(changed.clone()), "nothing changed");
    let nowhere = Product { category_id: CategoryId(999_999), version: 3, ..changed.clone() };
    let refused = repo.update(nowhere, 2).await;
    assert!(matches!(refused, Err(RepositoryError::MissingReference { field: "category_id" })), "{refused:?}");
    assert_eq!(repo.find(original.id).await.unwrap(), Some(changed));
    assert!(!repo.update(Product { id: ProductId(999_999), ..original }, 1).await.unwrap());
}

async fn product_delete_is_blocked_by_owners(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    let ann = user(&db, "ann").await;
    let repo = products(&db);
    let owned = product(&db, c.id, "Headphones", "Sony").await;
    let item = own(&db, record(ann.id, owned.id, None)).await;
    assert_eq!(repo.delete(owned.id, None).await.unwrap(), Removal::InUse);
    assert_eq!(repo.delete(owned.id, Some(2)).await.unwrap(), Removal::NotRemoved, "stale version first");
    assert!(repo.find(owned.id).await.unwrap().is_some());
    assert_eq!(items(&db).delete(ann.id, item.id, None).await.unwrap(), Removal::Removed);
    assert_eq!(repo.delete(owned.id, Some(1)).await.unwrap(), Removal::Removed);
    assert_eq!(repo.delete(owned.id, None).await.unwrap(), Removal::NotRemoved);
}

// ---------------------------------------------------------------------------------------------
// Users' collections
// ---------------------------------------------------------------------------------------------

async fn user_product_round_trip_with_summary(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    let ann = user(&db, "ann").await;
    let p =
        create_product(&db, NewProduct { model: Some("WH-1000XM5".into()), ..draft(c.id, "Headphones", "Sony") }).await;
    let new = NewUserProductRecord {
        serial_number: Some("SN-ü-001".into()),
        purchase_date: Some(date(2024, 1, 31)),
        purchase_price_cents: Some(29_900),
        warranty_expires: Some(date(2026, 1, 31)),
        status: UserProductStatus::Broken,
        notes: Some("Left ear\ncrackles".into()),
        created_at: instant() + TimeDelta::nanoseconds(999),
        ..record(ann.id, p.id, None)
    };
    let created = own(&db, new).await;
    assert_eq!(
        (created.user_id, created.version, created.created_at, created.updated_at),
        (ann.id, 1, instant(), instant())
    );
    assert_eq!(
        (created.product.id, created.product.name.as_str(), created.product.brand.as_str()),
        (p.id, "Headphones", "Sony")
    );
    assert_eq!(
        (created.product.model.as_deref(), created.product.category_name.as_str(), created.product.warranty_months),
        (Some("WH-1000XM5"), "Audio", 24)
    );
    assert_eq!(
        (
            created.serial_number.as_deref(),
            created.purchase_date,
            created.purchase_price_cents,
            created.warranty_expires,
            created.status,
            created.notes.as_deref(),
        ),
        (
            Some("SN-ü-001"),
            Some(date(2024, 1, 31)),
            Some(29_900),
            Some(date(2026, 1, 31)),
            UserProductStatus::Broken,
            Some("Left ear\ncrackles"),
        )
    );
    assert_eq!(created.files_count, 0, "no file is attached yet");
    assert_eq!(items(&db).find(ann.id, created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(items(&db).find(ann.id, UserProductId(999_999)).await.unwrap(), None);
    let bare = own(&db, record(ann.id, p.id, None)).await;
    assert_eq!((bare.serial_number, bare.purchase_date, bare.warranty_expires, bare.notes), (None, None, None, None));
}

async fn user_products_are_scoped_to_their_owner(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    let p = product(&db, c.id, "Headphones", "Sony").await;
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let repo = items(&db);
    let anns =
        own(&db, NewUserProductRecord { warranty_expires: Some(date(2030, 1, 1)), ..record(ann.id, p.id, None) }).await;
    assert_eq!(repo.find(bob.id, anns.id).await.unwrap(), None, "another's item is missing");
    let bobs_list = repo.list(bob.id, UserProductFilter::default(), page(1, 10)).await.unwrap();
    assert_eq!((bobs_list.items.len(), bobs_list.total), (0, 0));
    let window = WarrantyQuery { filter: WarrantyFilter::Active, days: 30 }.window(date(2026, 1, 1));
    assert!(repo.warranties(bob.id, window).await.unwrap().is_empty());
    assert_eq!(repo.warranties(ann.id, window).await.unwrap().len(), 1);
    let hijack = UserProduct { user_id: bob.id, notes: Some("mine now".into()), version: 2, ..anns.clone() };
    assert_eq!(repo.update(hijack, 1).await.unwrap(), None, "another's item is not changed");
    assert_eq!(repo.delete(bob.id, anns.id, None).await.unwrap(), Removal::NotRemoved);
    assert_eq!(repo.delete(bob.id, anns.id, Some(1)).await.unwrap(), Removal::NotRemoved);
    assert_eq!(repo.find(ann.id, anns.id).await.unwrap(), Some(anns.clone()), "untouched");
    assert_eq!(repo.delete(ann.id, anns.id, Some(2)).await.unwrap(), Removal::NotRemoved, "stale version");
    assert_eq!(repo.delete(ann.id, anns.id, Some(1)).await.unwrap(), Removal::Removed);
    assert_eq!(repo.find(ann.id, anns.id).await.unwrap(), None);
}

async fn serials_are_unique_per_owner_and_product(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    let p = product(&db, c.id, "Headphones", "Sony").await;
    let q = product(&db, c.id, "Speaker", "Sony").await;
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let repo = items(&db);
    own(&db, record(ann.id, p.id, Some("SN-1"))).await;
    let again = repo.create(record(ann.id, p.id, Some("SN-1"))).await;
    assert!(matches!(again, Err(RepositoryError::Conflict { field: "serial_number" })), "{again:?}");
    own(&db, record(ann.id, p.id, Some("sn-1"))).await; // compared exactly, case included
    own(&db, record(ann.id, q.id, Some("SN-1"))).await; // another product
    own(&db, record(bob.id, p.id, Some("SN-1"))).await; // another owner
    own(&db, record(ann.id, p.id, None)).await; // items without a serial are not compared
    own(&db, record(ann.id, p.id, None)).await;
    let listed = repo.list(ann.id, UserProductFilter::default(), page(1, 10)).await.unwrap();
    assert_eq!(listed.total, 5);

    let other = own(&db, record(ann.id, p.id, Some("SN-2"))).await;
    let taken = UserProduct { serial_number: Some("SN-1".into()), version: 2, ..other.clone() };
    let update = repo.update(taken, 1).await;
    assert!(matches!(update, Err(RepositoryError::Conflict { field: "serial_number" })), "{update:?}");
    assert_eq!(repo.find(ann.id, other.id).await.unwrap(), Some(other));
}

async fn concurrent_creations_with_one_serial_exactly_one_wins(db: Database) {
    const RACERS: usize = 6;
    let c = category(&db, "Audio", "audio").await;
    let p = product(&db, c.id, "Headphones", "Sony").await;
    let ann = user(&db, "ann").await;
    let repo = Arc::new(items(&db));
    for round in 0..3 {
        let serial = format!("RACE-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|_| {
                let (repo, barrier, record) = (repo.clone(), barrier.clone(), record(ann.id, p.id, Some(&serial)));
                tokio::spawn(async move {
                    barrier.wait().await;
                    repo.create(record).await
                })
            })
            .collect();
        let mut won = 0;
        for racer in racers {
            match racer.await.unwrap() {
                Ok(_) => won += 1,
                Err(RepositoryError::Conflict { field: "serial_number" }) => {}
                Err(e) => panic!("round {round}: unexpected {e:?}"),
            }
        }
        assert_eq!(won, 1, "round {round}: exactly one creation wins");
    }
    let listed = repo.list(ann.id, UserProductFilter::default(), page(1, 100)).await.unwrap();
    assert_eq!(listed.total, 3);
}

async fn user_product_with_unknown_product_is_a_missing_reference(db: Database) {
    let ann = user(&db, "ann").await;
    let created = items(&db).create(record(ann.id, ProductId(999_999), None)).await;
    assert!(matches!(created, Err(RepositoryError::MissingReference { field: "product_id" })), "{created:?}");
}

async fn user_product_list_filters_newest_first_with_totals(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    let p = product(&db, c.id, "Headphones", "Sony").await;
    let ann = user(&db, "ann").await;
    let statuses = [UserProductStatus::Active, UserProductStatus::Sold, UserProductStatus::Broken];
    let mut created = Vec::new();
    for i in 0..12 {
        let at = instant() + TimeDelta::minutes(i % 6); // ties in time: broken by id
        let status = statuses[i as usize % 3];
        created.push(own(&db, NewUserProductRecord { status, created_at: at, ..record(ann.id, p.id, None) }).await);
    }
    let mut newest_first = created.clone();
    newest_first.sort_by_key(|i| std::cmp::Reverse((i.created_at, i.id)));
    let repo = items(&db);
    let mut seen = Vec::new();
    for n in 1..=3 {
        let one = repo.list(ann.id, UserProductFilter::default(), page(n, 5)).await.unwrap();
        assert_eq!((one.total, one.pages()), (12, 3));
        seen.extend(one.items);
    }
    assert_eq!(seen, newest_first, "newest first, then by id");
    let past = repo.list(ann.id, UserProductFilter::default(), page(9, 5)).await.unwrap();
    assert_eq!((past.items.len(), past.total), (0, 12));

    let sold_or_broken = UserProductFilter::parse(Some("sold,broken")).unwrap();
    let some = repo.list(ann.id, sold_or_broken, page(1, 3)).await.unwrap();
    assert_eq!((some.items.len(), some.total), (3, 8));
    assert!(some.items.iter().all(|i| i.status != UserProductStatus::Active));
    let archived = UserProductFilter::parse(Some("archived")).unwrap();
    let none = repo.list(ann.id, archived, page(1, 3)).await.unwrap();
    assert_eq!((none.items.len(), none.total), (0, 0));
}

async fn user_product_update_follows_versions(db: Database) {
    let audio = category(&db, "Audio", "audio").await;
    let kitchen = category(&db, "Kitchen", "kitchen").await;
    let p = product(&db, audio.id, "Headphones", "Sony").await;
    let kettle = create_product(&db, NewProduct { warranty_months: 12, ..draft(kitchen.id, "Kettle", "Bosch") }).await;
    let ann = user(&db, "ann").await;
    let repo = items(&db);
    let item = own(&db, record(ann.id, p.id, Some("SN-1"))).await;
    let later = instant() + TimeDelta::days(2) + TimeDelta::nanoseconds(5);
    let mut changed = UserProduct {
        serial_number: None,
        purchase_date: Some(date(2025, 5, 1)),
        purchase_price_cents: Some(1_000),
        warranty_expires: Some(date(2026, 5, 1)),
        status: UserProductStatus::Sold,
        notes: Some("sold to a friend".into()),
        version: 2,
        updated_at: later,
        ..item.clone()
    };
    // The product changes by its id; the rest of the summary sent is ignored.
    changed.product.id = kettle.id;
    changed.product.name = "ignored".into();
    let stored = repo.update(changed, 1).await.unwrap().expect("the current version is changed");
    assert_eq!(stored.version, 2);
    assert_eq!((stored.updated_at, stored.created_at), (later - TimeDelta::nanoseconds(5), item.created_at));
    assert_eq!(
        (stored.product.id, stored.product.name.as_str(), stored.product.category_name.as_str()),
        (kettle.id, "Kettle", "Kitchen"),
        "the summary is read back"
    );
    assert_eq!(stored.product.warranty_months, 12);
    assert_eq!(
        (stored.serial_number.as_deref(), stored.purchase_date, stored.warranty_expires, stored.status),
        (None, Some(date(2025, 5, 1)), Some(date(2026, 5, 1)), UserProductStatus::Sold)
    );
    assert_eq!(repo.find(ann.id, item.id).await.unwrap(), Some(stored.clone()));

    let stale = UserProduct { notes: Some("stale".into()), version: 2, ..item.clone() };
    assert_eq!(repo.update(stale, 1).await.unwrap(), None, "the version moved on");
    assert_eq!(repo.find(ann.id, item.id).await.unwrap(), Some(stored.clone()), "nothing changed");
    let mut nowhere = UserProduct { version: 3, ..stored.clone() };
    nowhere.product.id = ProductId(999_999);
    let refused = repo.update(nowhere, 2).await;
    assert!(matches!(refused, Err(RepositoryError::MissingReference { field: "product_id" })), "{refused:?}");
    assert_eq!(repo.find(ann.id, item.id).await.unwrap(), Some(stored));
}

async fn warranty_windows(db: Database) {
    let c = category(&db, "Audio", "audio").await;
    let p = product(&db, c.id, "Headphones", "Sony").await;
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let today = date(2026, 2, 27);
    let item = |expires: Option<NaiveDate>, status: UserProductStatus, note: &str| NewUserProductRecord {
        warranty_expires: expires,
        status,
        notes: Some(note.into()),
        ..record(ann.id, p.id, None)
    };
    use UserProductStatus::{Active, Archived, Broken, Sold};
    for (expires, status, note) in [
        (Some(date(2026, 3, 29)), Active, "today+30"),
        (Some(date(2026, 2, 26)), Active, "yesterday"),
        (Some(today), Broken, "today"),
        (Some(date(2026, 3, 30)), Active, "today+31"),
        (None, Active, "no expiry"),
        (Some(date(2025, 1, 1)), Broken, "long ago"),
        (Some(today), Sold, "sold today"),
        (Some(date(2026, 3, 1)), Archived, "archived"),
        (Some(today), Active, "today too"),
        (Some(date(9999, 12, 31)), Active, "far future"),
    ] {
        own(&db, item(expires, status, note)).await;
    }
    own(&db, NewUserProductRecord { warranty_expires: Some(today), ..record(bob.id, p.id, None) }).await;

    let repo = items(&db);
    let notes = |list: Vec<UserProduct>| list.into_iter().map(|i| i.notes.unwrap()).collect::<Vec<_>>();
    let window = |filter, days| WarrantyQuery { filter, days }.window(today);
    assert_eq!(
        notes(repo.warranties(ann.id, window(WarrantyFilter::Active, 30)).await.unwrap()),
        ["today", "today too", "today+30", "today+31", "far future"],
        "soonest first, then by id; only what the owner still has"
    );
    assert_eq!(
        notes(repo.warranties(ann.id, window(WarrantyFilter::Expiring, 30)).await.unwrap()),
        ["today", "today too", "today+30"],
        "today and today + 30 days included"
    );
    assert_eq!(
        notes(repo.warranties(ann.id, window(WarrantyFilter::Expiring, 0)).await.unwrap()),
        ["today", "today too"]
    );
    assert_eq!(
        notes(repo.warranties(ann.id, window(WarrantyFilter::Expired, 30)).await.unwrap()),
        ["yesterday", "long ago"],
        "the most recent first"
    );
    let forever = window(WarrantyFilter::Expiring, u64::MAX);
    assert_eq!(repo.warranties(ann.id, forever).await.unwrap().len(), 5);
    let every = repo.warranties(ann.id, window(WarrantyFilter::Active, 30)).await.unwrap();
    assert!(every.iter().all(|i| window(WarrantyFilter::Active, 30).contains(i.warranty_expires)));
}
