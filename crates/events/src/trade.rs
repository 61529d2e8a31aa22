//! The events of the trades domain. Like the task events' names, these are a public contract.

use std::fmt;

/// What happened to a trade. The trade repository records one of these in the outbox with every
/// change, in the same transaction; both parties are its audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeEvent {
    /// A trade was proposed.
    Proposed,
    /// The recipient accepted: the items changed hands.
    Accepted,
    /// The recipient declined.
    Declined,
    /// The proposer withdrew it, or an item changed hands or state.
    Cancelled,
    /// The recipient answered with a counter-proposal.
    Countered,
    /// It passed its expiry unanswered.
    Expired,
}

impl TradeEvent {
    /// Every trade event.
    pub const ALL: [TradeEvent; 6] = [
        TradeEvent::Proposed,
        TradeEvent::Accepted,
        TradeEvent::Declined,
        TradeEvent::Cancelled,
        TradeEvent::Countered,
        TradeEvent::Expired,
    ];

    /// What the bus topics of trade events start with (`event.trade.accepted`, as
    /// [`BroadcastPublisher::topic`](crate::BroadcastPublisher::topic) names them): the realtime
    /// hub is given it to deliver them to both parties.
    pub const BUS_PREFIX: &'static str = "event.trade.";

    /// `trade.proposed`, `trade.accepted`, ...
    pub fn name(self) -> &'static str {
        match self {
            TradeEvent::Proposed => "trade.proposed",
            TradeEvent::Accepted => "trade.accepted",
            TradeEvent::Declined => "trade.declined",
            TradeEvent::Cancelled => "trade.cancelled",
            TradeEvent::Countered => "trade.countered",
            TradeEvent::Expired => "trade.expired",
        }
    }

    /// The event named `name` (`trade.accepted`), if there is one.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for TradeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
