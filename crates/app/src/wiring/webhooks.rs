//! Users' outbound webhook subscriptions and the deliveries received from GitHub and Stripe.

use std::sync::Arc;

use workbench_store::DieselWebhookStore;
use workbench_webhooks::{InboundService, ProviderSecrets, WebhookService};

use crate::config::Settings;

pub fn services(settings: &Settings, store: &DieselWebhookStore) -> (WebhookService, InboundService) {
    let webhooks =
        WebhookService::new(Arc::new(store.clone()), Arc::new(store.clone()), settings.webhooks.allow_private_targets);
    let inbound = InboundService::new(
        Arc::new(store.clone()),
        ProviderSecrets {
            github: settings.webhooks.github_secret.clone(),
            stripe: settings.webhooks.stripe_secret.clone(),
        },
    );
    (webhooks, inbound)
}
