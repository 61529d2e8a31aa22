//! The file-record adapter, on SQLite always and PostgreSQL when it is reachable (always under
//! `CI=true`), held to the `FileRepository` contract (`crates/files/src/ports.rs`): round trips,
//! attachments guarded by foreign keys, what deleting a task, an item or an account does to its
//! files, files counted on items, name search, and the blob keys no record knows.

use chrono::TimeDelta;
use workbench_core::RepositoryError;
use workbench_files::{Attachment, AudioMeta, BlobKey, FileId, FileKind, FileRepository, NewFile};
use workbench_products::{
    Brand, CategoryName, CategoryRepository, NewCategory, NewProduct, NewProductRecord, NewUserProductRecord,
    ProductName, ProductRepository, ProductStatus, Removal, Slug, Specifications, UserProductRepository,
    UserProductStatus,
};
use workbench_store::testing::{instant, user};
use workbench_store::{
    Database, DieselCategoryRepository, DieselFileRepository, DieselProductRepository, DieselTaskRepository,
    DieselUserProductRepository, DieselUserRepository, engine_cases,
};
use workbench_tasks::{NewTask, NewTaskRecord, Priority, Status, Tags, TaskId, TaskRepository, Title};
use workbench_users::{User, UserId, UserRepository};

engine_cases!(
    a_file_round_trips_every_field,
    attachments_must_exist,
    a_tasks_files_go_with_it,
    an_item_with_files_is_not_deleted_and_counts_them,
    an_accounts_files_go_with_it,
    files_are_found_by_name_in_every_script,
    blob_keys_no_record_knows_are_reported,
);

fn repo(db: &Database) -> DieselFileRepository {
    DieselFileRepository::new(db.clone())
}

async fn task(db: &Database, owner: &User) -> TaskId {
    let task = NewTask {
        fields: Default::default(),
        bucket_id: None,
        title: Title::parse("With attachments").unwrap(),
        description: None,
        status: Status::Pending,
        priority: Priority::Medium,
        due_date: None,
        assignee_id: None,
        tags: Tags::default(),
        project_id: None,
        recurrence: None,
    };
    let record = NewTaskRecord { task, owner_id: owner.id, completed_at: None, created_at: instant() };
    DieselTaskRepository::new(db.clone()).create(record).await.unwrap().id
}

async fn item(db: &Database, owner: &User) -> i64 {
    let category = DieselCategoryRepository::new(db.clone())
        .create(NewCategory {
            name: CategoryName::parse("Audio").unwrap(),
            slug: Slug::parse("audio").unwrap(),
            description: None,
        })
        .await
        .unwrap();
    let product = NewProduct {
        name: ProductName::parse("Speaker").unwrap(),
        category_id: category.id,
        brand: Brand::parse("Acme").unwrap(),
        model: None,
        description: None,
        price_cents: None,
        currency: None,
        warranty_months: 24,
        warranty_conditions: None,
        manufacturer_website: None,
        specifications: Specifications::default(),
        status: ProductStatus::Active,
    };
    let product = DieselProductRepository::new(db.clone())
        .create(NewProductRecord { product, created_at: instant() })
        .await
        .unwrap();
    let record = NewUserProductRecord {
        user_id: owner.id,
        product_id: product.id,
        serial_number: None,
        purchase_date: None,
        purchase_price_cents: None,
        warranty_expires: None,
        status: UserProductStatus::Active,
        notes: None,
        created_at: instant(),
    };
    DieselUserProductRepository::new(db.clone()).create(record).await.unwrap().id.0
}

fn key(k: &str) -> BlobKey {
    BlobKey::parse(k).unwrap()
}

fn new_file(owner: &User, name: &str, attachment: Attachment) -> NewFile {
    let id = uuid::Uuid::new_v4().simple().to_string();
    NewFile {
        owner_id: owner.id,
        filename: name.to_owned(),
        content_type: "text/plain; charset=utf-8".into(),
        size: 5,
        kind: FileKind::Document,
        sha256: "a".repeat(64),
        width: None,
        height: None,
        audio: None,
        attachment,
        blob_key: key(&format!("files/{}/{id}", &id[..2])),
        thumbnail_key: None,
        created_at: instant(),
    }
}

async fn a_file_round_trips_every_field(db: Database) {
    let ann = user(&db, "ann").await;
    let mut image = new_file(&ann, "Фото.png", Attachment::None);
    image.content_type = "image/png".into();
    image.kind = FileKind::Image;
    image.width = Some(2048);
    image.height = Some(1536);
    image.thumbnail_key = Some(key("thumbs/ab/cdef.png"));
    image.created_at = instant() + TimeDelta::nanoseconds(999);
    let stored = repo(&db).insert(image.clone()).await.unwrap();
    assert_eq!(stored.filename, "Фото.png");
    assert_eq!((stored.width, stored.height), (Some(2048), Some(1536)));
    assert_eq!(stored.thumbnail_key, image.thumbnail_key);
    assert_eq!(stored.created_at, instant(), "microseconds, as both engines keep them");
    assert_eq!(repo(&db).find(stored.id).await.unwrap(), Some(stored.clone()));

    let mut audio = new_file(&ann, "tone.flac", Attachment::None);
    audio.audio = Some(AudioMeta { duration_ms: 750, sample_rate: 22_050, channels: 2 });
    audio.kind = FileKind::Audio;
    let audio = repo(&db).insert(audio).await.unwrap();
    assert_eq!(repo(&db).find(audio.id).await.unwrap().unwrap().audio, audio.audio);

    assert_eq!(repo(&db).delete(stored.id).await.unwrap(), Some(stored.clone()));
    assert_eq!(repo(&db).delete(stored.id).await.unwrap(), None);
    assert_eq!(repo(&db).find(stored.id).await.unwrap(), None);
    assert_eq!(repo(&db).find(FileId(999_999)).await.unwrap(), None);
}

async fn attachments_must_exist(db: Database) {
    let ann = user(&db, "ann").await;
    let missing_task = repo(&db).insert(new_file(&ann, "a.txt", Attachment::Task(999_999))).await;
    assert!(matches!(missing_task, Err(RepositoryError::MissingReference { field: "task_id" })), "{missing_task:?}");
    let missing_item = repo(&db).insert(new_file(&ann, "a.txt", Attachment::UserProduct(999_999))).await;
    assert!(
        matches!(missing_item, Err(RepositoryError::MissingReference { field: "user_product_id" })),
        "{missing_item:?}"
    );
    let task = task(&db, &ann).await;
    let attached = repo(&db).insert(new_file(&ann, "a.txt", Attachment::Task(task.0))).await.unwrap();
    assert_eq!(attached.attachment, Attachment::Task(task.0));
    assert_eq!(repo(&db).attached(Attachment::Task(task.0)).await.unwrap(), vec![attached]);
}

async fn a_tasks_files_go_with_it(db: Database) {
    let ann = user(&db, "ann").await;
    let task = task(&db, &ann).await;
    let first = repo(&db).insert(new_file(&ann, "1.txt", Attachment::Task(task.0))).await.unwrap();
    let second = repo(&db).insert(new_file(&ann, "2.txt", Attachment::Task(task.0))).await.unwrap();
    assert_eq!(repo(&db).attached(Attachment::Task(task.0)).await.unwrap(), vec![first.clone(), second.clone()]);
    assert!(DieselTaskRepository::new(db.clone()).delete(task, None).await.unwrap());
    assert_eq!(repo(&db).find(first.id).await.unwrap(), None);
    // Their blobs are no record's any more: the sweep will take them.
    let keys = vec![first.blob_key.clone(), second.blob_key.clone()];
    assert_eq!(repo(&db).unknown_blobs(keys.clone()).await.unwrap(), keys);
}

async fn an_item_with_files_is_not_deleted_and_counts_them(db: Database) {
    let ann = user(&db, "ann").await;
    let item = item(&db, &ann).await;
    let items = DieselUserProductRepository::new(db.clone());
    let id = workbench_products::UserProductId(item);
    assert_eq!(items.find(ann.id, id).await.unwrap().unwrap().files_count, 0);
    let a = repo(&db).insert(new_file(&ann, "manual.pdf", Attachment::UserProduct(item))).await.unwrap();
    repo(&db).insert(new_file(&ann, "invoice.pdf", Attachment::UserProduct(item))).await.unwrap();
    assert_eq!(items.find(ann.id, id).await.unwrap().unwrap().files_count, 2);
    let listed =
        items.list(ann.id, Default::default(), workbench_core::PageRequest::new(None, None).unwrap()).await.unwrap();
    assert_eq!(listed.items[0].files_count, 2);
    assert_eq!(items.delete(ann.id, id, None).await.unwrap(), Removal::InUse);
    for file in repo(&db).attached(Attachment::UserProduct(item)).await.unwrap() {
        repo(&db).delete(file.id).await.unwrap();
    }
    assert_eq!(repo(&db).find(a.id).await.unwrap(), None);
    assert_eq!(items.delete(ann.id, id, None).await.unwrap(), Removal::Removed);
}

async fn an_accounts_files_go_with_it(db: Database) {
    let ann = user(&db, "ann").await;
    let item = item(&db, &ann).await;
    let task = task(&db, &ann).await;
    let files = [
        repo(&db).insert(new_file(&ann, "loose.txt", Attachment::None)).await.unwrap(),
        repo(&db).insert(new_file(&ann, "on-item.txt", Attachment::UserProduct(item))).await.unwrap(),
        repo(&db).insert(new_file(&ann, "on-task.txt", Attachment::Task(task.0))).await.unwrap(),
    ];
    // The item's own foreign key does not hold the account back: its files go in the same statement.
    assert!(DieselUserRepository::new(db.clone()).delete(ann.id, None, vec![]).await.unwrap());
    for file in files {
        assert_eq!(repo(&db).find(file.id).await.unwrap(), None, "{}", file.filename);
    }
}

async fn files_are_found_by_name_in_every_script(db: Database) {
    let ann = user(&db, "ann").await;
    let bob = user(&db, "bob").await;
    let mut older = new_file(&ann, "ÜBERSICHT-2026.pdf", Attachment::None);
    older.created_at = instant() - TimeDelta::days(1);
    let older = repo(&db).insert(older).await.unwrap();
    let newer = repo(&db).insert(new_file(&ann, "übersicht_100%.txt", Attachment::None)).await.unwrap();
    repo(&db).insert(new_file(&bob, "übersicht-bob.txt", Attachment::None)).await.unwrap();
    let found = repo(&db).search(Some(ann.id), "Übersicht".into(), 10).await.unwrap();
    assert_eq!(found, vec![newer.clone(), older.clone()], "the owner's, newest first, case folded");
    assert_eq!(repo(&db).search(None, "übersicht".into(), 10).await.unwrap().len(), 3, "everyone's");
    assert_eq!(repo(&db).search(None, "übersicht".into(), 2).await.unwrap().len(), 2, "bounded");
    assert_eq!(repo(&db).search(Some(ann.id), "_100%".into(), 10).await.unwrap(), vec![newer], "wildcards are literal");
    assert!(repo(&db).search(Some(UserId(ann.id.0 + 999)), "ü".into(), 10).await.unwrap().is_empty());
}

async fn blob_keys_no_record_knows_are_reported(db: Database) {
    let ann = user(&db, "ann").await;
    let mut image = new_file(&ann, "a.png", Attachment::None);
    image.thumbnail_key = Some(key("thumbs/00/known-thumb.jpg"));
    let image = repo(&db).insert(image).await.unwrap();
    let mut asked = vec![image.blob_key.clone(), key("thumbs/00/known-thumb.jpg"), key("files/00/orphan")];
    // More than one statement's worth, in one call.
    asked.extend((0..600).map(|i| key(&format!("files/ff/orphan-{i}"))));
    let unknown = repo(&db).unknown_blobs(asked.clone()).await.unwrap();
    assert_eq!(unknown.len(), 601);
    assert!(!unknown.contains(&image.blob_key));
    assert!(!unknown.contains(&key("thumbs/00/known-thumb.jpg")));
    assert!(unknown.contains(&key("files/00/orphan")));
}

mod share_links {
    //! Share links, held to the `ShareLinkRepository` contract (`crates/files/src/share.rs`):
    //! a link opens until it expires, runs out or is revoked, the database deciding; two visitors
    //! racing for the last download are counted once; links go with their file.

    use chrono::TimeDelta;
    use workbench_core::RepositoryError;
    use workbench_files::{Attachment, FileId, FileRepository, NewShareLink, ShareLinkId, ShareLinkRepository};
    use workbench_store::testing::{execute_sql, instant, user};
    use workbench_store::{Database, DieselShareLinkRepository, engine_cases};

    use super::{new_file, repo};

    engine_cases!(
        a_link_opens_until_it_expires_runs_out_or_is_revoked,
        racing_for_the_last_download_counts_once,
        a_disabled_owners_links_open_again_once_the_account_is_enabled,
    );

    fn links(db: &Database) -> DieselShareLinkRepository {
        DieselShareLinkRepository::new(db.clone())
    }

    fn new_link(file: FileId, digest: char, max_downloads: Option<u32>) -> NewShareLink {
        NewShareLink {
            file_id: file,
            token_digest: digest.to_string().repeat(64),
            expires_at: instant() + TimeDelta::hours(1),
            max_downloads,
            password_hash: Some("$2b$04$hash".into()),
            created_at: instant(),
        }
    }

    async fn a_link_opens_until_it_expires_runs_out_or_is_revoked(db: Database) {
        let ann = user(&db, "ann").await;
        let file = repo(&db).insert(new_file(&ann, "manual.pdf", Attachment::None)).await.unwrap();
        let made = links(&db).insert(new_link(file.id, 'a', Some(2))).await.unwrap();
        assert_eq!(
            (made.downloads, made.max_downloads, made.password_hash.as_deref()),
            (0, Some(2), Some("$2b$04$hash"))
        );
        assert_eq!(made.expires_at, instant() + TimeDelta::hours(1));
        let missing = links(&db).insert(new_link(FileId(999_999), 'b', None)).await;
        assert!(matches!(missing, Err(RepositoryError::MissingReference { field: "file_id" })), "{missing:?}");

        let digest = "a".repeat(64);
        let now = instant();
        assert_eq!(links(&db).find_open(digest.clone(), now).await.unwrap(), Some(made.clone()));
        assert_eq!(links(&db).find_open("c".repeat(64), now).await.unwrap(), None, "an unknown token");
        let at_expiry = instant() + TimeDelta::hours(1);
        assert_eq!(links(&db).find_open(digest.clone(), at_expiry).await.unwrap(), None, "expired");
        assert!(links(&db).count_download(made.id, at_expiry).await.unwrap().is_none(), "nothing counted once expired");

        assert!(links(&db).count_download(made.id, now).await.unwrap().is_some());
        assert!(links(&db).count_download(made.id, now).await.unwrap().is_some());
        assert!(links(&db).count_download(made.id, now).await.unwrap().is_none(), "two of two used");
        assert_eq!(links(&db).find_open(digest.clone(), now).await.unwrap(), None, "used up");
        let listed = links(&db).list(file.id).await.unwrap();
        assert_eq!(listed.iter().map(|l| l.downloads).collect::<Vec<_>>(), [2], "a used-up link stays listed");

        let unlimited = links(&db).insert(new_link(file.id, 'd', None)).await.unwrap();
        for _ in 0..5 {
            assert!(links(&db).count_download(unlimited.id, now).await.unwrap().is_some());
        }
        let listed = links(&db).list(file.id).await.unwrap();
        assert_eq!(listed.iter().map(|l| l.id).collect::<Vec<_>>(), [unlimited.id, made.id], "newest first");

        assert!(!links(&db).revoke(FileId(999_999), unlimited.id).await.unwrap(), "another file's link");
        assert!(links(&db).revoke(file.id, unlimited.id).await.unwrap());
        assert!(!links(&db).revoke(file.id, unlimited.id).await.unwrap());
        assert_eq!(links(&db).find_open("d".repeat(64), now).await.unwrap(), None, "revoked");
        assert!(links(&db).count_download(unlimited.id, now).await.unwrap().is_none());

        repo(&db).delete(file.id).await.unwrap();
        assert_eq!(links(&db).list(file.id).await.unwrap(), vec![], "links go with their file");
        assert!(!links(&db).revoke(file.id, ShareLinkId(made.id.0)).await.unwrap());
    }

    async fn a_disabled_owners_links_open_again_once_the_account_is_enabled(db: Database) {
        let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
        let file = repo(&db).insert(new_file(&ann, "manual.pdf", Attachment::None)).await.unwrap();
        let bobs = repo(&db).insert(new_file(&bob, "notes.pdf", Attachment::None)).await.unwrap();
        let made = links(&db).insert(new_link(file.id, 'f', Some(3))).await.unwrap();
        let others = links(&db).insert(new_link(bobs.id, 'g', None)).await.unwrap();
        let (digest, now) = ("f".repeat(64), instant());
        let status =
            |status: &str| execute_sql(&db, format!("UPDATE users SET status = '{status}' WHERE id = {}", ann.id.0));

        status("disabled").await.unwrap();
        assert_eq!(links(&db).find_open(digest.clone(), now).await.unwrap(), None, "refused while disabled");
        assert!(links(&db).count_download(made.id, now).await.unwrap().is_none(), "and nothing counted");
        assert!(links(&db).find_open("g".repeat(64), now).await.unwrap().is_some(), "another owner's link opens");
        assert!(links(&db).count_download(others.id, now).await.unwrap().is_some());

        status("active").await.unwrap();
        assert_eq!(links(&db).find_open(digest, now).await.unwrap(), Some(made.clone()), "not revoked");
        assert!(links(&db).count_download(made.id, now).await.unwrap().is_some());
        assert_eq!(links(&db).list(file.id).await.unwrap()[0].downloads, 1);
    }

    async fn racing_for_the_last_download_counts_once(db: Database) {
        let ann = user(&db, "ann").await;
        let file = repo(&db).insert(new_file(&ann, "manual.pdf", Attachment::None)).await.unwrap();
        let link = links(&db).insert(new_link(file.id, 'e', Some(1))).await.unwrap();
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let links = links(&db);
                tokio::spawn(async move { links.count_download(link.id, instant()).await.unwrap().is_some() })
            })
            .collect();
        let mut counted = 0;
        for racer in racers {
            counted += usize::from(racer.await.unwrap());
        }
        assert_eq!(counted, 1, "exactly one of eight visitors got the one download");
        assert_eq!(links(&db).list(file.id).await.unwrap()[0].downloads, 1);
    }
}
