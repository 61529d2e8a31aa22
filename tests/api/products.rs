//! The catalogue (categories and products: public reads, admin writes, cached and invalidated by
//! every write) and each user's collection (owner only, serials, warranties).

use chrono::{Months, NaiveDate, Utc};
use reqwest::{Method, Response};
use serde_json::{Value, json};
use workbench_e2e::{Account, TestApp, engines, error_fields, expect_problem};

use crate::tasks::{Reply, as_user, expect_json, link, links};

// ---------------------------------------------------------------------------------------------
// Helpers.

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

fn ids(list: &Value) -> Vec<i64> {
    list["data"].as_array().unwrap_or_else(|| panic!("no data in {list}")).iter().map(id).collect()
}

fn names(list: &Value) -> Vec<String> {
    list["data"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect()
}

async fn send(app: &TestApp, who: Option<&Account>, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = match who {
        Some(who) => as_user(app, who, method, path),
        None => app.request(method, path),
    };
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

async fn get_public(app: &TestApp, path: &str) -> Value {
    expect_json(app.get(path).send().await.unwrap(), 200).await
}

async fn create_category(app: &TestApp, admin: &Account, name: &str) -> Value {
    let res = send(app, Some(admin), Method::POST, "/api/v1/categories", Some(json!({"name": name}))).await;
    expect_json(res, 201).await
}

fn product_body(category: i64, name: &str, brand: &str) -> Value {
    json!({"name": name, "category_id": category, "brand": brand, "warranty_months": 24})
}

async fn create_product(app: &TestApp, admin: &Account, body: Value) -> Value {
    expect_json(send(app, Some(admin), Method::POST, "/api/v1/products", Some(body)).await, 201).await
}

async fn own(app: &TestApp, who: &Account, body: Value) -> Value {
    expect_json(send(app, Some(who), Method::POST, "/api/v1/user-products", Some(body)).await, 201).await
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// A catalogue of one category and one 24-month product; returns (admin, category id, product id).
async fn small_catalogue(app: &TestApp) -> (Account, i64, i64) {
    let admin = app.signup_with_role("root", "admin").await;
    let category = id(&create_category(app, &admin, "Audio").await);
    let product = id(&create_product(app, &admin, product_body(category, "Headphones", "Sony")).await);
    (admin, category, product)
}

// ---------------------------------------------------------------------------------------------
// Who may do what.

async fn catalogue_reads_are_public_and_writes_are_admin_only(app: TestApp) {
    let (admin, category, product) = small_catalogue(&app).await;
    let ann = app.signup("ann").await;

    assert_eq!(ids(&get_public(&app, "/api/v1/categories").await), [category]);
    assert_eq!(ids(&get_public(&app, "/api/v1/products").await), [product]);
    assert_eq!(get_public(&app, &format!("/api/v1/products/{product}")).await["name"], "Headphones");
    assert_eq!(ids(&get_public(&app, "/api/v1/products/search?q=head").await), [product]);
    assert_eq!(get_public(&app, &format!("/api/v1/categories/{category}")).await["slug"], "audio");

    let cat = format!("/api/v1/categories/{category}");
    let prod = format!("/api/v1/products/{product}");
    let writes: Vec<(Method, String, Option<Value>)> = vec![
        (Method::POST, "/api/v1/categories".into(), Some(json!({"name": "Kitchen"}))),
        (Method::PUT, cat.clone(), Some(json!({"name": "Sound"}))),
        (Method::DELETE, cat.clone(), None),
        (Method::POST, "/api/v1/products".into(), Some(product_body(category, "Speaker", "JBL"))),
        (Method::PUT, prod.clone(), Some(json!({"name": "Other"}))),
        (Method::PATCH, prod.clone(), Some(json!({"name": "Other"}))),
        (Method::DELETE, prod.clone(), None),
    ];
    for (method, path, body) in writes {
        let res = send(&app, None, method.clone(), &path, body.clone()).await;
        assert_eq!(res.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
        expect_problem(res, 401).await;
        expect_problem(send(&app, Some(&ann), method.clone(), &path, body).await, 403).await;
    }
    // Nothing changed.
    assert_eq!(get_public(&app, &cat).await["name"], "Audio");
    assert_eq!(get_public(&app, &prod).await["name"], "Headphones");
    assert_eq!(ids(&get_public(&app, "/api/v1/products").await), [product]);
    let _ = admin;
}

// ---------------------------------------------------------------------------------------------
// Categories.

async fn categories_are_created_changed_and_deleted(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    assert_eq!(get_public(&app, "/api/v1/categories").await, json!({"data": []}));

    let res =
        send(&app, Some(&admin), Method::POST, "/api/v1/categories", Some(json!({"name": " Kitchen & Home "}))).await;
    let reply = Reply::of(res).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let kitchen = reply.json();
    assert_eq!(kitchen["name"], "Kitchen & Home");
    assert_eq!(kitchen["slug"], "kitchen-home");
    assert_eq!(kitchen["description"], Value::Null);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let location = reply.header("location").unwrap().to_owned();
    assert_eq!(location, format!("/api/v1/categories/{}", id(&kitchen)));
    assert_eq!(get_public(&app, &location).await["slug"], "kitchen-home");
    // The cached list follows every write.
    assert_eq!(names(&get_public(&app, "/api/v1/categories").await), ["Kitchen & Home"]);
    let audio = create_category(&app, &admin, "Audio").await;
    assert_eq!(names(&get_public(&app, "/api/v1/categories").await), ["Audio", "Kitchen & Home"]);

    // Rules: every failing field at once; a taken slug is 409.
    let res =
        send(&app, Some(&admin), Method::POST, "/api/v1/categories", Some(json!({"name": " ", "slug": "Not A Slug"})))
            .await;
    let mut fields = error_fields(&expect_problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, ["name", "slug"]);
    let res = send(
        &app,
        Some(&admin),
        Method::POST,
        "/api/v1/categories",
        Some(json!({"name": "Kitchen", "slug": "kitchen-home"})),
    )
    .await;
    assert_eq!(error_fields(&expect_problem(res, 409).await), ["slug"]);
    let res = send(&app, Some(&admin), Method::POST, "/api/v1/categories", Some(json!({"name": 7}))).await;
    assert!(error_fields(&expect_problem(res, 422).await).contains(&"name".to_owned()));

    // Changes, with preconditions.
    let path = format!("/api/v1/categories/{}", id(&kitchen));
    let res =
        as_user(&app, &admin, Method::PUT, &path).header("if-match", "\"9\"").json(&json!({"name": "Kitchen"})).send();
    expect_problem(res.await.unwrap(), 412).await;
    let res = as_user(&app, &admin, Method::PUT, &path)
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Kitchen", "description": "Pots"}))
        .send();
    let reply = Reply::of(res.await.unwrap()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.json()["description"], "Pots");
    assert_eq!(reply.json()["slug"], "kitchen-home", "the slug is kept unless sent");
    assert_eq!(names(&get_public(&app, "/api/v1/categories").await), ["Audio", "Kitchen"]);
    let res = send(&app, Some(&admin), Method::PUT, &path, Some(json!({"slug": "audio"}))).await;
    assert_eq!(error_fields(&expect_problem(res, 409).await), ["slug"]);
    let res = send(&app, Some(&admin), Method::PUT, &path, Some(json!({"description": null}))).await;
    assert_eq!(expect_json(res, 200).await["description"], Value::Null);
    expect_problem(send(&app, Some(&admin), Method::PUT, "/api/v1/categories/999", Some(json!({}))).await, 404).await;
    expect_problem(send(&app, Some(&admin), Method::PUT, "/api/v1/categories/abc", Some(json!({}))).await, 400).await;

    // A category with products cannot be deleted.
    let audio_path = format!("/api/v1/categories/{}", id(&audio));
    let product = create_product(&app, &admin, product_body(id(&audio), "Speaker", "JBL")).await;
    expect_problem(send(&app, Some(&admin), Method::DELETE, &audio_path, None).await, 409).await;
    let res = as_user(&app, &admin, Method::DELETE, &path).header("if-match", "\"1\"").send().await.unwrap();
    expect_problem(res, 412).await;
    let res = send(&app, Some(&admin), Method::DELETE, &path, None).await;
    assert_eq!(res.status(), 204);
    expect_problem(app.get(&path).send().await.unwrap(), 404).await;
    expect_problem(send(&app, Some(&admin), Method::DELETE, &path, None).await, 404).await;
    assert_eq!(names(&get_public(&app, "/api/v1/categories").await), ["Audio"]);
    let product_path = format!("/api/v1/products/{}", id(&product));
    assert_eq!(send(&app, Some(&admin), Method::DELETE, &product_path, None).await.status(), 204);
    assert_eq!(send(&app, Some(&admin), Method::DELETE, &audio_path, None).await.status(), 204);
    assert_eq!(get_public(&app, "/api/v1/categories").await, json!({"data": []}));
}

// ---------------------------------------------------------------------------------------------
// Products.

async fn products_are_created_read_changed_and_deleted(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let category = id(&create_category(&app, &admin, "Audio").await);
    let specifications = json!({"z": {"nested": [1, "zwei", null]}, "a": "Größe ✓"});
    let body = json!({
        "name": " WH-1000XM5 Headphones ",
        "category_id": category,
        "brand": "Sony",
        "model": "WH-1000XM5",
        "description": "Noise cancelling",
        "price_cents": 34999,
        "currency": "EUR",
        "warranty_months": 24,
        "warranty_conditions": "Keep the invoice",
        "manufacturer_website": "https://www.sony.example/wh",
        "specifications": specifications,
    });
    let res = send(&app, Some(&admin), Method::POST, "/api/v1/products", Some(body)).await;
    let reply = Reply::of(res).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let product = reply.json();
    let path = format!("/api/v1/products/{}", id(&product));
    assert_eq!(reply.header("location"), Some(path.as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(product["name"], "WH-1000XM5 Headphones");
    assert_eq!(product["category_id"], category);
    assert_eq!(product["currency"], "EUR");
    assert_eq!(product["price_cents"], 34999);
    assert_eq!(product["status"], "active", "the default status");
    assert_eq!(product["specifications"], specifications);
    assert!(product["created_at"].is_string() && product["updated_at"].is_string());

    let reply = Reply::of(app.get(&path).send().await.unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), product);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let res = app.get(&path).header("if-none-match", "\"1\"").send().await.unwrap();
    assert_eq!(res.status(), 304);

    // Rules: every failing field at once; unknown category 422 naming it.
    let bad = json!({"name": "", "category_id": 999, "brand": "B", "warranty_months": -1, "currency": "eur",
                     "price_cents": 5, "manufacturer_website": "ftp://x", "specifications": [1], "status": "gone"});
    let problem =
        expect_problem(send(&app, Some(&admin), Method::POST, "/api/v1/products", Some(bad)).await, 422).await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(
        fields,
        ["category_id", "currency", "manufacturer_website", "name", "specifications", "status", "warranty_months"]
    );
    let res = send(&app, Some(&admin), Method::POST, "/api/v1/products", Some(product_body(999, "X", "Y"))).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["category_id"]);
    let res = send(&app, Some(&admin), Method::POST, "/api/v1/products", Some(json!({}))).await;
    let mut fields = error_fields(&expect_problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, ["brand", "category_id", "name", "warranty_months"]);
    let res =
        as_user(&app, &admin, Method::POST, "/api/v1/products").body("{").header("content-type", "application/json");
    expect_problem(res.send().await.unwrap(), 400).await;

    // Changes: partial, cached reads follow, preconditions.
    let res = send(&app, Some(&admin), Method::PATCH, &path, Some(json!({"name": "XM5", "model": null}))).await;
    let reply = Reply::of(res).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(reply.json()["model"], Value::Null);
    assert_eq!(reply.json()["brand"], "Sony");
    assert_eq!(get_public(&app, &path).await["name"], "XM5", "the cached copy was invalidated");
    let res =
        as_user(&app, &admin, Method::PUT, &path).header("if-match", "\"1\"").json(&json!({"name": "Old"})).send();
    expect_problem(res.await.unwrap(), 412).await;
    let res =
        as_user(&app, &admin, Method::PUT, &path).header("if-match", "\"2\"").json(&json!({"status": "discontinued"}));
    assert_eq!(expect_json(res.send().await.unwrap(), 200).await["status"], "discontinued");
    let res = send(&app, Some(&admin), Method::PATCH, &path, Some(json!({"name": null, "category_id": 999}))).await;
    let mut fields = error_fields(&expect_problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, ["category_id", "name"]);
    let res = send(&app, Some(&admin), Method::PATCH, &path, Some(json!({"warranty_months": "many"}))).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["warranty_months"]);
    expect_problem(send(&app, Some(&admin), Method::PATCH, "/api/v1/products/999", Some(json!({}))).await, 404).await;

    // Reads of what is not there.
    expect_problem(app.get("/api/v1/products/999").send().await.unwrap(), 404).await;
    expect_problem(app.get("/api/v1/products/abc").send().await.unwrap(), 400).await;

    // A product users own cannot be deleted; otherwise 204, then gone (from the cache too).
    let ann = app.signup("ann").await;
    let other = create_product(&app, &admin, product_body(category, "Speaker", "JBL")).await;
    let other_path = format!("/api/v1/products/{}", id(&other));
    let item = own(&app, &ann, json!({"product_id": id(&other)})).await;
    expect_problem(send(&app, Some(&admin), Method::DELETE, &other_path, None).await, 409).await;
    let res = send(&app, Some(&ann), Method::DELETE, &format!("/api/v1/user-products/{}", id(&item)), None).await;
    assert_eq!(res.status(), 204);
    let res = as_user(&app, &admin, Method::DELETE, &path).header("if-match", "\"1\"").send().await.unwrap();
    expect_problem(res, 412).await;
    assert_eq!(send(&app, Some(&admin), Method::DELETE, &path, None).await.status(), 204);
    expect_problem(app.get(&path).send().await.unwrap(), 404).await;
    expect_problem(send(&app, Some(&admin), Method::DELETE, &path, None).await, 404).await;
}

async fn an_idempotency_key_replays_a_product_creation(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let category = id(&create_category(&app, &admin, "Audio").await);
    let body = product_body(category, "Speaker", "JBL");
    let post = |body: Value| {
        as_user(&app, &admin, Method::POST, "/api/v1/products").header("idempotency-key", "k-1").json(&body).send()
    };
    let first = Reply::of(post(body.clone()).await.unwrap()).await;
    let again = Reply::of(post(body.clone()).await.unwrap()).await;
    assert_eq!((first.status, again.status), (201, 201));
    assert_eq!(first.json(), again.json());
    assert_eq!(first.header("location"), again.header("location"));
    expect_problem(post(product_body(category, "Other", "JBL")).await.unwrap(), 422).await;
    assert_eq!(get_public(&app, "/api/v1/products").await["pagination"]["total"], 1);
}

async fn an_idempotency_key_replays_a_category_creation(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let post = |body: Value| {
        as_user(&app, &admin, Method::POST, "/api/v1/categories").header("idempotency-key", "c-1").json(&body).send()
    };
    let first = Reply::of(post(json!({"name": "Audio"})).await.unwrap()).await;
    // Without the key this would be a 409 (the slug is taken): a 201 is the first answer again.
    let again = Reply::of(post(json!({"name": "Audio"})).await.unwrap()).await;
    assert_eq!((first.status, again.status), (201, 201), "{}", again.text);
    assert_eq!(first.json(), again.json());
    assert_eq!(first.header("location"), again.header("location"));
    assert_eq!(first.header("etag"), again.header("etag"));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    let problem = expect_problem(post(json!({"name": "Video"})).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["Idempotency-Key"]);
    assert_eq!(names(&get_public(&app, "/api/v1/categories").await), ["Audio"]);
}

async fn products_are_listed_filtered_and_paginated(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let audio = id(&create_category(&app, &admin, "Audio").await);
    let tv = id(&create_category(&app, &admin, "TV").await);
    for (name, category, brand) in [
        ("OLED écran", tv, "LG"),
        ("Headphones", audio, "Sony"),
        ("Soundbar", audio, "Sonos"),
        ("bravia tv", tv, "SONY"),
        ("Earbuds", audio, "Apple"),
    ] {
        create_product(&app, &admin, product_body(category, name, brand)).await;
    }
    let discontinued = create_product(
        &app,
        &admin,
        json!({"name": "Walkman", "category_id": audio, "brand": "Sony",
        "warranty_months": 12, "status": "discontinued"}),
    )
    .await;
    let all = get_public(&app, "/api/v1/products").await;
    assert_eq!(names(&all), ["bravia tv", "Earbuds", "Headphones", "OLED écran", "Soundbar", "Walkman"]);
    assert_eq!(all["pagination"], json!({"page": 1, "per_page": 20, "total": 6, "pages": 1}));
    assert_eq!(
        names(&get_public(&app, &format!("/api/v1/products?category_id={tv}")).await),
        ["bravia tv", "OLED écran"]
    );
    assert_eq!(names(&get_public(&app, "/api/v1/products?brand=sony").await), ["bravia tv", "Headphones", "Walkman"]);
    assert_eq!(names(&get_public(&app, "/api/v1/products?status=discontinued").await), ["Walkman"]);
    assert_eq!(ids(&get_public(&app, "/api/v1/products?status=discontinued").await), [id(&discontinued)]);
    assert_eq!(get_public(&app, "/api/v1/products?status=active,discontinued").await["pagination"]["total"], 6);
    assert_eq!(
        names(&get_public(&app, "/api/v1/products?q=%C3%89CRAN").await),
        ["OLED écran"],
        "case-insensitive, Unicode"
    );
    assert_eq!(names(&get_public(&app, "/api/v1/products?q=sony").await), ["bravia tv", "Headphones", "Walkman"]);
    assert_eq!(
        names(&get_public(&app, &format!("/api/v1/products?q=so&category_id={audio}&brand=sonos")).await),
        ["Soundbar"]
    );

    let reply = Reply::of(app.get("/api/v1/products?per_page=2&page=2&brand=sony").send().await.unwrap()).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["pagination"], json!({"page": 2, "per_page": 2, "total": 3, "pages": 2}));
    assert_eq!(names(&reply.json()), ["Walkman"]);
    let rels = links(reply.header("link").unwrap());
    assert_eq!(link(&rels, "first"), Some("/api/v1/products?per_page=2&brand=sony&page=1"));
    assert_eq!(link(&rels, "prev"), Some("/api/v1/products?per_page=2&brand=sony&page=1"));
    assert_eq!(link(&rels, "next"), None);
    assert_eq!(link(&rels, "last"), Some("/api/v1/products?per_page=2&brand=sony&page=2"));
    let empty = get_public(&app, "/api/v1/products?brand=nobody").await;
    assert_eq!(empty["pagination"], json!({"page": 1, "per_page": 20, "total": 0, "pages": 0}));

    let problem = expect_problem(app.get("/api/v1/products?status=sold&page=0").send().await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["status", "page"]);
    expect_problem(app.get("/api/v1/products?category_id=x").send().await.unwrap(), 400).await;
    expect_problem(app.get("/api/v1/products?page=abc").send().await.unwrap(), 400).await;
}

async fn quick_search_finds_active_products_with_a_clamped_limit(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let category = id(&create_category(&app, &admin, "Gadgets").await);
    for n in 0..52 {
        create_product(&app, &admin, product_body(category, &format!("Gadget {n:02}"), "Acme")).await;
    }
    create_product(
        &app,
        &admin,
        json!({"name": "Mega widget", "category_id": category, "brand": "Widgetco",
        "model": "W-1", "warranty_months": 0}),
    )
    .await;
    create_product(
        &app,
        &admin,
        json!({"name": "Widget", "category_id": category, "brand": "Other",
        "warranty_months": 0}),
    )
    .await;
    create_product(
        &app,
        &admin,
        json!({"name": "Widget old", "category_id": category, "brand": "Other",
        "warranty_months": 0, "status": "discontinued"}),
    )
    .await;

    let found = get_public(&app, "/api/v1/products/search?q=WIDGET").await;
    assert!(found.get("pagination").is_none(), "not paginated: {found}");
    assert_eq!(names(&found), ["Widget", "Mega widget"], "name prefix first, active only");
    assert_eq!(names(&get_public(&app, "/api/v1/products/search?q=w-1").await), ["Mega widget"], "by model");
    assert_eq!(names(&get_public(&app, "/api/v1/products/search?q=acme").await).len(), 10, "default limit");
    assert_eq!(
        names(&get_public(&app, "/api/v1/products/search?q=acme&limit=3").await),
        ["Gadget 00", "Gadget 01", "Gadget 02"]
    );
    assert_eq!(names(&get_public(&app, "/api/v1/products/search?q=acme&limit=500").await).len(), 50, "clamped");
    assert_eq!(names(&get_public(&app, "/api/v1/products/search?limit=5").await).len(), 5, "no text finds any");

    // A change reaches the cached answers.
    get_public(&app, "/api/v1/products/search?q=widget").await;
    let widget = get_public(&app, "/api/v1/products?q=widget&status=active").await["data"][1].clone();
    assert_eq!(widget["name"], "Widget");
    let res = send(
        &app,
        Some(&admin),
        Method::PATCH,
        &format!("/api/v1/products/{}", id(&widget)),
        Some(json!({"status": "discontinued"})),
    )
    .await;
    expect_json(res, 200).await;
    assert_eq!(names(&get_public(&app, "/api/v1/products/search?q=widget").await), ["Mega widget"]);

    let problem = expect_problem(app.get("/api/v1/products/search?limit=0").send().await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["limit"]);
    expect_problem(app.get("/api/v1/products/search?limit=-3").send().await.unwrap(), 422).await;
    expect_problem(app.get("/api/v1/products/search?limit=ten").send().await.unwrap(), 400).await;
}

// ---------------------------------------------------------------------------------------------
// Collections.

async fn users_add_and_change_their_own_products(app: TestApp) {
    let (admin, category, product) = small_catalogue(&app).await;
    let ann = app.signup("ann").await;
    let bought = today().checked_sub_months(Months::new(3)).unwrap();
    let res = send(&app, Some(&ann), Method::POST, "/api/v1/user-products",
        Some(json!({"product_id": product, "serial_number": " SN-1 ", "purchase_date": bought, "purchase_price_cents": 29900}))).await;
    let reply = Reply::of(res).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let item = reply.json();
    let path = format!("/api/v1/user-products/{}", id(&item));
    assert_eq!(reply.header("location"), Some(path.as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(item["user_id"], ann.id);
    assert_eq!(
        item["product"],
        json!({"id": product, "name": "Headphones", "brand": "Sony", "model": null, "category_name": "Audio"})
    );
    assert_eq!(item["serial_number"], "SN-1");
    assert_eq!(item["purchase_date"], bought.to_string());
    let expires = bought.checked_add_months(Months::new(24)).unwrap();
    assert_eq!(item["warranty_expires"], expires.to_string(), "purchase date + the product's warranty");
    assert_eq!(item["is_under_warranty"], true);
    assert_eq!(item["status"], "active");
    assert_eq!(item["version"], 1);
    assert_eq!(item["files_count"], 0);
    assert_eq!(item["notes"], Value::Null);

    // The same serial twice for one product is 409; for another product it is fine.
    let res = send(
        &app,
        Some(&ann),
        Method::POST,
        "/api/v1/user-products",
        Some(json!({"product_id": product, "serial_number": "SN-1"})),
    )
    .await;
    assert_eq!(error_fields(&expect_problem(res, 409).await), ["serial_number"]);
    let speaker = id(&create_product(&app, &admin, product_body(category, "Speaker", "JBL")).await);
    own(&app, &ann, json!({"product_id": speaker, "serial_number": "SN-1", "status": "sold"})).await;
    // Another user may have the same serial.
    let bob = app.signup("bob").await;
    own(&app, &bob, json!({"product_id": product, "serial_number": "SN-1"})).await;

    // Unknown or discontinued products, and other rules, are 422 naming the field.
    let res = send(&app, Some(&ann), Method::POST, "/api/v1/user-products", Some(json!({"product_id": 999}))).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["product_id"]);
    let old = id(&create_product(
        &app,
        &admin,
        json!({"name": "Walkman", "category_id": category, "brand": "Sony",
        "warranty_months": 12, "status": "discontinued"}),
    )
    .await);
    let res = send(&app, Some(&ann), Method::POST, "/api/v1/user-products", Some(json!({"product_id": old}))).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["product_id"]);
    let tomorrow = today() + chrono::Duration::days(2);
    let res = send(
        &app,
        Some(&ann),
        Method::POST,
        "/api/v1/user-products",
        Some(json!({"product_id": 999, "purchase_date": tomorrow, "status": "lost", "purchase_price_cents": "lots"})),
    )
    .await;
    let mut fields = error_fields(&expect_problem(res, 422).await);
    fields.sort();
    assert_eq!(fields, ["product_id", "purchase_date", "purchase_price_cents", "status"]);
    let res = send(&app, Some(&ann), Method::POST, "/api/v1/user-products", Some(json!({}))).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["product_id"]);

    // Reads and changes by the owner, with preconditions.
    let reply = Reply::of(send(&app, Some(&ann), Method::GET, &path, None).await).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("etag"), Some("\"1\""));
    let res = as_user(&app, &ann, Method::GET, &path).header("if-none-match", "\"1\"").send().await.unwrap();
    assert_eq!(res.status(), 304);
    let res =
        send(&app, Some(&ann), Method::PATCH, &path, Some(json!({"notes": "In the drawer", "status": "broken"}))).await;
    let reply = Reply::of(res).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(
        (reply.json()["notes"].clone(), reply.json()["status"].clone()),
        (json!("In the drawer"), json!("broken"))
    );
    let res = as_user(&app, &ann, Method::PUT, &path).header("if-match", "\"1\"").json(&json!({"notes": null})).send();
    expect_problem(res.await.unwrap(), 412).await;
    let res = as_user(&app, &ann, Method::PUT, &path).header("if-match", "\"2\"").json(&json!({"notes": null})).send();
    let changed = expect_json(res.await.unwrap(), 200).await;
    assert_eq!(changed["notes"], Value::Null);
    assert_eq!(changed["version"], 3);
    let res = send(&app, Some(&ann), Method::PATCH, &path, Some(json!({"product_id": old}))).await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["product_id"]);
    let res = send(&app, Some(&ann), Method::PATCH, &path, Some(json!({"product_id": speaker}))).await;
    assert_eq!(error_fields(&expect_problem(res, 409).await), ["serial_number"], "ann has SN-1 of the speaker");
    let res =
        send(&app, Some(&ann), Method::PATCH, &path, Some(json!({"warranty_expires": bought.pred_opt().unwrap()})))
            .await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["warranty_expires"]);

    // Nobody else sees or changes it: 404, admins included.
    for who in [&bob, &admin] {
        expect_problem(send(&app, Some(who), Method::GET, &path, None).await, 404).await;
        expect_problem(send(&app, Some(who), Method::PUT, &path, Some(json!({"notes": "mine"}))).await, 404).await;
        expect_problem(send(&app, Some(who), Method::PATCH, &path, Some(json!({"notes": "mine"}))).await, 404).await;
        expect_problem(send(&app, Some(who), Method::DELETE, &path, None).await, 404).await;
    }
    for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
        expect_problem(send(&app, None, method, &path, Some(json!({}))).await, 401).await;
    }
    expect_problem(
        send(&app, None, Method::POST, "/api/v1/user-products", Some(json!({"product_id": product}))).await,
        401,
    )
    .await;
    expect_problem(send(&app, None, Method::GET, "/api/v1/user-products", None).await, 401).await;
    expect_problem(send(&app, None, Method::GET, "/api/v1/user-products/warranty", None).await, 401).await;
    expect_problem(send(&app, Some(&ann), Method::GET, "/api/v1/user-products/abc", None).await, 400).await;

    // Deleting, with a precondition.
    let res = as_user(&app, &ann, Method::DELETE, &path).header("if-match", "\"1\"").send().await.unwrap();
    expect_problem(res, 412).await;
    assert_eq!(send(&app, Some(&ann), Method::DELETE, &path, None).await.status(), 204);
    expect_problem(send(&app, Some(&ann), Method::GET, &path, None).await, 404).await;
    expect_problem(send(&app, Some(&ann), Method::DELETE, &path, None).await, 404).await;
}

async fn an_idempotency_key_replays_an_item_creation(app: TestApp) {
    let (_, _, product) = small_catalogue(&app).await;
    let ann = app.signup("ann").await;
    let post = |body: Value| {
        as_user(&app, &ann, Method::POST, "/api/v1/user-products").header("idempotency-key", "once").json(&body).send()
    };
    let first = Reply::of(post(json!({"product_id": product, "serial_number": "A"})).await.unwrap()).await;
    let again = Reply::of(post(json!({"product_id": product, "serial_number": "A"})).await.unwrap()).await;
    assert_eq!((first.status, again.status), (201, 201), "{}", again.text);
    assert_eq!(first.json(), again.json());
    expect_problem(post(json!({"product_id": product, "serial_number": "B"})).await.unwrap(), 422).await;
    let list = expect_json(send(&app, Some(&ann), Method::GET, "/api/v1/user-products", None).await, 200).await;
    assert_eq!(list["pagination"]["total"], 1);
}

async fn collections_are_listed_by_owner_filtered_and_paginated(app: TestApp) {
    let (_, _, product) = small_catalogue(&app).await;
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let mut made = Vec::new();
    for (n, status) in ["active", "sold", "broken", "archived", "active"].iter().enumerate() {
        made.push(id(&own(
            &app,
            &ann,
            json!({"product_id": product, "serial_number": format!("S{n}"), "status": status}),
        )
        .await));
    }
    own(&app, &bob, json!({"product_id": product})).await;
    made.reverse(); // newest first

    let list = expect_json(send(&app, Some(&ann), Method::GET, "/api/v1/user-products", None).await, 200).await;
    assert_eq!(ids(&list), made);
    assert_eq!(list["pagination"], json!({"page": 1, "per_page": 20, "total": 5, "pages": 1}));
    let list =
        expect_json(send(&app, Some(&ann), Method::GET, "/api/v1/user-products?status=active,broken", None).await, 200)
            .await;
    assert_eq!(list["pagination"]["total"], 3);
    let reply =
        Reply::of(send(&app, Some(&ann), Method::GET, "/api/v1/user-products?per_page=2&page=3", None).await).await;
    assert_eq!(reply.json()["pagination"], json!({"page": 3, "per_page": 2, "total": 5, "pages": 3}));
    assert_eq!(ids(&reply.json()), [made[4]]);
    let rels = links(reply.header("link").unwrap());
    assert_eq!(link(&rels, "prev"), Some("/api/v1/user-products?per_page=2&page=2"));
    assert_eq!(link(&rels, "last"), Some("/api/v1/user-products?per_page=2&page=3"));

    let problem =
        expect_problem(send(&app, Some(&ann), Method::GET, "/api/v1/user-products?status=lost", None).await, 422).await;
    assert_eq!(error_fields(&problem), ["status"]);
    expect_problem(send(&app, Some(&ann), Method::GET, "/api/v1/user-products?per_page=0", None).await, 422).await;
    expect_problem(send(&app, Some(&ann), Method::GET, "/api/v1/user-products?page=x", None).await, 400).await;
    let carl = app.signup("carl").await;
    let empty = expect_json(send(&app, Some(&carl), Method::GET, "/api/v1/user-products", None).await, 200).await;
    assert_eq!(empty["pagination"], json!({"page": 1, "per_page": 20, "total": 0, "pages": 0}));
}

async fn the_warranty_overview_selects_by_expiry(app: TestApp) {
    let (_, _, product) = small_catalogue(&app).await;
    let ann = app.signup("ann").await;
    let day = |offset: i64| (today() + chrono::Duration::days(offset)).to_string();
    let long_ago = today().checked_sub_months(Months::new(60)).unwrap().to_string();
    let item = |serial: &str, expires: String, status: &str| {
        let body = json!({"product_id": product, "serial_number": serial, "purchase_date": long_ago,
            "warranty_expires": expires, "status": status});
        let app = &app;
        let ann = &ann;
        async move { id(&own(app, ann, body).await) }
    };
    let soon = item("soon", day(10), "active").await;
    let today_ = item("today", day(0), "broken").await;
    let later = item("later", day(100), "active").await;
    let over = item("over", day(-1), "active").await;
    let long_over = item("long-over", day(-400), "active").await;
    item("sold", day(10), "sold").await;
    own(&app, &ann, json!({"product_id": product, "serial_number": "no-date"})).await;

    let overview = |query: &'static str| {
        let (app, ann) = (&app, &ann);
        async move {
            let res = send(app, Some(ann), Method::GET, &format!("/api/v1/user-products/warranty{query}"), None).await;
            expect_json(res, 200).await
        }
    };
    let active = overview("").await;
    assert!(active.get("pagination").is_none(), "not paginated: {active}");
    assert_eq!(ids(&active), [today_, soon, later], "soonest end first; only items still owned");
    assert!(active["data"].as_array().unwrap().iter().all(|i| i["is_under_warranty"] == true));
    assert_eq!(ids(&overview("?filter=active").await), [today_, soon, later]);
    assert_eq!(ids(&overview("?filter=expiring").await), [today_, soon], "within 30 days by default");
    assert_eq!(ids(&overview("?filter=expiring&days=0").await), [today_]);
    assert_eq!(ids(&overview("?filter=expiring&days=100").await), [today_, soon, later]);
    let expired = overview("?filter=expired").await;
    assert_eq!(ids(&expired), [over, long_over], "latest end first");
    assert!(expired["data"].as_array().unwrap().iter().all(|i| i["is_under_warranty"] == false));

    let bob = app.signup("bob").await;
    let res = send(&app, Some(&bob), Method::GET, "/api/v1/user-products/warranty", None).await;
    assert_eq!(expect_json(res, 200).await, json!({"data": []}));

    let bad = |query: &'static str| {
        let (app, ann) = (&app, &ann);
        async move { send(app, Some(ann), Method::GET, &format!("/api/v1/user-products/warranty{query}"), None).await }
    };
    assert_eq!(error_fields(&expect_problem(bad("?filter=expiring&days=-1").await, 422).await), ["days"]);
    assert_eq!(error_fields(&expect_problem(bad("?filter=soon").await, 422).await), ["filter"]);
    expect_problem(bad("?days=abc").await, 400).await;
}

engines!(
    catalogue_reads_are_public_and_writes_are_admin_only,
    categories_are_created_changed_and_deleted,
    products_are_created_read_changed_and_deleted,
    an_idempotency_key_replays_a_product_creation,
    an_idempotency_key_replays_a_category_creation,
    products_are_listed_filtered_and_paginated,
    quick_search_finds_active_products_with_a_clamped_limit,
    users_add_and_change_their_own_products,
    an_idempotency_key_replays_an_item_creation,
    collections_are_listed_by_owner_filtered_and_paginated,
    the_warranty_overview_selects_by_expiry,
);
