//! The links a message carries back to us: unsubscribe (`/u/{token}`), the e-mail open pixel
//! (`/t/o/{token}`) and the click redirect (`/t/c/{token}?u={address}`). A token is
//! `{tenant}.{message}.{signature}`, signed with the server's link key for one purpose — a
//! click's together with its address, so the redirect leads only where our e-mail pointed.

use loyalty_core::campaign::Message;
use loyalty_messaging::template::Rendered;
use loyalty_store::repo::messaging as store;

use crate::{App, AppError, AppResult};

/// What a link is for; each signs its own data, so one kind of link is never another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkPurpose {
    Unsubscribe,
    Open,
    Click,
}

fn signed_data(purpose: LinkPurpose, named: &str, address: &str) -> String {
    match purpose {
        LinkPurpose::Unsubscribe => named.to_string(),
        LinkPurpose::Open => format!("open {named}"),
        LinkPurpose::Click => format!("click {named} {address}"),
    }
}

impl App {
    fn link_token(
        &self,
        purpose: LinkPurpose,
        tenant_id: &str,
        message_id: &str,
        address: &str,
    ) -> Option<String> {
        let key = self.secret_key.as_ref()?;
        let named = format!("{tenant_id}.{message_id}");
        let signature = key.sign_link(&signed_data(purpose, &named, address));
        Some(format!("{named}.{signature}"))
    }

    /// The unsubscribe link a message carries (empty where the server has no key).
    pub(crate) fn unsubscribe_link(&self, tenant_id: &str, message_id: &str) -> String {
        self.link_token(LinkPurpose::Unsubscribe, tenant_id, message_id, "")
            .map(|token| self.public_link(&format!("/u/{token}")))
            .unwrap_or_default()
    }

    /// An e-mail with its web links through our redirect and our pixel in it; other messages
    /// as they are.
    pub(crate) fn tracked(
        &self,
        tenant_id: &str,
        message_id: &str,
        rendered: Rendered,
    ) -> Rendered {
        let Rendered::Email {
            subject,
            html,
            text,
        } = rendered
        else {
            return rendered;
        };
        let Some(open) = self.link_token(LinkPurpose::Open, tenant_id, message_id, "") else {
            return Rendered::Email {
                subject,
                html,
                text,
            };
        };
        let pixel = self.public_link(&format!("/t/o/{open}"));
        let ours = self.public_link("/u/");
        let html = loyalty_messaging::tracking::track_links(&html, &pixel, &ours, |address| {
            let token = self
                .link_token(LinkPurpose::Click, tenant_id, message_id, address)
                .unwrap_or_default();
            let encoded: String =
                url::form_urlencoded::byte_serialize(address.as_bytes()).collect();
            self.public_link(&format!("/t/c/{token}?u={encoded}"))
        });
        Rendered::Email {
            subject,
            html,
            text,
        }
    }

    /// The message a link names, if its signature holds for `purpose` (and `address`).
    pub(crate) async fn linked_message(
        &self,
        token: &str,
        purpose: LinkPurpose,
        address: &str,
    ) -> AppResult<Option<(String, Message)>> {
        let Some(key) = &self.secret_key else {
            return Ok(None);
        };
        let Some((named, signature)) = token.rsplit_once('.') else {
            return Ok(None);
        };
        if !key.verify_link(&signed_data(purpose, named, address), signature) {
            return Ok(None);
        }
        let named = named.to_string();
        self.db
            .read(move |sql| {
                let (tenant, id) = match named.split_once('.') {
                    Some((tenant, id)) => (tenant.to_string(), id.to_string()),
                    // Unsubscribe links sent before they named the tenant: found by id alone.
                    None => {
                        let rows = sql.query(
                            "select tenant_id from messages where id = $1",
                            loyalty_store::params![named.as_str()],
                        )?;
                        let Some(tenant) = rows
                            .first()
                            .map(|r| r.get::<String>("tenant_id"))
                            .transpose()?
                        else {
                            return Ok::<_, AppError>(None);
                        };
                        (tenant, named.clone())
                    }
                };
                Ok(store::get_message(sql, &tenant, &id)?.map(|m| (tenant, m)))
            })
            .await
    }

    /// Records an e-mail open (the pixel) of a signed link; nothing for a link not ours.
    pub async fn track_open(&self, token: &str) -> AppResult<()> {
        if let Some((tenant_id, message)) =
            self.linked_message(token, LinkPurpose::Open, "").await?
        {
            self.record_report(&tenant_id, message, crate::message_reports::Seen::Opened)
                .await?;
        }
        Ok(())
    }

    /// Records a click of a signed link and returns where it leads; `None` for a link or an
    /// address that is not ours (the redirect then goes nowhere).
    pub async fn track_click(&self, token: &str, address: &str) -> AppResult<Option<String>> {
        let lower = address.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Ok(None);
        }
        let Some((tenant_id, message)) = self
            .linked_message(token, LinkPurpose::Click, address)
            .await?
        else {
            return Ok(None);
        };
        self.record_report(&tenant_id, message, crate::message_reports::Seen::Clicked)
            .await?;
        Ok(Some(address.to_string()))
    }
}
