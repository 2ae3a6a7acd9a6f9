//! Our own e-mail open and click tracking (a campaign's `track_email`): each web link of the
//! HTML goes through our redirect, and a one-pixel image reports the open. The HTML is the
//! rendered template's, so attribute values may carry the escapes the renderer wrote.

use crate::template::escape_html;

/// `html` with each `href` to an `http(s)` address not starting with `keep` (our own links,
/// such as unsubscribe) replaced by `click(address)`, and the pixel image placed before
/// `</body>` (or at the end).
pub fn track_links(html: &str, pixel: &str, keep: &str, click: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    while let Some(at) = find_ascii_ci(rest, "href=") {
        let (before, from) = rest.split_at(at + "href=".len());
        out.push_str(before);
        let Some(quote) = from.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            rest = from;
            continue;
        };
        let value_and_more = &from[1..];
        let Some(end) = value_and_more.find(quote) else {
            rest = from;
            break;
        };
        let raw = &value_and_more[..end];
        let address = unescape(raw);
        let lower = address.to_ascii_lowercase();
        let web = lower.starts_with("http://") || lower.starts_with("https://");
        out.push(quote);
        if web && (keep.is_empty() || !address.starts_with(keep)) {
            out.push_str(&escape_html(&click(&address)));
        } else {
            out.push_str(raw);
        }
        out.push(quote);
        rest = &value_and_more[end + 1..];
    }
    out.push_str(rest);
    let image = format!(
        "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">",
        escape_html(pixel)
    );
    match out.rfind("</body>").or_else(|| out.rfind("</BODY>")) {
        Some(at) => out.insert_str(at, &image),
        None => out.push_str(&image),
    }
    out
}

/// Byte offset of `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    (0..h.len().saturating_sub(n.len() - 1)).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// The escapes an HTML renderer writes in an attribute, undone.
fn unescape(value: &str) -> String {
    const ENTITIES: [(&str, &str); 9] = [
        ("&quot;", "\""),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&#x27;", "'"),
        ("&#x2f;", "/"),
        ("&#47;", "/"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&amp;", "&"),
    ];
    let mut out = value.to_string();
    for (entity, plain) in ENTITIES {
        if out.contains(entity) {
            out = out.replace(entity, plain);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(html: &str) -> String {
        track_links(html, "https://shop.vn/t/o/x", "https://shop.vn/u/", |u| {
            format!("https://shop.vn/t/c/x?u={u}")
        })
    }

    #[test]
    fn web_links_go_through_the_redirect_and_the_pixel_goes_before_the_body_ends() {
        let html = r#"<body><a href="https://cafe.vn/menu?a=1&amp;b=2">Menu</a> <A HREF='http://x.vn'>x</A></body>"#;
        assert_eq!(
            tracked(html),
            "<body><a href=\"https://shop.vn/t/c/x?u=https://cafe.vn/menu?a=1&amp;b=2\">Menu</a> \
             <A HREF='https://shop.vn/t/c/x?u=http://x.vn'>x</A>\
             <img src=\"https://shop.vn/t/o/x\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\"></body>"
        );
    }

    #[test]
    fn escaped_addresses_are_read_as_the_reader_sees_them() {
        let html = r#"<a href="https:&#x2f;&#x2f;cafe.vn&#x2f;k?x=1&amp;y=2">k</a>"#;
        assert!(tracked(html).contains("u=https://cafe.vn/k?x=1&amp;y=2\""));
    }

    #[test]
    fn our_own_links_mail_links_and_anchors_are_left_alone() {
        let html = r##"<a href="https://shop.vn/u/abc.def">Hủy</a><a href="mailto:a@b.vn">m</a><a href="#top">t</a><a href=plain>p</a>"##;
        let out = tracked(html);
        assert!(out.starts_with(
            r##"<a href="https://shop.vn/u/abc.def">Hủy</a><a href="mailto:a@b.vn">m</a><a href="#top">t</a><a href=plain>p</a><img"##
        ));
    }

    #[test]
    fn an_unclosed_attribute_does_not_lose_the_text() {
        let html = "<a href=\"https://cafe.vn";
        assert!(tracked(html).starts_with(html));
    }
}
