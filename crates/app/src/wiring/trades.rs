//! The trades domain: trades and the market in the database. Wiring only: the rules stay in the
//! domain.

use std::sync::Arc;

use workbench_store::{Database, DieselTradeRepository};
use workbench_trades::TradeService;

pub fn service(db: &Database) -> TradeService {
    TradeService::new(Arc::new(DieselTradeRepository::new(db.clone())))
}
