//! What the trades domain needs from the outside world. Each method's doc says what an adapter
//! MUST do.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use workbench_core::{Page, PageRequest, RepositoryError};
use workbench_users::UserId;

use crate::{ItemState, MarketFilter, MarketItem, NewTrade, Trade, TradeFilter, TradeId, TradeStatus, Transition};

/// Where trades live, and the owned items they move.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait TradeRepository: Send + Sync {
    /// The items among `ids` that exist, with their owner and state.
    async fn items(&self, ids: Vec<i64>) -> Result<Vec<ItemState>, RepositoryError>;

    /// Whether `user` is an active account.
    async fn is_active_user(&self, user: UserId) -> Result<bool, RepositoryError>;

    /// Stores an open trade at version 1. With `supersedes`, the trade it answers becomes
    /// `superseded` in the same transaction, only if it is still open at `now` (else nothing is
    /// stored and its state is returned as `NotOpen`).
    async fn create(
        &self,
        trade: NewTrade,
        supersedes: Option<TradeId>,
    ) -> Result<Result<Trade, TradeStatus>, RepositoryError>;

    /// The trade `id`, whoever's it is (the service decides who may see it).
    async fn find(&self, id: TradeId) -> Result<Option<Trade>, RepositoryError>;

    /// One page of `user`'s trades (sent, received, or both), newest first; the status filter
    /// reads the state at `now` (an open trade past its expiry is expired).
    async fn list(
        &self,
        user: UserId,
        filter: TradeFilter,
        now: DateTime<Utc>,
        page: PageRequest,
    ) -> Result<Page<Trade>, RepositoryError>;

    /// Moves an open trade to `to` (declined or cancelled) if it is still open at `now` and at
    /// `expected_version` when one is given.
    async fn close(
        &self,
        id: TradeId,
        to: TradeStatus,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Transition, RepositoryError>;

    /// Accepts an open trade in one transaction: every item still owned by the side that put it
    /// in (and tradeable by state), each moved to the other side with its files (no longer
    /// `tradeable`), the trade `accepted`, every other open trade holding any of its items
    /// `cancelled`. When an item moved meanwhile, nothing of it is applied, the trade becomes
    /// `cancelled` and `ItemsChanged` is returned. When the new owner of an item already has that
    /// product with the same serial number, nothing is applied and `SerialTaken` is returned.
    /// When either party is no longer an active account, nothing is applied and the trade
    /// becomes `cancelled` (`NotOpen(Cancelled)`), decided after the trade is locked, so that an
    /// accept racing with a party's disabling either completes before it or finds the trade
    /// closed. Each moved file's share links are revoked, and the chat messages that carried it
    /// no longer do. Of any number of accepts racing for an item, on any number of instances,
    /// exactly one MUST succeed.
    async fn accept(
        &self,
        id: TradeId,
        expected_version: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Transition, RepositoryError>;

    /// Marks every open trade past its expiry at `now` as `expired`; how many it marked.
    async fn expire(&self, now: DateTime<Utc>) -> Result<u64, RepositoryError>;

    /// One page of the market: tradeable, active items of active users other than `viewer`,
    /// newest first.
    async fn market(
        &self,
        viewer: UserId,
        filter: MarketFilter,
        page: PageRequest,
    ) -> Result<Page<MarketItem>, RepositoryError>;
}

/// Who hears of trades as they happen (the notifications domain): told after each change is
/// stored; what it does cannot undo the change.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait::async_trait]
pub trait TradeActivity: Send + Sync {
    /// `trade` was proposed to its recipient (a counter-proposal: `trade.parent_id` is set).
    async fn proposed(&self, trade: &Trade);
    /// The recipient accepted or declined `trade` (its status says which).
    async fn answered(&self, trade: &Trade);
}
