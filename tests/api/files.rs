//! Files as clients meet them: uploads typed by their bytes, images made upright and stripped,
//! audio headers, refusals that store nothing, downloads with validators and ranges, who may read
//! and delete, attachments to tasks and owned products, generated PDFs, and the same on S3.

use std::io::Cursor;

use reqwest::multipart::{Form, Part};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use workbench_e2e::{Account, TestApp, engines, engines_with, engines_with_fake, error_fields, expect_problem};
use workbench_storage::testing::{BUCKET, S3Server};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/media/tests/fixtures");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A multipart form with `file` and any text parts.
fn form(name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Form {
    let mut form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    for (key, value) in fields {
        form = form.text(key.to_string(), value.to_string());
    }
    form
}

async fn upload_to(app: &TestApp, who: &Account, path: &str, form: Form) -> Response {
    app.post(path).bearer_auth(&who.access_token).multipart(form).send().await.unwrap()
}

async fn upload(app: &TestApp, who: &Account, name: &str, bytes: Vec<u8>, fields: &[(&str, &str)]) -> Value {
    let res = upload_to(app, who, "/api/v1/files", form(name, bytes, fields)).await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    body
}

async fn get(app: &TestApp, who: &Account, path: &str) -> Response {
    app.get(path).bearer_auth(&who.access_token).send().await.unwrap()
}

async fn download(app: &TestApp, who: &Account, file: &Value) -> Vec<u8> {
    let res = get(app, who, &format!("/api/v1/files/{}/download", file["id"])).await;
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

/// A photo-like JPEG of `width`×`height` with EXIF orientation `orientation` and a camera make
/// that must not survive re-encoding.
fn jpeg_with_exif(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| {
        // Top-left quadrant red, the rest blue: the orientation shows where red ends up.
        if x < width / 2 && y < height / 2 { image::Rgb([220, 20, 20]) } else { image::Rgb([20, 20, 220]) }
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&image).unwrap();
    let make = b"SecretCameraMaker\0";
    let ifd_offset = 8u32;
    let data_offset = ifd_offset + 2 + 2 * 12 + 4;
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(ifd_offset.to_le_bytes());
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(0x010Fu16.to_le_bytes());
    tiff.extend(2u16.to_le_bytes());
    tiff.extend((make.len() as u32).to_le_bytes());
    tiff.extend(data_offset.to_le_bytes());
    tiff.extend(0x0112u16.to_le_bytes());
    tiff.extend(3u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(orientation.to_le_bytes());
    tiff.extend(0u16.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    tiff.extend(make);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, 0xE1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, _| image::Rgba([(x % 256) as u8, 80, 120, 128]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn gif(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbaImage::from_fn(width, height, |x, y| image::Rgba([(x * 7) as u8, (y * 5) as u8, 0, 255]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Gif).unwrap();
    out.into_inner()
}

/// A PNG whose header claims 20 000 × 20 000 pixels (a decompression bomb).
fn png_bomb() -> Vec<u8> {
    declaring(png(8, 8), 20_000, 20_000)
}

/// `png` with its header claiming `width`×`height`: a crafted file's CRC would be right, so it
/// is fixed; the size must be refused before anything else is read.
fn declaring(mut png: Vec<u8>, width: u32, height: u32) -> Vec<u8> {
    // IHDR's width and height sit at offsets 16 and 20; its CRC (of bytes 12..29) at 29.
    png[16..20].copy_from_slice(&width.to_be_bytes());
    png[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

/// A 16-bit RGBA PNG (eight bytes a pixel once decoded) whose header claims `width`×`height`:
/// a few hundred bytes that would decode to `width × height × 8` bytes.
fn deep_png_bomb(width: u32, height: u32) -> Vec<u8> {
    let image = image::ImageBuffer::from_pixel(4, 4, image::Rgba([0x1234_u16, 0x5678, 0x9ABC, 0xFFFF]));
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba16(image).write_to(&mut out, image::ImageFormat::Png).unwrap();
    let png = out.into_inner();
    // Colour type 6 (RGBA) at 16 bits a sample.
    assert_eq!((png[24], png[25]), (16, 6));
    declaring(png, width, height)
}

/// The message of a problem's only error, which must be about `field`.
fn only_error(problem: &Value, field: &str) -> String {
    assert_eq!(error_fields(problem), [field], "{problem}");
    problem["errors"][0]["message"].as_str().unwrap_or_default().to_owned()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

async fn files_count(app: &TestApp) -> u64 {
    let admin = app.signup_with_role(&format!("census{}", rand_suffix()), "admin").await;
    let res = get(app, &admin, "/api/v1/admin/dashboard").await;
    res.json::<Value>().await.unwrap()["files_count"].as_u64().unwrap()
}

fn rand_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}

async fn every_accepted_type_is_stored_as_its_bytes_say(app: TestApp) {
    let ann = app.signup("ann").await;
    let cases: Vec<(&str, Vec<u8>, &str, &str)> = vec![
        ("notes.md", "# Héllo, wörld\nplain UTF-8\n".as_bytes().to_vec(), "text/plain; charset=utf-8", "document"),
        ("scan.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec(), "application/pdf", "document"),
        ("tone.wav", fixture("tone-8k-mono.wav"), "audio/wav", "audio"),
        ("tone.ogg", fixture("tone-22k-mono.ogg"), "audio/ogg", "audio"),
        ("tone.flac", fixture("tone-22k-stereo.flac"), "audio/flac", "audio"),
        ("tone.mp3", fixture("cbr-info.mp3"), "audio/mpeg", "audio"),
        ("logo.png", png(40, 30), "image/png", "image"),
        ("anim.gif", gif(20, 10), "image/png", "image"),
        ("photo.webp", fixture("lossy-64x48.webp"), "image/jpeg", "image"),
        // The client's name and type lie; the bytes decide.
        ("invoice.exe", "just text".as_bytes().to_vec(), "text/plain; charset=utf-8", "document"),
    ];
    for (name, bytes, content_type, kind) in cases {
        let file = upload(&app, &ann, name, bytes.clone(), &[]).await;
        assert_eq!(file["content_type"], content_type, "{name}: {file}");
        assert_eq!(file["kind"], kind, "{name}");
        assert_eq!(file["owner_id"], ann.id);
        let stored = download(&app, &ann, &file).await;
        assert_eq!(file["sha256"], sha256(&stored), "{name}: sha256 is of the stored bytes");
        assert_eq!(file["size"], stored.len(), "{name}");
        if kind != "image" {
            assert_eq!(stored, bytes, "{name}: stored as received");
        }
        if kind == "audio" {
            assert!(file["duration_ms"].as_u64().unwrap() > 0, "{name}: {file}");
            assert!(file["sample_rate"].as_u64().unwrap() >= 8000, "{name}");
        }
    }
    // A re-encoded GIF is a PNG, and its name says so; audio headers are exact.
    let gif = upload(&app, &ann, "anim.gif", gif(20, 10), &[]).await;
    assert_eq!(gif["filename"], "anim.png");
    assert_eq!((gif["width"].as_u64(), gif["height"].as_u64()), (Some(20), Some(10)));
    let wav = upload(&app, &ann, "tone.wav", fixture("tone-8k-mono.wav"), &[("kind", "attachment")]).await;
    assert_eq!((wav["duration_ms"].as_u64(), wav["channels"].as_u64()), (Some(500), Some(1)));
    assert_eq!(wav["kind"], "attachment", "a kind the client chose");
}

async fn images_are_turned_upright_stripped_bounded_and_get_a_thumbnail(app: TestApp) {
    let ann = app.signup("ann").await;
    // 3000×1000 stored sideways (orientation 6: turn 90° clockwise to view).
    let photo = jpeg_with_exif(3000, 1000, 6);
    assert!(photo.windows(17).any(|w| w == b"SecretCameraMaker"));
    let file = upload(&app, &ann, "photo.jpg", photo, &[]).await;
    assert_eq!(file["content_type"], "image/jpeg");
    // Upright it is 1000 wide and 3000 high; bounded to 2048 on its long side.
    assert_eq!((file["width"].as_u64(), file["height"].as_u64()), (Some(683), Some(2048)), "{file}");
    let stored = download(&app, &ann, &file).await;
    assert!(!stored.windows(17).any(|w| w == b"SecretCameraMaker"), "metadata is stripped");
    assert!(!stored.windows(4).any(|w| w == b"Exif"), "no EXIF left");
    let decoded = image::load_from_memory(&stored).unwrap().to_rgb8();
    assert_eq!(decoded.dimensions(), (683, 2048));
    // The red quadrant (top-left of the sideways pixels) is now top-right.
    let red = |p: &image::Rgb<u8>| p.0[0] > 150 && p.0[2] < 100;
    assert!(red(decoded.get_pixel(600, 100)), "top-right is red");
    assert!(!red(decoded.get_pixel(50, 100)), "top-left is not");

    let res = get(&app, &ann, &format!("/api/v1/files/{}/thumbnail", file["id"])).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let thumbnail = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((thumbnail.width(), thumbnail.height()), (256, 256));
    assert!(file["thumbnail_url"].as_str().unwrap().ends_with(&format!("/api/v1/files/{}/thumbnail", file["id"])));

    let text = upload(&app, &ann, "a.txt", b"text".to_vec(), &[]).await;
    expect_problem(get(&app, &ann, &format!("/api/v1/files/{}/thumbnail", text["id"])).await, 404).await;
    assert!(text["thumbnail_url"].is_null());
}

async fn refused_uploads_say_why_and_store_nothing(app: TestApp) {
    let ann = app.signup("ann").await;
    let task = app
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "mine"}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let bob = app.signup("bob").await;
    let cases: Vec<(Form, u16, Vec<&str>)> = vec![
        (form("a.zip", b"PK\x03\x04zipzipzip".to_vec(), &[]), 415, vec![]),
        (form("a.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00".to_vec(), &[]), 415, vec![]),
        (form("bin", vec![0, 159, 146, 150, 1, 2, 3, 0], &[]), 415, vec![]),
        (form("empty.txt", Vec::new(), &[]), 415, vec![]),
        (form("a.txt", b"hi".to_vec(), &[("kind", "photo")]), 422, vec!["kind"]),
        (form("a.txt", b"hi".to_vec(), &[("task_id", &task["id"].to_string())]), 422, vec!["task_id"]),
        (form("a.txt", b"hi".to_vec(), &[("task_id", "abc"), ("kind", "nope")]), 422, vec!["kind", "task_id"]),
        (form("a.txt", b"hi".to_vec(), &[("task_id", "1"), ("user_product_id", "1")]), 422, vec!["user_product_id"]),
        (form("bomb.png", png_bomb(), &[]), 422, vec!["file"]),
        (Form::new().text("kind", "manual"), 422, vec!["file"]),
        (form("a.txt", b"hi".to_vec(), &[("colour", "red")]), 422, vec!["colour"]),
    ];
    for (i, (form, status, fields)) in cases.into_iter().enumerate() {
        let problem = expect_problem(upload_to(&app, &bob, "/api/v1/files", form).await, status).await;
        let mut got = error_fields(&problem);
        got.sort();
        assert_eq!(got, fields, "case {i}: {problem}");
    }
    let res = app
        .post("/api/v1/files")
        .bearer_auth(&bob.access_token)
        .json(&json!({"file": "not multipart"}))
        .send()
        .await
        .unwrap();
    expect_problem(res, 400).await;
    assert_eq!(files_count(&app).await, 0, "no refused upload left a record");
}

async fn an_upload_over_the_limit_is_refused_with_413_and_the_client_hears_it(app: TestApp) {
    let ann = app.signup("ann").await;
    // The limit is 64 KiB here: a body twice over is answered 413, not a reset connection.
    let big = vec![b'a'; 128 * 1024];
    let problem = expect_problem(upload_to(&app, &ann, "/api/v1/files", form("big.txt", big, &[])).await, 413).await;
    assert!(problem["detail"].as_str().unwrap().contains("65536"), "{problem}");
    // Just under the limit is fine.
    upload(&app, &ann, "fits.txt", vec![b'a'; 60 * 1024], &[]).await;
    assert_eq!(files_count(&app).await, 1);
}

async fn downloads_carry_validators_and_serve_ranges(app: TestApp) {
    let ann = app.signup("ann").await;
    let text: Vec<u8> = (0..1000).map(|i| b'a' + (i % 26) as u8).collect();
    let file = upload(&app, &ann, "Größe \"report\".txt", text.clone(), &[]).await;
    let path = format!("/api/v1/files/{}/download", file["id"]);
    let tag = format!("\"{}\"", file["sha256"].as_str().unwrap());

    let res = app.get(&path).bearer_auth(&ann.access_token).header("Accept-Encoding", "gzip, br").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    assert_eq!(headers["etag"], tag.as_str());
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert!(headers.get("content-encoding").is_none(), "downloads are sent as stored");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"Gr__e _report_.txt\""), "{disposition}");
    // The stored name is sanitised (`"` is not allowed in file names on every system).
    assert_eq!(file["filename"], "Größe _report_.txt");
    assert!(disposition.contains("filename*=UTF-8''Gr%C3%B6%C3%9Fe%20_report_.txt"), "{disposition}");
    assert_eq!(res.bytes().await.unwrap().to_vec(), text);

    let res = app.get(&path).bearer_auth(&ann.access_token).header("If-None-Match", &tag).send().await.unwrap();
    assert_eq!(res.status(), 304);

    let ranged = |range: &'static str| app.get(&path).bearer_auth(&ann.access_token).header("Range", range);
    let res = ranged("bytes=10-19").send().await.unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.headers()["content-range"], "bytes 10-19/1000");
    assert_eq!(res.bytes().await.unwrap().to_vec(), text[10..20]);
    let res = ranged("bytes=-5").send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.bytes().await.unwrap().to_vec()), (206, text[995..].to_vec()));
    let res = ranged("bytes=990-").send().await.unwrap();
    assert_eq!(res.headers()["content-range"], "bytes 990-999/1000");
    let res = ranged("bytes=1000-").send().await.unwrap();
    assert_eq!(res.headers()["content-range"], "bytes */1000");
    expect_problem(res, 416).await;
    // A range whose If-Range names another version is answered whole.
    let res = ranged("bytes=0-9").header("If-Range", "\"something-else\"").send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.bytes().await.unwrap().len()), (200, 1000));
    let res = ranged("bytes=0-9").header("If-Range", &tag).send().await.unwrap();
    assert_eq!(res.status(), 206);
}

async fn only_those_who_may_read_a_file_see_it(app: TestApp) {
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let eve = app.signup("eve").await;
    let admin = app.signup_with_role("root", "admin").await;
    let task = app
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "shared", "assignee_id": bob.id}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let private = upload(&app, &ann, "private.txt", b"mine".to_vec(), &[]).await;
    let res = upload_to(
        &app,
        &ann,
        &format!("/api/v1/tasks/{}/attachments", task["id"]),
        form("plan.txt", b"plan".to_vec(), &[]),
    )
    .await;
    assert_eq!(res.status(), 201);
    let attached: Value = res.json().await.unwrap();
    assert_eq!(attached["task_id"], task["id"]);

    // The assignee reads the task's attachment, not Ann's other file; Eve reads neither.
    assert_eq!(download(&app, &bob, &attached).await, b"plan");
    for path in ["", "/download"] {
        expect_problem(get(&app, &bob, &format!("/api/v1/files/{}{path}", private["id"])).await, 404).await;
        expect_problem(get(&app, &eve, &format!("/api/v1/files/{}{path}", attached["id"])).await, 404).await;
    }
    let listed: Value =
        get(&app, &bob, &format!("/api/v1/tasks/{}/attachments", task["id"])).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    expect_problem(get(&app, &eve, &format!("/api/v1/tasks/{}/attachments", task["id"])).await, 404).await;
    // A route that names the task takes no other target.
    let res = upload_to(
        &app,
        &ann,
        &format!("/api/v1/tasks/{}/attachments", task["id"]),
        form("y.txt", b"y".to_vec(), &[("user_product_id", "1")]),
    )
    .await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["user_product_id"]);
    // Eve cannot attach to a task she cannot see.
    let res =
        upload_to(&app, &eve, &format!("/api/v1/tasks/{}/attachments", task["id"]), form("x.txt", b"x".to_vec(), &[]))
            .await;
    expect_problem(res, 404).await;

    // Reading is not deleting: the assignee is refused, a stranger is told nothing exists.
    let delete = |who: &Account, id: &Value| {
        app.request(reqwest::Method::DELETE, &format!("/api/v1/files/{id}")).bearer_auth(who.access_token.clone())
    };
    expect_problem(delete(&bob, &attached["id"]).send().await.unwrap(), 403).await;
    expect_problem(delete(&eve, &private["id"]).send().await.unwrap(), 404).await;
    // Admins read and delete anything.
    assert_eq!(download(&app, &admin, &private).await, b"mine");
    assert_eq!(delete(&admin, &private["id"]).send().await.unwrap().status(), 204);
    assert_eq!(delete(&ann, &attached["id"]).send().await.unwrap().status(), 204);
    expect_problem(get(&app, &ann, &format!("/api/v1/files/{}", attached["id"])).await, 404).await;
    assert_eq!(files_count(&app).await, 0);
}

async fn an_owned_product_keeps_its_files_and_counts_them(app: TestApp) {
    let admin = app.signup_with_role("root", "admin").await;
    let ann = app.signup("ann").await;
    let bob = app.signup("bob").await;
    let post =
        |who: &Account, path: &str, body: Value| app.post(path).bearer_auth(who.access_token.clone()).json(&body);
    let category: Value =
        post(&admin, "/api/v1/categories", json!({"name": "Kitchen"})).send().await.unwrap().json().await.unwrap();
    let product: Value = post(
        &admin,
        "/api/v1/products",
        json!({"name": "Kettle", "brand": "Acme", "category_id": category["id"], "warranty_months": 24}),
    )
    .send()
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let item: Value = post(&ann, "/api/v1/user-products", json!({"product_id": product["id"], "serial_number": "K-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(item["files_count"], 0);
    let files_path = format!("/api/v1/user-products/{}/files", item["id"]);
    let res =
        upload_to(&app, &ann, &files_path, form("manual.pdf", b"%PDF-1.4\n%%EOF\n".to_vec(), &[("kind", "manual")]))
            .await;
    assert_eq!(res.status(), 201);
    let manual: Value = res.json().await.unwrap();
    assert_eq!((manual["kind"].as_str(), manual["user_product_id"].as_i64()), (Some("manual"), item["id"].as_i64()));
    upload(
        &app,
        &ann,
        "invoice.txt",
        b"paid".to_vec(),
        &[("kind", "invoice"), ("user_product_id", &item["id"].to_string())],
    )
    .await;
    let listed: Value = get(&app, &ann, &files_path).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let item_now: Value = get(&app, &ann, &format!("/api/v1/user-products/{}", item["id"])).await.json().await.unwrap();
    assert_eq!(item_now["files_count"], 2);

    // Someone else's item: not there, for listing and for uploading (by route or by field).
    expect_problem(get(&app, &bob, &files_path).await, 404).await;
    expect_problem(upload_to(&app, &bob, &files_path, form("x.txt", b"x".to_vec(), &[])).await, 404).await;
    let res = upload_to(
        &app,
        &bob,
        "/api/v1/files",
        form("x.txt", b"x".to_vec(), &[("user_product_id", &item["id"].to_string())]),
    )
    .await;
    assert_eq!(error_fields(&expect_problem(res, 422).await), ["user_product_id"]);

    // An item with files is not deleted until they are.
    let item_path = format!("/api/v1/user-products/{}", item["id"]);
    let delete = |path: String| app.request(reqwest::Method::DELETE, &path).bearer_auth(ann.access_token.clone());
    expect_problem(delete(item_path.clone()).send().await.unwrap(), 409).await;
    for file in listed["data"].as_array().unwrap() {
        assert_eq!(delete(format!("/api/v1/files/{}", file["id"])).send().await.unwrap().status(), 204);
    }
    assert_eq!(delete(item_path).send().await.unwrap().status(), 204);
}

async fn pdfs_are_rendered_from_templates_and_stored(app: TestApp) {
    let ann = app.signup("ann").await;
    let lines: Vec<Value> = (1..=60)
        .map(|i| json!({"description": format!("Line {i}: réparation — Ελληνικά"), "quantity": 1.5, "unit_price_cents": 1000 + i}))
        .collect();
    let invoice = json!({"template": "invoice", "data": {
        "number": "INV-7", "date": "2026-11-23", "currency": "EUR", "tax_rate_percent": 20,
        "customer": {"name": "Müller & Søn", "address": "Torvet 1\n5970 Ærøskøbing"}, "lines": lines}});
    let res = app.post("/api/v1/files/pdf").bearer_auth(&ann.access_token).json(&invoice).send().await.unwrap();
    assert_eq!(res.status(), 201);
    assert!(res.headers()["location"].to_str().unwrap().starts_with("/api/v1/files/"));
    let file: Value = res.json().await.unwrap();
    assert_eq!((file["kind"].as_str(), file["content_type"].as_str()), (Some("pdf"), Some("application/pdf")));
    assert_eq!(file["filename"], "invoice-inv-7.pdf");
    let bytes = download(&app, &ann, &file).await;
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(file["sha256"], sha256(&bytes));

    app.post("/api/v1/tasks").bearer_auth(&ann.access_token).json(&json!({"title": "Report me"})).send().await.unwrap();
    for body in [json!({"template": "profile"}), json!({"template": "task_report", "data": {"status": "pending"}})] {
        let res = app.post("/api/v1/files/pdf").bearer_auth(&ann.access_token).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201, "{body}");
        let file: Value = res.json().await.unwrap();
        assert!(download(&app, &ann, &file).await.starts_with(b"%PDF-"));
    }

    let bad = json!({"template": "invoice", "data": {"number": "INV-8", "currency": "XXQ", "lines": [{"description": "x", "quantity": 0}]}});
    let problem = expect_problem(
        app.post("/api/v1/files/pdf").bearer_auth(&ann.access_token).json(&bad).send().await.unwrap(),
        422,
    )
    .await;
    let fields = error_fields(&problem);
    for field in
        ["data.date", "data.currency", "data.customer", "data.lines[0].quantity", "data.lines[0].unit_price_cents"]
    {
        assert!(fields.contains(&field.to_owned()), "{field} in {fields:?}");
    }
    let problem = expect_problem(
        app.post("/api/v1/files/pdf")
            .bearer_auth(&ann.access_token)
            .json(&json!({"template": "memo"}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["template"]);
    let problem = expect_problem(
        app.post("/api/v1/files/pdf")
            .bearer_auth(&ann.access_token)
            .json(&json!({"template": "task_report", "data": {"due_after": "soon"}}))
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["data.due_after"]);
}

async fn a_repeated_upload_with_its_idempotency_key_stores_one_file(app: TestApp) {
    let ann = app.signup("ann").await;
    let send = |bytes: &'static [u8]| {
        app.post("/api/v1/files")
            .bearer_auth(&ann.access_token)
            .header("Idempotency-Key", "upload-1")
            .multipart(form("a.txt", bytes.to_vec(), &[]))
            .send()
    };
    let first = send(b"once").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send(b"once").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    expect_problem(send(b"other bytes").await.unwrap(), 422).await;
    assert_eq!(files_count(&app).await, 1);
}

async fn a_sixteen_bit_png_bomb_is_refused_before_decoding(app: TestApp) {
    let ann = app.signup("ann").await;
    // 7000 × 7000 is 49 megapixels, 374 MiB once decoded; the file is a few hundred bytes.
    let bomb = deep_png_bomb(7_000, 7_000);
    assert!(bomb.len() < 1_000);
    let res = upload_to(&app, &ann, "/api/v1/files", form("bomb.png", bomb, &[])).await;
    let message = only_error(&expect_problem(res, 422).await, "file");
    assert!(message.contains("7000×7000") && message.contains("40000000 pixels"), "{message}");
    assert_eq!(files_count(&app).await, 0);
}

async fn max_image_pixels_bounds_what_is_decoded(app: TestApp) {
    let ann = app.signup("ann").await;
    // MAX_IMAGE_PIXELS is a million here.
    let res = upload_to(&app, &ann, "/api/v1/files", form("wide.png", png(1_001, 1_000), &[])).await;
    let message = only_error(&expect_problem(res, 422).await, "file");
    assert!(message.contains("1001×1000") && message.contains("1000000 pixels"), "{message}");
    let fits = upload(&app, &ann, "fits.png", png(1_000, 1_000), &[]).await;
    assert_eq!((fits["width"].as_u64(), fits["height"].as_u64()), (Some(1_000), Some(1_000)));
    assert_eq!(files_count(&app).await, 1);
}

async fn deep_pixels_count_in_the_decoded_bytes(app: TestApp) {
    let ann = app.signup("ann").await;
    // MAX_IMAGE_PIXELS is 100 million here, so the pixel count passes: 9000 × 9000 at eight bytes
    // a pixel is 618 MiB decoded, past the 512 MiB bound.
    let res = upload_to(&app, &ann, "/api/v1/files", form("deep.png", deep_png_bomb(9_000, 9_000), &[])).await;
    let message = only_error(&expect_problem(res, 422).await, "file");
    assert!(message.contains("618 MiB") && message.contains("512 MiB"), "{message}");
    assert_eq!(files_count(&app).await, 0);
}

async fn html_xml_and_svg_are_not_plain_text(app: TestApp) {
    let ann = app.signup("ann").await;
    let text_part = |name: &str, bytes: &[u8]| {
        Form::new().part("file", Part::bytes(bytes.to_vec()).file_name(name.to_owned()).mime_str("text/plain").unwrap())
    };
    let markup: [(&str, &[u8], &str); 5] = [
        ("page.txt", b"<!DOCTYPE html>\n<html><body><script>alert(document.cookie)</script></body></html>", "HTML"),
        ("notes.txt", b"\n\n   <SCRIPT>fetch('/api/v1/users/me')</SCRIPT>", "HTML"),
        ("logo.svg", b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><circle r=\"4\"/></svg>", "SVG"),
        ("feed.xml", b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed/>", "XML"),
        ("comment.txt", b"<!-- hidden --> hello", "HTML"),
    ];
    for (name, bytes, detected) in markup {
        let problem = expect_problem(upload_to(&app, &ann, "/api/v1/files", text_part(name, bytes)).await, 415).await;
        assert!(problem["type"].as_str().unwrap().ends_with("/unsupported-media-type"), "{problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(&format!("{detected} markup")), "{name}: {detail}");
    }
    assert_eq!(files_count(&app).await, 0, "no refused upload left a record");
    // Text that only mentions a tag later on is text.
    let plain = b"To make a word bold, write <b>word</b>.\n";
    let res = upload_to(&app, &ann, "/api/v1/files", text_part("howto.txt", plain)).await;
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    assert_eq!(file["content_type"], "text/plain; charset=utf-8");
    assert_eq!(download(&app, &ann, &file).await, plain);
}

async fn text_is_stored_under_a_text_extension(app: TestApp) {
    let ann = app.signup("ann").await;
    let cases = [
        ("notes.html", "notes.html.txt"),
        ("evil.svg", "evil.svg.txt"),
        ("readme", "readme.txt"),
        ("CHANGES.md", "CHANGES.md"),
        ("table.csv", "table.csv"),
        ("server.LOG", "server.LOG"),
        ("plain.txt", "plain.txt"),
    ];
    for (sent, stored) in cases {
        let file = upload(&app, &ann, sent, b"just words\n".to_vec(), &[]).await;
        assert_eq!(file["filename"], stored, "{sent}");
        let res = get(&app, &ann, &format!("/api/v1/files/{}/download", file["id"])).await;
        let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
        assert!(disposition.contains(&format!("filename=\"{stored}\"")), "{disposition}");
    }
}

async fn a_form_without_its_file_and_with_a_stranger_names_both(app: TestApp) {
    let ann = app.signup("ann").await;
    let task: Value = app
        .post("/api/v1/tasks")
        .bearer_auth(&ann.access_token)
        .json(&json!({"title": "mine"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stranger_bytes = vec![b'x'; 200 * 1024];
    let cases: Vec<(String, Form, Vec<&str>)> = vec![
        ("/api/v1/files".into(), Form::new().text("kind", "manual").text("colour", "red"), vec!["colour", "file"]),
        // The file sent under another name: read past, not stored, and both named.
        (
            "/api/v1/files".into(),
            Form::new()
                .part("upload", Part::bytes(stranger_bytes.clone()).file_name("a.txt"))
                .text("colour", "red")
                .text("kind", "manual"),
            vec!["colour", "file", "upload"],
        ),
        // A stranger before the file: only the stranger.
        (
            "/api/v1/files".into(),
            Form::new()
                .part("upload", Part::bytes(stranger_bytes))
                .part("file", Part::bytes(b"hello".to_vec()).file_name("a.txt")),
            vec!["upload"],
        ),
        (
            format!("/api/v1/tasks/{}/attachments", task["id"]),
            Form::new().text("task_id", "1"),
            vec!["file", "task_id"],
        ),
    ];
    for (i, (path, form, fields)) in cases.into_iter().enumerate() {
        let problem = expect_problem(upload_to(&app, &ann, &path, form).await, 422).await;
        let mut got = error_fields(&problem);
        got.sort();
        assert_eq!(got, fields, "case {i}: {problem}");
    }
    assert_eq!(files_count(&app).await, 0);
}

async fn invoice_limits_are_decided_before_any_layout(app: TestApp) {
    let ann = app.signup("ann").await;
    let invoice = |lines: Vec<Value>| {
        json!({"template": "invoice", "data": {
            "number": "INV-9", "date": "2026-11-23", "currency": "EUR",
            "customer": {"name": "Acme"}, "lines": lines}})
    };
    let line = |description: String| json!({"description": description, "quantity": 1, "unit_price_cents": 100});
    let render = |body: Value| app.post("/api/v1/files/pdf").bearer_auth(&ann.access_token).json(&body).send();

    let started = std::time::Instant::now();
    let res = render(invoice(vec![line("Widget".into()); 501])).await.unwrap();
    let problem = expect_problem(res, 422).await;
    assert_eq!(error_fields(&problem), ["data.lines"], "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("500"), "{problem}");

    let mut lines = vec![line("Widget".into()); 4];
    lines[3] = line("é".repeat(1_001));
    let problem = expect_problem(render(invoice(lines)).await.unwrap(), 422).await;
    assert_eq!(error_fields(&problem), ["data.lines[3].description"], "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("1000"), "{problem}");

    // Nearly a megabyte that once cost half a minute of layout before its 422: every
    // description is named, and nothing is laid out.
    let problem = expect_problem(render(invoice(vec![line("w".repeat(2_000)); 480])).await.unwrap(), 422).await;
    let fields = error_fields(&problem);
    assert_eq!(fields.len(), 480);
    assert!(fields.iter().all(|f| f.starts_with("data.lines[") && f.ends_with("].description")), "{fields:?}");
    let elapsed = started.elapsed();
    assert!(elapsed < std::time::Duration::from_secs(5), "refused in {elapsed:?}");

    // At the limit is fine.
    let res = render(invoice(vec![line("é".repeat(1_000))])).await.unwrap();
    assert_eq!(res.status(), 201);
    assert_eq!(files_count(&app).await, 1);
}

engines!(
    every_accepted_type_is_stored_as_its_bytes_say,
    images_are_turned_upright_stripped_bounded_and_get_a_thumbnail,
    refused_uploads_say_why_and_store_nothing,
    downloads_carry_validators_and_serve_ranges,
    only_those_who_may_read_a_file_see_it,
    an_owned_product_keeps_its_files_and_counts_them,
    pdfs_are_rendered_from_templates_and_stored,
    a_repeated_upload_with_its_idempotency_key_stores_one_file,
    a_sixteen_bit_png_bomb_is_refused_before_decoding,
    html_xml_and_svg_are_not_plain_text,
    text_is_stored_under_a_text_extension,
    a_form_without_its_file_and_with_a_stranger_names_both,
    invoice_limits_are_decided_before_any_layout,
    a_projects_viewers_read_its_tasks_files_but_attach_none,
);

/// Attaching a file is a change of the task: a project's viewer, who sees its tasks, reads their
/// files and is refused (`403`) on every route that attaches; its editors attach.
async fn a_projects_viewers_read_its_tasks_files_but_attach_none(app: TestApp) {
    let (ann, vic) = (app.signup("ann").await, app.signup("vic").await);
    let send = |who: &Account, path: &str, body: Value| {
        app.post(&format!("/api/v1{path}")).bearer_auth(who.access_token.clone()).json(&body).send()
    };
    let res = send(&ann, "/projects", json!({"name": "Kitchen"})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let kitchen = res.json::<Value>().await.unwrap()["id"].clone();
    let res = send(&ann, &format!("/projects/{kitchen}/members"), json!({"user_id": vic.id, "role": "viewer"})).await;
    assert_eq!(res.unwrap().status(), StatusCode::CREATED);
    let res = send(&ann, "/tasks", json!({"title": "Tiles", "project_id": kitchen})).await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let task = res.json::<Value>().await.unwrap()["id"].clone();
    let attachments = format!("/api/v1/tasks/{task}/attachments");
    let res = upload_to(&app, &ann, &attachments, form("plan.txt", b"plan".to_vec(), &[])).await;
    assert_eq!(res.status(), StatusCode::CREATED, "an editor (here its admin) attaches");
    let plan: Value = res.json().await.unwrap();

    assert_eq!(download(&app, &vic, &plan).await, b"plan", "a viewer reads the task's files");
    let listed: Value = get(&app, &vic, &attachments).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    expect_problem(upload_to(&app, &vic, &attachments, form("mine.txt", b"mine".to_vec(), &[])).await, 403).await;
    let task_field = task.to_string();
    let res = upload_to(&app, &vic, "/api/v1/files", form("mine.txt", b"mine".to_vec(), &[("task_id", &task_field)]));
    expect_problem(res.await, 403).await;
    let listed: Value = get(&app, &ann, &attachments).await.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "nothing was attached by the refusals");
}

engines_with!(an_upload_over_the_limit_is_refused_with_413_and_the_client_hears_it with |s| s.files.max_upload_bytes = 64 * 1024);
engines_with!(max_image_pixels_bounds_what_is_decoded with |s| s.files.max_image_pixels = 1_000_000);
engines_with!(deep_pixels_count_in_the_decoded_bytes with |s| s.files.max_image_pixels = 100_000_000);

/// The local S3 server, as the fake third party of `engines_with_fake!`.
struct S3 {
    server: S3Server,
}

impl S3 {
    fn uri(&self) -> String {
        self.server.endpoint.clone()
    }
}

async fn start_s3() -> S3 {
    S3 { server: S3Server::start().await }
}

fn point_at_s3(settings: &mut workbench_app::Settings, endpoint: &str) {
    settings.files.storage_url = Some(format!("s3://{BUCKET}/workbench"));
    settings.files.s3_endpoint = Some(endpoint.to_owned());
    settings.files.s3_region = Some("us-east-1".into());
    settings.files.aws_access_key_id = Some(workbench_storage::testing::ACCESS_KEY.into());
    settings.files.aws_secret_access_key = Some(workbench_storage::testing::SECRET_KEY.into());
}

async fn files_live_in_s3_with_ranges_and_deletion(app: TestApp, s3: S3) {
    let ann = app.signup("ann").await;
    let text: Vec<u8> = (0..2000).map(|i| b'a' + (i % 26) as u8).collect();
    let file = upload(&app, &ann, "doc.txt", text.clone(), &[]).await;
    let photo = upload(&app, &ann, "photo.jpg", jpeg_with_exif(400, 300, 1), &[]).await;
    // The objects are in the bucket, under the configured prefix.
    let objects = walk(&s3.server.data.path().join(BUCKET).join("workbench"));
    assert_eq!(objects.len(), 3, "a file, an image and its thumbnail: {objects:?}");
    assert_eq!(download(&app, &ann, &file).await, text);
    let res = app
        .get(&format!("/api/v1/files/{}/download", file["id"]))
        .bearer_auth(&ann.access_token)
        .header("Range", "bytes=100-149")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().to_vec(), text[100..150]);
    assert_eq!(get(&app, &ann, &format!("/api/v1/files/{}/thumbnail", photo["id"])).await.status(), 200);
    for f in [&file, &photo] {
        let res = app
            .request(reqwest::Method::DELETE, &format!("/api/v1/files/{}", f["id"]))
            .bearer_auth(&ann.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204);
    }
    assert!(walk(&s3.server.data.path().join(BUCKET).join("workbench")).is_empty(), "the bytes went with the files");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        // Whatever the S3 server keeps beside the objects (upload state, metadata) is not an object.
        .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect()
}

engines_with_fake!(start_s3, point_at_s3; files_live_in_s3_with_ranges_and_deletion);
