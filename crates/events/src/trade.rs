//! The events of the trades domain. Like the task events' names, these are a public contract.

use std::fmt;

/// What happened to a trade. The trade repository records one of these in the outbox with every
/// change, in the same transaction; both parties are its audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TradeEvent {
    Proposed,
    Accepted,
    Declined,
    Cancelled,
    Countered,
    Expired,
}

impl TradeEvent {
    pub const ALL: [TradeEvent; 6] = [
        TradeEvent::Proposed,
        TradeEvent::Accepted,
        TradeEvent::Declined,
        TradeEvent::Cancelled,
        TradeEvent::Countered,
        TradeEvent::Expired,
    ];

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

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for TradeEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
