//! The catalogue (categories and products) and users' collections in the database.
//!
//! Case-insensitive matching and ordering use columns folded in Rust (`str::to_lowercase`, every
//! script) and compared byte-wise on both engines (`COLLATE "C"` on PostgreSQL), since SQLite's
//! `lower()` only folds ASCII: the same filter gives the same rows in the same order everywhere.

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveDateTime, SubsecRound};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_products::{
    Category, CategoryId, CategoryRepository, Currency, NewCategory, NewProductRecord, NewUserProductRecord, Product,
    ProductFilter, ProductId, ProductRepository, ProductSearch, ProductStatus, ProductSummary, Removal, Specifications,
    UserProduct, UserProductFilter, UserProductId, UserProductRepository, UserProductStatus, WarrantyWindow,
};
use workbench_users::UserId;

use crate::columns::{returning, row, values};
use crate::connection::Db;
use crate::database::{stored, write_transaction};
use crate::error::{corrupt, count, db, map_db_error};
use crate::like::{contains_pattern, prefix_pattern};
use crate::schema::{categories, products, user_products};
use crate::{AnyConnection, Database};

/// How many files are attached to the item of the row being read: counted where it is read (the
/// files' index on `user_product_id` makes it one index probe per item), so that it can never
/// disagree with the files themselves.
fn files_count() -> SqlLiteral<BigInt> {
    sql::<BigInt>("(SELECT COUNT(*) FROM files WHERE files.user_product_id = user_products.id)")
}

/// Maps a write's error: a broken unique index to `Conflict` on the field `unique` names, a
/// broken foreign key to `MissingReference` on `reference`.
fn write_error(e: DieselError, unique: &[(&str, &'static str)], reference: &'static str) -> RepositoryError {
    match map_db_error(e, unique) {
        RepositoryError::MissingReference { .. } => RepositoryError::MissingReference { field: reference },
        other => other,
    }
}

/// What a `DELETE` did: a refusing foreign key is [`Removal::InUse`].
fn removal(result: QueryResult<usize>) -> Result<Removal, RepositoryError> {
    match result {
        Ok(0) => Ok(Removal::NotRemoved),
        Ok(_) => Ok(Removal::Removed),
        Err(DieselError::DatabaseError(kind, info))
            if matches!(kind, DatabaseErrorKind::ForeignKeyViolation)
                // SQLite reports an `ON DELETE RESTRICT` refusal with the plain constraint code,
                // not the foreign-key one Diesel recognises; its message is fixed.
                || info.message() == "FOREIGN KEY constraint failed" =>
        {
            Ok(Removal::InUse)
        }
        Err(e) => Err(db(e)),
    }
}

// ---------------------------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------------------------

/// The unique indexes of `categories` and the fields they guard.
const CATEGORY_UNIQUE: &[(&str, &str)] = &[("slug", "slug"), ("name", "name")];

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = categories)]
struct CategoryRow {
    id: i64,
    name: String,
    slug: String,
    description: Option<String>,
    version: i64,
}

impl From<CategoryRow> for Category {
    fn from(row: CategoryRow) -> Self {
        Category {
            id: CategoryId(row.id),
            name: row.name,
            slug: row.slug,
            description: row.description,
            version: row.version,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = categories, treat_none_as_default_value = false)]
struct NewCategoryRow<'a> {
    name: &'a str,
    name_key: String,
    slug: &'a str,
    description: Option<&'a str>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = categories, treat_none_as_null = true)]
struct CategoryChangeset<'a> {
    name: &'a str,
    name_key: String,
    slug: &'a str,
    description: Option<&'a str>,
    version: i64,
    updated_at: NaiveDateTime,
}

/// [`CategoryRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselCategoryRepository {
    db: Database,
}

impl DieselCategoryRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl CategoryRepository for DieselCategoryRepository {
    async fn create(&self, category: NewCategory) -> Result<Category, RepositoryError> {
        let at = stored(workbench_users::now());
        self.db
            .run(move |conn| {
                let row = NewCategoryRow {
                    name: category.name.as_str(),
                    name_key: category.name.as_str().to_lowercase(),
                    slug: category.slug.as_str(),
                    description: category.description.as_deref(),
                    version: 1,
                    created_at: at,
                    updated_at: at,
                };
                diesel::insert_into(categories::table)
                    .values(&row)
                    .returning(returning::<CategoryRow>())
                    .get_result::<CategoryRow>(conn)
                    .map(Category::from)
                    .map_err(|e| map_db_error(e, CATEGORY_UNIQUE))
            })
            .await
    }

    async fn list(&self) -> Result<Vec<Category>, RepositoryError> {
        self.db
            .run(|conn| {
                let rows: Vec<CategoryRow> = categories::table
                    .select(CategoryRow::as_select())
                    .order((categories::name_key.asc(), categories::id.asc()))
                    .load(conn)
                    .map_err(db)?;
                Ok(rows.into_iter().map(Category::from).collect())
            })
            .await
    }

    async fn find(&self, id: CategoryId) -> Result<Option<Category>, RepositoryError> {
        self.db
            .run(move |conn| {
                categories::table
                    .find(id.0)
                    .select(CategoryRow::as_select())
                    .first::<CategoryRow>(conn)
                    .optional()
                    .map(|row| row.map(Category::from))
                    .map_err(db)
            })
            .await
    }

    async fn update(&self, category: Category, expected_version: i64) -> Result<bool, RepositoryError> {
        let at = stored(workbench_users::now());
        self.db
            .run(move |conn| {
                let changes = CategoryChangeset {
                    name: &category.name,
                    name_key: category.name.to_lowercase(),
                    slug: &category.slug,
                    description: category.description.as_deref(),
                    version: category.version,
                    updated_at: at,
                };
                diesel::update(
                    categories::table
                        .filter(categories::id.eq(category.id.0))
                        .filter(categories::version.eq(expected_version)),
                )
                .set(&changes)
                .execute(conn)
                .map(|n| n == 1)
                .map_err(|e| map_db_error(e, CATEGORY_UNIQUE))
            })
            .await
    }

    async fn delete(&self, id: CategoryId, expected_version: Option<i64>) -> Result<Removal, RepositoryError> {
        self.db
            .run(move |conn| {
                // The products' foreign key (ON DELETE RESTRICT) refuses inside this statement,
                // so a product created concurrently cannot lose its category.
                removal(match expected_version {
                    Some(version) => {
                        diesel::delete(categories::table.find(id.0).filter(categories::version.eq(version)))
                            .execute(conn)
                    }
                    None => diesel::delete(categories::table.find(id.0)).execute(conn),
                })
            })
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Products
// ---------------------------------------------------------------------------------------------

/// `products.name_key`: the lower-cased name, the list's order and the quick search's prefix.
fn name_key() -> SqlLiteral<Text> {
    sql::<Text>("products.name_key")
}

/// `products.brand_key`: the lower-cased brand, which the `brand` filter equals.
pub(crate) fn brand_key() -> SqlLiteral<Text> {
    sql::<Text>("products.brand_key")
}

/// `products.search_text`: lower-cased name, brand and model, one a line, which `q` is found in.
pub(crate) fn search_text() -> SqlLiteral<Text> {
    sql::<Text>("products.search_text")
}

row! {
    /// A product as read: every column Diesel knows of `products` (see `schema.rs`: the derived
    /// ones are named in SQL).
    #[derive(Debug)]
    struct ProductRow in products {
        id: i64,
        name: String,
        category_id: i64,
        brand: String,
        model: Option<String>,
        description: Option<String>,
        price_cents: Option<i64>,
        currency: Option<String>,
        warranty_months: i32,
        warranty_conditions: Option<String>,
        manufacturer_website: Option<String>,
        specifications: String,
        status: String,
        version: i64,
        created_at: NaiveDateTime,
        updated_at: NaiveDateTime,
    }
}

impl ProductRow {
    fn into_product(self) -> Result<Product, RepositoryError> {
        let currency = match self.currency.as_deref() {
            None => None,
            Some(code) => Some(Currency::from_stored(code).ok_or_else(|| corrupt("products.currency", code))?),
        };
        Ok(Product {
            id: ProductId(self.id),
            name: self.name,
            category_id: CategoryId(self.category_id),
            brand: self.brand,
            model: self.model,
            description: self.description,
            price_cents: self.price_cents,
            currency,
            warranty_months: u16::try_from(self.warranty_months).map_err(|e| corrupt("products.warranty_months", e))?,
            warranty_conditions: self.warranty_conditions,
            manufacturer_website: self.manufacturer_website,
            specifications: Specifications::from_json(&self.specifications)
                .map_err(|e| corrupt("products.specifications", &e))?,
            status: ProductStatus::parse(&self.status).map_err(|e| corrupt("products.status", &e))?,
            version: self.version,
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        })
    }
}

values! {
    /// What a product's row holds besides its id and `created_at`: written whole by both the
    /// insert and the update, derived columns included (Diesel's `products` table leaves those
    /// out, see `schema.rs`, so its `Insertable` and `AsChangeset` could not write them).
    struct ProductValues {
        name: String => Text,
        name_key: String => Text,
        category_id: i64 => BigInt,
        brand: String => Text,
        brand_key: String => Text,
        model: Option<String> => Nullable<Text>,
        description: Option<String> => Nullable<Text>,
        price_cents: Option<i64> => Nullable<BigInt>,
        currency: Option<&'static str> => Nullable<Text>,
        warranty_months: i32 => Integer,
        warranty_conditions: Option<String> => Nullable<Text>,
        manufacturer_website: Option<String> => Nullable<Text>,
        specifications: String => Text,
        status: &'static str => Text,
        search_text: String => Text,
        version: i64 => BigInt,
        updated_at: NaiveDateTime => Timestamp,
    }
}

impl ProductValues {
    fn of(p: Product) -> Self {
        let search_text = format!("{}\n{}\n{}", p.name, p.brand, p.model.as_deref().unwrap_or("")).to_lowercase();
        Self {
            name_key: p.name.to_lowercase(),
            brand_key: p.brand.to_lowercase(),
            search_text,
            category_id: p.category_id.0,
            model: p.model,
            description: p.description,
            price_cents: p.price_cents,
            currency: p.currency.map(Currency::code),
            warranty_months: i32::from(p.warranty_months),
            warranty_conditions: p.warranty_conditions,
            manufacturer_website: p.manufacturer_website,
            specifications: p.specifications.to_json(),
            status: p.status.as_str(),
            version: p.version,
            updated_at: stored(p.updated_at),
            name: p.name,
            brand: p.brand,
        }
    }
}

/// `INSERT INTO products (...) VALUES (...) RETURNING ...`, written out because Diesel's
/// `products` table leaves the derived columns out (see `schema.rs`).
struct InsertProduct {
    values: ProductValues,
    created_at: NaiveDateTime,
}

/// `UPDATE products SET ... WHERE id = ? AND version = ?`, the conditional write.
struct UpdateProduct {
    id: i64,
    expected_version: i64,
    values: ProductValues,
}

impl QueryId for InsertProduct {
    type QueryId = InsertProduct;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryId for UpdateProduct {
    type QueryId = UpdateProduct;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::Query for InsertProduct {
    type SqlType = diesel::dsl::SqlTypeOf<<ProductRow as Selectable<Db>>::SelectExpression>;
}

impl RunQueryDsl<AnyConnection> for InsertProduct {}
impl RunQueryDsl<AnyConnection> for UpdateProduct {}

impl QueryFragment<Db> for InsertProduct {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        out.push_sql("INSERT INTO products (");
        out.push_sql(ProductValues::COLUMNS);
        out.push_sql(", created_at) VALUES (");
        self.values.walk(&mut out, false)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamp, _>(&self.created_at)?;
        out.push_sql(") RETURNING ");
        out.push_sql(ProductRow::COLUMNS);
        Ok(())
    }
}

impl QueryFragment<Db> for UpdateProduct {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> QueryResult<()> {
        out.push_sql("UPDATE products SET ");
        self.values.walk(&mut out, true)?;
        out.push_sql(" WHERE id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(" AND version = ");
        out.push_bind_param::<BigInt, _>(&self.expected_version)?;
        Ok(())
    }
}

/// The products matching `filter`, unordered: the one query behind both the count and the page.
fn filtered(filter: &ProductFilter) -> products::BoxedQuery<'static, Db> {
    let mut q = products::table.into_boxed();
    if let Some(category) = filter.category_id {
        q = q.filter(products::category_id.eq(category.0));
    }
    if let Some(brand) = filter.brand.as_deref().filter(|b| !b.is_empty()) {
        q = q.filter(brand_key().eq(brand.to_lowercase()));
    }
    if !filter.statuses.is_empty() {
        q = q.filter(products::status.eq_any(filter.statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        q = q.filter(search_text().like(contains_pattern(text)).escape('\\'));
    }
    q
}

fn find_product(conn: &mut AnyConnection, id: i64) -> Result<Option<Product>, RepositoryError> {
    products::table
        .find(id)
        .select(ProductRow::as_select())
        .first::<ProductRow>(conn)
        .optional()
        .map_err(db)?
        .map(ProductRow::into_product)
        .transpose()
}

/// [`ProductRepository`] on PostgreSQL or SQLite.
#[derive(Debug, Clone)]
pub struct DieselProductRepository {
    db: Database,
}

impl DieselProductRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl ProductRepository for DieselProductRepository {
    async fn create(&self, record: NewProductRecord) -> Result<Product, RepositoryError> {
        let at = record.created_at.trunc_subsecs(6);
        let p = record.product;
        let product = Product {
            id: ProductId(0),
            name: p.name.into_inner(),
            category_id: p.category_id,
            brand: p.brand.into_inner(),
            model: p.model,
            description: p.description,
            price_cents: p.price_cents,
            currency: p.currency,
            warranty_months: p.warranty_months,
            warranty_conditions: p.warranty_conditions,
            manufacturer_website: p.manufacturer_website.map(|w| w.into_inner()),
            specifications: p.specifications,
            status: p.status,
            version: 1,
            created_at: at,
            updated_at: at,
        };
        self.db
            .run(move |conn| {
                let insert = InsertProduct { values: ProductValues::of(product.clone()), created_at: at.naive_utc() };
                insert.get_result::<ProductRow>(conn).map_err(|e| write_error(e, &[], "category_id"))?.into_product()
            })
            .await
    }

    async fn find(&self, id: ProductId) -> Result<Option<Product>, RepositoryError> {
        self.db.run(move |conn| find_product(conn, id.0)).await
    }

    async fn list(&self, filter: ProductFilter, page: PageRequest) -> Result<Page<Product>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<ProductRow> = filtered(&filter)
                    .select(ProductRow::as_select())
                    .order((name_key().asc(), products::id.asc()))
                    .limit(page.limit())
                    .offset(page.offset())
                    .load(conn)
                    .map_err(db)?;
                // A first page shorter than a page is the whole list: no count needed.
                let total = if page.offset() == 0 && (rows.len() as i64) < page.limit() {
                    rows.len() as i64
                } else {
                    filtered(&filter).count().get_result(conn).map_err(db)?
                };
                let items = rows.into_iter().map(ProductRow::into_product).collect::<Result<Vec<_>, _>>()?;
                Ok(Page::new(items, count(total), page))
            })
            .await
    }

    async fn search(&self, search: ProductSearch) -> Result<Vec<Product>, RepositoryError> {
        self.db
            .run(move |conn| {
                let text = search.text();
                let mut q = products::table
                    .filter(products::status.eq(ProductStatus::Active.as_str()))
                    .select(ProductRow::as_select())
                    .into_boxed();
                if !text.is_empty() {
                    q = q
                        .filter(search_text().like(contains_pattern(text)).escape('\\'))
                        // Names starting with the text first: true sorts after false on both
                        // engines (1 after 0 on SQLite), so descending.
                        .then_order_by(name_key().like(prefix_pattern(text)).escape('\\').desc());
                }
                let rows: Vec<ProductRow> = q
                    .then_order_by((name_key().asc(), products::id.asc()))
                    .limit(i64::from(search.limit()))
                    .load(conn)
                    .map_err(db)?;
                rows.into_iter().map(ProductRow::into_product).collect()
            })
            .await
    }

    async fn update(&self, product: Product, expected_version: i64) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                // One conditional statement decides a race: on PostgreSQL a concurrent writer
                // waits for the row lock, then finds the version moved on; SQLite serialises.
                let update =
                    UpdateProduct { id: product.id.0, expected_version, values: ProductValues::of(product.clone()) };
                update.execute(conn).map(|n| n == 1).map_err(|e| write_error(e, &[], "category_id"))
            })
            .await
    }

    async fn delete(&self, id: ProductId, expected_version: Option<i64>) -> Result<Removal, RepositoryError> {
        self.db
            .run(move |conn| {
                // Owned products are kept by `user_products`' foreign key (ON DELETE RESTRICT).
                removal(match expected_version {
                    Some(version) => {
                        diesel::delete(products::table.find(id.0).filter(products::version.eq(version))).execute(conn)
                    }
                    None => diesel::delete(products::table.find(id.0)).execute(conn),
                })
            })
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Users' collections
// ---------------------------------------------------------------------------------------------

/// The unique index of `user_products` and the field it guards.
const USER_PRODUCT_UNIQUE: &[(&str, &str)] = &[("serial", "serial_number")];

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = user_products)]
struct UserProductRow {
    id: i64,
    user_id: i64,
    serial_number: Option<String>,
    purchase_date: Option<NaiveDate>,
    purchase_price_cents: Option<i64>,
    warranty_expires: Option<NaiveDate>,
    status: String,
    notes: Option<String>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    tradeable: bool,
}

/// What an item shows of its product (and the product's category).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = products)]
struct SummaryRow {
    id: i64,
    name: String,
    brand: String,
    model: Option<String>,
    #[diesel(select_expression = categories::name)]
    category_name: String,
    warranty_months: i32,
}

fn into_item((row, summary, files_count): (UserProductRow, SummaryRow, i64)) -> Result<UserProduct, RepositoryError> {
    Ok(UserProduct {
        id: UserProductId(row.id),
        user_id: UserId(row.user_id),
        product: ProductSummary {
            id: ProductId(summary.id),
            name: summary.name,
            brand: summary.brand,
            model: summary.model,
            category_name: summary.category_name,
            warranty_months: u16::try_from(summary.warranty_months)
                .map_err(|e| corrupt("products.warranty_months", e))?,
        },
        version: row.version,
        serial_number: row.serial_number,
        purchase_date: row.purchase_date,
        purchase_price_cents: row.purchase_price_cents,
        warranty_expires: row.warranty_expires,
        status: UserProductStatus::parse(&row.status).map_err(|e| corrupt("user_products.status", &e))?,
        tradeable: row.tradeable,
        notes: row.notes,
        files_count: count(files_count),
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// The items of `owner` with their product and its category; every read starts here, so that
/// nothing of another user is ever seen.
macro_rules! owned_by {
    ($owner:expr) => {
        user_products::table
            .inner_join(products::table.inner_join(categories::table))
            .filter(user_products::user_id.eq($owner.0))
            .select((UserProductRow::as_select(), SummaryRow::as_select(), files_count()))
    };
}

fn find_item(conn: &mut AnyConnection, owner: UserId, id: i64) -> Result<Option<UserProduct>, RepositoryError> {
    owned_by!(owner)
        .filter(user_products::id.eq(id))
        .first::<(UserProductRow, SummaryRow, i64)>(conn)
        .optional()
        .map_err(db)?
        .map(into_item)
        .transpose()
}

#[derive(Insertable)]
#[diesel(table_name = user_products, treat_none_as_default_value = false)]
struct NewUserProductRow<'a> {
    user_id: i64,
    product_id: i64,
    serial_number: Option<&'a str>,
    purchase_date: Option<NaiveDate>,
    purchase_price_cents: Option<i64>,
    warranty_expires: Option<NaiveDate>,
    status: &'static str,
    notes: Option<&'a str>,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(AsChangeset)]
#[diesel(table_name = user_products, treat_none_as_null = true)]
struct UserProductChangeset<'a> {
    product_id: i64,
    serial_number: Option<&'a str>,
    purchase_date: Option<NaiveDate>,
    purchase_price_cents: Option<i64>,
    warranty_expires: Option<NaiveDate>,
    status: &'static str,
    tradeable: bool,
    notes: Option<&'a str>,
    version: i64,
    updated_at: NaiveDateTime,
}

/// [`UserProductRepository`] on PostgreSQL or SQLite. Every statement names the owner.
#[derive(Debug, Clone)]
pub struct DieselUserProductRepository {
    db: Database,
}

impl DieselUserProductRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl UserProductRepository for DieselUserProductRepository {
    async fn create(&self, item: NewUserProductRecord) -> Result<UserProduct, RepositoryError> {
        let at = stored(item.created_at);
        self.db
            .run(move |conn| {
                let row = NewUserProductRow {
                    user_id: item.user_id.0,
                    product_id: item.product_id.0,
                    serial_number: item.serial_number.as_deref(),
                    purchase_date: item.purchase_date,
                    purchase_price_cents: item.purchase_price_cents,
                    warranty_expires: item.warranty_expires,
                    status: item.status.as_str(),
                    notes: item.notes.as_deref(),
                    version: 1,
                    created_at: at,
                    updated_at: at,
                };
                // The unique index decides between concurrent creations; the read back is in the
                // same transaction, so it shows the row as written.
                write_transaction(conn, |c| {
                    let id: i64 = diesel::insert_into(user_products::table)
                        .values(&row)
                        .returning(user_products::id)
                        .get_result(c)
                        .map_err(|e| write_error(e, USER_PRODUCT_UNIQUE, "product_id"))?;
                    find_item(c, item.user_id, id)?
                        .ok_or_else(|| corrupt("user_products", "the inserted row cannot be read back"))
                })
            })
            .await
    }

    async fn find(&self, owner: UserId, id: UserProductId) -> Result<Option<UserProduct>, RepositoryError> {
        self.db.run(move |conn| find_item(conn, owner, id.0)).await
    }

    async fn list(
        &self,
        owner: UserId,
        filter: UserProductFilter,
        page: PageRequest,
    ) -> Result<Page<UserProduct>, RepositoryError> {
        self.db
            .run(move |conn| {
                let statuses: Vec<&'static str> = filter.statuses.iter().map(|s| s.as_str()).collect();
                let mut rows = owned_by!(owner).into_boxed();
                let mut total = user_products::table.filter(user_products::user_id.eq(owner.0)).into_boxed();
                if !statuses.is_empty() {
                    rows = rows.filter(user_products::status.eq_any(statuses.clone()));
                    total = total.filter(user_products::status.eq_any(statuses));
                }
                let rows: Vec<(UserProductRow, SummaryRow, i64)> = rows
                    .order((user_products::created_at.desc(), user_products::id.desc()))
                    .limit(page.limit())
                    .offset(page.offset())
                    .load(conn)
                    .map_err(db)?;
                let total = if page.offset() == 0 && (rows.len() as i64) < page.limit() {
                    rows.len() as i64
                } else {
                    total.count().get_result(conn).map_err(db)?
                };
                let items = rows.into_iter().map(into_item).collect::<Result<Vec<_>, _>>()?;
                Ok(Page::new(items, count(total), page))
            })
            .await
    }

    async fn update(&self, item: UserProduct, expected_version: i64) -> Result<Option<UserProduct>, RepositoryError> {
        let at = stored(item.updated_at);
        self.db
            .run(move |conn| {
                let changes = UserProductChangeset {
                    product_id: item.product.id.0,
                    serial_number: item.serial_number.as_deref(),
                    purchase_date: item.purchase_date,
                    purchase_price_cents: item.purchase_price_cents,
                    warranty_expires: item.warranty_expires,
                    status: item.status.as_str(),
                    tradeable: item.tradeable,
                    notes: item.notes.as_deref(),
                    version: item.version,
                    updated_at: at,
                };
                write_transaction(conn, |c| {
                    let updated = diesel::update(
                        user_products::table
                            .filter(user_products::id.eq(item.id.0))
                            .filter(user_products::user_id.eq(item.user_id.0))
                            .filter(user_products::version.eq(expected_version)),
                    )
                    .set(&changes)
                    .execute(c)
                    .map_err(|e| write_error(e, USER_PRODUCT_UNIQUE, "product_id"))?;
                    if updated == 1 { find_item(c, item.user_id, item.id.0) } else { Ok(None) }
                })
            })
            .await
    }

    async fn delete(
        &self,
        owner: UserId,
        id: UserProductId,
        expected_version: Option<i64>,
    ) -> Result<Removal, RepositoryError> {
        self.db
            .run(move |conn| {
                // Attached files (when their table exists) will keep the item through their
                // foreign key, which `removal` reports as in use.
                let mine =
                    user_products::table.filter(user_products::id.eq(id.0)).filter(user_products::user_id.eq(owner.0));
                removal(match expected_version {
                    Some(version) => diesel::delete(mine.filter(user_products::version.eq(version))).execute(conn),
                    None => diesel::delete(mine).execute(conn),
                })
            })
            .await
    }

    async fn warranties(&self, owner: UserId, window: WarrantyWindow) -> Result<Vec<UserProduct>, RepositoryError> {
        self.db
            .run(move |conn| {
                let still_owned: Vec<&'static str> = UserProductStatus::ALL
                    .into_iter()
                    .filter(|s| s.still_owned())
                    .map(UserProductStatus::as_str)
                    .collect();
                let mut q = owned_by!(owner)
                    .filter(user_products::status.eq_any(still_owned))
                    .filter(user_products::warranty_expires.is_not_null())
                    .into_boxed();
                if let Some(from) = window.from {
                    q = q.filter(user_products::warranty_expires.ge(from));
                }
                if let Some(until) = window.until {
                    q = q.filter(user_products::warranty_expires.le(until));
                }
                q = if window.latest_first {
                    q.order((user_products::warranty_expires.desc(), user_products::id.asc()))
                } else {
                    q.order((user_products::warranty_expires.asc(), user_products::id.asc()))
                };
                let rows: Vec<(UserProductRow, SummaryRow, i64)> = q.load(conn).map_err(db)?;
                rows.into_iter().map(into_item).collect()
            })
            .await
    }
}
