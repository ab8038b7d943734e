//! The webhooks of a close (issue 16, point 3): `round.closed` and
//! `release.available`, queued in the close transaction next to the digests, so
//! they exist exactly when the close committed. They carry ids, timestamps and a
//! URL, never a figure ([`safepulse_mailer::webhooks`]).

use safepulse_anonymizer::{NodeRelease, Release};
use safepulse_mailer::webhooks::{
    RoundEventData, WebhookData, WebhookEvent, WebhookPayload, queue_webhooks,
};
use safepulse_store::StoreError;
use safepulse_store::entities::round;
use sea_orm::DatabaseTransaction;

use crate::rounds::{CloseRequest, RoundError};

/// Queues both events of a closing round for every subscribed endpoint.
pub(crate) async fn queue_close_webhooks(
    db: &DatabaseTransaction,
    round: &round::Model,
    releases: &[NodeRelease],
    request: &CloseRequest<'_>,
) -> Result<(), RoundError> {
    let url = format!(
        "{}/api/v1/releases?round_id={}",
        request.report_base_url.trim_end_matches('/'),
        round.id
    );
    // As stored (PostgreSQL keeps microseconds), so the payload matches the API.
    let closed_at = round.closed_at.unwrap_or(request.now);
    let closed = RoundEventData {
        round_id: round.id,
        survey_id: round.survey_id,
        closed_at,
        released_node_ids: None,
        url,
    };
    // Only whether a node has figures: a suppressed node is simply not listed.
    let released_node_ids = releases
        .iter()
        .filter(|node| !matches!(node.release, Release::Suppressed { .. }))
        .map(|node| node.node)
        .collect();
    let available = RoundEventData {
        released_node_ids: Some(released_node_ids),
        ..closed.clone()
    };
    for (event, data) in [
        (WebhookEvent::RoundClosed, closed),
        (WebhookEvent::ReleaseAvailable, available),
    ] {
        let payload = WebhookPayload {
            event,
            timestamp: closed_at,
            data: WebhookData::Round(data),
        };
        queue_webhooks(db, &payload, request.now)
            .await
            .map_err(StoreError::from)?;
    }
    Ok(())
}
