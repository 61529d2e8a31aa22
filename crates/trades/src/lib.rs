//! The trades domain of Workbench: owners swap what they own.
//!
//! A user marks an owned item tradeable; others find it on the market ([`MarketItem`]) and
//! propose a [`Trade`]: items they offer for items they ask. The recipient accepts, declines or
//! answers with a counter-proposal; the proposer may cancel. Only an open trade changes, and an
//! open trade past its expiry reads as expired. Accepting moves every item at once, or none: the
//! swap is one operation of the [`TradeRepository`] port, which MUST let exactly one of any
//! number of racing accepts that share an item succeed. [`TradeService`] holds the rules on who
//! may do what. Nothing here does I/O.

#![warn(missing_docs)]

mod error;
mod model;
mod ports;
mod service;

pub use error::TradeError;
pub use model::{
    DEFAULT_TRADE_HOURS, ItemState, MAX_ITEMS_PER_SIDE, MAX_TRADE_HOURS, MESSAGE_MAX_CHARS, MarketFilter, MarketItem,
    NewTrade, Trade, TradeDraft, TradeFilter, TradeId, TradeItem, TradeRole, TradeStatus, Transition,
};
pub use ports::{TradeActivity, TradeRepository};
pub use service::TradeService;

#[cfg(feature = "mock")]
pub use ports::{MockTradeActivity, MockTradeRepository};
