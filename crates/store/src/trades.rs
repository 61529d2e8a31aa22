//! Trades and the market (the trades domain's `TradeRepository`).
//!
//! Accepting a trade is one transaction. Each item moves by a conditional `UPDATE` that names the
//! owner it must still have: on PostgreSQL a concurrent accept that moved the item first makes the
//! condition fail once its row lock is released (so the later accept sees `ItemsChanged` and
//! applies nothing), and SQLite runs writers one at a time. The trade's items are locked first,
//! then the trade and every open trade sharing an item with it, each in ascending id order (the
//! order in which an owner's change to an item reaches its trades through the trigger), so that
//! writers never wait on each other in a circle; a deadlock PostgreSQL reports anyway is retried
//! (the retry finds the items moved). A moved file's share links are revoked with the move, and
//! the chat messages that carried it carry it no more. Each move is in the audit log, written in
//! the same transaction (the recipient who accepted is its actor, the new owner its target).
//!
//! A trade needs two active parties: disabling an account cancels its open trades in the
//! transaction that disables it ([`cancel_open_of`], called by the users adapter), and an accept
//! that finds a party disabled under its locks (a proposal stored while its party was being
//! disabled, or one left from before that rule) cancels the trade instead of moving anything.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_products::{ProductId, ProductSummary, UserProductStatus};
use workbench_trades::{
    ItemState, MarketFilter, MarketItem, NewTrade, Trade, TradeFilter, TradeId, TradeItem, TradeRepository, TradeRole,
    TradeStatus, Transition,
};
use workbench_users::{AuditAction, NewAuditEntry, UserId};

use workbench_events::TradeEvent;

use crate::database::{stored, write_transaction};
use crate::error::{corrupt, db, map_db_error};
use crate::like::contains_pattern;
use crate::outbox::{NewEventRow, audience_json, record_in};
use crate::paging::counted_page;
use crate::products::{brand_key, search_text};
use crate::schema::{categories, files, products, trade_items, trades, user_products, users};
use crate::{AnyConnection, Database};

diesel::table! {
    /// How many items each seller offers on the market; `user_id` 0: all active sellers.
    market_counts (user_id) {
        user_id -> BigInt,
        n -> BigInt,
    }
}

/// How often an accept that PostgreSQL chose as a deadlock's victim is tried again.
const DEADLOCK_RETRIES: usize = 3;
/// The marker of an accept whose items moved: the transaction is rolled back with it.
const ITEMS_CHANGED: &str = "items changed";
/// The marker of an accept that would give someone a second item of one product and serial.
const SERIAL_TAKEN: &str = "serial_number";

/// `TradeRepository` on the shared database.
#[derive(Debug, Clone)]
pub struct DieselTradeRepository {
    db: Database,
}

impl DieselTradeRepository {
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = trades)]
struct TradeRow {
    id: i64,
    parent_id: Option<i64>,
    proposer_id: i64,
    recipient_id: i64,
    message: Option<String>,
    status: String,
    expires_at: NaiveDateTime,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TradeRow {
    fn status(&self) -> Result<TradeStatus, RepositoryError> {
        TradeStatus::parse(&self.status).map_err(|e| corrupt("trades.status", e))
    }

    /// The state at `now`: open past its expiry reads expired.
    fn status_at(&self, now: NaiveDateTime) -> Result<TradeStatus, RepositoryError> {
        let status = self.status()?;
        Ok(if status == TradeStatus::Open && self.expires_at <= now { TradeStatus::Expired } else { status })
    }
}

#[derive(Insertable)]
#[diesel(table_name = trades, treat_none_as_default_value = false)]
struct NewTradeRow<'a> {
    parent_id: Option<i64>,
    proposer_id: i64,
    recipient_id: i64,
    message: Option<&'a str>,
    status: &'static str,
    expires_at: NaiveDateTime,
    version: i64,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = trade_items)]
struct TradeItemRow {
    trade_id: i64,
    user_product_id: i64,
    side: &'static str,
}

const OFFERED: &str = "offered";
const REQUESTED: &str = "requested";

/// `(trade_id, side, item id, product id, name, brand, model, category, warranty months)`.
type ItemRow = (i64, String, i64, i64, String, String, Option<String>, String, i32);

fn summary(
    product: i64,
    name: String,
    brand: String,
    model: Option<String>,
    category: String,
    months: i32,
) -> Result<ProductSummary, RepositoryError> {
    Ok(ProductSummary {
        id: ProductId(product),
        name,
        brand,
        model,
        category_name: category,
        warranty_months: u16::try_from(months).map_err(|e| corrupt("products.warranty_months", e))?,
    })
}

/// The trades of `rows` with their items, in the rows' order.
fn with_items(conn: &mut AnyConnection, rows: Vec<TradeRow>) -> Result<Vec<Trade>, RepositoryError> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let items: Vec<ItemRow> = trade_items::table
        .inner_join(user_products::table.inner_join(products::table.inner_join(categories::table)))
        .filter(trade_items::trade_id.eq_any(&ids))
        .order((trade_items::trade_id.asc(), trade_items::user_product_id.asc()))
        .select((
            trade_items::trade_id,
            trade_items::side,
            user_products::id,
            products::id,
            products::name,
            products::brand,
            products::model,
            categories::name,
            products::warranty_months,
        ))
        .load(conn)
        .map_err(db)?;
    let mut sides: HashMap<i64, (Vec<TradeItem>, Vec<TradeItem>)> = HashMap::new();
    for (trade, side, item, product, name, brand, model, category, months) in items {
        let entry = TradeItem { id: item, product: summary(product, name, brand, model, category, months)? };
        let (offered, requested) = sides.entry(trade).or_default();
        if side == OFFERED { offered.push(entry) } else { requested.push(entry) }
    }
    rows.into_iter()
        .map(|row| {
            let (offered, requested) = sides.remove(&row.id).unwrap_or_default();
            Ok(Trade {
                id: TradeId(row.id),
                parent_id: row.parent_id.map(TradeId),
                proposer_id: UserId(row.proposer_id),
                recipient_id: UserId(row.recipient_id),
                offered,
                requested,
                message: row.message.clone(),
                status: row.status()?,
                expires_at: row.expires_at.and_utc(),
                version: row.version,
                created_at: row.created_at.and_utc(),
                updated_at: row.updated_at.and_utc(),
            })
        })
        .collect()
}

/// Appends `event` about `trade` to the outbox, in the caller's transaction: both parties hear it.
fn record(
    conn: &mut AnyConnection,
    event: TradeEvent,
    trade: &Trade,
    at: NaiveDateTime,
) -> Result<(), RepositoryError> {
    let payload = serde_json::to_string(trade).map_err(|e| RepositoryError::Unavailable(e.into()))?;
    record_in(
        conn,
        &NewEventRow {
            event: event.name(),
            subject_id: trade.id.0,
            audience: audience_json([trade.proposer_id, trade.recipient_id]),
            payload,
            occurred_at: at,
        },
    )
}

/// The trade as it is now, and its event recorded.
fn changed(conn: &mut AnyConnection, id: i64, event: TradeEvent, at: NaiveDateTime) -> Result<Trade, RepositoryError> {
    let trade = find(conn, id)?.ok_or_else(|| corrupt("trades", "a trade changed a moment ago is gone"))?;
    record(conn, event, &trade, at)?;
    Ok(trade)
}

fn find(conn: &mut AnyConnection, id: i64) -> Result<Option<Trade>, RepositoryError> {
    let Some(row) = trades::table.find(id).select(TradeRow::as_select()).first(conn).optional().map_err(db)? else {
        return Ok(None);
    };
    Ok(with_items(conn, vec![row])?.pop())
}

fn row(conn: &mut AnyConnection, id: i64) -> Result<Option<TradeRow>, RepositoryError> {
    trades::table.find(id).select(TradeRow::as_select()).first(conn).optional().map_err(db)
}

/// Moves an open trade at `version` to `status`; whether it was.
fn transition(
    conn: &mut AnyConnection,
    id: i64,
    version: i64,
    status: TradeStatus,
    at: NaiveDateTime,
) -> Result<bool, RepositoryError> {
    let moved = diesel::update(
        trades::table
            .find(id)
            .filter(trades::status.eq(TradeStatus::Open.as_str()))
            .filter(trades::version.eq(version)),
    )
    .set((trades::status.eq(status.as_str()), trades::version.eq(version + 1), trades::updated_at.eq(at)))
    .execute(conn)
    .map_err(db)?;
    Ok(moved == 1)
}

/// Why an open-trade change could not start: not found, not open at `now`, or another version.
fn check_open(
    row: Option<&TradeRow>,
    expected: Option<i64>,
    now: NaiveDateTime,
) -> Result<Option<Transition>, RepositoryError> {
    let Some(row) = row else { return Ok(Some(Transition::NotFound)) };
    let status = row.status_at(now)?;
    if status != TradeStatus::Open {
        return Ok(Some(Transition::NotOpen(status)));
    }
    match expected {
        Some(version) if version != row.version => Ok(Some(Transition::VersionMismatch { current: row.version })),
        _ => Ok(None),
    }
}

/// One attempt at accepting `id` (see the module documentation).
fn accept_once(
    conn: &mut AnyConnection,
    id: i64,
    expected: Option<i64>,
    now: NaiveDateTime,
) -> Result<Transition, RepositoryError> {
    write_transaction(conn, |conn| {
        let current = row(conn, id)?;
        if let Some(refusal) = check_open(current.as_ref(), expected, now)? {
            return Ok(refusal);
        }
        let current = current.ok_or_else(|| corrupt("trades", "a trade read a moment ago is gone"))?;
        let items: Vec<(i64, String)> = trade_items::table
            .filter(trade_items::trade_id.eq(id))
            .order(trade_items::user_product_id.asc())
            .select((trade_items::user_product_id, trade_items::side))
            .load(conn)
            .map_err(db)?;
        let item_ids: Vec<i64> = items.iter().map(|(item, _)| *item).collect();
        // The items first, in id order, then the trades: an owner's change to an item locks the
        // item, then (by trigger) the trades holding it, in the same order.
        for item in &item_ids {
            diesel::update(user_products::table.find(item))
                .set(user_products::version.eq(user_products::version))
                .execute(conn)
                .map_err(db)?;
        }
        // Every open trade holding one of these items, this one included, locked in id order.
        let mut sharing: Vec<i64> = trade_items::table
            .inner_join(trades::table)
            .filter(trade_items::user_product_id.eq_any(&item_ids))
            .filter(trades::status.eq(TradeStatus::Open.as_str()))
            .select(trade_items::trade_id)
            .distinct()
            .load(conn)
            .map_err(db)?;
        sharing.push(id);
        sharing.sort_unstable();
        sharing.dedup();
        for trade in &sharing {
            diesel::update(trades::table.find(trade))
                .set(trades::version.eq(trades::version))
                .execute(conn)
                .map_err(db)?;
        }
        // Read again under the lock: a concurrent change of this trade has committed by now.
        let locked = row(conn, id)?;
        if let Some(refusal) = check_open(locked.as_ref(), Some(current.version), now)? {
            return Ok(match refusal {
                Transition::VersionMismatch { .. } => {
                    Transition::NotOpen(locked.map(|r| r.status_at(now)).transpose()?.unwrap_or(TradeStatus::Cancelled))
                }
                other => other,
            });
        }
        // A disabling that committed before this trade was locked has cancelled it (seen just
        // above); one that commits later waits for this transaction, and finds it closed.
        if !both_active(conn, current.proposer_id, current.recipient_id)? {
            if transition(conn, id, current.version, TradeStatus::Cancelled, now)? {
                changed(conn, id, TradeEvent::Cancelled, now)?;
            }
            return Ok(Transition::NotOpen(TradeStatus::Cancelled));
        }
        let untradeable =
            [UserProductStatus::Sold, UserProductStatus::Broken, UserProductStatus::Archived].map(|s| s.as_str());
        // Serial numbers are set aside while items move: two items of one product with one serial
        // may change hands in either order (each owner has one before and after), and the unique
        // index would refuse the state between the two moves. Set back once all moved, a serial
        // the new owner already has for that product refuses the whole swap.
        let serials: Vec<(i64, Option<String>)> = user_products::table
            .filter(user_products::id.eq_any(&item_ids))
            .select((user_products::id, user_products::serial_number))
            .load(conn)
            .map_err(db)?;
        for (item, side) in &items {
            let (from, to) = if side == OFFERED {
                (current.proposer_id, current.recipient_id)
            } else {
                (current.recipient_id, current.proposer_id)
            };
            let moved = diesel::update(
                user_products::table
                    .filter(user_products::id.eq(item))
                    .filter(user_products::user_id.eq(from))
                    .filter(user_products::status.ne_all(untradeable)),
            )
            .set((
                user_products::user_id.eq(to),
                user_products::serial_number.eq(None::<String>),
                user_products::tradeable.eq(false),
                user_products::version.eq(user_products::version + 1),
                user_products::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(db)?;
            if moved != 1 {
                return Err(RepositoryError::Conflict { field: ITEMS_CHANGED });
            }
            diesel::update(files::table.filter(files::user_product_id.eq(item)))
                .set(files::owner_id.eq(to))
                .execute(conn)
                .map_err(db)?;
            // The previous owner's share links to these files end with their ownership, and so do
            // the chat messages through which they handed them to others.
            let moved_files: Vec<i64> =
                files::table.filter(files::user_product_id.eq(item)).select(files::id).load(conn).map_err(db)?;
            if !moved_files.is_empty() {
                crate::file_links::revoke_all(conn, &moved_files)?;
                crate::chat::forget_attachments_of(conn, &moved_files)?;
            }
            let mut details = serde_json::Map::new();
            details.insert("item_id".into(), (*item).into());
            details.insert("trade_id".into(), id.into());
            details.insert("from".into(), from.into());
            details.insert("to".into(), to.into());
            let entry = NewAuditEntry {
                action: AuditAction::OwnershipTransferred,
                actor_id: Some(UserId(current.recipient_id)),
                target_id: Some(UserId(to)),
                ip: None,
                user_agent: None,
                details,
                at: now.and_utc(),
            };
            crate::audit::append(conn, &[entry])?;
        }
        transition(conn, id, current.version, TradeStatus::Accepted, now)?;
        let accepted = changed(conn, id, TradeEvent::Accepted, now)?;
        for other in sharing.into_iter().filter(|t| *t != id) {
            let version = row(conn, other)?.filter(|r| r.status == TradeStatus::Open.as_str()).map(|r| r.version);
            if let Some(version) = version
                && transition(conn, other, version, TradeStatus::Cancelled, now)?
            {
                changed(conn, other, TradeEvent::Cancelled, now)?;
            }
        }
        // Set back once the trade is closed: the trigger that closes trades whose item changed
        // under them finds none of this swap's open.
        for (item, serial) in serials.iter().filter(|(_, serial)| serial.is_some()) {
            diesel::update(user_products::table.find(item))
                .set(user_products::serial_number.eq(serial))
                .execute(conn)
                .map_err(|e| map_db_error(e, &[("serial", SERIAL_TAKEN)]))?;
        }
        Ok(Transition::Done(accepted))
    })
}

/// Whether both parties are active accounts.
fn both_active(conn: &mut AnyConnection, proposer: i64, recipient: i64) -> Result<bool, RepositoryError> {
    let active: i64 = users::table
        .filter(users::id.eq_any([proposer, recipient]))
        .filter(users::status.eq("active"))
        .count()
        .get_result(conn)
        .map_err(db)?;
    Ok(active == 2)
}

/// Cancels every open trade `user` proposed or was proposed, each with its `trade.cancelled`
/// event, in the caller's transaction: the account is being disabled (after its row was
/// changed, so that its lock comes first, as for an owner's change to an item). Trades past
/// their expiry are left to the schedule that marks them expired: they read so already.
pub(crate) fn cancel_open_of(conn: &mut AnyConnection, user: UserId, at: NaiveDateTime) -> Result<(), RepositoryError> {
    let open: Vec<(i64, i64)> = trades::table
        .filter(trades::proposer_id.eq(user.0).or(trades::recipient_id.eq(user.0)))
        .filter(trades::status.eq(TradeStatus::Open.as_str()))
        .filter(trades::expires_at.gt(at))
        .order(trades::id.asc())
        .select((trades::id, trades::version))
        .load(conn)
        .map_err(db)?;
    for (id, version) in open {
        // Accepted or closed meanwhile by its other party: then there is nothing to cancel.
        if transition(conn, id, version, TradeStatus::Cancelled, at)? {
            changed(conn, id, TradeEvent::Cancelled, at)?;
        }
    }
    Ok(())
}

/// Whether `e` is PostgreSQL choosing this transaction as a deadlock's (or a serialisation
/// conflict's) victim: the work may simply be tried again.
fn is_deadlock(e: &RepositoryError) -> bool {
    let RepositoryError::Unavailable(cause) = e else { return false };
    cause.chain().any(|c| {
        let text = c.to_string();
        text.contains("deadlock detected") || text.contains("could not serialize access")
    })
}

#[async_trait]
impl TradeRepository for DieselTradeRepository {
    async fn items(&self, ids: Vec<i64>) -> Result<Vec<ItemState>, RepositoryError> {
        self.db
            .run(move |conn| {
                let rows: Vec<(i64, i64, String, bool)> = user_products::table
                    .filter(user_products::id.eq_any(&ids))
                    .select((
                        user_products::id,
                        user_products::user_id,
                        user_products::status,
                        user_products::tradeable,
                    ))
                    .load(conn)
                    .map_err(db)?;
                rows.into_iter()
                    .map(|(id, owner, status, tradeable)| {
                        let status =
                            UserProductStatus::parse(&status).map_err(|e| corrupt("user_products.status", e))?;
                        Ok(ItemState { id, owner: UserId(owner), status, tradeable })
                    })
                    .collect()
            })
            .await
    }

    async fn is_active_user(&self, user: UserId) -> Result<bool, RepositoryError> {
        self.db
            .run(move |conn| {
                let status: Option<String> =
                    users::table.find(user.0).select(users::status).first(conn).optional().map_err(db)?;
                Ok(status.as_deref() == Some("active"))
            })
            .await
    }

    async fn create(
        &self,
        trade: NewTrade,
        supersedes: Option<TradeId>,
    ) -> Result<Result<Trade, TradeStatus>, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let at = stored(trade.created_at);
                    if let Some(parent) = supersedes {
                        let current = row(conn, parent.0)?;
                        match check_open(current.as_ref(), None, at)? {
                            Some(Transition::NotOpen(status)) => return Ok(Err(status)),
                            Some(_) => return Ok(Err(TradeStatus::Cancelled)),
                            None => {}
                        }
                        let version = current.map(|r| r.version).unwrap_or_default();
                        if !transition(conn, parent.0, version, TradeStatus::Superseded, at)? {
                            let now_status = row(conn, parent.0)?.map(|r| r.status_at(at)).transpose()?;
                            return Ok(Err(now_status.unwrap_or(TradeStatus::Cancelled)));
                        }
                    }
                    let id: i64 = diesel::insert_into(trades::table)
                        .values(NewTradeRow {
                            parent_id: trade.parent_id.map(|p| p.0),
                            proposer_id: trade.proposer_id.0,
                            recipient_id: trade.recipient_id.0,
                            message: trade.message.as_deref(),
                            status: TradeStatus::Open.as_str(),
                            expires_at: stored(trade.expires_at),
                            version: 1,
                            created_at: at,
                            updated_at: at,
                        })
                        .returning(trades::id)
                        .get_result(conn)
                        .map_err(db)?;
                    let rows: Vec<TradeItemRow> = trade
                        .offered
                        .iter()
                        .map(|item| TradeItemRow { trade_id: id, user_product_id: *item, side: OFFERED })
                        .chain(trade.requested.iter().map(|item| TradeItemRow {
                            trade_id: id,
                            user_product_id: *item,
                            side: REQUESTED,
                        }))
                        .collect();
                    // One statement per item (at most 40): Diesel's multi-engine connection has no batch insert.
                    for item in &rows {
                        diesel::insert_into(trade_items::table).values(item).execute(conn).map_err(db)?;
                    }
                    let event = if supersedes.is_some() { TradeEvent::Countered } else { TradeEvent::Proposed };
                    Ok(Ok(changed(conn, id, event, at)?))
                })
            })
            .await
    }

    async fn find(&self, id: TradeId) -> Result<Option<Trade>, RepositoryError> {
        self.db.run(move |conn| find(conn, id.0)).await
    }

    async fn list(
        &self,
        user: UserId,
        filter: TradeFilter,
        now: DateTime<Utc>,
        page: PageRequest,
    ) -> Result<Page<Trade>, RepositoryError> {
        self.db
            .run(move |conn| {
                let now = stored(now);
                let query = || {
                    let mut q = trades::table.into_boxed();
                    q = match filter.role {
                        Some(TradeRole::Sent) => q.filter(trades::proposer_id.eq(user.0)),
                        Some(TradeRole::Received) => q.filter(trades::recipient_id.eq(user.0)),
                        None => q.filter(trades::proposer_id.eq(user.0).or(trades::recipient_id.eq(user.0))),
                    };
                    let open = TradeStatus::Open.as_str();
                    match filter.status {
                        None => q,
                        Some(TradeStatus::Open) => q.filter(trades::status.eq(open)).filter(trades::expires_at.gt(now)),
                        Some(TradeStatus::Expired) => q.filter(
                            trades::status
                                .eq(TradeStatus::Expired.as_str())
                                .or(trades::status.eq(open).and(trades::expires_at.le(now))),
                        ),
                        Some(other) => q.filter(trades::status.eq(other.as_str())),
                    }
                };
                let total: i64 = query().count().get_result(conn).map_err(db)?;
                counted_page(page, total, || {
                    let rows: Vec<TradeRow> = query()
                        .order((trades::created_at.desc(), trades::id.desc()))
                        .limit(page.limit())
                        .offset(page.offset())
                        .select(TradeRow::as_select())
                        .load(conn)
                        .map_err(db)?;
                    with_items(conn, rows)
                })
            })
            .await
    }

    async fn close(
        &self,
        id: TradeId,
        to: TradeStatus,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Transition, RepositoryError> {
        self.db
            .run(move |conn| {
                write_transaction(conn, |conn| {
                    let now = stored(now);
                    let current = row(conn, id.0)?;
                    if let Some(refusal) = check_open(current.as_ref(), expected_version, now)? {
                        return Ok(refusal);
                    }
                    let version = current.map(|r| r.version).unwrap_or_default();
                    if !transition(conn, id.0, version, to, now)? {
                        let status = row(conn, id.0)?.map(|r| r.status_at(now)).transpose()?;
                        return Ok(status.map_or(Transition::NotFound, Transition::NotOpen));
                    }
                    let event = if to == TradeStatus::Declined { TradeEvent::Declined } else { TradeEvent::Cancelled };
                    Ok(Transition::Done(changed(conn, id.0, event, now)?))
                })
            })
            .await
    }

    async fn accept(
        &self,
        id: TradeId,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Transition, RepositoryError> {
        self.db
            .run(move |conn| {
                let now = stored(now);
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match accept_once(conn, id.0, expected_version, now) {
                        Err(RepositoryError::Conflict { field: SERIAL_TAKEN }) => return Ok(Transition::SerialTaken),
                        Err(RepositoryError::Conflict { field: ITEMS_CHANGED }) => {
                            // Nothing of the swap was applied; the trade can never succeed now.
                            write_transaction(conn, |conn| {
                                let version = row(conn, id.0)?.map(|r| r.version).unwrap_or_default();
                                if transition(conn, id.0, version, TradeStatus::Cancelled, now)? {
                                    changed(conn, id.0, TradeEvent::Cancelled, now)?;
                                }
                                Ok(())
                            })?;
                            return Ok(Transition::ItemsChanged);
                        }
                        Err(e) if attempt <= DEADLOCK_RETRIES && is_deadlock(&e) => {}
                        other => return other,
                    }
                }
            })
            .await
    }

    async fn expire(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError> {
        self.db
            .run(move |conn| {
                let now = stored(now);
                let due: Vec<(i64, i64)> = trades::table
                    .filter(trades::status.eq(TradeStatus::Open.as_str()))
                    .filter(trades::expires_at.le(now))
                    .select((trades::id, trades::version))
                    .load(conn)
                    .map_err(db)?;
                let mut expired = 0;
                // One transaction per trade: its change and its event together, and an accept
                // racing for one of them decides that trade alone.
                for (id, version) in due {
                    let marked = write_transaction(conn, |conn| {
                        let marked = transition(conn, id, version, TradeStatus::Expired, now)?;
                        if marked {
                            changed(conn, id, TradeEvent::Expired, now)?;
                        }
                        Ok(marked)
                    })?;
                    expired += u64::from(marked);
                }
                Ok(expired)
            })
            .await
    }

    async fn market(
        &self,
        viewer: UserId,
        filter: MarketFilter,
        page: PageRequest,
    ) -> Result<Page<MarketItem>, RepositoryError> {
        self.db
            .run(move |conn| {
                let query = || {
                    let mut q = user_products::table
                        .inner_join(products::table.inner_join(categories::table))
                        .inner_join(users::table)
                        .filter(user_products::tradeable.eq(true))
                        .filter(user_products::status.eq(UserProductStatus::Active.as_str()))
                        .filter(user_products::user_id.ne(viewer.0))
                        .filter(users::status.eq("active"))
                        .into_boxed();
                    if let Some(category) = filter.category_id {
                        q = q.filter(products::category_id.eq(category));
                    }
                    if let Some(brand) = filter.brand.as_deref().filter(|b| !b.trim().is_empty()) {
                        q = q.filter(brand_key().eq(brand.trim().to_lowercase()));
                    }
                    if let Some(text) = filter.q.as_deref().filter(|t| !t.trim().is_empty()) {
                        q = q.filter(search_text().like(contains_pattern(text.trim())).escape('\\'));
                    }
                    q
                };
                let unfiltered = filter.q.as_deref().is_none_or(|t| t.trim().is_empty())
                    && filter.category_id.is_none()
                    && filter.brand.as_deref().is_none_or(|b| b.trim().is_empty());
                // The whole market's total comes from its counters (see the migration): every
                // active seller's offers, less the viewer's own. A filtered one is counted.
                let total: i64 = if unfiltered {
                    let counts: Vec<(i64, i64)> = market_counts::table
                        .filter(market_counts::user_id.eq_any([0, viewer.0]))
                        .select((market_counts::user_id, market_counts::n))
                        .load(conn)
                        .map_err(db)?;
                    let of = |user: i64| counts.iter().find(|(u, _)| *u == user).map_or(0, |(_, n)| *n);
                    (of(0) - of(viewer.0)).max(0)
                } else {
                    query().count().get_result(conn).map_err(db)?
                };
                counted_page(page, total, || {
                    #[expect(clippy::type_complexity, reason = "one row of a join, read once just below")]
                    let rows: Vec<(
                        i64,
                        i64,
                        String,
                        Option<chrono::NaiveDate>,
                        Option<chrono::NaiveDate>,
                        String,
                        i64,
                        String,
                        String,
                        Option<String>,
                        String,
                        i32,
                    )> = query()
                        .order((user_products::created_at.desc(), user_products::id.desc()))
                        .limit(page.limit())
                        .offset(page.offset())
                        .select((
                            user_products::id,
                            users::id,
                            users::username,
                            user_products::purchase_date,
                            user_products::warranty_expires,
                            user_products::status,
                            products::id,
                            products::name,
                            products::brand,
                            products::model,
                            categories::name,
                            products::warranty_months,
                        ))
                        .load(conn)
                        .map_err(db)?;
                    let items = rows
                        .into_iter()
                        .map(
                            |(
                                item,
                                owner,
                                username,
                                purchased,
                                expires,
                                status,
                                product,
                                name,
                                brand,
                                model,
                                category,
                                months,
                            )| {
                                Ok(MarketItem {
                                    item_id: item,
                                    product: summary(product, name, brand, model, category, months)?,
                                    owner_id: UserId(owner),
                                    owner_username: username,
                                    purchase_date: purchased,
                                    warranty_expires: expires,
                                    status: UserProductStatus::parse(&status)
                                        .map_err(|e| corrupt("user_products.status", e))?,
                                })
                            },
                        )
                        .collect::<Result<Vec<_>, RepositoryError>>()?;
                    Ok(items)
                })
            })
            .await
    }
}
