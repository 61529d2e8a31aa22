//! The trades adapter, on SQLite always and PostgreSQL when it is reachable (always under
//! `CI=true`), held to the `TradeRepository` contract (`crates/trades/src/ports.rs`): proposals
//! read back with their items, counter-proposals that supersede, expiry read at once, items that
//! leave the market cancelling their trades, a party disabled cancelling theirs, an accept taking
//! the moved files out of the chat messages that carried them, and 50 concurrent accepts over
//! trades that share items: every accepted trade's items moved together, and no item moved twice.

use std::collections::HashMap;

use chrono::TimeDelta;
use workbench_chat::{AttachedFile, ChatStore, MessageContent, NewMessage};
use workbench_core::PageRequest;
use workbench_products::{
    Brand, CategoryName, CategoryRepository, NewCategory, NewProduct, NewProductRecord, NewUserProductRecord,
    ProductId, ProductName, ProductRepository, ProductStatus, Slug, Specifications, UserProductRepository,
    UserProductStatus,
};
use workbench_store::testing::{count_rows, execute_sql, instant, user};
use workbench_store::{
    Database, DieselCategoryRepository, DieselChatStore, DieselProductRepository, DieselTradeRepository,
    DieselUserProductRepository, DieselUserRepository, engine_cases,
};
use workbench_trades::{MarketFilter, NewTrade, TradeFilter, TradeId, TradeRepository, TradeStatus, Transition};
use workbench_users::{User, UserId, UserRepository, UserStatus};

engine_cases!(
    a_trade_reads_back_with_its_items_and_counters_supersede,
    an_item_leaving_the_market_cancels_its_open_trades,
    a_disabled_partys_open_trades_are_cancelled_and_none_is_accepted,
    an_accept_takes_the_moved_files_out_of_the_messages_that_carried_them,
    items_with_one_serial_swap_but_never_double_up,
    fifty_concurrent_accepts_over_shared_items_move_each_item_once,
    the_markets_total_is_kept_through_every_change,
);

fn repo(db: &Database) -> DieselTradeRepository {
    DieselTradeRepository::new(db.clone())
}

async fn product(db: &Database) -> ProductId {
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
    DieselProductRepository::new(db.clone())
        .create(NewProductRecord { product, created_at: instant() })
        .await
        .unwrap()
        .id
}

async fn item(db: &Database, owner: &User, product: ProductId) -> i64 {
    let record = NewUserProductRecord {
        user_id: owner.id,
        product_id: product,
        serial_number: None,
        purchase_date: None,
        purchase_price_cents: None,
        warranty_expires: None,
        status: UserProductStatus::Active,
        notes: None,
        created_at: instant(),
    };
    let id = DieselUserProductRepository::new(db.clone()).create(record).await.unwrap().id.0;
    execute_sql(db, format!("UPDATE user_products SET tradeable = TRUE WHERE id = {id}")).await.unwrap();
    id
}

fn proposal(proposer: &User, recipient: &User, offered: Vec<i64>, requested: Vec<i64>) -> NewTrade {
    NewTrade {
        parent_id: None,
        proposer_id: proposer.id,
        recipient_id: recipient.id,
        offered,
        requested,
        message: Some("Swap?".into()),
        expires_at: instant() + TimeDelta::hours(72),
        created_at: instant(),
    }
}

fn page() -> PageRequest {
    PageRequest::new(None, None).unwrap()
}

async fn owners(db: &Database, items: &[i64]) -> HashMap<i64, UserId> {
    let states = repo(db).items(items.to_vec()).await.unwrap();
    states.into_iter().map(|s| (s.id, s.owner)).collect()
}

async fn a_trade_reads_back_with_its_items_and_counters_supersede(db: Database) {
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let speaker = product(&db).await;
    let (a1, b1, b2) = (item(&db, &ann, speaker).await, item(&db, &bob, speaker).await, item(&db, &bob, speaker).await);
    let trade = repo(&db).create(proposal(&ann, &bob, vec![a1], vec![b1, b2]), None).await.unwrap().unwrap();
    assert_eq!((trade.status, trade.version, trade.message.as_deref()), (TradeStatus::Open, 1, Some("Swap?")));
    assert_eq!(trade.offered.iter().map(|i| i.id).collect::<Vec<_>>(), [a1]);
    assert_eq!(trade.requested.iter().map(|i| i.id).collect::<Vec<_>>(), [b1, b2]);
    assert_eq!(trade.offered[0].product.name, "Speaker");
    assert_eq!(repo(&db).find(trade.id).await.unwrap(), Some(trade.clone()));

    let mut answer = proposal(&bob, &ann, vec![b1], vec![a1]);
    answer.parent_id = Some(trade.id);
    let counter = repo(&db).create(answer.clone(), Some(trade.id)).await.unwrap().unwrap();
    assert_eq!(counter.parent_id, Some(trade.id));
    assert_eq!(repo(&db).find(trade.id).await.unwrap().unwrap().status, TradeStatus::Superseded);
    assert_eq!(repo(&db).create(answer, Some(trade.id)).await.unwrap(), Err(TradeStatus::Superseded), "answered once");

    let sent =
        repo(&db).list(bob.id, TradeFilter::parse(Some("sent"), None).unwrap(), instant(), page()).await.unwrap();
    assert_eq!(sent.items.iter().map(|t| t.id).collect::<Vec<_>>(), [counter.id]);
    let later = instant() + TimeDelta::hours(73);
    let expired =
        repo(&db).list(ann.id, TradeFilter::parse(None, Some("expired")).unwrap(), later, page()).await.unwrap();
    assert_eq!(expired.total, 1, "an open trade past its expiry lists as expired before the schedule runs");
    let refused = repo(&db).accept(counter.id, None, later).await.unwrap();
    assert_eq!(refused, Transition::NotOpen(TradeStatus::Expired));
    assert_eq!(repo(&db).expire(later).await.unwrap(), 1);
    assert_eq!(repo(&db).find(counter.id).await.unwrap().unwrap().status, TradeStatus::Expired);
    assert_eq!(
        repo(&db).close(TradeId(999_999), TradeStatus::Declined, None, instant()).await.unwrap(),
        Transition::NotFound
    );
}

async fn serial_item(db: &Database, owner: &User, product: ProductId, serial: &str) -> i64 {
    let id = item(db, owner, product).await;
    execute_sql(db, format!("UPDATE user_products SET serial_number = '{serial}' WHERE id = {id}")).await.unwrap();
    id
}

async fn items_with_one_serial_swap_but_never_double_up(db: Database) {
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let speaker = product(&db).await;
    // The same product and serial on both sides (a seller's mistake, or demo data): the swap goes
    // through, though between its two moves one owner would briefly hold both.
    let (a1, b1) = (serial_item(&db, &ann, speaker, "SN-1").await, serial_item(&db, &bob, speaker, "SN-1").await);
    let swap = repo(&db).create(proposal(&ann, &bob, vec![a1], vec![b1]), None).await.unwrap().unwrap();
    assert!(matches!(repo(&db).accept(swap.id, None, instant()).await.unwrap(), Transition::Done(_)));
    let after = owners(&db, &[a1, b1]).await;
    assert_eq!((after[&a1], after[&b1]), (bob.id, ann.id));

    // Bob would end up with two SN-2s: refused, nothing moved, the trade still open.
    let (a2, b2) = (serial_item(&db, &ann, speaker, "SN-2").await, serial_item(&db, &bob, speaker, "SN-2").await);
    let doubling = repo(&db).create(proposal(&ann, &bob, vec![a2], vec![]), None).await.unwrap().unwrap();
    assert_eq!(repo(&db).accept(doubling.id, None, instant()).await.unwrap(), Transition::SerialTaken);
    assert_eq!(owners(&db, &[a2, b2]).await[&a2], ann.id);
    assert_eq!(repo(&db).find(doubling.id).await.unwrap().unwrap().status, TradeStatus::Open);
    let serial: Vec<_> = repo(&db).items(vec![a2]).await.unwrap();
    assert_eq!(serial.len(), 1);
}

/// The market's total as the counters give it, and as a count over the items gives it (the brand
/// filter matches every item of these tests, and a filtered market is counted).
async fn market_totals(db: &Database, viewer: &User) -> (u64, u64) {
    let all = repo(db).market(viewer.id, MarketFilter::default(), page()).await.unwrap().total;
    let filter = MarketFilter { brand: Some("acme".into()), ..MarketFilter::default() };
    let counted = repo(db).market(viewer.id, filter, page()).await.unwrap().total;
    (all, counted)
}

async fn the_markets_total_is_kept_through_every_change(db: Database) {
    let (ann, bob, cid) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cid").await);
    let speaker = product(&db).await;
    let mut bobs = Vec::new();
    for _ in 0..3 {
        bobs.push(item(&db, &bob, speaker).await);
    }
    let cids = [item(&db, &cid, speaker).await, item(&db, &cid, speaker).await];
    let anns = item(&db, &ann, speaker).await;
    assert_eq!(market_totals(&db, &ann).await, (5, 5), "others' offers, not one's own");
    assert_eq!(market_totals(&db, &bob).await, (3, 3));

    let sql = |q: String| execute_sql(&db, q);
    sql(format!("UPDATE user_products SET status = 'sold' WHERE id = {}", bobs[0])).await.unwrap();
    sql(format!("UPDATE user_products SET tradeable = FALSE WHERE id = {}", bobs[1])).await.unwrap();
    assert_eq!(market_totals(&db, &ann).await, (3, 3), "sold, and taken off the market");
    sql(format!("UPDATE users SET status = 'disabled' WHERE id = {}", cid.id.0)).await.unwrap();
    assert_eq!(market_totals(&db, &ann).await, (1, 1), "a disabled seller's offers leave the market");
    sql(format!("UPDATE users SET status = 'active' WHERE id = {}", cid.id.0)).await.unwrap();
    assert_eq!(market_totals(&db, &ann).await, (3, 3), "and come back with them");

    let swap = repo(&db).create(proposal(&ann, &bob, vec![anns], vec![bobs[2]]), None).await.unwrap().unwrap();
    assert!(matches!(repo(&db).accept(swap.id, None, instant()).await.unwrap(), Transition::Done(_)));
    assert_eq!(market_totals(&db, &ann).await, (2, 2), "swapped items leave the market");
    sql(format!("DELETE FROM user_products WHERE id = {}", cids[0])).await.unwrap();
    assert_eq!(market_totals(&db, &ann).await, (1, 1));
    sql(format!("DELETE FROM users WHERE id = {}", cid.id.0)).await.unwrap();
    assert_eq!(market_totals(&db, &ann).await, (0, 0), "a deleted seller's offers go with the account");
    assert_eq!(market_totals(&db, &bob).await, (0, 0));
}

async fn an_item_leaving_the_market_cancels_its_open_trades(db: Database) {
    let (ann, bob) = (user(&db, "ann").await, user(&db, "bob").await);
    let speaker = product(&db).await;
    let (a1, b1, b2) = (item(&db, &ann, speaker).await, item(&db, &bob, speaker).await, item(&db, &bob, speaker).await);
    let sold = repo(&db).create(proposal(&ann, &bob, vec![a1], vec![b1]), None).await.unwrap().unwrap();
    let deleted = repo(&db).create(proposal(&ann, &bob, vec![], vec![b2]), None).await.unwrap().unwrap();
    execute_sql(&db, format!("UPDATE user_products SET status = 'sold' WHERE id = {b1}")).await.unwrap();
    execute_sql(&db, format!("DELETE FROM user_products WHERE id = {b2}")).await.unwrap();
    assert_eq!(repo(&db).find(sold.id).await.unwrap().unwrap().status, TradeStatus::Cancelled);
    assert_eq!(repo(&db).find(deleted.id).await.unwrap().unwrap().status, TradeStatus::Cancelled);
}

const CANCELLED_EVENTS: &str = "outbox WHERE event = 'trade.cancelled'";

async fn a_disabled_partys_open_trades_are_cancelled_and_none_is_accepted(db: Database) {
    let (ann, bob, cid) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cid").await);
    let speaker = product(&db).await;
    let (a1, b1, c1) = (item(&db, &ann, speaker).await, item(&db, &bob, speaker).await, item(&db, &cid, speaker).await);
    let sent = repo(&db).create(proposal(&ann, &bob, vec![], vec![b1]), None).await.unwrap().unwrap();
    let received = repo(&db).create(proposal(&cid, &ann, vec![], vec![a1]), None).await.unwrap().unwrap();
    let apart = repo(&db).create(proposal(&bob, &cid, vec![], vec![c1]), None).await.unwrap().unwrap();
    let events = count_rows(&db, CANCELLED_EVENTS).await;

    let users = DieselUserRepository::new(db.clone());
    let disabled = users.set_role_and_status(ann.id, None, Some(UserStatus::Disabled), instant(), None, vec![]).await;
    assert!(disabled.unwrap().is_some());
    for (trade, status) in
        [(&sent, TradeStatus::Cancelled), (&received, TradeStatus::Cancelled), (&apart, TradeStatus::Open)]
    {
        let now = repo(&db).find(trade.id).await.unwrap().unwrap();
        assert_eq!(now.status, status, "{:?}", trade.id);
    }
    assert_eq!(count_rows(&db, CANCELLED_EVENTS).await, events + 2, "each cancelled trade with its event");

    // A party disabled without its trades being cancelled (a proposal stored while the account
    // was being disabled, or one from before the rule): the accept cancels it, and moves nothing.
    let late = repo(&db).create(proposal(&bob, &cid, vec![b1], vec![]), None).await.unwrap().unwrap();
    execute_sql(&db, format!("UPDATE users SET status = 'disabled' WHERE id = {}", bob.id.0)).await.unwrap();
    let refused = repo(&db).accept(late.id, None, instant()).await.unwrap();
    assert_eq!(refused, Transition::NotOpen(TradeStatus::Cancelled));
    assert_eq!(repo(&db).find(late.id).await.unwrap().unwrap().status, TradeStatus::Cancelled);
    assert_eq!(owners(&db, &[b1]).await[&b1], bob.id, "nothing moved");
    assert_eq!(count_rows(&db, CANCELLED_EVENTS).await, events + 3);
}

async fn an_accept_takes_the_moved_files_out_of_the_messages_that_carried_them(db: Database) {
    let (ann, bob, cid) = (user(&db, "ann").await, user(&db, "bob").await, user(&db, "cid").await);
    let speaker = product(&db).await;
    let (a1, b1) = (item(&db, &ann, speaker).await, item(&db, &bob, speaker).await);
    let sql = format!(
        "INSERT INTO files (id, owner_id, filename, name_key, content_type, size, kind, sha256, blob_key, \
         user_product_id, created_at) VALUES (201, {}, 'manual.txt', 'manual.txt', 'text/plain', 5, 'manual', '{}', \
         'files/201', {b1}, '2026-01-01 00:00:00')",
        bob.id.0,
        "a".repeat(64)
    );
    execute_sql(&db, sql).await.unwrap();
    let manual = AttachedFile {
        id: 201,
        filename: "manual.txt".into(),
        content_type: "text/plain".into(),
        size: 5,
        kind: "manual".into(),
    };
    let chat = DieselChatStore::new(db.clone());
    let dm = NewMessage {
        room: None,
        sender_id: bob.id,
        recipient_id: Some(cid.id),
        content: MessageContent::parse("the manual").unwrap(),
        created_at: instant(),
        attachments: vec![manual],
    };
    chat.insert_message(dm).await.unwrap();
    assert!(chat.carries_readable(cid.id, false, 201).await.unwrap());

    let trade = repo(&db).create(proposal(&ann, &bob, vec![a1], vec![b1]), None).await.unwrap().unwrap();
    assert!(matches!(repo(&db).accept(trade.id, None, instant()).await.unwrap(), Transition::Done(_)));
    assert_eq!(count_rows(&db, "chat_attachments").await, 0, "taken out with the move");
    assert!(!chat.carries_readable(cid.id, false, 201).await.unwrap());
    assert!(!chat.carries_readable(bob.id, false, 201).await.unwrap());
}

async fn fifty_concurrent_accepts_over_shared_items_move_each_item_once(db: Database) {
    let speaker = product(&db).await;
    let mut people = Vec::new();
    for name in ["ann", "bob", "cid", "dee", "eve"] {
        people.push(user(&db, name).await);
    }
    // Three items each; every trade swaps one item of one person for one of the next, so that
    // each item is held by many trades at once.
    let mut items: Vec<Vec<i64>> = Vec::new();
    for person in &people {
        let mut theirs = Vec::new();
        for _ in 0..3 {
            theirs.push(item(&db, person, speaker).await);
        }
        items.push(theirs);
    }
    let mut trades = Vec::new();
    for n in 0..50_usize {
        let (p, r) = (n % 5, (n / 5 + n + 1) % 5);
        let r = if r == p { (p + 1) % 5 } else { r };
        let offered = vec![items[p][n % 3]];
        let requested = vec![items[r][(n / 3) % 3], items[r][(n / 3 + 1) % 3]];
        let trade =
            repo(&db).create(proposal(&people[p], &people[r], offered, requested), None).await.unwrap().unwrap();
        trades.push(trade);
    }
    let all: Vec<i64> = items.iter().flatten().copied().collect();
    let before = owners(&db, &all).await;
    let racers: Vec<_> = trades
        .iter()
        .map(|t| {
            let (repo, id) = (repo(&db), t.id);
            tokio::spawn(async move { repo.accept(id, None, instant()).await.unwrap() })
        })
        .collect();
    let mut accepted = Vec::new();
    for (trade, racer) in trades.iter().zip(racers) {
        match racer.await.unwrap() {
            Transition::Done(done) => {
                assert_eq!(done.status, TradeStatus::Accepted);
                accepted.push(trade.clone());
            }
            Transition::ItemsChanged | Transition::NotOpen(TradeStatus::Cancelled) => {}
            other => panic!("trade {}: {other:?}", trade.id),
        }
    }
    assert!(!accepted.is_empty(), "some trade went through");
    let after = owners(&db, &all).await;
    let mut moved: HashMap<i64, UserId> = HashMap::new();
    for trade in &accepted {
        for item in &trade.offered {
            assert!(moved.insert(item.id, trade.recipient_id).is_none(), "item {} moved twice", item.id);
        }
        for item in &trade.requested {
            assert!(moved.insert(item.id, trade.proposer_id).is_none(), "item {} moved twice", item.id);
        }
    }
    for id in &all {
        let expected = moved.get(id).copied().unwrap_or(before[id]);
        assert_eq!(after[id], expected, "item {id}: moved by an accepted trade, or not at all");
    }
    for trade in &trades {
        let status = repo(&db).find(trade.id).await.unwrap().unwrap().status;
        let won = accepted.iter().any(|a| a.id == trade.id);
        assert_eq!(status == TradeStatus::Accepted, won, "trade {}", trade.id);
        if !won {
            assert_eq!(status, TradeStatus::Cancelled, "trade {}: a trade that shared an item is closed", trade.id);
        }
    }
}
