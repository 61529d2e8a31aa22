//! Trades, their states, and the rules on what a proposal may hold.

use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use workbench_core::{FieldErrors, TypeFailures, Validator, at_most_chars};
use workbench_products::{ProductSummary, UserProductStatus};
use workbench_users::UserId;

/// A trade's database id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TradeId(pub i64);

impl fmt::Display for TradeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a trade stands. Only an `Open` one changes; every other state is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TradeStatus {
    /// Proposed, waiting for the recipient's answer (or the proposer's cancellation).
    Open,
    /// The recipient accepted: the items changed hands.
    Accepted,
    /// The recipient said no.
    Declined,
    /// The proposer withdrew it, or an item it holds changed hands or state.
    Cancelled,
    /// Nobody answered before `expires_at`.
    Expired,
    /// The recipient answered with a counter-proposal.
    Superseded,
}

impl TradeStatus {
    /// Every state.
    pub const ALL: [TradeStatus; 6] = [
        TradeStatus::Open,
        TradeStatus::Accepted,
        TradeStatus::Declined,
        TradeStatus::Cancelled,
        TradeStatus::Expired,
        TradeStatus::Superseded,
    ];

    /// The state's name on the wire and in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeStatus::Open => "open",
            TradeStatus::Accepted => "accepted",
            TradeStatus::Declined => "declined",
            TradeStatus::Cancelled => "cancelled",
            TradeStatus::Expired => "expired",
            TradeStatus::Superseded => "superseded",
        }
    }

    /// The state named `s`, or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| "must be one of open, accepted, declined, cancelled, expired, superseded".to_owned())
    }
}

impl fmt::Display for TradeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item in a trade: the owned item's id (which it keeps when its owner changes) and what it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeItem {
    /// The owned item's id, which it keeps when its owner changes.
    pub id: i64,
    /// The catalogue product the item is.
    pub product: ProductSummary,
}

/// A trade between two users. Serialised as it goes into the outbox with each change's event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trade {
    /// The trade's id.
    pub id: TradeId,
    /// The trade this one answers (a counter-proposal).
    pub parent_id: Option<TradeId>,
    /// Who proposed it: they give `offered` and may cancel.
    pub proposer_id: UserId,
    /// Who it is proposed to: they give `requested` and may accept, decline or counter.
    pub recipient_id: UserId,
    /// What the proposer gives.
    pub offered: Vec<TradeItem>,
    /// What the proposer asks of the recipient.
    pub requested: Vec<TradeItem>,
    /// What the proposer wrote with it, at most 2,000 characters.
    pub message: Option<String>,
    /// As stored: an `Open` trade past `expires_at` is marked `Expired` by a schedule, and reads
    /// as such before ([`Trade::status_at`]).
    pub status: TradeStatus,
    /// When it stops being open to an answer.
    pub expires_at: DateTime<Utc>,
    /// Grows with every change: the `ETag`, and what `If-Match` is checked against.
    pub version: i64,
    /// When it was proposed.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Trade {
    /// The state at `now`: an open trade past its expiry is expired, whether or not the schedule
    /// has marked it yet.
    pub fn status_at(&self, now: DateTime<Utc>) -> TradeStatus {
        if self.status == TradeStatus::Open && self.expires_at <= now { TradeStatus::Expired } else { self.status }
    }

    /// Whether `user` is the proposer or the recipient: nobody else sees the trade.
    pub fn is_party(&self, user: UserId) -> bool {
        self.proposer_id == user || self.recipient_id == user
    }
}

/// Which trades of the caller's a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeRole {
    /// Trades the caller proposed.
    Sent,
    /// Trades proposed to the caller.
    Received,
}

impl TradeRole {
    /// The role named `s` (`sent`, `received`), or the message a `422` carries.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "sent" => Ok(TradeRole::Sent),
            "received" => Ok(TradeRole::Received),
            _ => Err("must be one of sent, received".to_owned()),
        }
    }
}

/// The filter of a list of trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TradeFilter {
    /// Only the trades the caller sent, or only those they received; `None`: both.
    pub role: Option<TradeRole>,
    /// As read at the time of the list (`expired` includes open trades past their expiry).
    pub status: Option<TradeStatus>,
}

impl TradeFilter {
    /// Checks the `role` and `status` parameters, naming each bad one.
    pub fn parse(role: Option<&str>, status: Option<&str>) -> Result<Self, FieldErrors> {
        let mut v = Validator::default();
        let role = v.optional("role", role, TradeRole::parse).ok().flatten();
        let status = v.optional("status", status, TradeStatus::parse).ok().flatten();
        v.finish()?;
        Ok(Self { role, status })
    }
}

/// The most items a side of a trade may hold.
pub const MAX_ITEMS_PER_SIDE: usize = 20;
/// The longest message, in characters.
pub const MESSAGE_MAX_CHARS: usize = 2_000;
/// How long a proposal stays open unless told, and at most, in hours.
pub const DEFAULT_TRADE_HOURS: i64 = 72;
/// The longest a proposal may stay open, in hours (30 days).
pub const MAX_TRADE_HOURS: i64 = 720;

/// What a client sent to propose a trade (or a counter-proposal: no recipient, no expiry).
#[derive(Debug, Clone, Default)]
pub struct TradeDraft {
    /// Whom the trade is proposed to; required, except in a counter-proposal.
    pub recipient_id: Option<i64>,
    /// The ids of the proposer's items to give, at most [`MAX_ITEMS_PER_SIDE`], none twice.
    pub offered_item_ids: Option<Vec<i64>>,
    /// The ids of the recipient's tradeable items asked for, at most [`MAX_ITEMS_PER_SIDE`], none
    /// twice.
    pub requested_item_ids: Option<Vec<i64>>,
    /// A message to the recipient, at most [`MESSAGE_MAX_CHARS`] characters; blank means none.
    pub message: Option<String>,
    /// How long the proposal stays open, 1 to [`MAX_TRADE_HOURS`] hours; [`DEFAULT_TRADE_HOURS`]
    /// when missing.
    pub expires_in_hours: Option<i64>,
    /// Fields whose JSON type was wrong, reported with the rest.
    pub type_failures: TypeFailures,
}

/// A draft whose fields are each well-formed; whether its items may be traded is checked against
/// the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Proposal {
    pub recipient: Option<UserId>,
    pub offered: Vec<i64>,
    pub requested: Vec<i64>,
    pub message: Option<String>,
    pub lifetime: Duration,
}

impl Proposal {
    /// Checks the draft's fields, recording every failure in `v`; `needs_recipient` is false for
    /// a counter-proposal, whose recipient is the trade's proposer.
    pub(crate) fn check(draft: TradeDraft, needs_recipient: bool, v: &mut Validator) -> Option<Self> {
        let recipient = if needs_recipient {
            v.required("recipient_id", draft.recipient_id, |id| {
                if id > 0 { Ok(UserId(id)) } else { Err("must be a positive integer") }
            })
        } else {
            None
        };
        let offered = v.check("offered_item_ids", item_ids(draft.offered_item_ids));
        let requested = v.check("requested_item_ids", item_ids(draft.requested_item_ids));
        if let (Some(offered), Some(requested)) = (&offered, &requested) {
            if offered.is_empty() && requested.is_empty() {
                v.fail("offered_item_ids", "a trade holds at least one item");
            }
            if offered.iter().any(|id| requested.contains(id)) {
                v.fail("requested_item_ids", "must not name an item that is also offered");
            }
        }
        let message = v
            .optional("message", draft.message, |m| {
                // Bounded as sent, so the published `maxLength` is the rule; kept trimmed.
                at_most_chars(m.as_str(), MESSAGE_MAX_CHARS)
                    .map(|t| Some(t.trim().to_owned()).filter(|t| !t.is_empty()))
            })
            .ok()
            .flatten()
            .flatten();
        let hours = v
            .optional("expires_in_hours", draft.expires_in_hours, |h| {
                if (1..=MAX_TRADE_HOURS).contains(&h) {
                    Ok(h)
                } else {
                    Err(format!("must be between 1 and {MAX_TRADE_HOURS}"))
                }
            })
            .ok()
            .flatten()
            .unwrap_or(DEFAULT_TRADE_HOURS);
        if needs_recipient && recipient.is_none() {
            return None;
        }
        Some(Self { recipient, offered: offered?, requested: requested?, message, lifetime: Duration::hours(hours) })
    }
}

/// A side's item ids: positive, at most 20, none twice. Left out means none.
fn item_ids(raw: Option<Vec<i64>>) -> Result<Vec<i64>, String> {
    let ids = raw.unwrap_or_default();
    if ids.len() > MAX_ITEMS_PER_SIDE {
        return Err(format!("must hold at most {MAX_ITEMS_PER_SIDE} items"));
    }
    if ids.iter().any(|id| *id <= 0) {
        return Err("must hold positive integers".to_owned());
    }
    let distinct: HashSet<i64> = ids.iter().copied().collect();
    if distinct.len() != ids.len() {
        return Err("must not name an item twice".to_owned());
    }
    Ok(ids)
}

/// An item as a proposal sees it: whose it is and whether it may be traded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemState {
    /// The item's id.
    pub id: i64,
    /// Who owns it now.
    pub owner: UserId,
    /// Where it stands in its owner's life.
    pub status: UserProductStatus,
    /// Whether its owner offers it on the market.
    pub tradeable: bool,
}

impl ItemState {
    /// Sold, broken and archived items cannot be traded.
    pub fn can_be_traded(&self) -> bool {
        !matches!(self.status, UserProductStatus::Sold | UserProductStatus::Broken | UserProductStatus::Archived)
    }
}

/// A trade about to be stored, open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTrade {
    /// The trade a counter-proposal answers, marked `superseded` when this one is stored.
    pub parent_id: Option<TradeId>,
    /// Who proposes it.
    pub proposer_id: UserId,
    /// Whom it is proposed to.
    pub recipient_id: UserId,
    /// The ids of the proposer's items to give.
    pub offered: Vec<i64>,
    /// The ids of the recipient's items asked for.
    pub requested: Vec<i64>,
    /// The message, trimmed; `None` when blank.
    pub message: Option<String>,
    /// When it stops being open to an answer.
    pub expires_at: DateTime<Utc>,
    /// When it is proposed.
    pub created_at: DateTime<Utc>,
}

/// What an attempt to change an open trade found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The change was made: the trade as stored now.
    Done(Trade),
    /// The trade was not open (any more): its state at the time.
    NotOpen(TradeStatus),
    /// `If-Match` named another version.
    VersionMismatch {
        /// The trade's version now.
        current: i64,
    },
    /// An item is no longer where the trade put it (accept only); the trade is now cancelled.
    ItemsChanged,
    /// The swap would give a party a second item of one product with one serial number (accept
    /// only); nothing moved, and the trade stays open.
    SerialTaken,
    /// No such trade.
    NotFound,
}

/// An item on the market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketItem {
    /// The owned item's id: what a proposal asks for.
    pub item_id: i64,
    /// The catalogue product it is.
    pub product: ProductSummary,
    /// Who owns it.
    pub owner_id: UserId,
    /// The owner's username, for showing.
    pub owner_username: String,
    /// When the owner bought it, if noted.
    pub purchase_date: Option<NaiveDate>,
    /// The last day its warranty covers, if known.
    pub warranty_expires: Option<NaiveDate>,
    /// Where it stands in its owner's life.
    pub status: UserProductStatus,
}

/// The filter of the market.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketFilter {
    /// A case-insensitive part of the product's name or brand.
    pub q: Option<String>,
    /// Only items of products in this category.
    pub category_id: Option<i64>,
    /// The product's brand, compared without regard to case.
    pub brand: Option<String>,
}
