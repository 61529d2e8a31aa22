//! `TradeService`: proposals, answers and the market, with the rules on who may do what.
//!
//! A trade is seen by its two parties only; anyone else is told it does not exist. The recipient
//! accepts, declines or counters; the proposer cancels; either gets `403` for the other's action.

use std::collections::HashMap;
use std::sync::Arc;

use workbench_core::{Page, PageRequest, Validator, now};
use workbench_users::{Principal, UserId};

use crate::model::Proposal;
use crate::{
    ItemState, MarketFilter, MarketItem, NewTrade, Trade, TradeActivity, TradeDraft, TradeError, TradeFilter, TradeId,
    TradeRepository, TradeStatus, Transition,
};

const RECIPIENTS_ONLY: &str = "Only the trade's recipient may do this.";
const PROPOSERS_ONLY: &str = "Only the trade's proposer may cancel it.";
/// The messages of the item rules: the contract's `422`s naming the side.
pub(crate) const NOT_YOURS: &str = "must be items of yours that are not sold, broken or archived";
pub(crate) const NOT_THEIRS: &str = "must be tradeable items of the recipient that are not sold, broken or archived";

/// Trades: see the module documentation.
#[derive(Clone)]
pub struct TradeService {
    trades: Arc<dyn TradeRepository>,
    /// Told of proposals and answers once they are stored.
    activity: Option<Arc<dyn TradeActivity>>,
}

impl std::fmt::Debug for TradeService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TradeService").finish_non_exhaustive()
    }
}

/// Which party an action is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Proposer,
    Recipient,
}

impl TradeService {
    /// The service over the trades stored in `trades`.
    pub fn new(trades: Arc<dyn TradeRepository>) -> Self {
        Self { trades, activity: None }
    }

    /// The service telling `activity` of each proposal and answer.
    pub fn with_activity(mut self, activity: Arc<dyn TradeActivity>) -> Self {
        self.activity = Some(activity);
        self
    }

    async fn tell_proposed(&self, trade: Result<Trade, TradeError>) -> Result<Trade, TradeError> {
        if let (Ok(trade), Some(activity)) = (&trade, &self.activity) {
            activity.proposed(trade).await;
        }
        trade
    }

    async fn tell_answered(&self, trade: Result<Trade, TradeError>) -> Result<Trade, TradeError> {
        if let (Ok(trade), Some(activity)) = (&trade, &self.activity) {
            activity.answered(trade).await;
        }
        trade
    }

    /// Proposes a trade to another active user. Every failing rule is reported at once, on the
    /// field it concerns: the recipient, each side's items (offered ones must be the caller's,
    /// requested ones the recipient's and tradeable; none sold, broken or archived; at most 20 a
    /// side, none twice, at least one in all), the message and the expiry.
    pub async fn propose(&self, caller: &Principal, draft: TradeDraft) -> Result<Trade, TradeError> {
        let mut v = Validator::seeded(draft.type_failures.clone());
        let proposal = Proposal::check(draft, true, &mut v);
        if let Some(p) = &proposal
            && let Some(recipient) = p.recipient
        {
            if recipient == caller.id {
                v.fail("recipient_id", "must be another user");
            } else if !self.trades.is_active_user(recipient).await? {
                v.fail("recipient_id", "must be an active user");
            } else {
                self.check_items(&mut v, p, caller.id, recipient).await?;
            }
        }
        let p = v.finish_with(proposal)?;
        let recipient = p.recipient.unwrap_or(caller.id);
        let created = self.trades.create(new_trade(&p, None, caller.id, recipient), None).await;
        let trade = self.stored(created, &p, caller.id, recipient).await;
        self.tell_proposed(trade).await
    }

    /// One trade: its parties only.
    pub async fn get(&self, caller: &Principal, id: TradeId) -> Result<Trade, TradeError> {
        let trade = self.trades.find(id).await?.ok_or(TradeError::NotFound)?;
        if trade.is_party(caller.id) { Ok(trade) } else { Err(TradeError::NotFound) }
    }

    /// One page of the caller's trades, newest first.
    pub async fn list(
        &self,
        caller: &Principal,
        filter: TradeFilter,
        page: PageRequest,
    ) -> Result<Page<Trade>, TradeError> {
        Ok(self.trades.list(caller.id, filter, now(), page).await?)
    }

    /// Accepts a trade: its recipient. Every item moves at once, or, when one no longer is where
    /// the trade put it, none does and the trade is cancelled (`ItemsChanged`).
    pub async fn accept(&self, caller: &Principal, id: TradeId, if_match: Option<i64>) -> Result<Trade, TradeError> {
        self.party_to(caller, id, Party::Recipient).await?;
        let trade = settle(self.trades.accept(id, if_match, now()).await?, if_match);
        self.tell_answered(trade).await
    }

    /// Declines a trade: its recipient.
    pub async fn decline(&self, caller: &Principal, id: TradeId, if_match: Option<i64>) -> Result<Trade, TradeError> {
        self.party_to(caller, id, Party::Recipient).await?;
        let trade = settle(self.trades.close(id, TradeStatus::Declined, if_match, now()).await?, if_match);
        self.tell_answered(trade).await
    }

    /// Cancels a trade: its proposer.
    pub async fn cancel(&self, caller: &Principal, id: TradeId, if_match: Option<i64>) -> Result<Trade, TradeError> {
        self.party_to(caller, id, Party::Proposer).await?;
        settle(self.trades.close(id, TradeStatus::Cancelled, if_match, now()).await?, if_match)
    }

    /// Answers a trade with a new one in the other direction: its recipient. The answered trade
    /// becomes `superseded` in the same write. `recipient_id` and `expires_in_hours` of the draft
    /// are not read: the recipient is the trade's proposer, and the expiry the default's.
    pub async fn counter(&self, caller: &Principal, id: TradeId, draft: TradeDraft) -> Result<Trade, TradeError> {
        let parent = self.party_to(caller, id, Party::Recipient).await?;
        let status = parent.status_at(now());
        if status != TradeStatus::Open {
            return Err(TradeError::NotOpen(status));
        }
        let draft = TradeDraft { recipient_id: None, expires_in_hours: None, ..draft };
        let mut v = Validator::seeded(draft.type_failures.clone());
        let proposal = Proposal::check(draft, false, &mut v);
        if let Some(p) = &proposal {
            self.check_items(&mut v, p, caller.id, parent.proposer_id).await?;
        }
        let p = v.finish_with(proposal)?;
        let created = self.trades.create(new_trade(&p, Some(id), caller.id, parent.proposer_id), Some(id)).await;
        let trade = self.stored(created, &p, caller.id, parent.proposer_id).await;
        self.tell_proposed(trade).await
    }

    /// One page of the market: other active users' tradeable items, newest first.
    pub async fn market(
        &self,
        caller: &Principal,
        filter: MarketFilter,
        page: PageRequest,
    ) -> Result<Page<MarketItem>, TradeError> {
        Ok(self.trades.market(caller.id, filter, page).await?)
    }

    /// Marks the open trades past their expiry as expired (the schedule's work); how many.
    pub async fn expire(&self) -> Result<u64, TradeError> {
        Ok(self.trades.expire(now()).await?)
    }

    /// What storing a proposal gave: an item deleted between the checks and the write is the
    /// item rule's refusal, checked again, as if it had been gone from the start.
    async fn stored(
        &self,
        created: Result<Result<Trade, TradeStatus>, workbench_core::RepositoryError>,
        p: &Proposal,
        giver: UserId,
        taker: UserId,
    ) -> Result<Trade, TradeError> {
        match created {
            Ok(trade) => trade.map_err(TradeError::NotOpen),
            Err(workbench_core::RepositoryError::MissingReference { .. }) => {
                let mut v = Validator::default();
                self.check_items(&mut v, p, giver, taker).await?;
                v.finish()?;
                Err(TradeError::ItemsChanged)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The trade, when the caller is the party `party`: anyone else who is no party is told it
    /// does not exist; the other party is refused.
    async fn party_to(&self, caller: &Principal, id: TradeId, party: Party) -> Result<Trade, TradeError> {
        let trade = self.get(caller, id).await?;
        let (theirs, why) = match party {
            Party::Proposer => (trade.proposer_id, PROPOSERS_ONLY),
            Party::Recipient => (trade.recipient_id, RECIPIENTS_ONLY),
        };
        if theirs == caller.id { Ok(trade) } else { Err(TradeError::Forbidden(why)) }
    }

    /// The item rules: offered items are `giver`'s, requested ones `taker`'s and tradeable, none
    /// sold, broken or archived.
    async fn check_items(
        &self,
        v: &mut Validator,
        p: &Proposal,
        giver: UserId,
        taker: UserId,
    ) -> Result<(), TradeError> {
        let ids: Vec<i64> = p.offered.iter().chain(&p.requested).copied().collect();
        if ids.is_empty() {
            return Ok(());
        }
        let found: HashMap<i64, ItemState> = self.trades.items(ids).await?.into_iter().map(|i| (i.id, i)).collect();
        let ok = |id: &i64, owner: UserId, must_be_tradeable: bool| {
            found.get(id).is_some_and(|i| i.owner == owner && i.can_be_traded() && (i.tradeable || !must_be_tradeable))
        };
        if !p.offered.iter().all(|id| ok(id, giver, false)) {
            v.fail("offered_item_ids", NOT_YOURS);
        }
        if !p.requested.iter().all(|id| ok(id, taker, true)) {
            v.fail("requested_item_ids", NOT_THEIRS);
        }
        Ok(())
    }
}

fn new_trade(p: &Proposal, parent: Option<TradeId>, proposer: UserId, recipient: UserId) -> NewTrade {
    let created_at = now();
    NewTrade {
        parent_id: parent,
        proposer_id: proposer,
        recipient_id: recipient,
        offered: p.offered.clone(),
        requested: p.requested.clone(),
        message: p.message.clone(),
        expires_at: created_at + p.lifetime,
        created_at,
    }
}

/// What a transition's outcome means to the caller.
fn settle(outcome: Transition, if_match: Option<i64>) -> Result<Trade, TradeError> {
    match outcome {
        Transition::Done(trade) => Ok(trade),
        Transition::NotOpen(status) => Err(TradeError::NotOpen(status)),
        Transition::VersionMismatch { current } => {
            Err(TradeError::VersionMismatch { expected: if_match.unwrap_or_default(), current })
        }
        Transition::ItemsChanged => Err(TradeError::ItemsChanged),
        Transition::SerialTaken => Err(TradeError::SerialTaken),
        Transition::NotFound => Err(TradeError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};
    use workbench_products::UserProductStatus;
    use workbench_users::{Role, User};

    use super::*;
    use crate::MockTradeRepository;

    fn caller(id: i64) -> Principal {
        let mut user = User::sample(id);
        user.role = Role::User;
        Principal::from(&user)
    }

    fn trade(proposer: i64, recipient: i64) -> Trade {
        Trade {
            id: TradeId(1),
            parent_id: None,
            proposer_id: UserId(proposer),
            recipient_id: UserId(recipient),
            offered: vec![],
            requested: vec![],
            message: None,
            status: TradeStatus::Open,
            expires_at: Utc::now() + Duration::hours(1),
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn item(id: i64, owner: i64, status: UserProductStatus, tradeable: bool) -> ItemState {
        ItemState { id, owner: UserId(owner), status, tradeable }
    }

    #[tokio::test]
    async fn every_rule_of_a_proposal_is_reported_on_its_field_at_once() {
        let mut repo = MockTradeRepository::new();
        repo.expect_is_active_user().returning(|_| Ok(true));
        repo.expect_items().returning(|_| {
            Ok(vec![
                item(1, 9, UserProductStatus::Active, true),  // not the proposer's
                item(2, 2, UserProductStatus::Active, false), // the recipient's, not tradeable
            ])
        });
        repo.expect_create().never();
        let draft = TradeDraft {
            recipient_id: Some(2),
            offered_item_ids: Some(vec![1]),
            requested_item_ids: Some(vec![2]),
            // Counted as sent (as the published `maxLength` counts), so the space counts too.
            message: Some(format!(" {}", "x".repeat(2_000))),
            expires_in_hours: Some(0),
            ..TradeDraft::default()
        };
        let Err(TradeError::Validation(errors)) = TradeService::new(Arc::new(repo)).propose(&caller(1), draft).await
        else {
            panic!("refused")
        };
        for field in ["offered_item_ids", "requested_item_ids", "message", "expires_in_hours"] {
            assert!(errors.contains(field), "{field}: {errors}");
        }
    }

    #[tokio::test]
    async fn a_trade_holds_something_no_item_twice_and_not_with_oneself() {
        let mut repo = MockTradeRepository::new();
        repo.expect_is_active_user().returning(|_| Ok(true));
        repo.expect_items().returning(|_| Ok(vec![]));
        let service = TradeService::new(Arc::new(repo));
        let empty = TradeDraft { recipient_id: Some(2), ..TradeDraft::default() };
        let Err(TradeError::Validation(errors)) = service.propose(&caller(1), empty).await else { panic!() };
        assert!(errors.contains("offered_item_ids"), "{errors}");
        let twice = TradeDraft {
            recipient_id: Some(2),
            offered_item_ids: Some(vec![3, 3]),
            requested_item_ids: Some((1..=21).collect()),
            ..TradeDraft::default()
        };
        let Err(TradeError::Validation(errors)) = service.propose(&caller(1), twice).await else { panic!() };
        assert!(errors.contains("offered_item_ids") && errors.contains("requested_item_ids"), "{errors}");
        let myself = TradeDraft { recipient_id: Some(1), offered_item_ids: Some(vec![3]), ..TradeDraft::default() };
        let Err(TradeError::Validation(errors)) = service.propose(&caller(1), myself).await else { panic!() };
        assert!(errors.contains("recipient_id"), "{errors}");
    }

    #[tokio::test]
    async fn each_party_acts_for_itself_and_strangers_see_nothing() {
        let mut repo = MockTradeRepository::new();
        repo.expect_find().returning(|_| Ok(Some(trade(1, 2))));
        repo.expect_accept().never();
        repo.expect_close().never();
        let service = TradeService::new(Arc::new(repo));
        assert!(matches!(service.accept(&caller(1), TradeId(1), None).await, Err(TradeError::Forbidden(_))));
        assert!(matches!(service.cancel(&caller(2), TradeId(1), None).await, Err(TradeError::Forbidden(_))));
        assert!(matches!(service.decline(&caller(3), TradeId(1), None).await, Err(TradeError::NotFound)));
        assert!(matches!(service.get(&caller(3), TradeId(1)).await, Err(TradeError::NotFound)));
    }

    #[tokio::test]
    async fn an_expired_trade_reads_expired_and_is_not_countered() {
        let mut expired = trade(1, 2);
        expired.expires_at = Utc::now() - Duration::seconds(1);
        assert_eq!(expired.status_at(Utc::now()), TradeStatus::Expired);
        let mut repo = MockTradeRepository::new();
        repo.expect_find().returning(move |_| Ok(Some(expired.clone())));
        repo.expect_create().never();
        let got = TradeService::new(Arc::new(repo)).counter(&caller(2), TradeId(1), TradeDraft::default()).await;
        assert!(matches!(got, Err(TradeError::NotOpen(TradeStatus::Expired))), "{got:?}");
    }
}
