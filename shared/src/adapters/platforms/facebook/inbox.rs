//! Facebook Pages' inbox: comments arrive by push (Graph webhooks), so nothing is polled; a
//! comment, or a post or comment mentioning the page, is answered with a comment on it as the
//! page (<https://developers.facebook.com/docs/graph-api/reference/object/comments/#publish>,
//! `POST /{object-id}/comments` with `message`, the page token). DM answers take the Send API,
//! which comes with the push of messages.

use async_trait::async_trait;

use super::Facebook;
use crate::model::inbox::InteractionKind;
use crate::model::platforms::Platform;
use crate::ports::platforms::{ChannelAuth, InboxClient, PlatformError, Published, ReplyTarget};

#[async_trait]
impl InboxClient for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }

    fn replies_to(&self, kind: InteractionKind) -> bool {
        kind != InteractionKind::Dm
    }

    async fn reply(&self, auth: &ChannelAuth, to: &ReplyTarget, text: &str) -> Result<Published, PlatformError> {
        self.graph(auth).answer(&to.platform_id, "comments", text).await
    }
}
